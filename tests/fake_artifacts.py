"""Synthetic compact artifacts for the runtime's tests (no compiler, no store)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from e2compile.kernels import compact


class FakeArtifact(SimpleNamespace):
    """The parts of a compact :class:`~e2compile.compiler.BasisArtifact` the runtime reads."""

    def padded_changes_of_basis(self):
        return compact.padded_changes_of_basis(
            self.q_out, self.out_irrep_sizes, self.q_in_inv, self.in_irrep_sizes
        )

    def dense_basis(self, elements=None):
        return compact.expand_dense(self, elements)

    @property
    def basis(self):
        return self.dense_basis()


def fake_artifact(
    out_sizes, in_sizes, attributes: dict, points: int, rng: np.random.Generator, orthogonal=False
) -> FakeArtifact:
    """Random blocks for the irreps named by the ``*_irrep_position`` columns of ``attributes``
    and random (or identity, with ``orthogonal``) changes of basis."""
    out_sizes, in_sizes = np.asarray(out_sizes), np.asarray(in_sizes)
    out_pos, in_pos = attributes["out_irrep_position"], attributes["in_irrep_position"]
    dim = len(out_pos)
    blocks = rng.standard_normal((dim, 2, 2, points))
    for n in range(dim):
        blocks[n, out_sizes[out_pos[n]] :] = 0.0
        blocks[n, :, in_sizes[in_pos[n]] :] = 0.0
    o, i = int(out_sizes.sum()), int(in_sizes.sum())
    return FakeArtifact(
        spec=None,
        dim=dim,
        shape=(o, i),
        points=points,
        blocks=blocks,
        q_out=np.eye(o) if orthogonal else rng.standard_normal((o, o)),
        q_in_inv=np.eye(i) if orthogonal else rng.standard_normal((i, i)),
        out_irrep_sizes=out_sizes,
        in_irrep_sizes=in_sizes,
        attributes=attributes,
        bias_basis=np.zeros((o, 0)),
    )
