"""``MultipleModule``: route groups of fields (by label) through different modules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import long_tensor, require_field_type
from .equivariant_module import EquivariantModule

__all__ = ["MultipleModule"]


class MultipleModule(EquivariantModule):
    """Apply ``modules`` to the fields selected by labels and concatenate their outputs.

    ``labels`` gives one label per input field; ``modules`` is a list of pairs
    ``(module, label or list of labels)``. Each module receives the fields carrying its labels
    (their ``in_type`` must match) and the outputs are concatenated in the order of ``modules``.
    ``reshuffle`` orders the fields inside each branch: 0 keeps the input order, 1 sorts by
    label, 2 by label then size, 3 by label, size and representation name (the module's
    ``in_type`` must follow the same order).
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
        require_field_type(in_type, who)
        labels = list(labels)
        if len(labels) != len(in_type):
            raise ValueError(f"{who}: 'labels' has {len(labels)} entries for {len(in_type)} fields")
        if reshuffle not in (0, 1, 2, 3):
            raise ValueError(f"{who}: 'reshuffle' must be 0, 1, 2 or 3, got {reshuffle!r}")
        self.in_type = in_type
        self._reshuffle = reshuffle
        reps = in_type.representations
        used: set = set()
        self._branches: list[tuple[str, tuple[int, int] | None]] = []
        out_types = []
        for b, (module, labs) in enumerate(modules):
            if not isinstance(module, EquivariantModule):
                raise TypeError(f"{who}: modules[{b}] is a {type(module).__name__}")
            labs = [labs] if isinstance(labs, str) else list(labs)
            for lab in labs:
                if lab not in labels:
                    raise ValueError(f"{who}: label {lab!r} of modules[{b}] labels no field")
                if lab in used:
                    raise ValueError(f"{who}: label {lab!r} is routed to two modules")
                used.add(lab)
            fields = [i for i, lab in enumerate(labels) if lab in labs]
            keys = {
                0: lambda i: 0,
                1: lambda i: labels[i],
                2: lambda i: (labels[i], reps[i].size),
                3: lambda i: (labels[i], reps[i].size, reps[i].name),
            }[reshuffle]
            fields = sorted(fields, key=keys)
            branch_type = in_type.index_select(fields)
            if module.in_type != branch_type:
                raise ValueError(
                    f"{who}: modules[{b}] expects in_type {module.in_type!r}, but its fields "
                    f"form {branch_type!r}"
                )
            channels = in_type.fields_channels(fields)
            contiguous = bool(np.all(np.diff(channels) == 1))
            span = (int(channels[0]), int(channels[-1]) + 1) if contiguous else None
            name = f"_index_{b}"
            self.register_buffer(name, long_tensor(channels), persistent=False)
            self.add_module(f"branch_{b}", module)
            self._branches.append((name, span))
            out_types.append(module.out_type)
        missing = set(labels) - used
        if missing:
            raise ValueError(f"{who}: no module for the fields labelled {sorted(missing)}")
        out = out_types[0]
        for t in out_types[1:]:
            out = out + t
        self.out_type = out

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        outputs = []
        for b, (name, span) in enumerate(self._branches):
            module = getattr(self, f"branch_{b}")
            part = x[:, span[0] : span[1]] if span else x.index_select(1, getattr(self, name))
            outputs.append(module(GeometricTensor(part, module.in_type)).tensor)
        return GeometricTensor(torch.cat(outputs, dim=1), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        channels = 0
        spatial = None
        for b in range(len(self._branches)):
            module = getattr(self, f"branch_{b}")
            sub = (shape[0], module.in_type.size, *shape[2:])
            out = module.evaluate_output_shape(sub)
            channels += out[1]
            spatial = out[2:]
        return (shape[0], channels, *spatial)

    def _grid_symmetric(self, size: int) -> bool:
        return all(
            getattr(self, f"branch_{b}")._grid_symmetric(size) for b in range(len(self._branches))
        )
