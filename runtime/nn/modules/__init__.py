"""Equivariant modules of the runtime."""

from .antialiased import NormMaxPool, PointwiseAvgPoolAntialiased, PointwiseMaxPoolAntialiased
from .batchnorm import InnerBatchNorm, NormBatchNorm
from .concatenated import ConcatenatedNonLinearity
from .containers import ModuleList, SequentialModule
from .dropout import FieldDropout, PointwiseDropout
from .equivariant_module import EquivariantModule
from .fourier import FourierELU, FourierPointwise, QuotientFourierELU, QuotientFourierPointwise
from .iid_batchnorm import IIDBatchNorm1d, IIDBatchNorm2d
from .induced import (
    GNormBatchNorm,
    InducedGatedNonLinearity1,
    InducedNormBatchNorm,
    InducedNormNonLinearity,
    InducedNormPool,
)
from .invariant import GroupPooling, NormPool
from .linear import Linear
from .max_pool_channels import MaxPoolChannels
from .misc import (
    DisentangleModule,
    IdentityModule,
    MaskModule,
    ReshuffleModule,
    RestrictionModule,
)
from .multiple import BranchingModule, MergeModule, MultipleModule
from .nonlinearities import ELU, GatedNonLinearity1, NormNonLinearity, PointwiseNonLinearity, ReLU
from .pointconv import R2PointConv
from .pooling import (
    PointwiseAdaptiveAvgPool,
    PointwiseAdaptiveMaxPool,
    PointwiseAvgPool,
    PointwiseMaxPool,
)
from .tensor_product import TensorProductModule
from .upsampling import R2Upsampling
from .vectorfield import GatedNonLinearity2, VectorFieldNonLinearity

__all__ = [
    "EquivariantModule",
    "SequentialModule",
    "ModuleList",
    "IdentityModule",
    "RestrictionModule",
    "ReshuffleModule",
    "MaskModule",
    "DisentangleModule",
    "MultipleModule",
    "ConcatenatedNonLinearity",
    "BranchingModule",
    "MergeModule",
    "InnerBatchNorm",
    "NormBatchNorm",
    "ReLU",
    "ELU",
    "PointwiseNonLinearity",
    "NormNonLinearity",
    "GatedNonLinearity1",
    "GatedNonLinearity2",
    "VectorFieldNonLinearity",
    "PointwiseMaxPool",
    "PointwiseAvgPool",
    "PointwiseAdaptiveAvgPool",
    "PointwiseAdaptiveMaxPool",
    "PointwiseMaxPoolAntialiased",
    "PointwiseAvgPoolAntialiased",
    "NormMaxPool",
    "GroupPooling",
    "NormPool",
    "MaxPoolChannels",
    "FieldDropout",
    "PointwiseDropout",
    "R2Upsampling",
    "InducedNormNonLinearity",
    "InducedGatedNonLinearity1",
    "InducedNormPool",
    "InducedNormBatchNorm",
    "GNormBatchNorm",
    "Linear",
    "IIDBatchNorm1d",
    "IIDBatchNorm2d",
    "TensorProductModule",
    "FourierPointwise",
    "FourierELU",
    "QuotientFourierPointwise",
    "QuotientFourierELU",
    "R2PointConv",
]
