"""Route groups of fields (by label) through different modules.

``MultipleModule`` is a :class:`BranchingModule` (split the input by labels) followed by a
:class:`MergeModule` (apply one module per label, concatenate the outputs), held as its children
``branching`` and ``merging`` (so the modules' state lives under ``merging.submodule_<i>``, as in
the reference library's checkpoints).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..errors import ArgumentError, ArgumentTypeError, FieldTypeMismatchError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import long_tensor, require_field_type
from .equivariant_module import EquivariantModule

__all__ = ["BranchingModule", "MergeModule", "MultipleModule"]

_SORT_KEYS = {
    0: lambda labels, reps, i: 0,
    1: lambda labels, reps, i: labels[i],
    2: lambda labels, reps, i: (labels[i], reps[i].size),
    3: lambda labels, reps, i: (labels[i], reps[i].size, reps[i].name),
}


def _checked_labels(in_type: Any, labels: Sequence[str], reshuffle: int, who: str) -> list[str]:
    """Check a field type, one label per field and a ``reshuffle`` mode; return the labels."""
    require_field_type(in_type, who)
    labels = list(labels)
    if len(labels) != len(in_type):
        raise ArgumentError(f"{who}: 'labels' has {len(labels)} entries for {len(in_type)} fields")
    if reshuffle not in _SORT_KEYS:
        raise ArgumentError(f"{who}: 'reshuffle' must be 0, 1, 2 or 3, got {reshuffle!r}")
    return labels


def _input_types(module: EquivariantModule) -> tuple[FieldType, ...]:
    """The types of a module's inputs: one, or a tuple for modules with several inputs."""
    in_type = module.in_type
    return tuple(in_type) if isinstance(in_type, (tuple, list)) else (in_type,)


class BranchingModule(EquivariantModule):
    """Split the input into one tensor per label.

    ``labels`` gives one label per field of ``in_type``. ``forward`` returns a dict label ->
    :class:`GeometricTensor` holding that label's fields; ``out_type`` is the dict label ->
    :class:`FieldType` (labels in order of first appearance). ``reshuffle`` orders the fields
    inside each branch: 0 keeps the input order, 1 sorts by label, 2 by label then size, 3 by
    label, size and representation name.
    """

    def __init__(self, in_type: FieldType, labels: Sequence[str], reshuffle: int = 0) -> None:
        super().__init__()
        labels = _checked_labels(in_type, labels, reshuffle, "BranchingModule")
        self.in_type = in_type
        self.labels = labels
        self._reshuffle = reshuffle
        reps = in_type.representations
        key = _SORT_KEYS[reshuffle]
        self.out_type: dict[str, FieldType] = {}
        self._spans: dict[str, tuple[int, int] | None] = {}
        for label in dict.fromkeys(labels):
            fields = [i for i, lab in enumerate(labels) if lab == label]
            fields = sorted(fields, key=lambda i: key(labels, reps, i))
            self.out_type[label] = in_type.index_select(fields)
            channels = in_type.fields_channels(fields)
            contiguous = bool(np.all(np.diff(channels) == 1))
            self._spans[label] = (int(channels[0]), int(channels[-1]) + 1) if contiguous else None
            self.register_buffer(f"indices_{label}", long_tensor(channels), persistent=False)

    def forward(self, input: GeometricTensor) -> dict[str, GeometricTensor]:
        x = self._check_input(input)
        out = {}
        for label, ftype in self.out_type.items():
            span = self._spans[label]
            part = x[:, span[0] : span[1]] if span else x.index_select(1, self._index(label))
            out[label] = GeometricTensor(part, ftype)
        return out

    def _index(self, label: str) -> torch.Tensor:
        return getattr(self, f"indices_{label}")

    def evaluate_output_shape(self, input_shape: tuple) -> dict[str, tuple]:
        shape = self._check_shape(input_shape)
        return {label: (shape[0], t.size, *shape[2:]) for label, t in self.out_type.items()}

    def check_equivariance(self, atol: float = 1e-7, rtol: float = 1e-5, **kwargs: Any) -> list:
        """Each branch is the input's fields, moved with them: check every branch."""
        from ..grid import grid_exact_elements

        x = torch.randn(3, self.in_type.size, 9, 9, dtype=torch.float64)
        module = self._float64_copy()
        errors = []
        with torch.no_grad():
            ref = module(GeometricTensor(x, self.in_type))
            for g in grid_exact_elements(self.in_type.gspace):
                out = module(GeometricTensor(self.in_type.transform(x, g), self.in_type))
                err = 0.0
                for label, t in self.out_type.items():
                    expected = t.transform(ref[label].tensor, g)
                    if not torch.allclose(out[label].tensor, expected, atol=atol, rtol=rtol):
                        raise AssertionError(
                            f"BranchingModule: equivariance error for element {g!r} on branch "
                            f"{label!r}"
                        )
                    err = max(err, (out[label].tensor - expected).abs().mean().item())
                errors.append((g, err))
        return errors

    def extra_repr(self) -> str:
        return f"{self.in_type!r}, labels={self.labels!r}, reshuffle={self._reshuffle}"


class MergeModule(EquivariantModule):
    """Apply one module per label (or list of labels) and concatenate the outputs.

    ``modules`` is a list of pairs ``(module, label)`` or ``(module, [label, ...])``; ``forward``
    takes a dict label -> :class:`GeometricTensor` (as :class:`BranchingModule` returns) and
    concatenates, in the order of ``modules``, each module's output. A module with a list of
    labels is called with one tensor per label, in that order (``module(*tensors)``): its
    ``in_type`` is then the tuple of their types (e.g. :class:`GatedNonLinearity2`). The modules
    are children ``submodule_<i>``; ``in_type`` is the dict label -> the type it expects.
    """

    def __init__(self, modules: Sequence[tuple[EquivariantModule, str | Sequence[str]]]) -> None:
        super().__init__()
        who = "MergeModule"
        modules = list(modules)
        if not modules:
            raise ArgumentError(f"{who}: 'modules' must hold at least one (module, label) pair")
        self.in_type: dict[str, FieldType] = {}
        self._labels: list[list[str]] = []
        out_types = []
        for i, pair in enumerate(modules):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise ArgumentTypeError(f"{who}: modules[{i}] must be a pair (module, label)")
            module, labels = pair
            if not isinstance(module, EquivariantModule):
                raise ArgumentTypeError(f"{who}: modules[{i}] is a {type(module).__name__}")
            labels = [labels] if isinstance(labels, str) else list(labels)
            types = _input_types(module)
            if len(types) != len(labels):
                raise ArgumentError(
                    f"{who}: modules[{i}] takes {len(types)} input(s) but is given "
                    f"{len(labels)} label(s) {labels!r}"
                )
            for label, ftype in zip(labels, types):
                if label in self.in_type:
                    raise ArgumentError(f"{who}: label {label!r} is given to two modules")
                self.in_type[label] = ftype
            self._labels.append(labels)
            self.add_module(f"submodule_{i}", module)
            out_types.append(module.out_type)
        gspaces = {t.gspace for t in out_types}
        if len(gspaces) != 1:
            raise ArgumentError(f"{who}: the modules' outputs live on different gspaces")
        out = out_types[0]
        for t in out_types[1:]:
            out = out + t
        self.out_type = out

    def _submodules(self) -> list[EquivariantModule]:
        return [getattr(self, f"submodule_{i}") for i in range(len(self._labels))]

    def forward(self, input: dict[str, GeometricTensor]) -> GeometricTensor:
        if not isinstance(input, dict):
            raise ArgumentTypeError(
                f"MergeModule: 'input' must be a dict label -> GeometricTensor, got "
                f"{type(input).__name__}"
            )
        outputs = []
        for labels, module in zip(self._labels, self._submodules()):
            for label in labels:
                if label not in input:
                    raise ArgumentError(f"MergeModule: 'input' has no tensor for label {label!r}")
            outputs.append(module(*[input[label] for label in labels]).tensor)
        return GeometricTensor(torch.cat(outputs, dim=1), self.out_type)

    def evaluate_output_shape(self, input_shapes: dict[str, tuple]) -> tuple:
        channels, spatial, batch = 0, None, None
        for labels, module in zip(self._labels, self._submodules()):
            out = module.evaluate_output_shape(*[tuple(input_shapes[lab]) for lab in labels])
            batch, channels, spatial = out[0], channels + out[1], out[2:]
        return (batch, channels, *spatial)

    def _grid_symmetric(self, size: int) -> bool:
        return all(m._grid_symmetric(size) for m in self._submodules())


class MultipleModule(EquivariantModule):
    """Apply ``modules`` to the fields selected by labels and concatenate their outputs.

    ``labels`` gives one label per input field; ``modules`` is a list of pairs
    ``(module, label or list of labels)``. Each module receives the fields carrying its labels
    (their ``in_type`` must match) and the outputs are concatenated in the order of ``modules``.
    A module with several inputs (a tuple ``in_type``, e.g. :class:`GatedNonLinearity2`) gets
    one tensor per label, in the order of its list; a module with one input given several labels
    gets all their fields in one tensor.
    ``reshuffle`` orders the fields inside each branch: 0 keeps the input order, 1 sorts by
    label, 2 by label then size, 3 by label, size and representation name (the module's
    ``in_type`` must follow the same order). It is a :class:`BranchingModule` followed by a
    :class:`MergeModule` (children ``branching`` and ``merging``).
    """

    def __init__(
        self,
        in_type: FieldType,
        labels: Sequence[str],
        modules: Sequence[tuple[EquivariantModule, Any]],
        reshuffle: int = 0,
    ) -> None:
        super().__init__()
        who = "MultipleModule"
        labels = _checked_labels(in_type, labels, reshuffle, who)
        self.in_type = in_type
        # a module with several inputs gets one branch per label; a one-input module given
        # several labels gets one branch: its fields keep their order (sorted by their own
        # labels first when reshuffling), the branch is named after the first label
        branch_of: dict[str, str] = {}
        pairs = []
        for b, (module, labs) in enumerate(modules):
            if not isinstance(module, EquivariantModule):
                raise ArgumentTypeError(f"{who}: modules[{b}] is a {type(module).__name__}")
            labs = [labs] if isinstance(labs, str) else list(labs)
            several_inputs = len(_input_types(module)) > 1
            for lab in labs:
                if lab not in labels:
                    raise ArgumentError(f"{who}: label {lab!r} of modules[{b}] labels no field")
                if lab in branch_of:
                    raise ArgumentError(f"{who}: label {lab!r} is routed to two modules")
                branch_of[lab] = lab if several_inputs else labs[0]
            pairs.append((module, labs if several_inputs else labs[0]))
        missing = set(labels) - set(branch_of)
        if missing:
            raise ArgumentError(f"{who}: no module for the fields labelled {sorted(missing)}")
        branch_labels = [branch_of[lab] for lab in labels]
        if reshuffle:
            # sort inside a branch by the fields' own labels, then size/name as asked
            key = _SORT_KEYS[reshuffle]
            reps = in_type.representations
            order = sorted(range(len(labels)), key=lambda i: key(labels, reps, i))
            position = {field: n for n, field in enumerate(order)}
            permutation = sorted(range(len(labels)), key=lambda i: position[i])
        else:
            permutation = list(range(len(labels)))
        branching = BranchingModule(
            in_type.index_select(permutation), [branch_labels[i] for i in permutation]
        )
        for b, (module, labs) in enumerate(pairs):
            labs = [labs] if isinstance(labs, str) else labs
            for lab, ftype in zip(labs, _input_types(module)):
                if ftype != branching.out_type[lab]:
                    raise FieldTypeMismatchError(
                        f"{who}: modules[{b}] expects in_type {ftype!r} for label {lab!r}, but "
                        f"its fields form {branching.out_type[lab]!r}"
                    )
        self._permutation = None if permutation == list(range(len(labels))) else permutation
        if self._permutation is not None:
            self.register_buffer(
                "_channels", long_tensor(in_type.fields_channels(permutation)), persistent=False
            )
        self.branching = branching
        self.merging = MergeModule(pairs)
        self.out_type = self.merging.out_type

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        if self._permutation is not None:
            x = x.index_select(1, self._channels)
        return self.merging(self.branching(GeometricTensor(x, self.branching.in_type)))

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        return self.merging.evaluate_output_shape(self.branching.evaluate_output_shape(shape))

    def _grid_symmetric(self, size: int) -> bool:
        return self.merging._grid_symmetric(size)

    def check_equivariance(
        self,
        atol: float = 1e-7,
        rtol: float = 1e-5,
        full_space_action: bool = True,
        **kwargs: Any,
    ) -> list[tuple[Any, float]]:
        """Check equivariance as :meth:`EquivariantModule.check_equivariance` does; with
        ``full_space_action=False`` only the fibers are transformed (the grid stays put), by every
        testing element of the fiber group, which checks the routing of the fields alone."""
        if full_space_action:
            return super().check_equivariance(atol=atol, rtol=rtol, **kwargs)
        if kwargs:
            raise ArgumentTypeError(
                f"MultipleModule.check_equivariance: unexpected arguments {sorted(kwargs)} "
                "with full_space_action=False"
            )
        module = self._float64_copy()
        shape = (3, self.in_type.size, 9, 9)
        x = torch.randn(shape, dtype=torch.float64, device=module._tensor_device())
        x = GeometricTensor(x, module.in_type)
        errors = []
        with torch.no_grad():
            ref = module(x)
            for g in self.in_type.gspace.testing_elements:
                out1 = module(x.transform_fibers(g)).tensor
                out2 = ref.transform_fibers(g).tensor
                if not torch.allclose(out1, out2, atol=atol, rtol=rtol):
                    err = (out1 - out2).abs()
                    raise AssertionError(
                        f"MultipleModule: equivariance error for element {g!r} too high: "
                        f"max {err.max().item():.3g}, mean {err.mean().item():.3g} "
                        f"(atol={atol}, rtol={rtol}, fibers only, computed in float64)"
                    )
                errors.append((g, (out1 - out2).abs().mean().item()))
        return errors
