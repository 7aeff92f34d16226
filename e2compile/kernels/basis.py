"""Abstract kernel bases, the Gaussian radial profile and the polar (radial x angular) product.

Every basis stores its per-element attributes as *columns* (one 1-D array per attribute, one entry
per element); iterating over a basis builds one attribute dictionary per element from those columns.
Sampling always returns an array of shape ``(O, I, dim, P)`` for ``P`` points.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "EmptyBasisException",
    "KernelBasis",
    "GaussianRadialProfile",
    "PolarBasis",
    "polar_coordinates",
]

#: Points closer to the origin than this are treated as the origin (no defined angle).
ORIGIN_TOLERANCE = 1e-9


class EmptyBasisException(Exception):
    """Raised when a kernel basis would contain no element at all."""

    def __init__(self, message: str | None = None):
        super().__init__(
            message
            or "the kernel basis is empty: no equivariant element survives the constraints/filters"
        )


def polar_coordinates(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radii, angles and origin mask of planar points given as an array of shape ``(2, P)``.

    The angle of a point at the origin is reported as 0 and flagged in the returned mask.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] != 2:
        raise ValueError(f"points must have shape (2, P), got {points.shape}")
    radii = np.sqrt(points[0] ** 2 + points[1] ** 2)
    origin = radii < ORIGIN_TOLERANCE
    angles = np.arctan2(points[1], points[0])
    angles[origin] = 0.0
    return radii, angles, origin


class KernelBasis(ABC):
    """A finite basis of matrix-valued kernels on the plane.

    Attributes:
        dim: number of basis elements.
        shape: ``(O, I)``, the size of the matrices each element takes values in.
    """

    def __init__(self, dim: int, shape: tuple[int, int]):
        if int(dim) != dim or dim < 0:
            raise ValueError(f"dim must be a non-negative integer, got {dim!r}")
        if dim == 0:
            raise EmptyBasisException()
        self.dim = int(dim)
        self.shape = (int(shape[0]), int(shape[1]))

    def sample(self, points: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Evaluate every element on ``points`` (shape ``(2, P)``); returns ``(O, I, dim, P)``.

        With ``out`` (a float array of that shape) the samples are written into it and ``out`` is
        returned, as in the reference library. Angular bases also accept angles of shape
        ``(1, P)`` and radial ones radii of shape ``(1, P)`` (the reference's arguments).
        """
        return _fill(self._sample(_check_points(points)), out)

    @abstractmethod
    def _sample(self, points: np.ndarray) -> np.ndarray:
        """:meth:`sample` without ``out``; ``points``: float64, ``(2, P)`` or ``(1, P)``."""

    @abstractmethod
    def attribute_columns(self) -> dict[str, np.ndarray]:
        """Per-element attributes as a dict of 1-D arrays of length ``dim``."""

    def sample_masked(
        self, points: np.ndarray, mask: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Sample only the elements selected by the boolean ``mask`` of length ``dim``:
        ``(O, I, mask.sum(), P)``, written into ``out`` when given."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.dim,):
            raise ValueError(f"mask must have shape ({self.dim},), got {mask.shape}")
        return _fill(self._sample_masked(_check_points(points), mask), out)

    def _sample_masked(self, points: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self._sample(points)[:, :, mask, :]

    def __len__(self) -> int:
        return self.dim

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -self.dim <= index < self.dim:
            raise IndexError(f"basis element {index} out of range for a basis of dim {self.dim}")
        index %= self.dim
        return _row(self.attribute_columns(), index)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        columns = self.attribute_columns()
        for index in range(self.dim):
            yield _row(columns, index)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, shape={self.shape})"


def _check_points(points: Any) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] not in (1, 2):
        raise ValueError(
            f"points: expected an array of shape (2, P) (or (1, P) angles/radii), got {array.shape}"
        )
    return array


def _fill(values: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``values``, or ``out`` filled with them (checked: same shape, floating dtype)."""
    if out is None:
        return values
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out: expected a numpy array, got {type(out).__name__}")
    if out.shape != values.shape:
        raise ValueError(f"out: expected shape {values.shape}, got {out.shape}")
    if out.dtype.kind != "f":
        raise TypeError(f"out: expected a floating-point array, got dtype {out.dtype}")
    out[...] = values
    return out


def _row(columns: dict[str, np.ndarray], index: int) -> dict[str, Any]:
    """One attribute dict of plain Python values; ``None`` entries (not applicable) are omitted."""
    row = {}
    for name, column in columns.items():
        value = column[index]
        if value is None:
            continue
        row[name] = value.item() if isinstance(value, np.generic) else value
    return row


class GaussianRadialProfile(KernelBasis):
    """Gaussian rings ``b_i(r) = exp(-(r - r_i)^2 / (2 sigma_i^2))``, one element per ring.

    Args:
        radii: ring centres (non-negative).
        sigma: ring widths (positive); a single number applies to every ring.
    """

    def __init__(self, radii: Sequence[float], sigma: Sequence[float] | float):
        radii = np.asarray(list(radii), dtype=np.float64).reshape(-1)
        if np.isscalar(sigma) or np.ndim(sigma) == 0:
            sigma = np.full(radii.shape, float(sigma))
        else:
            sigma = np.asarray(list(sigma), dtype=np.float64).reshape(-1)
        if sigma.shape != radii.shape:
            raise ValueError(
                f"sigma must have one entry per ring: {len(sigma)} widths for {len(radii)} radii"
            )
        if np.any(~np.isfinite(radii)) or np.any(radii < 0):
            raise ValueError(f"radii must be finite and non-negative, got {radii.tolist()}")
        if np.any(~np.isfinite(sigma)) or np.any(sigma <= 0):
            raise ValueError(f"sigma must be finite and positive, got {sigma.tolist()}")
        super().__init__(len(radii), (1, 1))
        self.radii = radii
        self.sigma = sigma

    def sample_radii(self, radii: np.ndarray) -> np.ndarray:
        """Evaluate the rings at the given distances from the origin; returns ``(1, 1, dim, P)``."""
        radii = np.asarray(radii, dtype=np.float64).reshape(1, -1)
        d = radii - self.radii[:, None]
        return np.exp(-0.5 * d * d / (self.sigma[:, None] ** 2))[None, None]

    def _sample(self, points: np.ndarray) -> np.ndarray:
        if points.shape[0] == 1:  # radii, as the reference's radial profile takes them
            return self.sample_radii(points)
        radii, _, _ = polar_coordinates(points)
        return self.sample_radii(radii)

    def attribute_columns(self) -> dict[str, np.ndarray]:
        return {
            "radius": self.radii.copy(),
            "sigma": self.sigma.copy(),
            "idx": np.arange(self.dim),
        }

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, GaussianRadialProfile)
            and np.array_equal(self.radii, other.radii)
            and np.array_equal(self.sigma, other.sigma)
        )

    def __hash__(self) -> int:
        return hash((self.radii.tobytes(), self.sigma.tobytes()))


class PolarBasis(KernelBasis):
    """Tensor product of a radial basis and an angular basis: ``c_ij(x) = a_i(|x|) b_j(angle(x))``.

    Elements are ordered radius-major: element ``i * angular.dim + j`` pairs radial element ``i``
    with angular element ``j``. The angular basis must provide ``sample_angles(angles, origin)``.
    """

    def __init__(self, radial: GaussianRadialProfile, angular: KernelBasis):
        if radial.shape != (1, 1):
            raise ValueError("the radial basis must be scalar-valued")
        super().__init__(radial.dim * angular.dim, angular.shape)
        self.radial = radial
        self.angular = angular

    def _sample(self, points: np.ndarray) -> np.ndarray:
        if points.shape[0] != 2:
            raise ValueError(f"points: expected shape (2, P), got {points.shape}")
        radii, angles, origin = polar_coordinates(points)
        radial = self.radial.sample_radii(radii)[0, 0]  # (R, P)
        angular = self.angular.sample_angles(angles, origin)  # (O, I, A, P)
        out = radial[None, None, :, None, :] * angular[:, :, None, :, :]
        return out.reshape(self.shape[0], self.shape[1], self.dim, radii.shape[0])

    def _sample_masked(self, points: np.ndarray, mask: np.ndarray) -> np.ndarray:
        # only the selected elements are built
        return np.moveaxis(self.sample_stacked(points, mask), 0, 2)

    def sample_stacked(self, points: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Element-major sampling: ``(n, O, I, P)`` for the ``n`` elements selected by ``mask``."""
        mask = np.ones(self.dim, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        if mask.shape != (self.dim,):
            raise ValueError(f"mask must have shape ({self.dim},), got {mask.shape}")
        radii, angles, origin = polar_coordinates(points)
        radial = self.radial.sample_radii(radii)[0, 0]  # (R, P)
        if hasattr(self.angular, "sample_angles_stacked"):
            angular = self.angular.sample_angles_stacked(angles, origin)  # (A, O, I, P)
        else:
            angular = np.moveaxis(self.angular.sample_angles(angles, origin), 2, 0)
        ring, harmonic = np.divmod(np.flatnonzero(mask), self.angular.dim)
        out = angular[harmonic]
        out *= radial[ring][:, None, None, :]
        return out

    def attribute_columns(self) -> dict[str, np.ndarray]:
        n_r, n_a = self.radial.dim, self.angular.dim
        columns: dict[str, np.ndarray] = {}
        for name, column in self.radial.attribute_columns().items():
            columns[name] = np.repeat(column, n_a)
        for name, column in self.angular.attribute_columns().items():
            columns[name] = np.tile(column, n_r)
        columns["idx1"] = np.repeat(np.arange(n_r), n_a)
        columns["idx2"] = np.tile(np.arange(n_a), n_r)
        columns["idx"] = np.arange(self.dim)
        return columns

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PolarBasis)
            and self.radial == other.radial
            and self.angular == other.angular
        )

    def __hash__(self) -> int:
        return hash((self.radial, self.angular))
