"""``FieldType``: the data type of a feature space (a gspace plus one representation per field).

A field type is an immutable value: it compares and hashes by its gspace and its list of
representations, and everything derived from them (size, channel offsets, the combined
representation, the sparse change of basis) is computed on first use and cached on the instance.
Caches never travel through pickle or ``copy``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from .errors import ArgumentError, ArgumentTypeError, FieldTypeMismatchError
from .grid import apply_fiber, transform_grid

__all__ = ["FieldType"]

id_of = id  # ``restrict`` takes an argument named ``id`` (the reference's signature)

# How many fiber matrices one field type keeps per (element, device, dtype); continuous groups
# could otherwise grow the cache without bound.
_FIBER_CACHE_SIZE = 128


class FieldType:
    """The data type of a feature space on the base space of ``gspace``.

    Args:
        gspace: the space where the feature fields live and its symmetries.
        representations: one ``Representation`` of ``gspace.fibergroup`` per feature field.
    """

    __slots__ = (
        "_gspace",
        "_representations",
        "_size",
        "_hash",
        "_lazy",
    )

    def __init__(self, gspace: Any, representations: Iterable[Any]) -> None:
        if isinstance(representations, (str, bytes)) or not isinstance(representations, Iterable):
            raise ArgumentTypeError(
                "FieldType: 'representations' must be a list of representations, got "
                f"{type(representations).__name__}"
            )
        reps = tuple(representations)
        if len(reps) == 0:
            raise ArgumentError("FieldType: 'representations' must contain at least one field")
        group = getattr(gspace, "fibergroup", None)
        if group is None:
            raise ArgumentTypeError(
                f"FieldType: 'gspace' must be a gspace, got {type(gspace).__name__}"
            )
        for i, r in enumerate(reps):
            rgroup = getattr(r, "group", None)
            if rgroup is None:
                raise ArgumentTypeError(
                    f"FieldType: representations[{i}] is not a representation ({type(r).__name__})"
                )
            if rgroup is not group and rgroup != group:
                raise ArgumentError(
                    f"FieldType: representations[{i}] ({r.name!r}) belongs to group "
                    f"{rgroup.name!r}, but the fiber group of gspace {gspace.name!r} is "
                    f"{group.name!r}"
                )
        self._gspace = gspace
        self._representations = reps
        self._size = int(sum(r.size for r in reps))
        self._hash = None
        self._lazy: dict[str, Any] = {}

    # ------------------------------------------------------------------ identity and value
    @property
    def gspace(self) -> Any:
        """The gspace where the feature fields live."""
        return self._gspace

    @property
    def fibergroup(self) -> Any:
        """The fiber group of :attr:`gspace`."""
        return self._gspace.fibergroup

    @property
    def representations(self) -> list:
        """The representations of the fields, in order (a new list: the type is immutable)."""
        return list(self._representations)

    @property
    def size(self) -> int:
        """Number of channels: the sum of the sizes of the fields' representations."""
        return self._size

    def __len__(self) -> int:
        return len(self._representations)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._representations)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, FieldType):
            return NotImplemented
        return (
            len(self._representations) == len(other._representations)
            and self._gspace == other._gspace
            and self._representations == other._representations
        )

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self._gspace, self._representations))
        return self._hash

    def __repr__(self) -> str:
        names = ", ".join(r.name for r in self._representations)
        return f"[{self._gspace.name}: {{{names}}}]"

    def __reduce__(self):
        return (FieldType, (self._gspace, self._representations))

    def __copy__(self) -> FieldType:
        return self

    def __deepcopy__(self, memo: dict) -> FieldType:
        return self

    # ------------------------------------------------------------------ building new types
    def __add__(self, other: FieldType) -> FieldType:
        """Direct sum: the concatenation of the two lists of representations."""
        if not isinstance(other, FieldType):
            return NotImplemented
        if other._gspace != self._gspace:
            raise ArgumentError(
                f"FieldType.__add__: cannot sum field types of different gspaces "
                f"({self._gspace.name!r} and {other._gspace.name!r})"
            )
        return FieldType(self._gspace, self._representations + other._representations)

    def index_select(self, index: Sequence[int]) -> FieldType:
        """A new field type with the fields at positions ``index`` (in that order)."""
        n = len(self._representations)
        picked = []
        for i in index:
            j = int(i)
            if not -n <= j < n:
                raise IndexError(f"FieldType.index_select: index {j} out of range for {n} fields")
            picked.append(self._representations[j])
        if not picked:
            raise ArgumentError("FieldType.index_select: 'index' selects no field")
        return FieldType(self._gspace, picked)

    def sorted(self) -> FieldType:
        """A new field type with the fields sorted (stably) by their size."""
        order = np.argsort(self.field_sizes, kind="stable")
        return self.index_select(order.tolist())

    def group_by_labels(self, labels: Sequence[Any]) -> dict[Any, FieldType]:
        """Map each distinct label to the field type of the fields carrying it (in order)."""
        labels = list(labels)
        if len(labels) != len(self):
            raise ArgumentError(
                f"FieldType.group_by_labels: 'labels' has {len(labels)} entries but the type "
                f"has {len(self)} fields"
            )
        grouped: dict[Any, list] = {}
        for label, r in zip(labels, self._representations):
            grouped.setdefault(label, []).append(r)
        return {label: FieldType(self._gspace, reps) for label, reps in grouped.items()}

    def restrict(self, id: Any) -> FieldType:
        """Restrict every field to the subgroup of the fiber group identified by ``id``."""
        subspace = self._gspace.restrict(id)[0]
        restricted: dict[int, Any] = {}
        reps = []
        for r in self._representations:
            sub = restricted.get(id_of(r))
            if sub is None:
                sub = restricted[id_of(r)] = r.restrict(id)
            reps.append(sub)
        return FieldType(subspace, reps)

    # ------------------------------------------------------------------ channel bookkeeping
    def fields_names(self) -> list[str]:
        """The names of the fields' representations, in order."""
        return [r.name for r in self._representations]

    def _offsets(self) -> tuple[np.ndarray, np.ndarray]:
        cached = self._lazy.get("offsets")
        if cached is None:
            sizes = np.fromiter((r.size for r in self._representations), dtype=np.int64)
            end = np.cumsum(sizes)
            start = end - sizes
            start.setflags(write=False)
            end.setflags(write=False)
            cached = self._lazy["offsets"] = (start, end)
        return cached

    @property
    def fields_start(self) -> np.ndarray:
        """Index of the first channel of each field."""
        return self._offsets()[0]

    @property
    def fields_end(self) -> np.ndarray:
        """Index one past the last channel of each field."""
        return self._offsets()[1]

    @property
    def field_sizes(self) -> np.ndarray:
        """Size of each field."""
        start, end = self._offsets()
        return end - start

    def channel_fields(self) -> np.ndarray:
        """For each channel, the index of the field it belongs to (length :attr:`size`)."""
        cached = self._lazy.get("channel_fields")
        if cached is None:
            cached = np.repeat(np.arange(len(self), dtype=np.int64), self.field_sizes)
            cached.setflags(write=False)
            self._lazy["channel_fields"] = cached
        return cached

    def fields_channels(self, fields: Iterable[int]) -> np.ndarray:
        """The channel indices of ``fields`` (in the given order), concatenated."""
        start, end = self._offsets()
        fields = np.asarray(list(fields), dtype=np.int64)
        if fields.size == 0:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([np.arange(start[f], end[f]) for f in fields])

    @property
    def uniform(self) -> bool:
        """Whether every field carries the same representation."""
        cached = self._lazy.get("uniform")
        if cached is None:
            first = self._representations[0]
            cached = all(r is first or r == first for r in self._representations)
            self._lazy["uniform"] = cached
        return cached

    # ------------------------------------------------------------------ representation data
    @property
    def representation(self) -> Any:
        """The direct sum of the fields' representations (built on first use)."""
        cached = self._lazy.get("representation")
        if cached is None:
            from e2compile.group import directsum

            cached = directsum(
                list(self._representations), name=f"FiberRepresentation:[{self._size}]"
            )
            self._lazy["representation"] = cached
        return cached

    @property
    def irreps(self) -> list:
        """Names of the irreps of :attr:`representation`, in order (field after field)."""
        out: list = []
        for r in self._representations:
            out.extend(r.irreps)
        return out

    @property
    def change_of_basis(self):
        """Block-diagonal change of basis of the fields (``scipy.sparse.coo_matrix``)."""
        return self._sparse_blocks("change_of_basis")

    @property
    def change_of_basis_inv(self):
        """Inverse of :attr:`change_of_basis` (``scipy.sparse.coo_matrix``)."""
        return self._sparse_blocks("change_of_basis_inv")

    def _sparse_blocks(self, attr: str):
        cached = self._lazy.get(attr)
        if cached is None:
            from scipy import sparse

            cached = sparse.block_diag(
                [getattr(r, attr) for r in self._representations], format="coo"
            )
            self._lazy[attr] = cached
        return cached

    def get_dense_change_of_basis(self) -> torch.Tensor:
        """A dense ``torch.Tensor`` copy of :attr:`change_of_basis`."""
        return torch.as_tensor(self.change_of_basis.toarray(), dtype=torch.get_default_dtype())

    def get_dense_change_of_basis_inv(self) -> torch.Tensor:
        """A dense ``torch.Tensor`` copy of :attr:`change_of_basis_inv`."""
        return torch.as_tensor(self.change_of_basis_inv.toarray(), dtype=torch.get_default_dtype())

    # ------------------------------------------------------------------ group action
    @property
    def testing_elements(self):
        """Alias for ``self.gspace.testing_elements``."""
        return self._gspace.testing_elements

    def fiber_matrix(
        self, element: Any, device: torch.device | str | None = None, dtype: torch.dtype = None
    ) -> torch.Tensor:
        """The matrix ``rho(element)`` acting on the channels, as a tensor.

        For a uniform type (every field carries the same representation) this is the ``d x d``
        matrix of that representation, applied field by field; otherwise the full
        ``size x size`` block-diagonal matrix. Cached per ``(element, device, dtype)``.
        """
        dtype = dtype or torch.get_default_dtype()
        device = torch.device(device) if device is not None else torch.device("cpu")
        cache = self._lazy.setdefault("fiber", {})
        try:
            key = (element, device, dtype)
            hit = cache.get(key)
        except TypeError:  # unhashable element: no caching
            key, hit = None, None
        if hit is not None:
            return hit
        if not self.fibergroup.is_element(element):
            raise ArgumentError(
                f"{element!r} is not an element of the fiber group {self.fibergroup.name!r}"
            )
        if self.uniform:
            mat = np.asarray(self._representations[0](element), dtype=np.float64)
        else:
            mat = np.zeros((self._size, self._size), dtype=np.float64)
            start, end = self._offsets()
            blocks: dict[int, np.ndarray] = {}
            for r, s, e in zip(self._representations, start, end):
                block = blocks.get(id(r))
                if block is None:
                    block = blocks[id(r)] = np.asarray(r(element), dtype=np.float64)
                mat[s:e, s:e] = block
        out = torch.as_tensor(mat, dtype=dtype).to(device)
        if key is not None:
            if len(cache) >= _FIBER_CACHE_SIZE:
                cache.clear()
            cache[key] = out
        return out

    def transform_fibers(self, input: torch.Tensor, element: Any) -> torch.Tensor:
        """Apply ``rho(element)`` to the channels (dim 1) of ``input``; the grid is untouched."""
        self._check_tensor(input, "input")
        return apply_fiber(self, input, element)

    def transform(
        self, input: torch.Tensor, element: Any, coords: torch.Tensor | None = None
    ) -> Any:
        """Transform ``input`` (``B x size x H x W``) by ``element``: channels and grid (on a
        gspace with no base space, ``no_base_space(G)``, the channels of any ``(B, size, ...)``).

        Multiples of 90 degrees and axis flips move the grid exactly (``rot90``/``flip``); other
        angles resample it (order-2 spline interpolation around the grid centre, same size,
        zeros outside: the gspace's ``featurefield_action`` convention). Runs on the tensor's
        device in torch (no numpy round trip) and keeps the autograd graph.

        With ``coords`` (``(P, 2)``), ``input`` is a point cloud ``(P, size)``: the channels are
        transformed and the points moved, and the pair ``(input', coords')`` is returned.
        """
        self._check_tensor(input, "input")
        if self._gspace.dimensionality == 0:  # no base space: fibers only
            return apply_fiber(self, input, element)
        if coords is not None:
            if not isinstance(coords, torch.Tensor) or coords.dim() != 2 or coords.shape[1] != 2:
                raise ArgumentError(
                    "FieldType.transform: 'coords' must be a (points, 2) tensor, got "
                    f"{tuple(getattr(coords, 'shape', ())) or type(coords).__name__}"
                )
            if input.dim() != 2 or input.shape[0] != coords.shape[0]:
                raise ArgumentError(
                    f"FieldType.transform: with 'coords' of shape {tuple(coords.shape)}, 'input' "
                    f"must have shape ({coords.shape[0]}, {self._size}), got {tuple(input.shape)}"
                )
            matrix = torch.as_tensor(
                self._gspace.action_matrix(element), dtype=coords.dtype, device=coords.device
            )
            return apply_fiber(self, input, element), coords @ matrix.T
        if input.dim() != 4:
            raise ArgumentError(
                f"FieldType.transform: 'input' must have shape (B, C, H, W), got "
                f"{tuple(input.shape)}"
            )
        return transform_grid(apply_fiber(self, input, element), self._gspace, element)

    def _check_tensor(self, input: torch.Tensor, argname: str) -> None:
        if not isinstance(input, torch.Tensor):
            raise ArgumentTypeError(
                f"'{argname}' must be a torch.Tensor, got {type(input).__name__}"
            )
        if input.dim() < 2 or input.shape[1] != self._size:
            raise FieldTypeMismatchError(
                f"'{argname}' of shape {tuple(input.shape)} does not match the field type "
                f"{self!r}: expected {self._size} channels in dimension 1"
            )
