"""Bases of equivariant PDOs on the plane: polynomial coefficients plus a discretisation.

A PDO between fields of sizes ``c_in`` and ``c_out`` is a ``c_out x c_in`` matrix of homogeneous
polynomials ``P(x, y)`` read as differential operators ``P(d/dx, d/dy)``. An element of order ``n``
is stored as its coefficients, an array ``(c_out, c_in, n + 1)`` over the monomials
``x^n, x^(n-1) y, ..., y^n`` (i.e. ``d^n/dx^n, d^n/dx^(n-1)dy, ..., d^n/dy^n``).

The PDO ``D(P)`` is equivariant exactly when ``P(g x) = rho_out(g) P(x) rho_in(g)^-1`` for the
(orthogonal) planar action of every ``g``: the kernel constraint, restricted to polynomials. Its
solutions are the angular kernel solutions of frequency ``mu`` written as homogeneous polynomials
of degree ``|mu|`` (``r^|mu| cos(mu theta + gamma)`` is the real or imaginary part of
``(x + i y)^|mu|`` rotated), times powers of the Laplacian ``(x^2 + y^2)^j``, which commute with
every rotation and reflection.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..kernels.basis import EmptyBasisException
from ..kernels.steerable_basis import SteerableKernelBasis
from .discretization import DiscretizationArgs, monomial_stencils
from .polynomials import (
    display_diffop,
    laplacian_power,
    monomials,
    multiply_polynomials,
    transform_polynomial,
)

__all__ = [
    "DiffopBasis",
    "LaplaceProfile",
    "SteerableDiffopBasis",
    "TensorBasis",
    "homogeneous_from_angles",
    "evaluate_homogeneous",
]


def _check_discretization(discretization: Any) -> DiscretizationArgs:
    if not isinstance(discretization, DiscretizationArgs):
        raise TypeError(
            f"discretization must be a DiscretizationArgs, got {type(discretization).__name__}"
        )
    return discretization


def evaluate_homogeneous(coefficients: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Values on the unit circle at ``angles`` of polynomials ``(..., n + 1)``: ``(..., A)``."""
    circle = np.stack([np.cos(angles), np.sin(angles)])
    return coefficients @ monomials(coefficients.shape[-1] - 1, circle)


def homogeneous_from_angles(function: Any, degree: int) -> np.ndarray:
    """Coefficients ``(..., degree + 1)`` of the homogeneous polynomials of ``degree`` equal to
    ``function(angles) -> (..., A)`` on the unit circle (least squares on ``2 degree + 2``
    equally spaced angles; exact when such polynomials exist)."""
    n = int(degree)
    angles = 2 * math.pi * np.arange(2 * n + 2) / (2 * n + 2)
    i = np.arange(n + 1)
    matrix = np.cos(angles)[:, None] ** (n - i) * np.sin(angles)[:, None] ** i  # (A, n+1)
    values = np.asarray(function(angles), dtype=np.float64)
    flat = values.reshape(-1, angles.size).T  # (A, rest)
    solution, *_ = np.linalg.lstsq(matrix, flat, rcond=None)
    solution[np.abs(solution) < 1e-13] = 0.0
    return solution.T.reshape(*values.shape[:-1], n + 1)


def _rotate(coefficients: np.ndarray, angle: float) -> np.ndarray:
    """The polynomials ``P(R(-angle) x)``: the PDOs rotated by ``angle``."""
    c, s = math.cos(angle), math.sin(angle)
    return transform_polynomial(coefficients, np.array([[c, -s], [s, c]]))


class DiffopBasis:
    """A finite basis of ``c_out x c_in`` matrices of PDOs, given by polynomial coefficients.

    Args:
        coefficients: one array ``(c_out, c_in, n + 1)`` per element (``n`` its order).
        discretization: how :meth:`sample` turns the PDOs into stencils.

    Attributes:
        coefficients, dim, shape (``(c_out, c_in)``), maximum_order, discretization.
    """

    def __init__(
        self,
        coefficients: Sequence[np.ndarray],
        discretization: DiscretizationArgs = DiscretizationArgs(),  # noqa: B008 - immutable
    ):
        self.discretization = _check_discretization(discretization)
        coefficients = [np.asarray(c, dtype=np.float64) for c in coefficients]
        if not coefficients:
            raise EmptyBasisException("the PDO basis is empty")
        shape = coefficients[0].shape[:2]
        for c in coefficients:
            if c.ndim != 3 or c.shape[:2] != shape or c.shape[2] == 0:
                raise ValueError(
                    f"every coefficient array must have shape {(*shape, 'n + 1')}, got {c.shape}"
                )
        if self.discretization.angle_offset:
            coefficients = [_rotate(c, self.discretization.angle_offset) for c in coefficients]
        self.coefficients = coefficients
        self.dim = len(coefficients)
        self.shape = (int(shape[0]), int(shape[1]))
        self.maximum_order = max(c.shape[2] - 1 for c in coefficients)

    @property
    def orders(self) -> np.ndarray:
        """The order of every element."""
        return np.array([c.shape[2] - 1 for c in self.coefficients], dtype=np.int64)

    def sample(self, points: np.ndarray) -> np.ndarray:
        """Discretise every element on ``points`` ``(2, P)``: ``(c_out, c_in, dim, P)``."""
        return self.sample_masked(points)

    def sample_masked(self, points: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Discretise the elements selected by the boolean ``mask`` ``(dim,)`` on ``points``
        ``(2, P)`` (for ``"fd"``: the points of a full grid): ``(c_out, c_in, n_selected, P)``."""
        return np.moveaxis(self.sample_stacked(points, mask), 0, 2)

    def sample_stacked(self, points: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """As :meth:`sample_masked`, element-major: ``(n_selected, c_out, c_in, P)``."""
        if mask is None:
            mask = np.ones(self.dim, dtype=bool)
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (self.dim,):
            raise ValueError(f"mask must be a boolean array of shape ({self.dim},)")
        points = np.asarray(points, dtype=np.float64)
        selected = np.flatnonzero(mask)
        orders = self.orders[selected]
        out = np.empty((selected.size, *self.shape, points.shape[-1]))
        for n in np.unique(orders):  # one stencil and one product per order
            rows = np.flatnonzero(orders == n)
            stencils = monomial_stencils(int(n), points, self.discretization)
            out[rows] = np.stack([self.coefficients[i] for i in selected[rows]]) @ stencils
        return out

    def attribute_columns(self) -> dict[str, np.ndarray]:
        """Per-element attributes as 1-D columns (at least ``order`` and ``idx``)."""
        return {"order": self.orders, "idx": np.arange(self.dim)}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        columns = self.attribute_columns()
        for index in range(self.dim):
            yield {
                name: (col[index].item() if isinstance(col[index], np.generic) else col[index])
                for name, col in columns.items()
                if col[index] is not None
            }

    def __len__(self) -> int:
        return self.dim

    def pretty_print(self) -> str:
        """Every element as a matrix of differential operators (``x`` for ``d/dx``, see
        :func:`~e2compile.diffops.utils.display_diffop`), one block per element."""
        lines = []
        for index, c in enumerate(self.coefficients):
            lines.append(f"element {index} (order {c.shape[2] - 1}):")
            for row in c:
                lines.append("  [" + ", ".join(display_diffop(entry) for entry in row) + "]")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dim={self.dim}, shape={self.shape}, "
            f"maximum_order={self.maximum_order})"
        )


class LaplaceProfile(DiffopBasis):
    """The rotation- and reflection-invariant PDOs ``Delta^j``, ``j = 0..max_power``."""

    def __init__(
        self,
        max_power: int,
        discretization: DiscretizationArgs = DiscretizationArgs(),  # noqa: B008 - immutable
    ):
        if isinstance(max_power, bool) or not isinstance(max_power, (int, np.integer)):
            raise TypeError(f"max_power must be an integer, got {max_power!r}")
        if max_power < 0:
            raise ValueError(f"max_power must be non-negative, got {max_power}")
        self.max_power = int(max_power)
        coefficients = [laplacian_power(j)[None, None] for j in range(self.max_power + 1)]
        super().__init__(coefficients, discretization)

    def attribute_columns(self) -> dict[str, np.ndarray]:
        columns = super().attribute_columns()
        columns["power"] = np.arange(self.dim, dtype=np.int64)
        return columns


class SteerableDiffopBasis(DiffopBasis):
    """The equivariant PDOs from ``in_repr`` to ``out_repr`` up to invariant (Laplacian) factors.

    Each element of the angular kernel basis (``irreps_basis`` solved for every pair of irreps,
    see :class:`~e2compile.kernels.SteerableKernelBasis`) of frequency ``mu`` becomes the
    homogeneous polynomial of degree ``|mu|`` equal to it on the unit circle.

    Args:
        irreps_basis: the irreps-pair basis class of the group family.
        in_repr, out_repr: the representations of the input and output fields.
        discretization: see :class:`DiscretizationArgs`.
        irreps_blocks: if true, every element is its ``d_out x d_in`` block between its two
            irreps, before the changes of basis, in the top-left corner of a ``2 x 2`` matrix
            (the compact form of :mod:`e2compile.kernels.compact`): ``shape == (2, 2)``. Every
            later step (Laplacian powers, rotation, stencils) acts entry by entry, so it commutes
            with the changes of basis.
        **kwargs: passed to ``irreps_basis`` (``axis``, ``max_frequency``, ``max_offset``), plus
            ``in_change_of_basis``/``out_change_of_basis`` to override the representations'.
    """

    def __init__(
        self,
        irreps_basis: Any,
        in_repr: Any,
        out_repr: Any,
        discretization: DiscretizationArgs = DiscretizationArgs(),  # noqa: B008 - immutable
        *,
        irreps_blocks: bool = False,
        **kwargs: Any,
    ):
        angular = SteerableKernelBasis(irreps_basis, in_repr, out_repr, **kwargs)
        self.angular = angular
        self.in_repr, self.out_repr = in_repr, out_repr
        self.irreps_blocks = bool(irreps_blocks)
        columns = angular.attribute_columns()
        self._columns = columns
        frequency = np.abs(columns["frequency"])
        sample = angular.sample_angles_blocks if irreps_blocks else angular.sample_angles_stacked
        coefficients: list[np.ndarray] = [np.empty(0)] * angular.dim
        for n in np.unique(frequency):
            selected = np.flatnonzero(frequency == n)

            def values(angles: np.ndarray, selected: np.ndarray = selected) -> np.ndarray:
                return sample(angles, np.zeros(angles.size, bool))[selected]

            fitted = homogeneous_from_angles(values, int(n))
            for row, index in enumerate(selected):
                coefficients[index] = fitted[row]
        super().__init__(coefficients, discretization)

    def attribute_columns(self) -> dict[str, np.ndarray]:
        columns = dict(self._columns)
        columns["order"] = self.orders
        columns["idx"] = np.arange(self.dim)
        return columns


class TensorBasis(DiffopBasis):
    """The products ``a_i o b_j`` of a :class:`SteerableDiffopBasis` ``A`` (``a_i``) and a
    :class:`LaplaceProfile` ``B`` of powers up to ``max_power`` (``b_j``), ordered power-major
    (element ``j * A.dim + i``).

    Extra ``kwargs`` (e.g. ``irreps_blocks``) go to :class:`SteerableDiffopBasis`.
    """

    def __init__(
        self,
        irreps_basis: Any,
        in_repr: Any,
        out_repr: Any,
        max_power: int,
        discretization: DiscretizationArgs = DiscretizationArgs(),  # noqa: B008 - immutable
        **kwargs: Any,
    ):
        discretization = _check_discretization(discretization)
        plain = DiscretizationArgs(
            discretization.method, discretization.smoothing, None, discretization.phi
        )
        self.basis1 = SteerableDiffopBasis(irreps_basis, in_repr, out_repr, plain, **kwargs)
        self.irreps_blocks = self.basis1.irreps_blocks
        self.basis2 = LaplaceProfile(max_power, plain)
        coefficients = [
            multiply_polynomials(a, b[0, 0])
            for b in self.basis2.coefficients
            for a in self.basis1.coefficients
        ]
        super().__init__(coefficients, discretization)

    def attribute_columns(self) -> dict[str, np.ndarray]:
        a, b = self.basis1.attribute_columns(), self.basis2.attribute_columns()
        n1, n2 = self.basis1.dim, self.basis2.dim
        columns = {name: np.tile(column, n2) for name, column in a.items()}
        columns["power"] = np.repeat(b["power"], n1)
        columns["order"] = self.orders
        columns["idx1"] = np.tile(np.arange(n1), n2)
        columns["idx2"] = np.repeat(np.arange(n2), n1)
        columns["idx"] = np.arange(self.dim)
        return columns
