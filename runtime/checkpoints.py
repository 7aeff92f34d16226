"""Convert e2cnn 0.2.3 checkpoints into ours: :func:`convert_e2cnn_state_dict`.

A model built here with the same architecture as an e2cnn model (same module names, field types
and layer options) loads the converted ``state_dict`` strictly and computes the reference's
outputs up to float32 round-off. Per module of *our* model, in ``named_modules()`` order:

* **steerable convolutions** (``R2Conv``, ``R2ConvTransposed`` and every subclass of their base):
  the reference's filter is rebuilt in float64 from its ``weights`` and the sampled bases it
  stores (its layout: representation pairs sorted by name, coefficients ``(out_fields,
  in_fields, dim)`` per pair), then projected, field pair by field pair, onto our compiled
  basis by least squares. This needs no assumption about the order or the normalisation of the
  basis elements, and a filter that our basis can not express (another architecture, other
  basis options) is an error, never a silent approximation. The bias goes through the reference's
  stored ``bias_expansion`` the same way.
* ``NormBatchNorm``: the reference keeps ``<size>_running_var`` / ``<size>_weight`` per field
  size; ours per field, in type order. ``InducedNormBatchNorm`` likewise, keyed by
  ``(<size>, <sub-field size>)``.
* ``GNormBatchNorm``: the reference keeps per-irrep statistics per representation name, in the
  irrep basis of its change of basis (stored with them); they map onto ours irrep by irrep when
  the two bases differ by at most a permutation of irreps and signs, and are refused when they
  mix copies of an irrep (the statistics are then not defined in our basis).
* every other module: its own parameters and persistent buffers, by name (e.g. ``InnerBatchNorm``'s
  ``batch_norm_[<size>]`` children, which have the reference's names), reshaped when only the
  shape of an equal-sized tensor differs.

Dropped: the reference's sampled bases, cached ``filter``/``expanded_bias``, ``bias_expansion``
and index buffers. Any reference parameter or running statistic that no module consumed is an
error naming its layer, as is any module whose tensors the checkpoint lacks or can not fill.
"""

from __future__ import annotations

import ast
import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .bases import compiler_limits

__all__ = [
    "CheckpointError",
    "CheckpointMismatchError",
    "convert_e2cnn_state_dict",
    "convert_e2cnn_checkpoint",
]

#: relative least-squares residual above which a reference filter is "not in our basis"
RESIDUAL_TOLERANCE = 1e-5

_BASIS_PREFIX = "_basisexpansion.block_expansion_"
_LEARNED_SUFFIXES = ("weights", "weight", "bias", "running_mean", "running_var")


class CheckpointError(ValueError):
    """The checkpoint cannot be converted: not a readable ``state_dict``, malformed, or holding
    non-finite values. The message names the problem (and the tensor), not the file."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint does not belong to a model of this architecture; names the first layer."""

    def __init__(self, layer: str, module: Any, reason: str):
        self.layer = layer
        kind = type(module).__name__ if module is not None else "missing"
        super().__init__(f"layer {layer or '<root>'!r} ({kind}): {reason}")


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _as64(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().to(torch.float64).numpy()


def _lstsq(target: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, float]:
    """Coefficients ``x`` minimising ``|x @ basis - target|`` (rows of ``target``), and the
    largest residual relative to the norm of the whole target."""
    if basis.shape[0] == 0:
        x = np.zeros((target.shape[0], 0))
    else:
        x = np.linalg.lstsq(basis.T, target.T, rcond=None)[0].T
    residual = np.linalg.norm(x @ basis - target) if target.size else 0.0
    scale = max(np.linalg.norm(target), 1e-30)
    return x, (residual / scale if residual > 1e-12 else 0.0)


# ------------------------------------------------------------------------------- convolutions


def _field_channels(field_type: Any) -> list[np.ndarray]:
    starts = np.asarray(field_type.fields_start)
    return [starts[f] + np.arange(r.size) for f, r in enumerate(field_type.representations)]


def _reference_filter(prefix: str, conv: Any, sd: Mapping[str, torch.Tensor], used: set) -> Any:
    """The reference's expanded filter ``(C_out, C_in, S)`` in float64, from its weights and
    stored bases (in the expansion types of our layer)."""
    in_type, out_type = conv.basisexpansion.in_type, conv.basisexpansion.out_type
    weights_key = _key(prefix, "weights")
    if weights_key not in sd:
        raise CheckpointMismatchError(prefix, conv, "the checkpoint has no 'weights' here")
    weights = _as64(sd[weights_key]).reshape(-1)
    used.add(weights_key)
    start = _key(prefix, _BASIS_PREFIX)
    blocks = {}
    for key in sd:
        if key.startswith(start) and key.endswith(".sampled_basis"):
            pair = _representation_pair(key[len(start) : -len(".sampled_basis")])
            basis = sd[key]
            if pair is None:
                raise CheckpointMismatchError(
                    prefix,
                    conv,
                    f"malformed basis key {key!r}: expected "
                    f"{start}('<in repr>', '<out repr>').sampled_basis",
                )
            if basis.dim() != 4 or 0 in basis.shape[1:]:
                raise CheckpointMismatchError(
                    prefix,
                    conv,
                    f"{key!r} has shape {tuple(basis.shape)}: expected a sampled basis "
                    "(elements, out, in, samples)",
                )
            blocks[pair] = _as64(basis)
    if not blocks:
        raise CheckpointMismatchError(
            prefix,
            conv,
            "the checkpoint stores no sampled bases for this layer (not an e2cnn "
            "R2Conv state_dict?)",
        )
    in_fields: dict[str, list[int]] = {}
    out_fields: dict[str, list[int]] = {}
    for f, r in enumerate(in_type.representations):
        in_fields.setdefault(r.name, []).append(f)
    for f, r in enumerate(out_type.representations):
        out_fields.setdefault(r.name, []).append(f)
    in_ch, out_ch = _field_channels(in_type), _field_channels(out_type)
    size = next(iter(blocks.values())).shape[-1]
    filt = np.zeros((out_type.size, in_type.size, size))
    position = 0
    for in_name, out_name in sorted(blocks):
        if in_name not in in_fields or out_name not in out_fields:
            raise CheckpointMismatchError(
                prefix,
                conv,
                f"the checkpoint maps {in_name!r} to {out_name!r} fields, which "
                f"this layer's types {in_type!r} -> {out_type!r} do not hold",
            )
        basis = blocks[in_name, out_name]
        dim, o, i, s = basis.shape
        n_out, n_in = len(out_fields[out_name]), len(in_fields[in_name])
        o_ours = out_type.representations[out_fields[out_name][0]].size
        i_ours = in_type.representations[in_fields[in_name][0]].size
        if (o, i) != (o_ours, i_ours):
            raise CheckpointMismatchError(
                prefix,
                conv,
                f"the checkpoint's {in_name!r} -> {out_name!r} kernels are {o}x{i}, this "
                f"layer's {o_ours}x{i_ours}: representations of another group",
            )
        count = n_out * n_in * dim
        if position + count > weights.size or s != size:
            break
        coefficients = weights[position : position + count].reshape(n_out * n_in, dim)
        kernels = (coefficients @ basis.reshape(dim, -1)).reshape(n_out, n_in, o, i, s)
        for a, fo in enumerate(out_fields[out_name]):
            for b, fi in enumerate(in_fields[in_name]):
                filt[np.ix_(out_ch[fo], in_ch[fi])] = kernels[a, b]
        position += count
    if position != weights.size:
        raise CheckpointMismatchError(
            prefix,
            conv,
            f"the checkpoint has {weights.size} weights, but its stored bases on "
            f"this layer's field types need {position}: different field types or kernel size",
        )
    return filt, in_ch, out_ch


def _representation_pair(text: str) -> tuple[str, str] | None:
    """``"('a', 'b')"`` → ``("a", "b")``; ``None`` for anything else."""
    if len(text) > 10_000:
        return None
    try:
        pair = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(p, str) for p in pair):
        return pair
    return None


def _convert_conv(prefix: str, conv: Any, sd: Mapping[str, torch.Tensor], used: set) -> dict:
    from .bases import load_basis

    ref, in_ch, out_ch = _reference_filter(prefix, conv, sd, used)
    expansion = conv.basisexpansion
    if ref.shape[-1] != expansion.S:
        raise CheckpointMismatchError(
            prefix,
            conv,
            f"the checkpoint's kernels have {ref.shape[-1]} samples, this layer "
            f"{expansion.S} (kernel size differs)",
        )
    columns = expansion.basis_columns(["in_field", "out_field", "element"])
    in_reprs = expansion.in_type.representations
    out_reprs = expansion.out_type.representations
    weights = np.zeros(expansion.dimension())
    # coefficients of one field pair are contiguous: solve all pairs of one repr pair at once
    order = np.lexsort((columns["in_field"], columns["out_field"]))
    pairs: dict[tuple[Any, Any], list[tuple[int, int, np.ndarray]]] = {}
    bounds = np.flatnonzero(
        np.diff(columns["out_field"][order]) | np.diff(columns["in_field"][order])
    )
    for chunk in np.split(order, bounds + 1) if order.size else []:
        fo, fi = int(columns["out_field"][chunk[0]]), int(columns["in_field"][chunk[0]])
        pairs.setdefault((in_reprs[fi], out_reprs[fo]), []).append((fo, fi, chunk))
    covered = np.zeros(ref.shape[:2], dtype=bool)
    for (in_repr, out_repr), members in pairs.items():
        artifact = load_basis(conv._basis_spec(in_repr, out_repr))
        elements = columns["element"][members[0][2]]
        basis = artifact.dense_basis(elements).reshape(elements.size, -1)
        target = np.stack([ref[np.ix_(out_ch[fo], in_ch[fi])].reshape(-1) for fo, fi, _ in members])
        x, residual = _lstsq(target, basis)
        if residual > RESIDUAL_TOLERANCE:
            raise CheckpointMismatchError(
                prefix,
                conv,
                f"the checkpoint's kernels from {in_repr.name!r} to "
                f"{out_repr.name!r} fields are not in this layer's basis (relative residual "
                f"{residual:.2g}): different basis options (rings, sigma, frequencies_cutoff, "
                "basis_filter, dilation) or another architecture",
            )
        for (fo, fi, chunk), row in zip(members, x):
            weights[chunk] = row
            covered[np.ix_(out_ch[fo], in_ch[fi])] = True
    uncovered = np.abs(ref[~covered]).max() if (~covered).any() else 0.0
    if uncovered > RESIDUAL_TOLERANCE * max(np.abs(ref).max(), 1e-30):
        raise CheckpointMismatchError(
            prefix,
            conv,
            "the checkpoint has non-zero kernels between fields that this "
            "layer's basis can not connect",
        )
    out = {"weights": weights}
    out.update(_convert_conv_bias(prefix, conv, sd, used))
    return out


def _convert_conv_bias(prefix: str, conv: Any, sd: Mapping[str, torch.Tensor], used: set) -> dict:
    bias_key = _key(prefix, "bias")
    if conv.bias is None:
        if bias_key in sd:
            raise CheckpointMismatchError(prefix, conv, "the checkpoint has a bias, this layer not")
        return {}
    if bias_key not in sd:
        raise CheckpointMismatchError(prefix, conv, "this layer has a bias, the checkpoint not")
    expansion_key = _key(prefix, "bias_expansion")
    ref_bias = _as64(sd[bias_key]).reshape(-1)
    used.add(bias_key)
    channels = conv.out_type.size
    if expansion_key in sd:
        expansion = _as64(sd[expansion_key])
        if expansion.shape != (channels, ref_bias.size):
            raise CheckpointMismatchError(
                prefix,
                conv,
                f"{expansion_key!r} has shape {expansion.shape}, expected "
                f"{(channels, ref_bias.size)} ({channels} channels, {ref_bias.size} biases)",
            )
        target = expansion @ ref_bias
    else:
        target = ref_bias
    ours = np.zeros((channels, conv.bias.numel()))
    rows = conv._bias_rows.cpu().numpy()
    cols = conv._bias_cols.cpu().numpy()
    np.add.at(ours, (rows, cols), conv._bias_values.cpu().to(torch.float64).numpy())
    if target.shape != (channels,):
        raise CheckpointMismatchError(
            prefix,
            conv,
            f"the checkpoint's bias expands to {target.shape} channels, this layer has {channels}",
        )
    x, residual = _lstsq(target[None, :], ours.T)
    if residual > RESIDUAL_TOLERANCE:
        raise CheckpointMismatchError(
            prefix,
            conv,
            f"the checkpoint's bias does not fit this layer's output fields "
            f"(relative residual {residual:.2g})",
        )
    return {"bias": x[0]}


# -------------------------------------------------------------------------------- batch norms


def _convert_norm_batchnorm(prefix: str, bn: Any, sd: Mapping[str, torch.Tensor], used: set):
    """The reference keeps ``<size>_running_var`` / ``<size>_weight`` per field size; ours per
    field, in type order."""
    sizes = np.asarray(bn.in_type.field_sizes)
    names = ["running_var"] + (["weight"] if bn.weight is not None else [])
    out = {name: np.ones(sizes.size) for name in names}
    for s in dict.fromkeys(sizes.tolist()):
        fields = np.flatnonzero(sizes == s)
        for name in names:
            key = _key(prefix, f"{s}_{name}")
            out[name][fields] = _field_values(prefix, bn, sd, key, fields.size, used)
    _copy_batches_tracked(prefix, sd, used, out)
    return out


def _convert_induced_norm_batchnorm(
    prefix: str, bn: Any, sd: Mapping[str, torch.Tensor], used: set
):
    """The reference keeps ``(<size>, <sub-field size>)_running_var`` / ``_weight`` per kind of
    induced field (shape ``(1, fields, 1, 1, 1, 1)``), the same statistic (``E[|v|^2] / size``)
    that ours keeps per field, in type order."""
    from .nn.modules.induced import _subfield_size

    kinds = [
        (r.size, _subfield_size(r, "induced_norm", "InducedNormBatchNorm", i))
        for i, r in enumerate(bn.in_type.representations)
    ]
    names = ["running_var"] + (["weight"] if bn.weight is not None else [])
    out = {name: np.ones(len(kinds)) for name in names}
    for kind in dict.fromkeys(kinds):
        fields = [f for f, k in enumerate(kinds) if k == kind]
        for name in names:
            key = _key(prefix, f"{kind}_{name}")
            out[name][fields] = _field_values(prefix, bn, sd, key, len(fields), used)
    _copy_batches_tracked(prefix, sd, used, out)
    return out


def _field_values(
    prefix: str, module: Any, sd: Mapping[str, torch.Tensor], key: str, n: int, used: set
) -> np.ndarray:
    """The checkpoint's ``key`` as a vector of ``n`` per-field values (marked used)."""
    if key not in sd:
        raise CheckpointMismatchError(prefix, module, f"the checkpoint has no {key!r}")
    values = _as64(sd[key]).reshape(-1)
    if values.size != n:
        raise CheckpointMismatchError(
            prefix, module, f"{key!r} holds {values.size} fields, this layer {n}"
        )
    used.add(key)
    return values


def _copy_batches_tracked(prefix: str, sd: Mapping[str, torch.Tensor], used: set, out: dict):
    key = _key(prefix, "num_batches_tracked")
    if key in sd:
        out["num_batches_tracked"] = sd[key]
        used.add(key)


def _irrep_match(
    prefix: str, bn: Any, rep: Any, sd: Mapping[str, torch.Tensor], used: set
) -> tuple[list[int], list[float], int]:
    """How the reference's irrep basis of ``rep`` maps onto ours, for ``GNormBatchNorm``.

    The reference stores the change of basis it normalised in (``<name>_change_of_basis``;
    absent when the identity) and which channels form each irrep (``vars_aggregator_<name>``).
    ``M = Q_ours^T Q_ref`` maps its irrep coordinates to ours. Per-irrep statistics carry over
    only when ``M`` sends every irrep of ours to a single irrep of the reference (an orthogonal
    block); a ``M`` that mixes copies of one irrep leaves them undefined (an error). Returns, per
    irrep of ours, the reference irrep's index and the sign of the block (which flips the mean
    and bias of a trivial irrep), and the number of the reference's irreps.
    """
    name = rep.name
    aggregator_key = _key(prefix, f"vars_aggregator_{name}")
    if aggregator_key not in sd:
        raise CheckpointMismatchError(prefix, bn, f"the checkpoint has no {aggregator_key!r}")
    aggregator = _as64(sd[aggregator_key])
    if aggregator.ndim != 2 or aggregator.shape[0] != rep.size:
        raise CheckpointMismatchError(
            prefix,
            bn,
            f"{aggregator_key!r} has shape {tuple(aggregator.shape)}: the reference's "
            f"{name!r} fields are not of size {rep.size}",
        )
    ref_blocks = [np.flatnonzero(np.abs(aggregator[:, j]) > 0) for j in range(aggregator.shape[1])]
    q_ref = np.eye(rep.size)
    for suffix in ("change_of_basis", "change_of_basis_inv"):
        key = _key(prefix, f"{name}_{suffix}")
        if key in sd:
            used.add(key)
            if suffix == "change_of_basis":
                q_ref = _as64(sd[key])
    for suffix in (f"vars_propagator_{name}", f"{name}_indices"):
        used.add(_key(prefix, suffix))
    used.add(aggregator_key)
    m = np.asarray(rep.change_of_basis, dtype=np.float64).T @ q_ref
    group = rep.group
    sizes = [group.irreps[irrep].size for irrep in rep.irreps]
    starts = np.cumsum([0, *sizes])
    match, signs = [], []
    for i, (a, b) in enumerate(zip(starts[:-1], starts[1:])):
        hits = [j for j, cols in enumerate(ref_blocks) if np.abs(m[a:b][:, cols]).max() > 1e-3]
        block = m[a:b][:, ref_blocks[hits[0]]] if len(hits) == 1 else None
        if (
            block is None
            or block.shape[0] != block.shape[1]
            or not np.allclose(block @ block.T, np.eye(b - a), atol=1e-4)
            or hits[0] in match
        ):
            raise CheckpointMismatchError(
                prefix,
                bn,
                f"the reference's irrep basis of {name!r} mixes the copies of "
                f"{rep.irreps[i]!r} that ours separates: its per-irrep statistics do not carry "
                "over (re-estimate them after loading the rest)",
            )
        match.append(hits[0])
        signs.append(float(np.sign(block[0, 0])) if b - a == 1 else 1.0)
    return match, signs, len(ref_blocks)


def _convert_gnorm_batchnorm(prefix: str, bn: Any, sd: Mapping[str, torch.Tensor], used: set):
    """The reference keeps, per representation name, ``<name>_running_var`` / ``_weight``
    ``(fields, irreps)`` and ``<name>_running_mean`` / ``_bias`` ``(fields, trivial irreps)``;
    ours one entry per irrep (resp. trivial irrep) of the whole type, in type order."""
    group = bn.in_type.fibergroup
    slots = {"running_var": [], "weight": []}
    trivial = {"running_mean": [], "bias": []}
    seen: dict[str, int] = {}
    matches: dict[str, tuple[list[int], list[float], int]] = {}
    for rep in bn.in_type.representations:
        k = seen[rep.name] = seen.get(rep.name, -1) + 1
        if rep.name not in matches:
            matches[rep.name] = _irrep_match(prefix, bn, rep, sd, used)
        match, signs, n_ref = matches[rep.name]
        is_trivial = [group.irreps[irrep].is_trivial() for irrep in rep.irreps]
        ref_trivial = sorted(j for j, t in zip(match, is_trivial) if t)
        for name, store in (*slots.items(), *trivial.items()):
            if name in ("weight", "bias") and bn.weight is None:
                continue
            key = _key(prefix, f"{rep.name}_{name}")
            if key not in sd:
                raise CheckpointMismatchError(prefix, bn, f"the checkpoint has no {key!r}")
            values = _as64(sd[key])
            width = n_ref if name in slots else len(ref_trivial)
            if values.ndim != 2 or values.shape[1] != width or values.shape[0] <= k:
                raise CheckpointMismatchError(
                    prefix,
                    bn,
                    f"{key!r} has shape {tuple(values.shape)}, which does not fit the "
                    f"{rep.name!r} fields of this layer ({width} entries each)",
                )
            used.add(key)
            for j, sign, t in zip(match, signs, is_trivial):
                if name in slots:
                    store.append(values[k, j])
                elif t:
                    store.append(sign * values[k, ref_trivial.index(j)])
    for rep_name, count in seen.items():
        key = _key(prefix, f"{rep_name}_running_var")
        if _as64(sd[key]).shape[0] != count + 1:
            raise CheckpointMismatchError(
                prefix,
                bn,
                f"{key!r} holds {_as64(sd[key]).shape[0]} fields, this layer {count + 1}",
            )
    out = {name: np.asarray(v) for name, v in (*slots.items(), *trivial.items())}
    if bn.weight is None:
        del out["weight"], out["bias"]
    _copy_batches_tracked(prefix, sd, used, out)
    return out


# ------------------------------------------------------------------------------------ generic


def _own_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    state = dict(module.named_parameters(recurse=False))
    for name, buffer in module.named_buffers(recurse=False):
        if name not in module._non_persistent_buffers_set:
            state[name] = buffer
    return {k: v for k, v in state.items() if v is not None}


def _convert_generic(prefix: str, module: Any, sd: Mapping[str, torch.Tensor], used: set):
    out = {}
    for name, ours in _own_state(module).items():
        key = _key(prefix, name)
        if key not in sd:
            raise CheckpointMismatchError(prefix, module, f"the checkpoint has no {key!r}")
        value = sd[key]
        if value.numel() != ours.numel():
            raise CheckpointMismatchError(
                prefix,
                module,
                f"{key!r} has shape {tuple(value.shape)} in the checkpoint and "
                f"{tuple(ours.shape)} here",
            )
        out[name] = value.reshape(ours.shape)
        used.add(key)
    return out


def _handler(module: Any) -> Any:
    from .nn.modules.batchnorm import NormBatchNorm
    from .nn.modules.conv.base import _RdConvBase
    from .nn.modules.induced import GNormBatchNorm, InducedNormBatchNorm

    if isinstance(module, _RdConvBase):
        return _convert_conv
    if isinstance(module, GNormBatchNorm):
        return _convert_gnorm_batchnorm
    if isinstance(module, InducedNormBatchNorm):
        return _convert_induced_norm_batchnorm
    if isinstance(module, NormBatchNorm):
        return _convert_norm_batchnorm
    return _convert_generic


@compiler_limits()  # our bases' specs are rebuilt: within the settings' limits
def convert_e2cnn_state_dict(
    model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor]
) -> OrderedDict[str, torch.Tensor]:
    """Map an e2cnn 0.2.3 ``state_dict`` onto ``model`` (ours, same architecture).

    Returns a ``state_dict`` for ``model.load_state_dict`` (strict), in the dtype and on the
    device of the model's tensors. Raises :class:`CheckpointMismatchError` naming the first
    layer (in ``model.named_modules()`` order) that the checkpoint does not fit.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"'state_dict' must be a mapping, got {type(state_dict).__name__}")
    bad = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise TypeError(f"'state_dict' holds non-tensor values, e.g. at {bad[0]!r}")
    for key, value in state_dict.items():
        if (value.is_floating_point() or value.is_complex()) and not bool(
            torch.isfinite(value).all()
        ):
            raise CheckpointError(f"tensor {key!r} holds NaN or infinite values")
    used: set[str] = set()
    reference = model.state_dict()
    converted: OrderedDict[str, torch.Tensor] = OrderedDict()
    modules = dict(model.named_modules())
    for prefix, module in modules.items():
        if not _own_state(module):
            continue
        for name, value in _handler(module)(prefix, module, state_dict, used).items():
            key = _key(prefix, name)
            like = reference[key]
            tensor = torch.as_tensor(value).reshape(like.shape)
            converted[key] = tensor.to(device=like.device, dtype=like.dtype)
    for key in state_dict:
        if key in used or not key.rsplit(".", 1)[-1].endswith(_LEARNED_SUFFIXES):
            continue
        if key.rsplit(".", 1)[-1] in ("expanded_bias",):
            continue
        layer = key.rsplit(".", 1)[0] if "." in key else ""
        owner = layer
        while owner and owner not in modules:
            owner = owner.rsplit(".", 1)[0] if "." in owner else ""
        raise CheckpointMismatchError(
            layer,
            modules.get(layer),
            f"the checkpoint holds {key!r}, which no module of this "
            f"model takes (the model's closest layer is {owner or '<root>'!r})",
        )
    missing = [k for k in reference if k not in converted]
    if missing:
        layer = missing[0].rsplit(".", 1)[0] if "." in missing[0] else ""
        raise CheckpointMismatchError(layer, modules.get(layer), f"nothing fills {missing[0]!r}")
    return OrderedDict((k, converted[k]) for k in reference)


def convert_e2cnn_checkpoint(
    model: torch.nn.Module, source: str | os.PathLike[str], destination: str | os.PathLike[str]
) -> dict[str, Any]:
    """Read an e2cnn checkpoint file (a ``state_dict``, or a dict holding one under
    ``"state_dict"`` or ``"model"``), convert it for ``model``, load it into ``model`` (strict)
    and save the converted ``state_dict`` to ``destination``. Returns a small report.

    The file is read with ``torch.load(weights_only=True)``: it never runs code. A file that is
    not such a checkpoint raises :class:`CheckpointError`; a ``destination`` that cannot be
    written raises ``OSError``, checked before anything is converted.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module, got {type(model).__name__}")
    destination = _writable(destination)
    state_dict = _read_state_dict(source)
    converted = convert_e2cnn_state_dict(model, state_dict)
    model.load_state_dict(converted)
    try:
        torch.save(converted, destination)
    except (OSError, RuntimeError) as exc:
        raise OSError(f"{destination}: cannot write the converted state_dict: {exc}") from None
    return {
        "source_tensors": len(state_dict),
        "converted_tensors": len(converted),
        "dropped_tensors": len(state_dict) - len(converted),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def _writable(destination: str | os.PathLike[str]) -> Any:
    """``destination`` as an absolute path, once a file can be created there (``OSError``
    naming it otherwise)."""
    from cache.files import prepare_output

    try:
        return prepare_output(destination)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(f"{os.fspath(destination)}: cannot write there: {reason}") from None


def _read_state_dict(source: str | os.PathLike[str]) -> Mapping[str, torch.Tensor]:
    """The ``state_dict`` a checkpoint file holds (:class:`CheckpointError` naming the problem)."""
    try:
        if os.path.getsize(source) == 0:
            raise CheckpointError("the file is empty, not a checkpoint")
        loaded = torch.load(source, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except OSError as exc:
        raise CheckpointError(f"cannot read the file: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure: not a checkpoint we load
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"not a PyTorch checkpoint of tensors ({type(exc).__name__}: {first})"
        ) from None
    if not isinstance(loaded, Mapping):
        raise CheckpointError(
            f"the file holds a {type(loaded).__name__}, not a state_dict (a dict of tensors)"
        )
    if all(isinstance(v, torch.Tensor) for v in loaded.values()):
        return loaded
    for name in ("state_dict", "model"):
        inner = loaded.get(name)
        if isinstance(inner, Mapping) and all(isinstance(v, torch.Tensor) for v in inner.values()):
            return inner
    raise CheckpointError(
        "the file holds neither a state_dict nor a dict holding one under 'state_dict' or "
        "'model' (a dict of tensors)"
    )
