"""``R2PointConv``: steerable convolution on planar point clouds (escnn 1.0.11's signature).

The input is a :class:`GeometricTensor` of ``P`` points (``tensor`` ``(P, in_type.size)``,
``coords`` ``(P, 2)``) and a graph ``edge_index`` ``(2, E)``. Edge ``e = (src, dst)`` carries the
message ``K(coords[src] - coords[dst]) x[src]``; each point receives the **mean** of its incoming
messages (0 without any), plus the bias. ``K`` is the steerable filter, evaluated at every edge's
displacement from the analytic basis that :mod:`e2compile.kernels.point` describes (ahead of the
points: frequencies, coefficient matrices, rings). Message passing is plain torch
(``index_add_``); torch_geometric is not needed.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

from ..errors import ArgumentError, ArgumentTypeError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ..init import generalized_he_std
from ._utils import require_field_type
from .equivariant_module import EquivariantModule

__all__ = ["R2PointConv"]

_WHO = "R2PointConv"
#: displacements shorter than this are the origin, where only frequency 0 survives (escnn's)
ORIGIN_RADIUS = 1e-9
#: the most numbers of per-edge filters formed at once (edges x filter size)
FILTER_CHUNK = 2**24


# ------------------------------------------------------------------------------- arguments
def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"{_WHO}: '{name}' must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ArgumentError(f"{_WHO}: '{name}' must be finite, got {value}")
    return value


def resolve_rings(width: Any, n_rings: Any, rings: Any) -> list[float]:
    """The ring radii: ``rings`` as given, or ``n_rings`` radii from 0 to ``width`` (float32
    values of ``torch.linspace``, as escnn computes them)."""
    if (width is not None and n_rings is not None) == (rings is not None):
        raise ArgumentError(
            f"{_WHO}: pass either 'width' and 'n_rings' or 'rings', not both nor neither "
            f"(got width={width!r}, n_rings={n_rings!r}, rings={rings!r})"
        )
    if rings is None:
        width = _number(width, "width")
        if width <= 0:
            raise ArgumentError(f"{_WHO}: 'width' must be positive, got {width}")
        if isinstance(n_rings, bool) or not isinstance(n_rings, numbers.Integral) or n_rings < 1:
            raise ArgumentError(f"{_WHO}: 'n_rings' must be a positive integer, got {n_rings!r}")
        radii = torch.linspace(0, width, int(n_rings), dtype=torch.float32, device="cpu")
        return radii.tolist()
    if isinstance(rings, (str, bytes)) or not isinstance(rings, Sequence | np.ndarray):
        raise ArgumentError(f"{_WHO}: 'rings' must be a sequence of radii, got {rings!r}")
    radii = [_number(r, "rings") for r in rings]
    if not radii or any(r < 0 for r in radii):
        raise ArgumentError(f"{_WHO}: 'rings' must be non-empty and non-negative, got {radii}")
    return radii


def resolve_sigma(sigma: Any, rings: list[float]) -> list[float]:
    """Ring widths: escnn's default (0.6, 0.4 for the last ring, 0.005 at radius 0), one number
    for every ring, or one per ring."""
    if sigma is None:
        values = [0.6] * (len(rings) - 1) + [0.4]
        values = [0.005 if r == 0.0 else s for r, s in zip(rings, values)]
    elif isinstance(sigma, numbers.Real) and not isinstance(sigma, bool):
        values = [_number(sigma, "sigma")] * len(rings)
    elif isinstance(sigma, Sequence | np.ndarray) and not isinstance(sigma, (str, bytes)):
        values = [_number(s, "sigma") for s in sigma]
        if len(values) != len(rings):
            raise ArgumentError(
                f"{_WHO}: 'sigma' needs one width per ring: got {len(values)} for "
                f"{len(rings)} rings"
            )
    else:
        raise ArgumentError(f"{_WHO}: 'sigma' must be a number or a list, got {sigma!r}")
    if any(s <= 0 for s in values):
        raise ArgumentError(f"{_WHO}: 'sigma' must be positive, got {values}")
    return values


def resolve_cutoffs(frequencies_cutoff: Any, rings: list[float]) -> list[float]:
    """The largest frequency on each ring: ``3 r`` by default, ``c r`` for a number ``c``, or a
    callable's value at each radius."""
    if frequencies_cutoff is None:
        frequencies_cutoff = 3.0
    if isinstance(frequencies_cutoff, numbers.Real) and not isinstance(frequencies_cutoff, bool):
        factor = _number(frequencies_cutoff, "frequencies_cutoff")
        return [factor * r for r in rings]
    if not callable(frequencies_cutoff):
        raise ArgumentError(
            f"{_WHO}: 'frequencies_cutoff' must be a number or a callable of the radius, got "
            f"{frequencies_cutoff!r}"
        )
    values = []
    for r in rings:
        value = frequencies_cutoff(r)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ArgumentError(
                f"{_WHO}: 'frequencies_cutoff' returned {value!r} for the ring at radius {r}"
            )
        if not math.isfinite(float(value)):
            raise ArgumentError(
                f"{_WHO}: 'frequencies_cutoff' returned {value} for the ring at radius {r}"
            )
        values.append(float(value))
    return values


@lru_cache(maxsize=256)
def _pair_basis(gspace: Any, in_repr: Any, out_repr: Any, rings, sigma, cutoffs):
    """The analytic basis of one pair of representations (the compiler's, memoised)."""
    from e2compile.families import family
    from e2compile.kernels import EmptyBasisException
    from e2compile.kernels.point import point_basis

    fam = family(gspace.family)
    kwargs = {"axis": float(gspace.axis)} if fam.flips else {}
    solver = fam.irreps_basis(gspace.fibergroup.order() < 0)
    try:
        return point_basis(solver, in_repr, out_repr, rings, sigma, cutoffs, **kwargs)
    except EmptyBasisException:
        return None


def _bias_basis(out_repr: Any) -> np.ndarray:
    from e2compile.kernels.point import trivial_bias_basis

    return trivial_bias_basis(out_repr)


def _filter_attributes(attributes: dict[str, np.ndarray], k: int) -> dict[str, Any]:
    """The attributes of element ``k`` as a user's ``basis_filter`` sees them (ours, and
    escnn's ``irrep:frequency``)."""
    out = {name: column[k].item() for name, column in attributes.items()}
    out["irrep:frequency"] = abs(out["frequency"])
    out["idx"] = k
    return out


# ---------------------------------------------------------------------------------- module
class R2PointConv(EquivariantModule):
    """Steerable convolution on a planar geometric graph (escnn 1.0.11's ``R2PointConv``).

    Args:
        in_type, out_type: field types on the same gspace.
        groups: only 1 (``NotImplementedError`` otherwise, as in escnn).
        bias: add a learnable bias to the output fields that contain a trivial irrep.
        sigma: Gaussian width of the rings: a number, one per ring, or ``None`` (0.6, 0.4 for the
            last ring, 0.005 for a ring at radius 0).
        width, n_rings: ``n_rings`` rings from 0 to ``width`` (alternative to ``rings``).
        frequencies_cutoff: the largest angular frequency on a ring of radius ``r``: a number
            ``c`` (``c r``), a callable of ``r``, or ``None`` (``3 r``).
        rings: ring radii (alternative to ``width``/``n_rings``).
        basis_filter: optional callable on an element's attributes (``radius``, ``sigma``,
            ``frequency``, ``irrep:frequency``, ``in_irrep``, ``out_irrep``, ...) keeping it when
            true.
        recompute: derive the analytic basis afresh instead of reusing the one this process
            memoised for the same pair of representations and rings.
        initialize: draw the weights with the generalized He initialisation.

    ``forward(input, edge_index, edge_delta=None)``: ``input.tensor`` ``(P, in_type.size)`` with
    ``input.coords`` ``(P, 2)``; ``edge_index`` ``(2, E)`` integers, row 0 the sources, row 1 the
    targets; ``edge_delta`` ``(E, 2)`` (default ``coords[src] - coords[dst]``). Returns ``(P,
    out_type.size)`` with the input's ``coords``.

    Weights: one block per pair of representations ``(in, out)``, pairs sorted by their names
    (escnn's order), each ``(out fields, in fields, basis elements)``.
    """

    def __init__(
        self,
        in_type: FieldType,
        out_type: FieldType,
        groups: int = 1,
        bias: bool = True,
        sigma: float | Sequence[float] | None = None,
        width: float | None = None,
        n_rings: int | None = None,
        frequencies_cutoff: float | Callable[[float], float] | None = None,
        rings: Sequence[float] | None = None,
        basis_filter: Callable[[dict], bool] | None = None,
        recompute: bool = False,
        initialize: bool = True,
    ) -> None:
        super().__init__()
        require_field_type(in_type, _WHO, "in_type")
        require_field_type(out_type, _WHO, "out_type")
        if in_type.gspace != out_type.gspace:
            raise ArgumentError(
                f"{_WHO}: 'in_type' and 'out_type' live on different gspaces: "
                f"{in_type.gspace.name!r} and {out_type.gspace.name!r}"
            )
        if not hasattr(in_type.gspace, "family"):
            raise ArgumentError(f"{_WHO}: the gspace of 'in_type' does not act on the plane")
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
            raise ArgumentError(f"{_WHO}: 'groups' must be a positive integer, got {groups!r}")
        if groups != 1:
            raise NotImplementedError(f"{_WHO}: groups != 1 is not supported (as in escnn)")
        if basis_filter is not None and not callable(basis_filter):
            raise ArgumentError(f"{_WHO}: 'basis_filter' must be callable, got {basis_filter!r}")
        self.in_type, self.out_type = in_type, out_type
        self.space = in_type.gspace
        self.groups = 1
        self._rings = resolve_rings(width, n_rings, rings)
        self._sigma = resolve_sigma(sigma, self._rings)
        self._cutoffs = resolve_cutoffs(frequencies_cutoff, self._rings)
        self._build_basis(basis_filter, bool(recompute))
        self._build_bias(bool(bias))
        if initialize:
            self.reset_parameters()

    # ------------------------------------------------------------------ construction
    def _build_basis(self, basis_filter: Callable[[dict], bool] | None, recompute: bool) -> None:
        in_reprs = _distinct(self.in_type.representations)
        out_reprs = _distinct(self.out_type.representations)
        pairs = sorted(
            ((i, o) for i in range(len(in_reprs)) for o in range(len(out_reprs))),
            key=lambda p: (in_reprs[p[0]].name, out_reprs[p[1]].name, p),
        )
        key = (tuple(self._rings), tuple(self._sigma), tuple(self._cutoffs))
        self._pairs: list[dict[str, Any]] = []
        start = 0
        for i, o in pairs:
            build = _pair_basis.__wrapped__ if recompute else _pair_basis
            basis = build(self.space, in_reprs[i], out_reprs[o], *key)
            if basis is not None and basis_filter is not None:
                keep = [
                    bool(basis_filter(_filter_attributes(basis.attributes, k)))
                    for k in range(basis.dim)
                ]
                basis = basis.select(np.asarray(keep, dtype=bool)) if any(keep) else None
            if basis is None:
                continue
            in_fields = _fields_of(self.in_type, in_reprs[i])
            out_fields = _fields_of(self.out_type, out_reprs[o])
            n = len(out_fields) * len(in_fields) * basis.dim
            index = len(self._pairs)
            self._pairs.append(
                {
                    "basis": basis,
                    "n_out": len(out_fields),
                    "n_in": len(in_fields),
                    "o": out_reprs[o].size,
                    "i": in_reprs[i].size,
                    "out_fields": np.asarray(out_fields, dtype=np.int64),
                    "dim": basis.dim,
                    "start": start,
                    "stop": start + n,
                }
            )
            for name, values in (
                ("cos", basis.cos),
                ("sin", basis.sin),
                ("frequency", basis.frequency.astype(np.float64)),
                ("radius", basis.radius),
                ("sigma", basis.sigma),
            ):
                self.register_derived_buffer(f"_pair{index}_{name}", values)
            self.register_derived_buffer(
                f"_pair{index}_in_channels", _channels(self.in_type, in_fields)
            )
            self.register_derived_buffer(
                f"_pair{index}_out_channels", _channels(self.out_type, out_fields)
            )
            start += n
        if start == 0:
            raise ArgumentError(
                f"{_WHO}: the basis of the filters is empty; widen 'frequencies_cutoff', "
                "'rings'/'width' or 'basis_filter'"
            )
        self.weights = torch.nn.Parameter(torch.zeros(start))

    def _build_bias(self, bias: bool) -> None:
        columns = []
        offset = 0
        for r in self.out_type.representations:
            b = _bias_basis(r)
            block = np.zeros((self.out_type.size, b.shape[1]))
            block[offset : offset + r.size] = b
            columns.append(block)
            offset += r.size
        expansion = np.concatenate(columns, axis=1) if columns else np.zeros((0, 0))
        if not bias or expansion.shape[1] == 0:
            self.bias = None
            self.register_buffer("bias_expansion", None)
            return
        self.register_derived_buffer("bias_expansion", expansion)
        self.bias = torch.nn.Parameter(torch.zeros(expansion.shape[1]))

    def reset_parameters(self) -> None:
        """Generalized He initialisation of the weights (escnn's), zero bias."""
        with torch.no_grad():
            std = torch.from_numpy(self._weight_std())
            self.weights.normal_().mul_(std.to(self.weights))
            if self.bias is not None:
                self.bias.zero_()

    def _weight_std(self) -> np.ndarray:
        """``std`` of every weight: ``1 / sqrt(n_in(o) n_basis(i, o))`` over the whole layer,
        ``o`` an output irrep position (over all output fields), ``i`` an input irrep name."""
        out_offsets = np.cumsum([0] + [len(r.irreps) for r in self.out_type.representations])
        positions, irreps = [], []
        names: dict[str, int] = {}  # input irrep name -> integer code
        for pair in self._pairs:
            a = pair["basis"].attributes
            # the (out field, in field, element) layout of the pair's weights
            pos = out_offsets[pair["out_fields"]][:, None] + a["out_irrep_position"][None, :]
            shape = (pair["n_out"], pair["n_in"], pair["basis"].dim)
            positions.append(np.broadcast_to(pos[:, None, :], shape).reshape(-1))
            codes = np.asarray([names.setdefault(n, len(names)) for n in a["in_irrep"]])
            irreps.append(np.broadcast_to(codes, shape).reshape(-1))
        return generalized_he_std(np.concatenate(positions), np.concatenate(irreps))

    # ------------------------------------------------------------------ filters
    def basis_attributes(self) -> list[dict[str, Any]]:
        """The attributes of every basis element, pair by pair (one dict per element)."""
        return [
            _filter_attributes(pair["basis"].attributes, k)
            for pair in self._pairs
            for k in range(pair["basis"].dim)
        ]

    def _pair_weights(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The weights of pair ``index`` times its cos and sin matrices: two ``(dim, O_p * I_p)``
        matrices (``O_p = n_out * o`` rows, ``I_p = n_in * i`` columns)."""
        pair = self._pairs[index]
        n_out, n_in, dim = pair["n_out"], pair["n_in"], pair["basis"].dim
        w = self.weights[pair["start"] : pair["stop"]].view(n_out, n_in, dim)
        cos, sin = (getattr(self, f"_pair{index}_{name}") for name in ("cos", "sin"))
        wc = torch.einsum("abd,doi->daobi", w, cos).reshape(dim, -1)
        ws = torch.einsum("abd,doi->daobi", w, sin).reshape(dim, -1)
        return wc, ws

    def _element_values(self, index: int, delta: torch.Tensor) -> torch.Tensor:
        """The scalar factors of the elements of pair ``index`` at ``delta`` ``(E, 2)``:
        ``(E, 2 dim)``, radial profile times ``cos(f phi)`` then times ``sin(f phi)``."""
        buf = lambda name: getattr(self, f"_pair{index}_{name}")  # noqa: E731
        freq, radius, sigma = buf("frequency"), buf("radius"), buf("sigma")
        r, phi, origin = _polar(delta)
        radial = torch.exp(-0.5 * ((r[:, None] - radius) / sigma) ** 2)
        angle = phi[:, None] * freq
        origin = origin[:, None]
        c = torch.where(origin, (freq == 0).to(delta.dtype), torch.cos(angle))
        s = torch.where(origin, torch.zeros_like(angle), torch.sin(angle))
        return torch.cat([radial * c, radial * s], dim=1)

    def _pair_filter(
        self, index: int, delta: torch.Tensor, wc: torch.Tensor, ws: torch.Tensor
    ) -> torch.Tensor:
        """The filter of pair ``index`` at displacements ``delta`` ``(E, 2)``:
        ``(E, n_out * o, n_in * i)`` (``wc``, ``ws`` from :meth:`_pair_weights`)."""
        pair = self._pairs[index]
        k = self._element_values(index, delta) @ torch.cat([wc, ws])
        return k.view(-1, pair["n_out"] * pair["o"], pair["n_in"] * pair["i"])

    def _pair_messages(
        self,
        index: int,
        delta: torch.Tensor,
        x_src: torch.Tensor,
        wc: torch.Tensor,
        ws: torch.Tensor,
    ) -> torch.Tensor:
        """``K(delta_e) x_e`` for the edges of one chunk: ``(E, n_out * o)``. The per-edge
        filters are formed by one matrix product over the elements (measured faster on CPU than
        escnn's order, elements applied to the inputs first, even though that order does fewer
        operations: its products have an inner dimension of one irrep's size)."""
        k = self._pair_filter(index, delta, wc, ws)
        return torch.bmm(k, x_src.unsqueeze(2)).squeeze(2)

    def expand_filter(self, points: torch.Tensor) -> torch.Tensor:
        """The whole filter at displacements ``points`` ``(E, 2)``: ``(E, O, I)``."""
        points = self._check_delta(points, "points", None)
        out = points.new_zeros(points.shape[0], self.out_type.size, self.in_type.size)
        for index in range(len(self._pairs)):
            k = self._pair_filter(index, points, *self._pair_weights(index))
            rows = getattr(self, f"_pair{index}_out_channels")
            cols = getattr(self, f"_pair{index}_in_channels")
            out[:, rows[:, None], cols[None, :]] += k
        return out

    def expand_bias(self) -> torch.Tensor | None:
        """The bias of the output channels (``None`` without bias)."""
        if self.bias is None:
            return None
        return self.bias_expansion @ self.bias

    # ------------------------------------------------------------------ forward
    def _check_delta(self, delta: Any, name: str, n_edges: int | None) -> torch.Tensor:
        if not isinstance(delta, torch.Tensor):
            raise ArgumentTypeError(f"{_WHO}: '{name}' must be a torch.Tensor, got {delta!r}")
        if delta.dim() != 2 or delta.shape[1] != 2 or not delta.is_floating_point():
            raise ArgumentError(
                f"{_WHO}: '{name}' must be a floating (edges, 2) tensor, got shape "
                f"{tuple(delta.shape)} and dtype {delta.dtype}"
            )
        if n_edges is not None and delta.shape[0] != n_edges:
            raise ArgumentError(
                f"{_WHO}: '{name}' has {delta.shape[0]} rows for {n_edges} edges in 'edge_index'"
            )
        return delta

    def _check_edges(self, edge_index: Any, n_points: int) -> torch.Tensor:
        if not isinstance(edge_index, torch.Tensor):
            raise ArgumentTypeError(
                f"{_WHO}: 'edge_index' must be a torch.Tensor, got {type(edge_index).__name__}"
            )
        if edge_index.dim() != 2 or edge_index.shape[0] != 2:
            raise ArgumentError(
                f"{_WHO}: 'edge_index' must have shape (2, edges), got {tuple(edge_index.shape)}"
            )
        if edge_index.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8,
                                    torch.uint8):  # fmt: skip
            raise ArgumentError(
                f"{_WHO}: 'edge_index' must hold integers (torch.long), got {edge_index.dtype}"
            )
        if edge_index.numel():
            low, high = int(edge_index.min()), int(edge_index.max())
            if low < 0 or high >= n_points:
                raise ArgumentError(
                    f"{_WHO}: 'edge_index' refers to points {low}..{high}, but the input has "
                    f"{n_points} points (indices 0..{n_points - 1})"
                )
        return edge_index.long()

    def forward(
        self,
        input: GeometricTensor,
        edge_index: torch.Tensor,
        edge_delta: torch.Tensor | None = None,
    ) -> GeometricTensor:
        x = self._check_input(input)
        if x.dim() != 2:
            raise ArgumentError(
                f"{_WHO}: 'input.tensor' must have shape (points, {self.in_type.size}), got "
                f"{tuple(x.shape)}"
            )
        edges = self._check_edges(edge_index, x.shape[0])
        src, dst = edges[0], edges[1]
        if edge_delta is None:
            if input.coords is None:
                raise ArgumentError(
                    f"{_WHO}: 'input' has no coords; build it as GeometricTensor(tensor, type, "
                    "coords) or pass 'edge_delta'"
                )
            edge_delta = input.coords[src] - input.coords[dst]
        else:
            edge_delta = self._check_delta(edge_delta, "edge_delta", edges.shape[1])
        edge_delta = edge_delta.to(x.dtype)
        messages = x.new_zeros(edges.shape[1], self.out_type.size)
        for index in range(len(self._pairs)):
            cols = getattr(self, f"_pair{index}_in_channels")
            rows = getattr(self, f"_pair{index}_out_channels")
            messages.index_add_(1, rows, self._messages(index, edge_delta, x[:, cols], src))
        out = x.new_zeros(x.shape[0], self.out_type.size).index_add_(0, dst, messages)
        count = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        count.index_add_(0, dst, torch.ones_like(dst, dtype=x.dtype))
        out = out / count.clamp(min=1).unsqueeze(1)
        if self.bias is not None:
            out = out + self.expand_bias()
        return GeometricTensor(out, self.out_type, input.coords)

    def _messages(
        self, index: int, delta: torch.Tensor, x_pair: torch.Tensor, src: torch.Tensor
    ) -> torch.Tensor:
        """The messages of pair ``index`` on every edge, ``(E, O_p)``, a chunk of edges at a time
        (at most :data:`FILTER_CHUNK` numbers of per-edge filters); with autograd on and several
        chunks, each chunk is recomputed in the backward pass instead of kept."""
        wc, ws = self._pair_weights(index)
        n_edges = delta.shape[0]
        step = max(1, FILTER_CHUNK // wc.shape[1])
        if n_edges <= step:
            return self._pair_messages(index, delta, x_pair[src], wc, ws)
        keep_graph = torch.is_grad_enabled()
        parts = []
        for lo in range(0, n_edges, step):
            args = (index, delta[lo : lo + step], x_pair[src[lo : lo + step]], wc, ws)
            if keep_graph:
                parts.append(checkpoint(self._pair_messages, *args, use_reentrant=False))
            else:
                parts.append(self._pair_messages(*args))
        return torch.cat(parts)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        return (shape[0], self.out_type.size, *shape[2:])

    def check_equivariance(
        self, atol: float = 1e-6, rtol: float = 1e-5, elements: Any = None, points: int = 12
    ) -> list[tuple[Any, float]]:
        """Compare ``self(g x)`` with ``g self(x)`` on a random point cloud (every pair of points
        closer than the outer ring, self loops included), in float64; ``g`` runs over the
        gspace's testing elements by default (any rotation is exact on points). Raises
        ``AssertionError`` above the tolerances; returns ``[(element, max error)]``."""
        module = self._float64_copy()
        generator = torch.Generator().manual_seed(0)
        device = module._tensor_device()
        reach = max(self._rings) + 1.0
        coords = (torch.rand(points, 2, generator=generator, dtype=torch.float64) - 0.5) * reach
        x = torch.randn(points, self.in_type.size, generator=generator, dtype=torch.float64)
        coords, x = coords.to(device), x.to(device)
        close = torch.cdist(coords, coords) <= reach
        edge_index = close.nonzero().T.contiguous()
        if elements is None:
            elements = self.in_type.gspace.testing_elements
        errors = []
        with torch.no_grad():
            ref = module(GeometricTensor(x, module.in_type, coords), edge_index)
            for g in elements:
                moved = GeometricTensor(x, module.in_type, coords).transform(g)
                out1 = module(moved, edge_index).tensor
                out2 = ref.transform(g).tensor
                err = (out1 - out2).abs()
                if not torch.allclose(out1, out2, atol=atol, rtol=rtol):
                    raise AssertionError(
                        f"{_WHO}: equivariance error for element {g!r} too high: max "
                        f"{err.max().item():.3g} (atol={atol}, rtol={rtol}, float64)"
                    )
                errors.append((g, err.max().item()))
        return errors


# ---------------------------------------------------------------------------------- helpers
def _polar(delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Radius, angle and origin mask of displacements ``(E, 2)``. Points at the origin are
    replaced by ``(1, 0)`` before ``sqrt``/``atan2`` so that their gradients stay finite (zero)
    rather than NaN."""
    squared = (delta * delta).sum(dim=1)
    origin = squared <= ORIGIN_RADIUS**2
    safe = torch.where(
        origin[:, None], torch.ones_like(delta) * delta.new_tensor([1.0, 0.0]), delta
    )
    r = torch.where(origin, torch.zeros_like(squared), torch.sqrt((safe * safe).sum(dim=1)))
    return r, torch.atan2(safe[:, 1], safe[:, 0]), origin


def _distinct(reprs: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(reprs))


def _fields_of(field_type: FieldType, repr: Any) -> list[int]:
    return [k for k, r in enumerate(field_type.representations) if r == repr]


def _channels(field_type: FieldType, fields: list[int]) -> np.ndarray:
    start = field_type.fields_start
    size = field_type.representations[fields[0]].size
    return np.asarray([int(start[f]) + c for f in fields for c in range(size)], dtype=np.int64)
