"""Bad arguments and mismatched inputs raise ``ValueError``/``TypeError`` that are also
``AssertionError`` (the reference library asserted these conditions), through the shared checks.
"""

from __future__ import annotations

import pytest
import torch

from e2compile import gspaces
from runtime import nn
from tests.runtime import test_runtime_modules as module_table

C8 = gspaces.Rot2dOnR2(8)
D4 = gspaces.FlipRot2dOnR2(4)


def test_error_classes():
    assert issubclass(nn.ArgumentError, ValueError) and issubclass(nn.ArgumentError, AssertionError)
    assert issubclass(nn.ArgumentTypeError, TypeError)
    assert issubclass(nn.ArgumentTypeError, AssertionError)
    assert issubclass(nn.FieldTypeMismatchError, nn.ArgumentError)
    assert issubclass(nn.SlicingError, IndexError) and issubclass(nn.SlicingError, TypeError)


def _induced_type(gs):
    c4, _, _ = gs.fibergroup.subgroup(4)
    return nn.FieldType(gs, [gs.induced_repr(4, c4.irrep(1))] * 2)


def _all_modules():
    """Every kind of module with one input: the shared table, and the rest."""
    gs = C8
    out = {name: factory(gs) for name, factory in module_table.FACTORIES.items()}
    regular = nn.FieldType(gs, [gs.regular_repr] * 2)
    irreps = nn.FieldType(gs, [gs.irrep(1), gs.irrep(2)])
    out.update(
        conv=nn.R2Conv(regular, irreps, 3),
        conv_transposed=nn.R2ConvTransposed(irreps, regular, 3),
        gnorm=nn.GNormBatchNorm(nn.FieldType(gs, [gs.regular_repr, gs.trivial_repr])),
        induced_norm_bn=nn.InducedNormBatchNorm(_induced_type(gs)),
        induced_norm=nn.InducedNormNonLinearity(_induced_type(gs)),
        induced_pool=nn.InducedNormPool(_induced_type(gs)),
        concatenated=nn.ConcatenatedNonLinearity(regular),
        vectorfield=nn.VectorFieldNonLinearity(regular),
        restriction=nn.RestrictionModule(regular, 4),
        branching=nn.BranchingModule(regular, ["a", "b"]),
    )
    return out


MODULES = _all_modules()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_forward_of_another_field_type_is_an_assertion_error(name):
    module = MODULES[name]
    size = module.in_type.size
    other = nn.FieldType(module.in_type.gspace, [module.in_type.gspace.trivial_repr] * size)
    if other == module.in_type:  # pragma: no cover - every table entry has non-trivial fields
        pytest.skip("the module takes trivial fields")
    x = torch.randn(2, size, 9, 9)
    with pytest.raises(AssertionError) as info:
        module(nn.GeometricTensor(x, other))
    assert isinstance(info.value, ValueError)
    assert "field type" in str(info.value)
    with pytest.raises(AssertionError) as info:
        module(x)  # a plain tensor
    assert isinstance(info.value, TypeError)
    with pytest.raises(AssertionError):
        module.evaluate_output_shape((2, size + 1, 9, 9))


def test_gated_nonlinearity2_inputs():
    gates = nn.FieldType(C8, [C8.trivial_repr] * 2)
    gated = nn.FieldType(C8, [C8.irrep(1), C8.regular_repr])
    module = nn.GatedNonLinearity2((gates, gated))
    g, x = torch.randn(1, 2, 5, 5), torch.randn(1, gated.size, 5, 5)
    with pytest.raises(nn.FieldTypeMismatchError, match="'input'"):
        module(nn.GeometricTensor(g, gates), nn.GeometricTensor(g, gates))
    with pytest.raises(nn.ArgumentTypeError, match="'gates'"):
        module(g, nn.GeometricTensor(x, gated))
    with pytest.raises(AssertionError):
        module.evaluate_output_shape((1, 3, 5, 5), (1, gated.size, 5, 5))


def _bad_constructions():
    regular = nn.FieldType(C8, [C8.regular_repr] * 2)
    irreps = nn.FieldType(C8, [C8.irrep(1), C8.irrep(2)])
    trivial = nn.FieldType(C8, [C8.trivial_repr])
    d4_regular = nn.FieldType(D4, [D4.regular_repr])
    return {
        "relu_irreps": lambda: nn.ReLU(irreps),
        "pointwise_function": lambda: nn.PointwiseNonLinearity(regular, "p_bad"),
        "norm_function": lambda: nn.NormNonLinearity(irreps, "n_bad"),
        "norm_not_fieldtype": lambda: nn.NormNonLinearity([C8.irrep(1)]),
        "concatenated_irreps": lambda: nn.ConcatenatedNonLinearity(irreps),
        "concatenated_function": lambda: nn.ConcatenatedNonLinearity(regular, "c_bad"),
        "gated1_gates": lambda: nn.GatedNonLinearity1(irreps, gates=["gated", "gate"]),
        "gated2_gate": lambda: nn.GatedNonLinearity2((irreps, irreps)),
        "gated2_pair": lambda: nn.GatedNonLinearity2(irreps),
        "vectorfield_irreps": lambda: nn.VectorFieldNonLinearity(irreps),
        "inner_bn_irreps": lambda: nn.InnerBatchNorm(irreps),
        "norm_bn_trivial": lambda: nn.NormBatchNorm(trivial + irreps),
        "gnorm_not_fieldtype": lambda: nn.GNormBatchNorm(C8.regular_repr),
        "induced_bn_regular": lambda: nn.InducedNormBatchNorm(regular),
        "induced_norm_function": lambda: nn.InducedNormNonLinearity(_induced_type(C8), "bad"),
        "maxpool_irreps": lambda: nn.PointwiseMaxPool(irreps, 2),
        "maxpool_kernel": lambda: nn.PointwiseMaxPool(regular, (2, 2, 2)),
        "avgpool_aa_sigma": lambda: nn.PointwiseAvgPoolAntialiased(regular, sigma=0.0, stride=2),
        "maxpool_aa_sigma": lambda: nn.PointwiseMaxPoolAntialiased(regular, 2, sigma=-1.0),
        "group_pooling_irreps": lambda: nn.GroupPooling(irreps),
        "conv_gspaces": lambda: nn.R2Conv(regular, d4_regular, 3),
        "conv_padding_mode": lambda: nn.R2Conv(regular, regular, 3, padding_mode="bad"),
        "conv_kernel_size": lambda: nn.R2Conv(regular, regular, 0),
        "conv_groups": lambda: nn.R2Conv(regular, irreps + trivial, 3, groups=2),
        "upsampling_mode": lambda: nn.R2Upsampling(regular, 2, mode="bicubic"),
        "upsampling_size": lambda: nn.R2Upsampling(regular),
        "dropout_p": lambda: nn.FieldDropout(regular, p=1.5),
        "reshuffle_permutation": lambda: nn.ReshuffleModule(regular, [0, 0]),
        "sequential_types": lambda: nn.SequentialModule(nn.ReLU(regular), nn.NormPool(irreps)),
        "sequential_module": lambda: nn.SequentialModule(torch.nn.ReLU()),
        "multiple_labels": lambda: nn.MultipleModule(regular, ["a"], [(nn.ReLU(regular), "a")]),
        "multiple_types": lambda: nn.MultipleModule(
            regular, ["a", "b"], [(nn.ReLU(regular), "a"), (nn.ReLU(regular), "b")]
        ),
        "merge_two_labels_one_input": lambda: nn.MergeModule([(nn.ReLU(regular), ["a", "b"])]),
        "field_type_empty": lambda: nn.FieldType(C8, []),
        "field_type_group": lambda: nn.FieldType(C8, [D4.regular_repr]),
        "field_type_sum": lambda: regular + d4_regular,
        "tensor_channels": lambda: nn.GeometricTensor(torch.zeros(1, 3, 2, 2), regular),
        "tensor_type": lambda: nn.GeometricTensor(torch.zeros(1, 16, 2, 2), "regular"),
        "tensor_sum": lambda: (
            nn.GeometricTensor(torch.zeros(1, 4, 2, 2), irreps)
            + nn.GeometricTensor(torch.zeros(1, 4, 2, 2), nn.FieldType(C8, [C8.irrep(1)] * 2))
        ),
        "directsum_gspaces": lambda: nn.tensor_directsum(
            [
                nn.GeometricTensor(torch.zeros(1, 16, 2, 2), regular),
                nn.GeometricTensor(torch.zeros(1, 8, 2, 2), d4_regular),
            ]
        ),
        "he_init_shape": lambda: nn.init.generalized_he_init(
            torch.zeros(3), nn.R2Conv(regular, regular, 3).basisexpansion
        ),
    }


BAD = _bad_constructions()


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_argument_is_an_assertion_error_too(name):
    with pytest.raises(AssertionError) as info:
        BAD[name]()
    assert isinstance(info.value, (ValueError, TypeError))
    assert str(info.value)  # a message, not a bare assert


def test_messages_are_kept():
    irreps = nn.FieldType(C8, [C8.irrep(1)])
    with pytest.raises(ValueError, match="does not support 'pointwise' non-linearities"):
        nn.ReLU(irreps)
    with pytest.raises(ValueError, match=r"'function' must be one of \['n_relu'"):
        nn.NormNonLinearity(irreps, "bad")
    with pytest.raises(TypeError, match="'in_type' must be a FieldType, got list"):
        nn.NormNonLinearity([C8.irrep(1)])
