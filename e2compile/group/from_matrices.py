"""Build a :class:`Representation` of a finite group from its matrices.

``build_from_discrete_group_representation(matrices, name, group, supported_nonlinearities)``
(the reference library's name and argument order) takes one orthogonal matrix per group element,
checks that they form a representation, decomposes it into the group's irreps and returns the
equivalent :class:`Representation` ``Q (+) irreps Q^T``.

The decomposition is the group's own (the one that restricts representations to subgroups):
multiplicities from the characters, one isometric copy of each irrep at a time from group
averages of intertwiners, in the group's irrep order. The result is float64 and checked
against the input matrices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .representation import Representation

__all__ = ["build_from_discrete_group_representation"]


def _matrices(group: Any, representation: Mapping[Any, Any]) -> tuple[list, np.ndarray]:
    if not isinstance(representation, Mapping):
        raise TypeError(
            "representation: expected a dict element -> matrix, got "
            f"{type(representation).__name__}"
        )
    elements = list(group.elements)
    missing = [g for g in elements if g not in representation]
    if missing:
        raise ValueError(
            f"representation: no matrix for the element {missing[0]!r} of {group.name}"
        )
    mats = np.stack([np.asarray(representation[g], dtype=np.float64) for g in elements])
    if mats.ndim != 3 or mats.shape[1] != mats.shape[2] or mats.shape[1] == 0:
        raise ValueError(f"representation: expected square matrices, got shape {mats.shape[1:]}")
    return elements, mats


def _check(group: Any, elements: list, mats: np.ndarray) -> None:
    n = mats.shape[1]
    index = {g: i for i, g in enumerate(elements)}
    for i, g in enumerate(elements):
        if not np.allclose(mats[i] @ mats[i].T, np.eye(n), atol=1e-6):
            raise ValueError(f"representation: the matrix of {g!r} is not orthogonal")
        for j, h in enumerate(elements):
            product = group.combine(g, h)
            gh = index.get(product)
            if gh is None:
                gh = next(k for k, e in enumerate(elements) if group.equal(e, product))
            if not np.allclose(mats[i] @ mats[j], mats[gh], atol=1e-6):
                raise ValueError(
                    f"representation: rho({g!r}) rho({h!r}) != rho({g!r} * {h!r}): the matrices "
                    "are not a representation"
                )


def build_from_discrete_group_representation(
    representation: Mapping[Any, Any],
    name: str,
    group: Any,
    supported_nonlinearities: Iterable[str] = (),
) -> Representation:
    """The :class:`Representation` of the finite ``group`` whose matrix at each element ``g`` is
    ``representation[g]`` (orthogonal), named ``name``. A representation already registered on
    the group under ``name`` is returned when it is the same one; a different one is an error."""
    if getattr(group, "continuous", True) or group.elements is None:
        raise ValueError(f"group: expected a finite group, got {getattr(group, 'name', group)!r}")
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty str, got {name!r}")
    elements, mats = _matrices(group, representation)
    _check(group, elements, mats)
    index = {g: i for i, g in enumerate(elements)}
    averaging = [index[g] for g in group._averaging_elements()]
    names, q = group._decompose(mats[averaging], "representation")
    existing = group.representations.get(name)
    result = Representation(
        group, name, names, q, supported_nonlinearities, change_of_basis_inv=q.T
    )
    for i, g in enumerate(elements):
        if not np.allclose(result(g), mats[i], atol=1e-6):
            raise ValueError(f"representation: decomposition failed at element {g!r}")
    if existing is not None:
        if existing != result and not all(
            np.allclose(existing(g), mats[i], atol=1e-6) for i, g in enumerate(elements)
        ):
            raise ValueError(f"name: {group.name} already has a different representation {name!r}")
        return existing
    return result
