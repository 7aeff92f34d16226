"""Initialisers: vectorised maths checked against the obvious per-weight loops (synthetic bases)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from runtime.nn import init
from runtime.nn.modules.conv.basis_expansion import BlocksBasisExpansion
from tests.fake_artifacts import fake_artifact

S = 9


def naive_he_std(out_position, in_irrep):
    """The definition, one weight at a time."""
    inputs = defaultdict(set)
    count = defaultdict(int)
    for o, i in zip(out_position, in_irrep):
        inputs[o].add(i)
        count[(i, o)] += 1
    return np.asarray(
        [1 / np.sqrt(len(inputs[o]) * count[(i, o)]) for o, i in zip(out_position, in_irrep)]
    )


def test_he_std_matches_definition():
    rng = np.random.default_rng(0)
    out_position = rng.integers(0, 40, 3000)
    names = np.asarray(["irrep_0", "irrep_1", "irrep_2", "irrep_1,1"])
    in_irrep = names[rng.integers(0, 4, 3000)]
    np.testing.assert_allclose(
        init.generalized_he_std(out_position, in_irrep), naive_he_std(out_position, in_irrep)
    )


def test_he_per_block_plan_matches_per_coefficient_definition():
    from tests.runtime import test_conv_functional as fake

    in_type = fake.fake_type(fake.A, fake.B, fake.A, fake.C)
    out_type = fake.fake_type(fake.B, fake.A, fake.C, fake.A)
    expansion = BlocksBasisExpansion(in_type, out_type, fake.generator)
    plan = init._he_blocks(expansion)
    fast = torch.cat([std.repeat(repeats) for _, _, repeats, std in plan]).numpy()
    c = expansion.basis_columns(["out_irreps_position", "in_irrep"])
    np.testing.assert_allclose(fast, naive_he_std(c["out_irreps_position"], c["in_irrep"]))


class _Repr(SimpleNamespace):
    def __hash__(self):
        return hash(self.name)

    def __eq__(self, other):
        return self.name == other.name


TRIV = _Repr(name="t", size=1, irreps=("t",))
CPLX = _Repr(name="u", size=2, irreps=("u",))


def fake_type(*reprs):
    return SimpleNamespace(representations=reprs, size=sum(r.size for r in reprs))


def generator(in_repr, out_repr):
    """trivial->trivial: [radius 0, radius 1]; u->u: [I, J at radius 0, one at radius 1]."""
    n = 2 if in_repr.name == "t" else 3
    radius = np.asarray([0.0, 1.0] if n == 2 else [0.0, 0.0, 1.0])
    rng = np.random.default_rng(n)
    attributes = {
        "radius": radius,
        "in_irrep": np.full(n, in_repr.irreps[0]),
        "out_irrep": np.full(n, out_repr.irreps[0]),
        "in_irrep_position": np.zeros(n, dtype=np.int64),
        "out_irrep_position": np.zeros(n, dtype=np.int64),
    }
    return fake_artifact([out_repr.size], [in_repr.size], attributes, S, rng, orthogonal=True)


def _only(repr_, n):
    return fake_type(*([repr_] * n))


@pytest.mark.parametrize("n_in, n_out", [(3, 3), (2, 5), (5, 2)])
def test_deltaorthonormal_real_irreps_semi_orthogonal(n_in, n_out):
    expansion = BlocksBasisExpansion(_only(TRIV, n_in), _only(TRIV, n_out), generator)
    w = torch.empty(expansion.dimension(), dtype=torch.float64)
    init.deltaorthonormal_init(w, expansion)
    w = w.view(n_out, n_in, 2)
    assert not w[..., 1].any()  # radius 1: zero
    m = w[..., 0]
    gram = m @ m.T if n_out <= n_in else m.T @ m
    torch.testing.assert_close(gram, torch.eye(min(n_in, n_out), dtype=torch.float64))


def test_deltaorthonormal_complex_irreps_unitary():
    n = 4
    expansion = BlocksBasisExpansion(_only(CPLX, n), _only(CPLX, n), generator)
    w = torch.empty(expansion.dimension(), dtype=torch.float64)
    init.deltaorthonormal_init(w, expansion)
    w = w.view(n, n, 3)
    assert not w[..., 2].any()
    q = torch.complex(w[..., 0], w[..., 1])
    torch.testing.assert_close(q @ q.mH, torch.eye(n, dtype=torch.complex128))


def test_deltaorthonormal_one_by_one_draws_both_signs():
    expansion = BlocksBasisExpansion(_only(TRIV, 1), _only(TRIV, 1), generator)
    w = torch.empty(expansion.dimension())
    draws = set()
    for _ in range(40):
        init.deltaorthonormal_init(w, expansion)
        draws.add(float(w[0]))
    assert draws == {-1.0, 1.0}


def test_he_init_statistics_and_shape_check():
    expansion = BlocksBasisExpansion(_only(CPLX, 30), _only(CPLX, 20), generator)
    w = torch.empty(expansion.dimension(), dtype=torch.float64)
    torch.manual_seed(0)
    init.generalized_he_init(w, expansion)
    c = expansion.basis_columns(["out_irreps_position", "in_irrep"])
    std = init.generalized_he_std(c["out_irreps_position"], c["in_irrep"])
    z = w.numpy() / std
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    torch.manual_seed(0)
    again = torch.empty_like(w)
    init.generalized_he_init(again, expansion, cache=True)
    torch.testing.assert_close(again, w)
    with pytest.raises(ValueError, match="coefficients"):
        init.generalized_he_init(torch.empty(3), expansion)
    with pytest.raises(ValueError, match="coefficients"):
        init.deltaorthonormal_init(torch.empty(3), expansion)
