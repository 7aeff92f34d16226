"""Small models, one per gspace family, written once for both libraries.

``build(family, gspaces, nn)`` takes the ``gspaces`` and ``nn`` modules of either e2cnn 0.2.3 or
ours (``e2compile.gspaces``, ``runtime.nn``), so that ``scripts/make_e2cnn_checkpoints.py`` (run in
the reference environment) and ``tests/runtime/test_checkpoint_conversion.py`` build the same
architecture.
Field types mix representations and interleave them, so the conversion of the weight layout is
exercised on non-contiguous fields, and every model has R2Conv, R2ConvTransposed and batch norms
(InnerBatchNorm, NormBatchNorm). The ``*-gnorm`` and ``*-induced`` families hold the batch norms
that keep statistics per irrep (GNormBatchNorm) and per induced field (InducedNormBatchNorm).
"""

from __future__ import annotations

from typing import Any

FAMILIES = ("C4", "D4", "SO2", "O2", "Flip", "Trivial", "D4-gnorm", "O2-gnorm", "C8-induced")
INPUT_SHAPE = (2, 3, 11, 11)  # batch, channels (three trivial fields), height, width


def _gspace(family: str, gspaces: Any) -> Any:
    return {
        "C4": lambda: gspaces.Rot2dOnR2(4),
        "D4": lambda: gspaces.FlipRot2dOnR2(4),
        "SO2": lambda: gspaces.Rot2dOnR2(-1, maximum_frequency=4),
        "O2": lambda: gspaces.FlipRot2dOnR2(-1, maximum_frequency=4),
        "Flip": lambda: gspaces.Flip2dOnR2(),
        "Trivial": lambda: gspaces.TrivialOnR2(),
        "D4-gnorm": lambda: gspaces.FlipRot2dOnR2(4),
        "O2-gnorm": lambda: gspaces.FlipRot2dOnR2(-1, maximum_frequency=4),
        "C8-induced": lambda: gspaces.Rot2dOnR2(8),
    }[family]()


def _norm_model(family: str, gs: Any, nn: Any) -> Any:
    """A convolution, the batch norm under test (fields of one representation interleaved with
    others, so they are not contiguous), and a convolution."""
    trivial = gs.trivial_repr
    if family == "D4-gnorm":
        reps = [gs.regular_repr, gs.irrep(1, 1), trivial, gs.regular_repr, gs.irrep(1, 1)]
    elif family == "O2-gnorm":
        reps = [gs.irrep(1, 1), trivial, gs.irrep(1, 2), gs.irrep(1, 0), gs.irrep(1, 1)]
    else:
        c4, _, _ = gs.fibergroup.subgroup(4)
        c2, _, _ = gs.fibergroup.subgroup(2)
        from_c4, from_c2 = gs.induced_repr(4, c4.irrep(1)), gs.induced_repr(2, c2.irrep(1))
        reps = [from_c4, from_c2, from_c4, from_c2, from_c4]
    hidden = nn.FieldType(gs, reps)
    norm = (
        nn.GNormBatchNorm(hidden) if family.endswith("gnorm") else nn.InducedNormBatchNorm(hidden)
    )
    return nn.SequentialModule(
        nn.R2Conv(nn.FieldType(gs, [trivial] * 3), hidden, 3, padding=1),
        norm,
        nn.R2Conv(hidden, nn.FieldType(gs, [trivial, trivial]), 3),
    )


def build(family: str, gspaces: Any, nn: Any) -> Any:
    """The model of ``family`` (see :data:`FAMILIES`), built with the given library."""
    gs = _gspace(family, gspaces)
    if "-" in family:
        return _norm_model(family, gs, nn)
    trivial = gs.trivial_repr
    t_in = nn.FieldType(gs, [trivial] * 3)
    if family in ("C4", "D4", "Flip"):
        regular = gs.regular_repr
        nontrivial = gs.irrep(1) if family in ("C4", "Flip") else gs.irrep(1, 1)
        hidden = nn.FieldType(gs, [regular, trivial, regular, nontrivial, trivial])
        perm = nn.FieldType(gs, [regular, trivial, regular, trivial])
        norm = nn.FieldType(gs, [nontrivial])
        labels = ["p", "p", "p", "n", "p"]
        branches = nn.MultipleModule(
            hidden, labels, [(nn.InnerBatchNorm(perm), "p"), (nn.NormBatchNorm(norm), "n")]
        )
        grouped = nn.FieldType(gs, [regular, regular, nontrivial, trivial])
        return nn.SequentialModule(
            nn.R2Conv(t_in, hidden, 3, padding=1),
            branches,
            nn.R2ConvTransposed(branches.out_type, grouped, 3, stride=2, padding=1),
            nn.R2Conv(grouped, nn.FieldType(gs, [regular, trivial]), 3, stride=2),
            nn.InnerBatchNorm(nn.FieldType(gs, [regular, trivial])),
        )
    if family == "Trivial":
        hidden = nn.FieldType(gs, [trivial] * 4)
        return nn.SequentialModule(
            nn.R2Conv(t_in, hidden, 3, padding=1),
            nn.InnerBatchNorm(hidden),
            nn.R2ConvTransposed(hidden, hidden, 3, stride=2, padding=1),
            nn.InnerBatchNorm(hidden),
            nn.R2Conv(hidden, nn.FieldType(gs, [trivial] * 2), 3, stride=2),
        )
    # continuous groups: irreps fields
    if family == "SO2":
        irreps = [gs.irrep(1), gs.irrep(2)]
    else:
        irreps = [gs.irrep(1, 1), gs.irrep(1, 2), gs.irrep(1, 0)]
    hidden = nn.FieldType(gs, [irreps[0], trivial, irreps[1], irreps[0]] + irreps[2:])
    norm = nn.FieldType(gs, [irreps[0], irreps[1], irreps[0]] + irreps[2:])
    labels = ["n", "t", "n", "n"] + ["n"] * len(irreps[2:])
    grouped = nn.FieldType(gs, [irreps[0], irreps[0], trivial, irreps[1]] + irreps[2:])
    branches = nn.MultipleModule(
        hidden,
        labels,
        [(nn.NormBatchNorm(norm), "n"), (nn.InnerBatchNorm(nn.FieldType(gs, [trivial])), "t")],
    )
    return nn.SequentialModule(
        nn.R2Conv(t_in, hidden, 3, padding=1),
        branches,
        nn.R2ConvTransposed(branches.out_type, grouped, 3, stride=2, padding=1),
        nn.R2Conv(grouped, nn.FieldType(gs, [trivial, irreps[0]]), 3, stride=2),
    )
