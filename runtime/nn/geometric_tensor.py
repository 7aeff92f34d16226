"""``GeometricTensor``: a ``torch.Tensor`` typed by a :class:`FieldType`."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch

from .errors import ArgumentError, ArgumentTypeError, FieldTypeMismatchError, SlicingError
from .field_type import FieldType

__all__ = ["GeometricTensor", "tensor_directsum"]


class GeometricTensor:
    """A tensor (batch, channels, spatial...) whose channels transform according to ``type``.

    Args:
        tensor: the data; dimension 1 holds ``type.size`` channels.
        type: the field type of the data.
        coords: optional ``(P, 2)`` tensor of point coordinates: ``tensor`` is then a
            ``(P, type.size)`` set of points on the plane (a point cloud, as escnn's
            ``GeometricTensor`` takes it), row ``p`` at ``coords[p]``. Operations that keep the
            points keep ``coords``; :meth:`transform` moves them; slicing dimension 0 slices them.

    Slicing works as on tensors along the batch and spatial dims, but along dim 1 it selects
    *fields*, never single channels; an integer index keeps its dimension (size 1): it is the
    slice ``i:i+1``, so past the end of a batch or spatial dimension it selects nothing. Only basic
    indexing (integers, slices, one ``...`` standing for at least one dimension) is supported, and
    item assignment is not.
    """

    def __init__(
        self, tensor: torch.Tensor, type: FieldType, coords: torch.Tensor | None = None
    ) -> None:
        if not isinstance(tensor, torch.Tensor):
            raise ArgumentTypeError(
                f"GeometricTensor: 'tensor' must be a torch.Tensor, got {_tname(tensor)}"
            )
        if not isinstance(type, FieldType):
            raise ArgumentTypeError(
                f"GeometricTensor: 'type' must be a FieldType, got {_tname(type)}"
            )
        if tensor.dim() < 2 or tensor.shape[1] != type.size:
            raise FieldTypeMismatchError(
                f"GeometricTensor: 'tensor' of shape {tuple(tensor.shape)} does not match 'type' "
                f"{type!r}, which has {type.size} channels (expected in dimension 1)"
            )
        if coords is not None:
            _check_coords(tensor, coords)
        self.tensor = tensor
        self.type = type
        self.coords = coords

    # ------------------------------------------------------------------ tensor-like
    @property
    def shape(self) -> torch.Size:
        """Alias for ``self.tensor.shape``."""
        return self.tensor.shape

    def size(self, *args: Any) -> Any:
        """Alias for ``self.tensor.size(*args)``."""
        return self.tensor.size(*args)

    def to(self, *args: Any, **kwargs: Any) -> GeometricTensor:
        """``self.tensor.to(*args, **kwargs)`` wrapped with the same type."""
        return GeometricTensor(self.tensor.to(*args, **kwargs), self.type, self.coords)

    def __repr__(self) -> str:
        body = repr(self.tensor)
        if body.endswith(")"):
            body = body[:-1]
        return f"g_{body}, {self.type!r})"

    # ------------------------------------------------------------------ group action
    def restrict(self, id: Any) -> GeometricTensor:
        """The same data (shared, not copied) typed by ``self.type.restrict(id)``."""
        return GeometricTensor(self.tensor, self.type.restrict(id), self.coords)

    def transform(self, element: Any) -> GeometricTensor:
        """Transform channels and grid by ``element`` (see :meth:`FieldType.transform`); with
        ``coords``, the channels and the points (``coords @ M.T``, ``M`` the element's matrix
        on the plane)."""
        if self.coords is not None:
            data, coords = self.type.transform(self.tensor, element, coords=self.coords)
            return GeometricTensor(data, self.type, coords)
        return GeometricTensor(self.type.transform(self.tensor, element), self.type)

    def transform_fibers(self, element: Any) -> GeometricTensor:
        """Apply ``rho(element)`` to the feature vectors only; the grid is unchanged."""
        return GeometricTensor(
            self.type.transform_fibers(self.tensor, element), self.type, self.coords
        )

    # ------------------------------------------------------------------ splitting and slicing
    def split(self, breaks: Sequence[int] | None = None) -> list[GeometricTensor]:
        """Split along the channels at the field indices ``breaks`` (default: every field)."""
        n = len(self.type)
        if breaks is None:
            breaks = list(range(1, n))
        else:
            breaks = [int(b) for b in breaks]
            for a, b in zip([0, *breaks], [*breaks, n]):
                if not a < b:
                    raise ArgumentError(
                        f"GeometricTensor.split: 'breaks' must be strictly increasing integers "
                        f"in 1..{n - 1}, got {breaks}"
                    )
        start, end = self.type.fields_start, self.type.fields_end
        out = []
        for a, b in zip([0, *breaks], [*breaks, n]):
            t = self.tensor[:, int(start[a]) : int(end[b - 1])]
            out.append(GeometricTensor(t, self.type.index_select(range(a, b)), self.coords))
        return out

    def __getitem__(self, slices: Any) -> GeometricTensor:
        if not isinstance(slices, tuple):
            slices = (slices,)
        ndim = self.tensor.dim()
        n_ellipsis = sum(1 for s in slices if s is Ellipsis)
        if n_ellipsis > 1:
            raise IndexError("GeometricTensor: an index can only have a single ellipsis ('...')")
        if len(slices) > ndim:  # an ellipsis counts: it must stand for at least one dimension
            raise SlicingError(
                f"GeometricTensor: too many indices ({len(slices)}, '...' included) for a "
                f"tensor of dimension {ndim}"
            )
        if n_ellipsis:
            i = next(j for j, s in enumerate(slices) if s is Ellipsis)
            fill = (slice(None),) * (ndim - len(slices) + 1)
            slices = slices[:i] + fill + slices[i + 1 :]
        slices = slices + (slice(None),) * (ndim - len(slices))

        basic = []
        for axis, s in enumerate(slices):
            if isinstance(s, slice):
                basic.append(s)
            elif isinstance(s, numbers.Integral) and not isinstance(s, bool):
                length = len(self.type) if axis == 1 else self.tensor.shape[axis]
                i = int(s)
                # off the fields, an integer past the end is the slice i:i+1 and selects
                # nothing (as in the reference library)
                if i < -length or (axis == 1 and i >= length):
                    what = "fields" if axis == 1 else "entries"
                    raise IndexError(
                        f"GeometricTensor: index {i} out of range for dimension {axis} with "
                        f"{length} {what}"
                    )
                i = i + length if i < 0 else i
                basic.append(slice(i, i + 1))
            else:
                raise SlicingError(
                    "GeometricTensor only supports basic slicing (integers, slices and '...'), "
                    f"got {_tname(s)} in dimension {axis}"
                )

        fields = range(*basic[1].indices(len(self.type)))
        if len(fields) == 0:
            raise IndexError("GeometricTensor: the index along dimension 1 selects no field")
        start, end = self.type.fields_start, self.type.fields_end
        if fields.step == 1:
            basic[1] = slice(int(start[fields.start]), int(end[fields[-1]]))
            data = self.tensor[tuple(basic)]
        else:
            basic[1] = slice(None)
            channels = torch.as_tensor(self.type.fields_channels(fields), device=self.tensor.device)
            data = self.tensor[tuple(basic)].index_select(1, channels)
        new_type = self.type if len(fields) == len(self.type) and fields.step == 1 else None
        coords = None if self.coords is None else self.coords[basic[0]]
        return GeometricTensor(data, new_type or self.type.index_select(fields), coords)

    # ------------------------------------------------------------------ arithmetic
    def _check_same(self, other: Any, op: str) -> GeometricTensor:
        if not isinstance(other, GeometricTensor):
            raise ArgumentTypeError(
                f"GeometricTensor {op}: the other operand must be a GeometricTensor, "
                f"got {_tname(other)}"
            )
        if other.type != self.type:
            raise FieldTypeMismatchError(
                f"GeometricTensor {op}: the two tensors have different field types: "
                f"{self.type!r} and {other.type!r}"
            )
        if other.tensor.shape != self.tensor.shape:
            raise FieldTypeMismatchError(
                f"GeometricTensor {op}: the two tensors have different shapes: "
                f"{tuple(self.tensor.shape)} and {tuple(other.tensor.shape)}"
            )
        if not _same_coords(self.coords, other.coords):
            raise FieldTypeMismatchError(
                f"GeometricTensor {op}: the two tensors have different 'coords'"
            )
        return other

    def has_same_coords(self, other: GeometricTensor) -> bool:
        """Whether ``other`` has the same points: both without ``coords``, or close ones."""
        return _same_coords(self.coords, other.coords)

    def __add__(self, other: GeometricTensor) -> GeometricTensor:
        other = self._check_same(other, "+")
        return GeometricTensor(self.tensor + other.tensor, self.type, self.coords)

    def __sub__(self, other: GeometricTensor) -> GeometricTensor:
        other = self._check_same(other, "-")
        return GeometricTensor(self.tensor - other.tensor, self.type, self.coords)

    def __iadd__(self, other: GeometricTensor) -> GeometricTensor:
        self.tensor += self._check_same(other, "+=").tensor
        return self

    def __isub__(self, other: GeometricTensor) -> GeometricTensor:
        self.tensor -= self._check_same(other, "-=").tensor
        return self

    def __neg__(self) -> GeometricTensor:
        return GeometricTensor(-self.tensor, self.type, self.coords)

    def __mul__(self, other: Any) -> GeometricTensor:
        return GeometricTensor(self.tensor * _scalar(other, "*"), self.type, self.coords)

    __rmul__ = __mul__

    def __imul__(self, other: Any) -> GeometricTensor:
        self.tensor *= _scalar(other, "*=")
        return self

    def __truediv__(self, other: Any) -> GeometricTensor:
        return GeometricTensor(self.tensor / _scalar(other, "/"), self.type, self.coords)

    def __itruediv__(self, other: Any) -> GeometricTensor:
        self.tensor /= _scalar(other, "/=")
        return self


def _check_coords(tensor: torch.Tensor, coords: Any) -> None:
    if not isinstance(coords, torch.Tensor):
        raise ArgumentTypeError(
            f"GeometricTensor: 'coords' must be a torch.Tensor or None, got {_tname(coords)}"
        )
    if coords.dim() != 2 or coords.shape[1] != 2:
        raise FieldTypeMismatchError(
            f"GeometricTensor: 'coords' must have shape (points, 2), got {tuple(coords.shape)}"
        )
    if tensor.dim() != 2 or tensor.shape[0] != coords.shape[0]:
        raise FieldTypeMismatchError(
            f"GeometricTensor: with 'coords' of shape {tuple(coords.shape)}, 'tensor' must have "
            f"shape ({coords.shape[0]}, channels), got {tuple(tensor.shape)}"
        )


def _same_coords(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is b:
        return True
    if a is None or b is None or a.shape != b.shape:
        return False
    return bool(torch.allclose(a, b))


def _scalar(value: Any, op: str) -> Any:
    if isinstance(value, numbers.Number) and not isinstance(value, (bool, complex)):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.reshape(())
    raise ArgumentTypeError(
        f"GeometricTensor {op}: only scalars (numbers or one-element tensors) are supported, "
        f"got {_tname(value)}"
        + (f" with {value.numel()} elements" if isinstance(value, torch.Tensor) else "")
    )


def _tname(x: Any) -> str:
    t = type(x)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def tensor_directsum(tensors: Sequence[GeometricTensor]) -> GeometricTensor:
    """Concatenate geometric tensors along the channels; the type is the sum of their types."""
    tensors = list(tensors)
    if not tensors:
        raise ArgumentError("tensor_directsum: 'tensors' is empty")
    for i, t in enumerate(tensors):
        if not isinstance(t, GeometricTensor):
            raise ArgumentTypeError(
                f"tensor_directsum: tensors[{i}] is a {_tname(t)}, not a GeometricTensor"
            )
    first = tensors[0]
    reps: list = []
    for i, t in enumerate(tensors):
        if t.type.gspace != first.type.gspace:
            raise ArgumentError(
                f"tensor_directsum: tensors[{i}] lives on gspace {t.type.gspace.name!r}, "
                f"tensors[0] on {first.type.gspace.name!r}"
            )
        if t.tensor.dim() != first.tensor.dim() or (
            t.tensor.shape[:1] + t.tensor.shape[2:]
            != first.tensor.shape[:1] + first.tensor.shape[2:]
        ):
            raise ArgumentError(
                f"tensor_directsum: tensors[{i}] has shape {tuple(t.tensor.shape)}, incompatible "
                f"with {tuple(first.tensor.shape)} outside dimension 1"
            )
        if not _same_coords(t.coords, first.coords):
            raise ArgumentError(
                f"tensor_directsum: tensors[{i}] has other 'coords' than tensors[0]"
            )
        reps.extend(t.type.representations)
    data = torch.cat([t.tensor for t in tensors], dim=1)
    return GeometricTensor(data, FieldType(first.type.gspace, reps), first.coords)
