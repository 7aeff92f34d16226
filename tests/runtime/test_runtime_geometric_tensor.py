"""GeometricTensor: field slicing, split, arithmetic, direct sum, transforms, errors."""

from __future__ import annotations

import pickle

import pytest
import torch

from e2compile import gspaces
from runtime import nn


@pytest.fixture(scope="module")
def space():
    return gspaces.Rot2dOnR2(4)


@pytest.fixture(scope="module")
def ftype(space):
    s = space
    return nn.FieldType(s, [s.regular_repr] * 2 + [s.irrep(1)] * 2 + [s.trivial_repr] * 3)


def test_slicing_follows_fields(ftype):
    g = nn.GeometricTensor(torch.randn(10, ftype.size, 9, 9), ftype)
    assert g.shape == torch.Size([10, 15, 9, 9]) and g.size() == g.shape and g.size(1) == 15
    assert g[1:3, :, 2:5, 2:5].shape == torch.Size([2, 15, 3, 3])
    assert g[..., 2:5].shape == torch.Size([10, 15, 9, 3])
    assert g[:, 1:4, ...].shape == torch.Size([10, 8, 9, 9])
    assert g[:, 0:6:2].shape == torch.Size([10, 7, 9, 9])
    assert g[3, 2].shape == torch.Size([1, 2, 9, 9])
    assert g[-1, -1].shape == torch.Size([1, 1, 9, 9])
    # contents: fields 1..3 are channels 4..11; stepped slices gather channels
    torch.testing.assert_close(g[:, 1:4].tensor, g.tensor[:, 4:12])
    torch.testing.assert_close(g[:, 0:6:2].tensor, g.tensor[:, [0, 1, 2, 3, 8, 9, 12]])
    torch.testing.assert_close(g[:, ::-3].tensor, g.tensor[:, [14, 10, 11, 0, 1, 2, 3]])
    assert g[:, 0:6:2].type.fields_names() == ["regular", "irrep_1", "irrep_0"]
    assert g[:, 1:4].tensor.data_ptr() == g.tensor[:, 4:].data_ptr()  # a view
    assert g[:].type is ftype


def test_bad_indices(ftype):
    g = nn.GeometricTensor(torch.randn(2, ftype.size, 3, 3), ftype)
    with pytest.raises(TypeError, match="basic slicing"):
        g[:, [0, 1]]
    with pytest.raises(IndexError, match="out of range"):
        g[:, 7]
    with pytest.raises(IndexError, match="no field"):
        g[:, 3:3]
    with pytest.raises(IndexError, match="too many"):
        g[0, 0, 0, 0, 0]
    with pytest.raises(TypeError):
        g[0] = 1.0


def test_split(ftype):
    g = nn.GeometricTensor(torch.randn(10, ftype.size, 7, 7), ftype)
    parts = g.split([4, 6])
    assert [p.shape[1] for p in parts] == [12, 2, 1]
    assert [len(p.type) for p in parts] == [4, 2, 1]
    assert len(g.split()) == len(ftype)
    assert [p.shape[1] for p in g.split()] == [4, 4, 2, 2, 1, 1, 1]
    torch.testing.assert_close(torch.cat([p.tensor for p in parts], 1), g.tensor)
    with pytest.raises(ValueError, match="breaks"):
        g.split([6, 4])
    with pytest.raises(ValueError, match="breaks"):
        g.split([0])


def test_arithmetic(ftype):
    a = torch.randn(2, ftype.size, 3, 3)
    b = torch.randn(2, ftype.size, 3, 3)
    t1, t2 = nn.GeometricTensor(a.clone(), ftype), nn.GeometricTensor(b.clone(), ftype)
    torch.testing.assert_close((t1 + t2).tensor, a + b)
    torch.testing.assert_close((t1 - t2).tensor, a - b)
    torch.testing.assert_close((t1 * 3.0).tensor, a * 3)
    torch.testing.assert_close((3 * t1).tensor, a * 3)
    torch.testing.assert_close((t1 * torch.tensor(3.0)).tensor, a * 3)
    torch.testing.assert_close((t1 / 2).tensor, a / 2)
    torch.testing.assert_close((-t1).tensor, -a)
    t1 += t2
    torch.testing.assert_close(t1.tensor, a + b)
    t1 -= t2
    t1 *= 2.0
    t1 /= 4.0
    torch.testing.assert_close(t1.tensor, a / 2)
    with pytest.raises(TypeError, match="scalars"):
        t1 * torch.ones(3)
    with pytest.raises(TypeError, match="GeometricTensor"):
        t1 + a
    other = nn.GeometricTensor(torch.randn(2, ftype.size - 1, 3, 3), ftype.index_select(range(6)))
    with pytest.raises(ValueError, match="different field types"):
        t1 + other


def test_construction_errors_name_the_argument(ftype):
    with pytest.raises(ValueError, match="'tensor'.*15 channels"):
        nn.GeometricTensor(torch.randn(2, 14, 3, 3), ftype)
    with pytest.raises(TypeError, match="'tensor'"):
        nn.GeometricTensor([1.0], ftype)
    with pytest.raises(TypeError, match="'type'"):
        nn.GeometricTensor(torch.randn(2, 15), "regular")


def test_directsum_to_restrict_repr_and_pickle(space, ftype):
    a = nn.GeometricTensor(torch.randn(2, ftype.size, 3, 3), ftype)
    t = nn.FieldType(space, [space.regular_repr])
    b = nn.GeometricTensor(torch.randn(2, 4, 3, 3), t)
    c = nn.tensor_directsum([a, b])
    assert c.type == ftype + t
    torch.testing.assert_close(c.tensor, torch.cat([a.tensor, b.tensor], 1))
    with pytest.raises(ValueError, match=r"tensors\[1\]"):
        nn.tensor_directsum([a, nn.GeometricTensor(torch.randn(2, 4, 5, 5), t)])
    d = a.to(torch.float64)
    assert d.tensor.dtype == torch.float64 and d.type is ftype
    r = a.restrict(2)
    assert r.tensor is a.tensor and r.type.gspace.fibergroup.order() == 2
    assert repr(b).startswith("g_tensor(") and repr(b).endswith(", [4-Rotations: {regular}])")
    e = pickle.loads(pickle.dumps(a))
    assert e.type == a.type and torch.equal(e.tensor, a.tensor)


def test_transform_fibers_acts_on_channels_only(space, ftype):
    x = torch.randn(2, ftype.size, 4, 4)
    g = nn.GeometricTensor(x, ftype)
    y = g.transform_fibers(1).tensor
    # a regular field is cyclically permuted, the trivial fields are unchanged
    torch.testing.assert_close(y[:, 12:], x[:, 12:])
    rho = torch.as_tensor(space.regular_repr(1), dtype=x.dtype)
    torch.testing.assert_close(y[:, :4], torch.einsum("ij,bjhw->bihw", rho, x[:, :4]))
    z = g.transform(1).tensor
    torch.testing.assert_close(z, torch.rot90(y, 1, dims=(-2, -1)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_transform_on_cuda_matches_cpu(space, ftype):
    x = torch.randn(2, ftype.size, 9, 9)
    g = nn.GeometricTensor(x.cuda(), ftype)
    for element in space.testing_elements:
        y = g.transform(element).tensor
        assert y.is_cuda
        torch.testing.assert_close(y.cpu(), ftype.transform(x, element), atol=1e-5, rtol=1e-5)
    so2 = gspaces.Rot2dOnR2(-1, maximum_frequency=3)
    t = nn.FieldType(so2, [so2.irrep(1), so2.trivial_repr])
    x = torch.randn(2, t.size, 9, 9)
    y = t.transform(x.cuda(), 0.3)
    assert y.is_cuda
    torch.testing.assert_close(y.cpu(), t.transform(x, 0.3), atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------ point clouds (coords)
def test_coords_kept_and_moved(ftype, space):
    coords = torch.randn(6, 2)
    g = nn.GeometricTensor(torch.randn(6, ftype.size), ftype, coords)
    assert g.coords is coords
    assert nn.GeometricTensor(torch.randn(2, ftype.size, 3, 3), ftype).coords is None
    for other in (g.to(torch.float64), g.transform_fibers(1), g + g, g - g, -g, g * 2.0, g / 2.0):
        assert other.coords is coords
    assert g.restrict(2).coords is coords
    assert all(part.coords is coords for part in g.split([2, 4]))
    torch.testing.assert_close(g[1:4].coords, coords[1:4])
    torch.testing.assert_close(g[2].coords, coords[2:3])
    assert g[:, 0:2].coords is not None and g[:, 0:2].coords.shape == (6, 2)
    moved = g.transform(1)  # a quarter turn: (x, y) -> (-y, x)
    torch.testing.assert_close(moved.coords, torch.stack([-coords[:, 1], coords[:, 0]], dim=1))
    torch.testing.assert_close(moved.tensor, ftype.transform_fibers(g.tensor, 1))
    assert nn.tensor_directsum([g, g]).coords is coords
    assert g.has_same_coords(nn.GeometricTensor(g.tensor, ftype, coords.clone()))


def test_flip_moves_coords():
    gs = gspaces.flipRot2dOnR2(2)  # reflection across the vertical axis: (x, y) -> (-x, y)
    t = nn.FieldType(gs, [gs.regular_repr])
    coords = torch.randn(5, 2)
    moved = nn.GeometricTensor(torch.randn(5, 4), t, coords).transform((1, 0))
    torch.testing.assert_close(moved.coords, torch.stack([-coords[:, 0], coords[:, 1]], dim=1))
    data, new = t.transform(torch.randn(5, 4), (1, 0), coords=coords)
    torch.testing.assert_close(new, moved.coords)


def test_bad_coords(ftype):
    x = torch.randn(6, ftype.size)
    with pytest.raises(TypeError, match="coords"):
        nn.GeometricTensor(x, ftype, [[0.0, 0.0]] * 6)
    for coords, tensor in (
        (torch.randn(6, 3), x),
        (torch.randn(6), x),
        (torch.randn(5, 2), x),
        (torch.randn(6, 2), torch.randn(6, ftype.size, 2)),
    ):
        with pytest.raises(ValueError, match="coords") as info:
            nn.GeometricTensor(tensor, ftype, coords)
        assert isinstance(info.value, AssertionError)
    a = nn.GeometricTensor(x, ftype, torch.randn(6, 2))
    b = nn.GeometricTensor(x, ftype, torch.randn(6, 2))
    with pytest.raises(ValueError, match="coords"):
        a + b
    with pytest.raises(ValueError, match="coords"):
        a + nn.GeometricTensor(x, ftype)
    with pytest.raises(ValueError, match="coords"):
        nn.tensor_directsum([a, b])
    with pytest.raises(ValueError, match="coords"):
        ftype.transform(x, 1, coords=torch.randn(5, 2))
