"""Behaviours of ``runtime.nn`` that code written for the reference library relies on: modules
with several inputs inside ``MultipleModule``, fibre-only equivariance checks, slicing rules,
the supported non-linearities of concatenated fields, cached He initialisation and the quotient
representations a group builds on request."""

from __future__ import annotations

import pytest
import torch

from e2compile import gspaces
from runtime import nn
from runtime.nn.modules.concatenated import concatenated_representation
from tests.equivariance import assert_equivariant

C8 = gspaces.Rot2dOnR2(8)


# ----------------------------------------------------- MultipleModule with multi-input modules


def _gated_multiple(gs):
    gated_reps = [gs.irrep(1), gs.regular_repr, gs.irrep(2)]
    reps = [gs.regular_repr, gated_reps[0], gs.trivial_repr, gated_reps[1], gs.trivial_repr]
    reps += [gs.trivial_repr, gated_reps[2]]
    labels = ["relu", "gated", "gate", "gated", "gate", "gate", "gated"]
    ftype = nn.FieldType(gs, reps)
    groups = ftype.group_by_labels(labels)
    gated2 = nn.GatedNonLinearity2((groups["gate"], groups["gated"]))
    relu = nn.ReLU(groups["relu"])
    return (
        ftype,
        labels,
        nn.MultipleModule(ftype, labels, [(relu, "relu"), (gated2, ["gate", "gated"])]),
    )


def test_multiple_module_gives_each_label_of_a_multi_input_module_its_own_tensor():
    ftype, labels, module = _gated_multiple(C8)
    x = torch.randn(2, ftype.size, 7, 7)
    y = module(nn.GeometricTensor(x, ftype)).tensor
    parts = nn.GeometricTensor(x, ftype).split(None)
    by_label = {lab: [p for p, l2 in zip(parts, labels) if l2 == lab] for lab in set(labels)}
    relu = torch.relu(by_label["relu"][0].tensor)
    gates = torch.cat([p.tensor for p in by_label["gate"]], 1)
    gated = torch.cat([p.tensor for p in by_label["gated"]], 1)
    gate2 = module.merging.submodule_1
    sig = torch.sigmoid(gates - gate2.bias.view(1, -1, 1, 1))
    sizes = [r.size for r in gate2.out_type.representations]
    expected_gated = gated * torch.repeat_interleave(sig, torch.tensor(sizes), dim=1)
    torch.testing.assert_close(y, torch.cat([relu, expected_gated], 1))
    assert module.out_type == nn.FieldType(C8, [C8.regular_repr]) + gate2.out_type
    assert module.evaluate_output_shape(tuple(x.shape)) == tuple(y.shape)
    assert module.merging.in_type["gate"] == gate2.in_type[0]
    assert_equivariant(module)


def test_full_space_action_false_checks_the_fibres_only():
    _, _, module = _gated_multiple(C8)
    errors = module.check_equivariance(full_space_action=False)
    assert len(errors) == len(list(C8.testing_elements))  # every element, not only grid-exact
    assert max(e for _, e in errors) < 1e-12
    assert len(module.check_equivariance()) == 4  # the full action: multiples of 90 degrees


class _ShiftFirstChannel(nn.EquivariantModule):
    """Not equivariant: adds 1 to the first channel of every input."""

    def __init__(self, in_type):
        super().__init__()
        self.in_type = self.out_type = in_type

    def forward(self, input):
        x = self._check_input(input).clone()
        x[:, 0] += 1
        return nn.GeometricTensor(x, self.out_type)

    def evaluate_output_shape(self, input_shape):
        return input_shape


def test_full_space_action_false_finds_a_broken_module():
    ftype = nn.FieldType(C8, [C8.regular_repr])
    module = nn.MultipleModule(ftype, ["a"], [(_ShiftFirstChannel(ftype), "a")])
    with pytest.raises(AssertionError, match="fibers only"):
        module.check_equivariance(full_space_action=False)


def test_merge_module_needs_one_label_per_input():
    gates = nn.FieldType(C8, [C8.trivial_repr])
    gated = nn.FieldType(C8, [C8.irrep(1)])
    gated2 = nn.GatedNonLinearity2((gates, gated))
    with pytest.raises(nn.ArgumentError, match="takes 2 input"):
        nn.MergeModule([(gated2, "gate")])
    merge = nn.MergeModule([(gated2, ["g", "x"])])
    out = merge(
        {
            "g": nn.GeometricTensor(torch.randn(1, 1, 3, 3), gates),
            "x": nn.GeometricTensor(torch.randn(1, 2, 3, 3), gated),
        }
    )
    assert out.type == gated
    ftype = gates + gated
    with pytest.raises(nn.FieldTypeMismatchError, match="label 'g'"):
        nn.MultipleModule(ftype, ["x", "g"], [(gated2, ["g", "x"])])


# ------------------------------------------------------------------------------- slicing


def test_slicing_as_the_reference():
    ftype = nn.FieldType(C8, [C8.regular_repr, C8.irrep(1), C8.trivial_repr])
    t = torch.randn(3, ftype.size, 3, 4)
    g = nn.GeometricTensor(t, ftype)
    # an ellipsis counts as an index: five entries are too many for four dimensions
    with pytest.raises(TypeError, match="too many indices"):
        g[0, 0:2, 1, 1, ...]
    with pytest.raises(IndexError):
        g[0, 0:2, 1, 1, ...]
    assert g[0, 0:2, 1, ...].shape == (1, 10, 1, 4)
    # past the end of a batch or spatial dimension an integer selects nothing (the slice i:i+1)
    assert g[1, 0, 3, 4].shape == (1, 8, 0, 0)
    assert g[5].shape == (0, ftype.size, 3, 4)
    torch.testing.assert_close(g[:, 1, -1, -4].tensor, t[:, 8:10, 2:3, 0:1])
    with pytest.raises(IndexError, match="out of range"):
        g[:, :, -4]
    with pytest.raises(IndexError, match="out of range"):
        g[:, 3]  # fields are never silently empty
    with pytest.raises(TypeError):
        g[[0, 1]]


# ------------------------------------------------------------- concatenated representations


def test_concatenated_regular_is_not_a_vectorfield_input():
    regular = C8.regular_repr
    concatenated = concatenated_representation(regular)
    assert "vectorfield" in regular.supported_nonlinearities
    assert "vectorfield" not in concatenated.supported_nonlinearities
    assert {"pointwise", "norm", "gated", "concatenated"} <= concatenated.supported_nonlinearities
    # what the reference's test does: every representation that claims 'vectorfield' works
    nn.ConcatenatedNonLinearity(nn.FieldType(C8, [regular]))
    reps = [r for r in C8.representations.values() if "vectorfield" in r.supported_nonlinearities]
    nn.VectorFieldNonLinearity(nn.FieldType(C8, reps * 2)).check_equivariance()


# ---------------------------------------------------------------------- He initialisation


def test_cached_he_init_draws_the_same_numbers_from_the_same_seed():
    t = nn.FieldType(C8, [C8.regular_repr, C8.irrep(1), C8.trivial_repr])
    expansion = nn.R2Conv(t, t, 5).basisexpansion
    draws = []
    for cache in (False, True, True):
        w = torch.empty(expansion.dimension())
        torch.manual_seed(3)
        nn.init.generalized_he_init(w, expansion, cache=cache)
        draws.append(w)
    torch.testing.assert_close(draws[0], draws[1])
    torch.testing.assert_close(draws[1], draws[2])
    assert expansion._he_std.shape == (expansion.dimension(),)
    assert (expansion._he_std > 0).all()


# ------------------------------------------------------------ quotient representations


@pytest.mark.parametrize(
    "gspace, names",
    [
        (gspaces.FlipRot2dOnR2(8), ["quotient[(0, 2)]", "quotient[(1, 2)]"]),
        (gspaces.Rot2dOnR2(16), ["quotient[2]"]),
        (gspaces.Rot2dOnR2(9), []),
    ],
)
def test_build_quotient_representations(gspace, names):
    group = gspace.fibergroup
    before = set(group.representations)
    group._build_quotient_representations()
    added = set(group.representations) - before
    assert added <= set(names) and set(names) <= set(group.representations)
    pointwise = [
        r for r in group.representations.values() if "pointwise" in r.supported_nonlinearities
    ]
    bn = nn.InnerBatchNorm(nn.FieldType(gspace, pointwise), affine=False, momentum=1.0)
    bn(nn.GeometricTensor(torch.randn(20, bn.in_type.size, 1, 1), bn.in_type))
    assert_equivariant(bn.eval(), fibers_only=True)
