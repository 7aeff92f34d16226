"""e2cnn 0.2.3 checkpoints convert: outputs equal the reference's (fixtures in tests/data/).

The fixtures were made once by ``scripts/make_e2cnn_checkpoints.py`` in the reference environment
(the models: ``tests/e2cnn_checkpoint_models.py``); these tests do not need that environment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from e2compile import gspaces
from runtime import nn
from runtime.checkpoints import CheckpointMismatchError, convert_e2cnn_state_dict
from tests.e2cnn_checkpoint_models import FAMILIES, build

DATA = Path(__file__).parents[1] / "data" / "e2cnn_checkpoints"


def _fixture(family):
    return torch.load(DATA / f"{family}.pt", weights_only=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_converted_checkpoint_reproduces_the_reference_outputs(family):
    data = _fixture(family)
    model = build(family, gspaces, nn)
    converted = convert_e2cnn_state_dict(model, data["state_dict"])
    result = model.load_state_dict(converted)  # strict
    assert not result.missing_keys and not result.unexpected_keys
    assert not any("filter" in k or "sampled_basis" in k for k in converted)
    model.eval()
    with torch.no_grad():
        y = model(nn.GeometricTensor(data["input"], model.in_type)).tensor
    ref = data["output"]
    scale = ref.abs().max().item()
    assert (y - ref).abs().max().item() <= 1e-5 * max(scale, 1.0)


def test_converted_model_is_still_equivariant():
    data = _fixture("D4")
    model = build("D4", gspaces, nn)
    model.load_state_dict(convert_e2cnn_state_dict(model, data["state_dict"]))
    model.eval().check_equivariance()


def test_mismatched_architecture_names_the_first_differing_layer():
    data = _fixture("C4")
    gs = gspaces.Rot2dOnR2(4)
    model = build("C4", gspaces, nn)
    # same layer names, but the third layer maps to other fields
    t = model[2].in_type
    model._modules["2"] = nn.R2ConvTransposed(t, nn.FieldType(gs, [gs.regular_repr] * 3), 3)
    with pytest.raises(CheckpointMismatchError, match=r"layer '2' \(R2ConvTransposed\)") as info:
        convert_e2cnn_state_dict(model, data["state_dict"])
    assert info.value.layer == "2"


def test_other_kernel_size_is_a_clear_error():
    data = _fixture("Trivial")
    model = build("Trivial", gspaces, nn)
    model._modules["0"] = nn.R2Conv(model[0].in_type, model[0].out_type, 5, padding=2)
    with pytest.raises(CheckpointMismatchError, match=r"layer '0' \(R2Conv\)"):
        convert_e2cnn_state_dict(model, data["state_dict"])


def test_a_checkpoint_for_a_deeper_model_is_an_error():
    data = _fixture("SO2")
    sd = dict(data["state_dict"])
    sd["5.weights"] = torch.zeros(3)
    with pytest.raises(CheckpointMismatchError, match="'5.weights'"):
        convert_e2cnn_state_dict(build("SO2", gspaces, nn), sd)


def test_missing_tensor_is_an_error():
    data = _fixture("O2")
    sd = {k: v for k, v in data["state_dict"].items() if not k.startswith("0.bias")}
    with pytest.raises(CheckpointMismatchError, match=r"layer '0' \(R2Conv\).*bias"):
        convert_e2cnn_state_dict(build("O2", gspaces, nn), sd)


def test_bad_arguments():
    with pytest.raises(TypeError, match="'model'"):
        convert_e2cnn_state_dict(object(), {})
    with pytest.raises(TypeError, match="'state_dict'"):
        convert_e2cnn_state_dict(build("Flip", gspaces, nn), [1, 2])


def test_e2c_convert_command(tmp_path):
    from cli import main

    builder = tmp_path / "model.py"
    builder.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from tests.e2cnn_checkpoint_models import build\n"
        "from e2compile import gspaces\n"
        "from runtime import nn\n\n"
        "def build_model():\n"
        "    return build('Flip', gspaces, nn)\n"
    )
    out = tmp_path / "converted.pt"
    result = CliRunner().invoke(
        main, ["convert-e2cnn", f"{builder}:build_model", str(DATA / "Flip.pt"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "converted" in result.output
    model = build("Flip", gspaces, nn)
    model.load_state_dict(torch.load(out, weights_only=True))
    data = _fixture("Flip")
    with torch.no_grad():
        y = model.eval()(nn.GeometricTensor(data["input"], model.in_type)).tensor
    torch.testing.assert_close(y, data["output"], rtol=1e-5, atol=1e-5)

    bad = CliRunner().invoke(
        main, ["convert-e2cnn", f"{builder}:build_model", str(DATA / "C4.pt"), "-o", str(out)]
    )
    assert bad.exit_code != 0 and "layer" in bad.output


# ------------------------------------------------------- GNormBatchNorm: per-irrep statistics


def _gnorm_reference_state(ftype, change_of_basis, rng):
    """An e2cnn-style GNormBatchNorm state_dict for ``ftype`` whose fields of representation
    ``name`` were normalised in the basis ``change_of_basis[name]`` (random statistics)."""
    group = ftype.fibergroup
    sd = {"num_batches_tracked": torch.tensor(7)}
    names = [r.name for r in ftype.representations]
    for rep in dict.fromkeys(ftype.representations):
        n = names.count(rep.name)
        sizes = [group.irreps[i].size for i in rep.irreps]
        n_trivial = sum(group.irreps[i].is_trivial() for i in rep.irreps)
        aggregator = np.zeros((rep.size, len(sizes)))
        for j, (a, b) in enumerate(zip(np.cumsum([0, *sizes])[:-1], np.cumsum(sizes))):
            aggregator[a:b, j] = 1 / (b - a)
        q = change_of_basis.get(rep.name, np.eye(rep.size))
        if not np.allclose(q, np.eye(rep.size)):
            sd[f"{rep.name}_change_of_basis"] = torch.tensor(q, dtype=torch.float32)
            sd[f"{rep.name}_change_of_basis_inv"] = torch.tensor(q.T, dtype=torch.float32)
        sd[f"vars_aggregator_{rep.name}"] = torch.tensor(aggregator, dtype=torch.float32)
        sd[f"vars_propagator_{rep.name}"] = torch.tensor(aggregator > 0, dtype=torch.float32)
        sd[f"{rep.name}_running_var"] = torch.tensor(rng.uniform(0.5, 2, (n, len(sizes))))
        sd[f"{rep.name}_running_mean"] = torch.tensor(rng.normal(size=(n, n_trivial)))
        sd[f"{rep.name}_weight"] = torch.tensor(rng.uniform(0.5, 2, (n, len(sizes))))
        sd[f"{rep.name}_bias"] = torch.tensor(rng.normal(size=(n, n_trivial)))
    return {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}


def _gnorm_reference_forward(x, ftype, sd, eps=1e-5):
    """The reference's eval-mode GNormBatchNorm, written out from its stored tensors."""
    x = x.double().numpy()
    out = np.empty_like(x)
    seen = {}
    for rep, start in zip(ftype.representations, ftype.fields_start):
        k = seen[rep.name] = seen.get(rep.name, -1) + 1
        get = lambda suffix: sd[f"{rep.name}_{suffix}"].double().numpy()[k]  # noqa: B023
        q = sd.get(f"{rep.name}_change_of_basis", torch.eye(rep.size)).double().numpy()
        aggregator = sd[f"vars_aggregator_{rep.name}"].numpy() > 0
        trivial = [
            int(np.flatnonzero(aggregator[:, j])[0])
            for j, name in enumerate(rep.irreps)
            if ftype.fibergroup.irreps[name].is_trivial()
        ]
        z = np.einsum("ds,bs...->bd...", q.T, x[:, start : start + rep.size])
        z[:, trivial] -= get("running_mean")[:, None, None]
        scale = aggregator @ (get("weight") / np.sqrt(get("running_var") + eps))
        z = z * scale[:, None, None]
        z[:, trivial] += get("bias")[:, None, None]
        out[:, start : start + rep.size] = np.einsum("ds,bs...->bd...", q, z)
    return torch.from_numpy(out)


def _converted_gnorm_output(ftype, sd, x):
    bn = nn.GNormBatchNorm(ftype)
    bn.load_state_dict(convert_e2cnn_state_dict(bn, sd))
    with torch.no_grad():
        return bn.eval()(nn.GeometricTensor(x, ftype)).tensor.double()


def test_gnorm_statistics_follow_a_reference_basis_with_other_signs_and_order():
    gs = gspaces.FlipRot2dOnR2(4)
    regular = gs.regular_repr
    ftype = nn.FieldType(gs, [regular, gs.irrep(1, 1), gs.trivial_repr, regular])
    # the reference's irrep basis of the regular fields: our two copies of irrep_1,1 swapped,
    # the signs of the trivial irrep and of irrep_1,2 flipped
    sizes = [gs.fibergroup.irreps[i].size for i in regular.irreps]  # 1, 1, 2, 2, 1, 1
    starts = np.cumsum([0, *sizes])
    order, signs = [0, 1, 3, 2, 4, 5], [-1, 1, 1, 1, -1, 1]
    m = np.zeros((8, 8))
    for j, (i, sign) in enumerate(zip(order, signs)):
        m[starts[i] : starts[i + 1], starts[j] : starts[j + 1]] = sign * np.eye(sizes[i])
    q_ref = regular.change_of_basis @ m
    sd = _gnorm_reference_state(ftype, {"regular": q_ref}, np.random.default_rng(0))
    x = torch.randn(2, ftype.size, 5, 5)
    expected = _gnorm_reference_forward(x, ftype, sd)
    torch.testing.assert_close(
        _converted_gnorm_output(ftype, sd, x), expected, atol=1e-5, rtol=1e-5
    )
    # the same statistics written in our own basis give the same outputs
    same = _gnorm_reference_state(
        ftype, {"regular": regular.change_of_basis}, np.random.default_rng(1)
    )
    torch.testing.assert_close(
        _converted_gnorm_output(ftype, same, x),
        _gnorm_reference_forward(x, ftype, same),
        atol=1e-5,
        rtol=1e-5,
    )


def test_gnorm_statistics_of_mixed_irrep_copies_are_refused():
    gs = gspaces.FlipRot2dOnR2(4)
    regular = gs.regular_repr
    ftype = nn.FieldType(gs, [regular])
    m = np.eye(8)
    c, s = np.cos(0.3), np.sin(0.3)
    m[2:6, 2:6] = np.kron(np.array([[c, -s], [s, c]]), np.eye(2))  # rotates the two irrep_1,1
    sd = _gnorm_reference_state(
        ftype, {"regular": regular.change_of_basis @ m}, np.random.default_rng(0)
    )
    with pytest.raises(CheckpointMismatchError, match="mixes the copies of 'irrep_1,1'"):
        convert_e2cnn_state_dict(nn.GNormBatchNorm(ftype), sd)


def test_gnorm_checkpoint_with_fewer_fields_is_an_error():
    gs = gspaces.FlipRot2dOnR2(4)
    ftype = nn.FieldType(gs, [gs.regular_repr, gs.regular_repr])
    one = nn.FieldType(gs, [gs.regular_repr])
    sd = _gnorm_reference_state(
        one, {"regular": gs.regular_repr.change_of_basis}, np.random.default_rng(0)
    )
    with pytest.raises(CheckpointMismatchError, match="regular_running_var"):
        convert_e2cnn_state_dict(nn.GNormBatchNorm(ftype), sd)


def test_induced_norm_checkpoint_keys_name_the_field_kind():
    data = _fixture("C8-induced")
    sd = {k: v for k, v in data["state_dict"].items() if not k.startswith("1.(4, 1)")}
    with pytest.raises(CheckpointMismatchError, match=r"layer '1' \(InducedNormBatchNorm\)"):
        convert_e2cnn_state_dict(build("C8-induced", gspaces, nn), sd)


def _bad_checkpoints(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Files that are not convertible checkpoints, and what the one-line error must say."""
    good = _fixture("Flip")["state_dict"]
    basis = next(k for k in good if k.endswith(".sampled_basis"))
    out: dict[str, tuple[Path, str]] = {}

    def save(name: str, value, message: str) -> None:
        path = tmp_path / f"{name}.pt"
        torch.save(value, path)
        out[name] = (path, message)

    (tmp_path / "text.pt").write_text("hello, not a checkpoint\n")
    out["text"] = (tmp_path / "text.pt", "not a PyTorch checkpoint")
    (tmp_path / "empty.pt").write_bytes(b"")
    out["empty"] = (tmp_path / "empty.pt", "the file is empty")
    save("list", [1, 2], "holds a list, not a state_dict")
    save("tensor", torch.zeros(3), "holds a Tensor, not a state_dict")
    sd = dict(good)
    sd[basis.replace("block_expansion_", "block_expansion_(oops")] = sd.pop(basis)
    save("badkey", sd, "malformed basis key")
    save("emptybasis", {**good, basis: torch.zeros(0)}, "has shape (0,)")
    for name, value in (("nan", float("nan")), ("inf", float("inf"))):
        weights = good["0.weights"].clone()
        weights[0] = value
        save(name, {**good, "0.weights": weights}, "tensor '0.weights' holds NaN or infinite")
    (tmp_path / "evil.pt").write_bytes(
        b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR."
    )
    out["evil"] = (tmp_path / "evil.pt", "not a PyTorch checkpoint")
    return out


CASES = ["text", "empty", "list", "tensor", "badkey", "emptybasis", "nan", "inf", "evil"]


@pytest.fixture
def builder(tmp_path) -> Path:
    path = tmp_path / "model.py"
    path.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from tests.e2cnn_checkpoint_models import build\n"
        "from e2compile import gspaces\n"
        "from runtime import nn\n\n"
        "def build_model():\n"
        "    return build('Flip', gspaces, nn)\n\n"
        "def build_int():\n"
        "    return 3\n"
    )
    return path


@pytest.mark.parametrize("case", CASES)
def test_e2c_convert_refuses_bad_checkpoints_in_one_line(tmp_path, builder, case):
    from cli import main

    path, message = _bad_checkpoints(tmp_path)[case]
    out = tmp_path / "out.pt"
    result = CliRunner().invoke(
        main, ["convert-e2cnn", f"{builder}:build_model", str(path), "-o", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}: "), result.output
    assert message in lines[0]
    assert not out.exists() and not (tmp_path / "pwned").exists()


def test_e2c_convert_refuses_a_bad_builder_or_output_in_one_line(tmp_path, builder):
    from cli import main

    source = str(DATA / "Flip.pt")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for args, message in (
        ([f"{builder}:build_int", source, "-o", str(tmp_path / "o.pt")], "not a torch.nn.Module"),
        ([f"{builder}:build_model", source, "-o", str(blocker / "o.pt")], "cannot write there"),
    ):
        result = CliRunner().invoke(main, ["convert-e2cnn", *args])
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.output


def test_library_names_non_finite_tensors():
    from runtime.checkpoints import CheckpointError

    sd = dict(_fixture("Flip")["state_dict"])
    sd["0.bias"] = torch.full_like(sd["0.bias"], float("nan"))
    with pytest.raises(CheckpointError, match="'0.bias' holds NaN"):
        convert_e2cnn_state_dict(build("Flip", gspaces, nn), sd)
