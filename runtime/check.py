"""Measure how equivariant a model is, layer by layer: the library behind ``e2c check``.

:func:`check_equivariance` feeds a real photograph (scikit-learn's sample images, shipped with the
package) to the model, transforms it by group elements and compares, for every equivariant layer
and for the whole model, the output on the transformed input with the transformed output::

    error(layer, g) = max |layer(g.x) - g.layer(x)| / max |g.layer(x)|

where ``layer(g.x)`` is the layer's output while the *model* runs on ``g.x``: the error a layer
shows includes what the layers before it let through, so reading the table top to bottom shows
where equivariance is lost. Elements that map the pixel grid onto itself (multiples of 90 degrees,
axis flips) are exact up to float round-off; other angles resample the grid (spline
interpolation), so they are compared inside the disc inscribed in each feature map and their
error includes the interpolation error.

Elements: the gspace's ``testing_elements``, and a sweep: ``angles`` rotations evenly spaced over
the circle for SO(2)/O(2) (with and without the flip for O(2)); for C_N/D_N the group's elements,
plus the ``angles`` rotations (and flips) in between when the input is made of trivial fields,
compared only on invariant (trivial) outputs: other fields of a finite group have no action there.

Models: an :class:`~runtime.nn.EquivariantModule` receives a ``GeometricTensor``; any other
``torch.nn.Module`` with an ``in_type`` attribute receives the plain tensor (as a classifier whose
forward wraps it), or a ``GeometricTensor`` when the plain tensor raises a ``TypeError``. A
``GeometricTensor`` output is compared through its type, a plain tensor through the model's
``out_type`` when it has one, else it must be invariant (a classifier's logits). Runs in eval
mode under ``torch.no_grad()``; the model's train/eval mode is restored afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from e2compile.families import family

from .nn import FieldType, GeometricTensor
from .nn.grid import quarter_turns, transform_grid
from .nn.modules.equivariant_module import EquivariantModule

__all__ = [
    "DEFAULT_TOLERANCE",
    "CheckReport",
    "ElementResult",
    "check_equivariance",
    "sample_images",
    "sweep_elements",
]

#: Relative error above which a grid-preserving element fails the check.
DEFAULT_TOLERANCE = 1e-4
#: The name of the whole model in a report's layers.
MODEL = "model"
_SAMPLE_IMAGES = ("china.jpg", "flower.jpg")


@dataclass(frozen=True)
class ElementResult:
    """The errors of every layer (and ``"model"``) for one group element."""

    element: Any
    angle: float  # radians in [0, 2 pi): the rotation part of the element's action on the plane
    flip: bool
    grid_exact: bool
    testing: bool  # one of the gspace's testing elements
    sweep: bool  # part of the sweep
    errors: dict[str, float]


@dataclass(frozen=True)
class CheckReport:
    """The result of :func:`check_equivariance`; ``ok`` gates CI (see :attr:`failures`)."""

    gspace: str
    size: int
    tolerance: float
    layers: tuple[tuple[str, str], ...]  # (name, class name), execution order; "model" last
    elements: tuple[ElementResult, ...]
    notes: tuple[str, ...] = field(default=())
    continuous: bool = False  # the group is SO(2)/O(2): the sweep is a sampling of the circle

    @property
    def failures(self) -> list[tuple[str, Any, float]]:
        """``(layer, element, error)`` for every grid-preserving element above the tolerance
        (or with a non-finite error)."""
        return [
            (name, r.element, err)
            for r in self.elements
            if r.grid_exact
            for name, err in r.errors.items()
            if not err <= self.tolerance
        ]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "gspace": self.gspace,
            "size": self.size,
            "tolerance": self.tolerance,
            "continuous": self.continuous,
            "ok": self.ok,
            "layers": [{"name": n, "type": t} for n, t in self.layers],
            "elements": [
                {
                    "element": _plain(r.element),
                    "angle_deg": math.degrees(r.angle),
                    "flip": r.flip,
                    "grid_exact": r.grid_exact,
                    "testing": r.testing,
                    "sweep": r.sweep,
                    "errors": r.errors,
                }
                for r in self.elements
            ],
            "failures": [
                {"layer": n, "element": _plain(g), "error": e} for n, g, e in self.failures
            ],
            "notes": list(self.notes),
        }

    def table(self) -> str:
        """Human-readable report: one row per testing element, then a per-layer summary."""
        names = [n for n, _ in self.layers]
        short = [f"L{i + 1}" if n != MODEL else MODEL for i, n in enumerate(names)]
        lines = [f"equivariance of a {self.gspace} model on a {self.size}x{self.size} image"]
        lines += [f"  {s:>5} = {n} ({t})" for s, (n, t) in zip(short, self.layers) if s != n]
        head = f"{'element':>16} {'angle':>7} {'flip':>4} {'grid':>4} " + " ".join(
            f"{s:>8}" for s in short
        )
        lines += ["", "relative error per testing element:", head]
        for r in self.elements:
            if r.testing:
                errs = " ".join(f"{_num(r.errors.get(n)):>8}" for n in names)
                flip, exact = "F" if r.flip else "", "yes" if r.grid_exact else ""
                angle = math.degrees(r.angle)
                lines.append(f"{_short(r.element):>16} {angle:7.1f} {flip:>4} {exact:>4} {errs}")
        lines += ["", f"{'layer':>28} {'max grid-exact':>15} {'max other':>10} {'max sweep':>10}"]
        for s, (n, t) in zip(short, self.layers):
            exact = [r.errors[n] for r in self.elements if r.grid_exact and n in r.errors]
            other = [r.errors[n] for r in self.elements if not r.grid_exact and n in r.errors]
            sweep = [r.errors[n] for r in self.elements if r.sweep and n in r.errors]
            label = n if s == n else f"{s} {t}"
            lines.append(
                f"{label[:28]:>28} {_num(_max(exact)):>15} {_num(_max(other)):>10} "
                f"{_num(_max(sweep)):>10}"
            )
        lines += [f"note: {note}" for note in self.notes]
        verdict = "OK" if self.ok else f"FAILED ({len(self.failures)} above tolerance)"
        lines.append(f"grid-preserving elements, tolerance {self.tolerance:g}: {verdict}")
        return "\n".join(lines)


def _max(values: Sequence[float]) -> float | None:
    return max(values) if values else None


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


def _plain(element: Any) -> Any:
    """A JSON-friendly element (tuples become lists; numpy scalars become Python numbers)."""
    if isinstance(element, (tuple, list)):
        return [_plain(e) for e in element]
    return element.item() if isinstance(element, np.generic) else element


def _short(element: Any) -> str:
    if isinstance(element, float):
        return f"{element:.4f}"
    if isinstance(element, tuple):
        return "(" + ", ".join(_short(e) for e in element) + ")"
    return str(element)


# ------------------------------------------------------------------------------------ inputs


def sample_images(size: int, channels: int) -> torch.Tensor:
    """``2 x channels x size x size`` float32 test input from scikit-learn's two sample
    photographs: centre crop, area resize, a 1-pixel Gaussian blur (so that resampling the input
    at other angles adds little interpolation error of its own), per-image standardisation,
    channel ``c`` taken from colour channel ``c mod 3``, faded to zero outside the inscribed disc
    (so that rotating it by any angle loses nothing at the corners)."""
    if not isinstance(size, int) or size < 5:
        raise ValueError(f"size: expected an int >= 5, got {size!r}")
    try:
        from sklearn.datasets import load_sample_image
    except ImportError as exc:
        raise ImportError(
            "the test photographs come with scikit-learn: pip install 'e2compile[tools]'"
        ) from exc

    batch = []
    for name in _SAMPLE_IMAGES:
        pixels = np.array(load_sample_image(name), dtype=np.float32)  # (H, W, 3), writable
        image = torch.from_numpy(pixels).permute(2, 0, 1)
        h, w = image.shape[1:]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        crop = image[:, top : top + side, left : left + side]
        small = torch.nn.functional.interpolate(crop[None], size=(size, size), mode="area")[0]
        small = _blur(small)
        small = (small - small.mean()) / small.std()
        batch.append(small[[c % 3 for c in range(channels)]])
    return torch.stack(batch) * _disc(size, size)


def _blur(image: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Gaussian smoothing (``sigma`` pixels, mirrored edges) of a ``C x H x W`` image."""
    r = torch.arange(-3, 4, dtype=image.dtype)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    k = k / k.sum()
    x = torch.nn.functional.pad(image[:, None], (3, 3, 3, 3), mode="reflect")
    x = torch.nn.functional.conv2d(x, k.view(1, 1, 1, 7))
    return torch.nn.functional.conv2d(x, k.view(1, 1, 7, 1))[:, 0]


def _disc(h: int, w: int, ramp: float = 3.0) -> torch.Tensor:
    """1 inside the inscribed disc less a one-pixel margin, falling to 0 over ``ramp`` pixels
    (a raised cosine: a smooth edge adds little interpolation error when rotated)."""
    ys = torch.arange(h, dtype=torch.float64) - (h - 1) / 2
    xs = torch.arange(w, dtype=torch.float64) - (w - 1) / 2
    r = torch.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    t = torch.clamp((0.5 * (min(h, w) - 1) - 1.0 - r) / ramp, 0.0, 1.0)
    return (0.5 - 0.5 * torch.cos(math.pi * t)).float()


def sweep_elements(gspace: Any, angles: int = 72) -> list:
    """The sweep: ``angles`` evenly spaced rotations (each with and without the flip where the
    group has one) for a continuous group; every element of a finite group."""
    group = gspace.fibergroup
    if not group.continuous:
        return list(group.elements)
    if not isinstance(angles, int) or angles < 1:
        raise ValueError(f"angles: expected an int >= 1, got {angles!r}")
    thetas = [2 * math.pi * i / angles for i in range(angles)]
    if family(gspace.family).flips:
        return [(f, t) for f in (0, 1) for t in thetas]
    return thetas


# ------------------------------------------------------------------------------------- check


def _layers(model: torch.nn.Module) -> list[tuple[str, EquivariantModule]]:
    """Equivariant modules with no equivariant sub-module (containers are not layers)."""
    found = []
    for name, module in model.named_modules():
        if not isinstance(module, EquivariantModule) or module is model:
            continue
        inner = any(isinstance(m, EquivariantModule) for m in list(module.modules())[1:])
        if not inner:
            found.append((name, module))
    return found


def _relative_error(y: torch.Tensor, expected: torch.Tensor, mask: torch.Tensor | None) -> float:
    if y.shape != expected.shape:
        return math.inf
    if mask is not None:
        mask = mask.to(device=y.device, dtype=y.dtype)
        y, expected = y * mask, expected * mask
    scale = expected.abs().max().item() if expected.numel() else 0.0
    err = (y - expected).abs().max().item() if expected.numel() else 0.0
    return err / scale if scale > 0 else err


def _inner_disc(shape: torch.Size) -> torch.Tensor:
    """The comparison mask of non-grid elements: the inscribed disc less two pixels."""
    h, w = shape[-2:]
    ys = torch.arange(h, dtype=torch.float64) - (h - 1) / 2
    xs = torch.arange(w, dtype=torch.float64) - (w - 1) / 2
    r = torch.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    return (r <= 0.5 * (min(h, w) - 1) - 2.0).float()


def check_equivariance(
    model: torch.nn.Module,
    *,
    size: int = 33,
    angles: int = 72,
    tolerance: float = DEFAULT_TOLERANCE,
    x: torch.Tensor | None = None,
) -> CheckReport:
    """Measure the equivariance error of every layer of ``model`` and of the model itself.

    ``size``: side of the test image (choose one that strided layers subsample symmetrically,
    e.g. ``2**k + 1``); ``angles``: sweep resolution for continuous groups; ``tolerance``: the
    relative error allowed on grid-preserving elements; ``x``: a ready input
    (``B x in_type.size x H x W``) instead of the sample photographs.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    in_type = getattr(model, "in_type", None)
    if not isinstance(in_type, FieldType):
        raise TypeError(
            f"model: {type(model).__name__} has no 'in_type' FieldType attribute; e2c check needs "
            "it to build and transform the test input"
        )
    if not (isinstance(tolerance, (int, float)) and tolerance > 0):
        raise ValueError(f"tolerance: expected a positive number, got {tolerance!r}")
    gspace = in_type.gspace
    if x is None:
        x = sample_images(size, in_type.size)
    param = next(iter(model.parameters()), None)
    if param is not None:
        x = x.to(device=param.device, dtype=param.dtype)
    size = int(x.shape[-1])
    layers = _layers(model)
    notes = []
    skipped = [n for n, m in layers if m.out_type.gspace != gspace]
    if skipped:
        notes.append(f"not compared (output on another gspace): {', '.join(skipped)}")
    layers = [(n, m) for n, m in layers if m.out_type.gspace == gspace]

    outputs: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def record(module: Any, args: Any, out: Any) -> None:
            if name not in outputs and isinstance(out, GeometricTensor):
                outputs[name] = out.tensor.detach().clone()

        return record

    wrap = [isinstance(model, EquivariantModule)]  # call with a GeometricTensor?
    out_types: dict[str, FieldType] = {}  # the type of a GeometricTensor output

    def call(inp: torch.Tensor) -> Any:
        arg = inp.clone()  # modules may work in place
        return model(GeometricTensor(arg, in_type) if wrap[0] else arg)

    def run(inp: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs.clear()
        try:
            out = call(inp)
        except TypeError:  # a plain module whose forward wants a GeometricTensor after all
            if wrap[0] or outputs:
                raise
            wrap[0] = True
            out = call(inp)
        result = dict(outputs)
        if isinstance(out, GeometricTensor):
            out_types.setdefault(MODEL, out.type)
            out = out.tensor
        result[MODEL] = out.detach().clone()
        return result

    out_type = getattr(model, "out_type", None)
    handles = [m.register_forward_hook(hook(n)) for n, m in layers]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            reference = run(x)
            compared: dict[str, FieldType | None] = {n: m.out_type for n, m in layers}
            if isinstance(out_type, FieldType):
                compared[MODEL] = out_type
            else:
                compared[MODEL] = out_types.get(MODEL)
            if compared[MODEL] is None and reference[MODEL].dim() == 4:
                notes.append("the model's output has no field type: compared as invariant")
            testing = {_key(g) for g in gspace.testing_elements}
            sweep = {_key(g) for g in sweep_elements(gspace, angles)}
            everything = [*gspace.testing_elements, *sweep_elements(gspace, angles)]
            items = [
                (k, g, *_planar(gspace, g)) for k, g in {_key(g): g for g in everything}.items()
            ]
            extra = _extra_angles(gspace, in_type, angles, {(a, f) for _, _, a, f in items})
            items += [(None, None, angle, flip) for angle, flip in extra]
            results = []
            for k, g, angle, flip in items:
                exact = quarter_turns(angle) is not None
                transformed = run(_act(x, None if g is None else in_type, g, angle, flip))
                errors = {}
                for name, ftype in compared.items():
                    if name not in reference or name not in transformed:
                        continue
                    if g is None and ftype is not None and not _trivial(ftype):
                        continue  # rho(angle) is not defined for these fields
                    ref = reference[name]
                    mask = None if exact or ref.dim() != 4 else _inner_disc(ref.shape)
                    expected = _act(ref, ftype, g, angle, flip)
                    errors[name] = _relative_error(transformed[name], expected, mask)
                results.append(
                    ElementResult(
                        g, angle, flip, exact, k in testing, k is None or k in sweep, errors
                    )
                )
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    names = tuple((n, type(m).__name__) for n, m in layers if n in reference)
    results.sort(key=lambda r: (r.flip, r.angle))
    return CheckReport(
        gspace=repr(gspace) if not hasattr(gspace, "name") else gspace.name,
        size=size,
        tolerance=float(tolerance),
        layers=(*names, (MODEL, type(model).__name__)),
        elements=tuple(results),
        notes=tuple(notes),
        continuous=bool(gspace.fibergroup.continuous),
    )


class _Plane:
    """A stand-in gspace whose "elements" are planar actions ``(angle, flip)`` themselves."""

    @staticmethod
    def planar_action(element: tuple[float, bool]) -> tuple[float, bool]:
        return element


_PLANE = _Plane()


def _planar(gspace: Any, element: Any) -> tuple[float, bool]:
    """``(angle in [0, 2 pi), flip)`` of ``element`` acting on the plane (angle rounded to
    1e-12 so that equal actions compare equal)."""
    angle, flip = gspace.planar_action(element)
    return round(angle % (2 * math.pi), 12) % round(2 * math.pi, 12), bool(flip)


def _act(t: torch.Tensor, ftype: FieldType | None, g: Any, angle: float, flip: bool) -> Any:
    """``t`` transformed by ``g``; ``ftype is None`` (an invariant output) or ``g is None`` (an
    angle outside a finite group, trivial fields only) move the grid alone."""
    if ftype is None or g is None:
        return transform_grid(t, _PLANE, (angle, flip)) if t.dim() == 4 else t
    return ftype.transform(t, g)


def _trivial(ftype: FieldType) -> bool:
    return all(r.is_trivial() for r in ftype.representations)


def _extra_angles(gspace: Any, in_type: FieldType, angles: int, have: set) -> list:
    """Sweep points outside a finite group: defined only when the input is made of trivial
    fields (images), compared only on invariant outputs. Empty for continuous groups."""
    if gspace.fibergroup.continuous or not _trivial(in_type):
        return []
    flips = sorted({flip for _, flip in have})
    points = [
        (_planar(_PLANE, (2 * math.pi * i / angles, f))) for f in flips for i in range(angles)
    ]
    return [p for p in dict.fromkeys(points) if p not in have]


def _key(element: Any) -> str:
    """A hashable identity of an element (angles rounded so sweep and testing elements meet)."""
    if isinstance(element, float):
        return f"{element % (2 * math.pi):.12f}"
    if isinstance(element, tuple):
        return "(" + ",".join(_key(e) for e in element) + ")"
    return repr(element)
