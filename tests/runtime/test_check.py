"""``runtime.check`` and ``e2c check``: per-layer equivariance errors on a real photograph."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import cli
from e2compile import gspaces
from runtime import nn
from runtime.check import CheckReport, check_equivariance, sample_images, sweep_elements
from runtime.check_plot import plot_report
from runtime.nn.modules.equivariant_module import EquivariantModule
from tests import cluster_model

MODEL = f"{Path(cluster_model.__file__).resolve()}:build_model"


class Unconstrained(EquivariantModule):
    """A free 3x3 convolution that claims to be equivariant: the check must catch it."""

    def __init__(self, in_type: nn.FieldType, out_type: nn.FieldType) -> None:
        super().__init__()
        self.in_type, self.out_type = in_type, out_type
        self.conv = torch.nn.Conv2d(in_type.size, out_type.size, 3, padding=1)

    def forward(self, input: nn.GeometricTensor) -> nn.GeometricTensor:
        return nn.GeometricTensor(self.conv(self._check_input(input)), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape[:1] + (self.out_type.size,) + input_shape[2:]


def d4_net(broken: bool = False) -> nn.SequentialModule:
    torch.manual_seed(0)
    s = gspaces.FlipRot2dOnR2(4)
    t_in = nn.FieldType(s, [s.trivial_repr] * 3)
    t_hid = nn.FieldType(s, [s.regular_repr] * 2)
    middle = Unconstrained(t_hid, t_hid) if broken else nn.R2Conv(t_hid, t_hid, 3, padding=1)
    return nn.SequentialModule(
        nn.R2Conv(t_in, t_hid, 3, padding=1),
        nn.ReLU(t_hid),
        middle,
        nn.GroupPooling(t_hid),
    )


@pytest.mark.extra("tools")
def test_every_layer_and_element_of_a_dihedral_model():
    net = d4_net().train()
    report = check_equivariance(net, size=17, angles=8, tolerance=1e-5)
    assert net.training, "the model's mode is restored"
    assert [n for n, _ in report.layers] == ["0", "1", "2", "3", "model"]
    assert [t for _, t in report.layers][:2] == ["R2Conv", "ReLU"]
    group = net.in_type.gspace.fibergroup
    members = [r for r in report.elements if r.element is not None]
    assert sorted(repr(r.element) for r in members) == sorted(map(repr, group.elements))
    assert all(r.testing and r.sweep for r in members)  # finite: the group is in the sweep
    assert sum(r.flip for r in members) == 4 and all(r.grid_exact for r in members)
    for r in members:
        assert set(r.errors) == {"0", "1", "2", "3", "model"}
        assert max(r.errors.values()) < 1e-5
    # 45-degree steps outside D4: defined for the image input and the invariant (pooled) outputs
    others = [r for r in report.elements if r.element is None]
    assert sorted((r.flip, round(math.degrees(r.angle))) for r in others) == [
        (f, a) for f in (False, True) for a in (45, 135, 225, 315)
    ]
    for r in others:
        assert r.sweep and not r.testing and not r.grid_exact
        assert set(r.errors) == {"3", "model"} and max(r.errors.values()) < 0.5
    assert report.ok and not report.failures
    data = json.loads(json.dumps(report.to_json()))
    assert data["ok"] and len(data["elements"]) == 16 and data["layers"][-1]["name"] == "model"
    text = report.table()
    assert "L1 = 0 (R2Conv)" in text and text.rstrip().endswith("OK")


@pytest.mark.extra("tools")
def test_a_non_equivariant_layer_is_named_and_fails_the_gate():
    report = check_equivariance(d4_net(broken=True), size=17, angles=4)
    assert not report.ok
    failing = {name for name, _, _ in report.failures}
    assert {"2", "3", "model"} <= failing and not failing & {"0", "1"}
    assert "FAILED" in report.table()


@pytest.mark.extra("tools")
def test_continuous_group_sweeps_angles_and_marks_grid_preserving_ones(tmp_path):
    torch.manual_seed(0)
    s = gspaces.Rot2dOnR2(-1, maximum_frequency=4)
    t_in = nn.FieldType(s, [s.trivial_repr])
    t_mid = nn.FieldType(s, [s.irrep(0), s.irrep(1), s.irrep(2)])
    net = nn.SequentialModule(
        nn.R2Conv(t_in, t_mid, 3, padding=1), nn.R2Conv(t_mid, t_in, 3, padding=1)
    )
    report = check_equivariance(net, size=17, angles=8)
    sweep = [r for r in report.elements if r.sweep]
    assert len(sweep) == 8 and len([r for r in report.elements if r.testing]) == 52
    assert sorted(round(math.degrees(r.angle)) for r in sweep) == list(range(0, 360, 45))
    assert {round(math.degrees(r.angle)) for r in report.elements if r.grid_exact} == {
        0, 90, 180, 270
    }  # fmt: skip
    assert report.ok
    off_grid = [max(r.errors.values()) for r in report.elements if not r.grid_exact]
    assert all(math.isfinite(e) and e < 0.5 for e in off_grid)  # interpolation, not a defect
    plot_report(report, str(tmp_path / "so2.png"))
    assert (tmp_path / "so2.png").read_bytes()[:4] == b"\x89PNG"
    assert sweep_elements(gspaces.FlipRot2dOnR2(-1, maximum_frequency=2), 3) == [
        (f, 2 * math.pi * i / 3) for f in (0, 1) for i in range(3)
    ]


@pytest.mark.extra("tools")
def test_a_classifier_with_plain_tensor_output_is_compared_as_invariant():
    report = check_equivariance(cluster_model.build_model(), size=9, angles=8)
    assert report.layers[-1] == ("model", "TinyClassifier")
    assert [n for n, _ in report.layers][:2] == ["features.0", "features.1"]
    assert report.ok


class Wrapper(torch.nn.Module):
    """A plain module whose forward takes and returns GeometricTensors (e2cnn-style code)."""

    def __init__(self) -> None:
        super().__init__()
        net = d4_net()
        self.net = nn.SequentialModule(net[0], net[1])  # regular fields out: not invariant
        self.in_type = self.net.in_type

    def forward(self, x: nn.GeometricTensor) -> nn.GeometricTensor:
        return self.net(x)


@pytest.mark.extra("tools")
def test_a_plain_module_taking_geometric_tensors_is_called_with_them():
    report = check_equivariance(Wrapper(), size=17, angles=4)
    assert [n for n, _ in report.layers] == ["net.0", "net.1", "model"]
    assert report.ok and all("model" in r.errors for r in report.elements if r.element is not None)
    assert all("model" not in r.errors for r in report.elements if r.element is None)


@pytest.mark.extra("tools")
def test_sample_images_are_real_photographs_faded_to_a_disc():
    x = sample_images(21, 4)
    assert x.shape == (2, 4, 21, 21) and x.dtype == torch.float32 and torch.isfinite(x).all()
    assert torch.equal(x[:, 3], x[:, 0])  # channel c is colour channel c mod 3
    assert not torch.equal(x[0], x[1])  # two different photographs
    assert x[:, :, 0, 0].abs().max() == 0 and x[:, :, 10, 10].abs().max() > 0


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: check_equivariance(torch.nn.Conv2d(1, 1, 3)), TypeError, "in_type"),
        (lambda: check_equivariance("net"), TypeError, "model"),
        (lambda: check_equivariance(d4_net(), tolerance=0), ValueError, "tolerance"),
        (lambda: check_equivariance(d4_net(), size=3), ValueError, "size"),
        (lambda: sweep_elements(gspaces.Rot2dOnR2(-1), 0), ValueError, "angles"),
    ],
)
def test_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def e2c(tmp_path: Path, *args: str):
    return CliRunner().invoke(cli.main, ["--cache-dir", str(tmp_path / "root"), *args])


@pytest.mark.extra("tools")
def test_cli_table_json_plot_and_exit_codes(tmp_path):
    plot = tmp_path / "check.png"
    result = e2c(
        tmp_path, "check", MODEL, "--size", "9", "--angles", "8", "--json", "--plot", str(plot)
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] and data["plot"] == str(plot) and data["size"] == 9
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # float32 round-off (~1e-7) exceeds a 1e-12 tolerance: CI gating works end to end
    result = e2c(tmp_path, "check", MODEL, "--size", "9", "--angles", "4", "--tolerance", "1e-12")
    assert result.exit_code == 1
    assert "features.0 (R2Conv)" in result.stdout and "FAILED" in result.stdout


def test_cli_bad_models_are_reported(tmp_path):
    assert e2c(tmp_path, "check", "no-colon").exit_code == 2
    assert e2c(tmp_path, "check", MODEL.replace("build_model", "missing")).exit_code == 2
    source = tmp_path / "models.py"
    source.write_text(
        "import torch\n"
        "def plain():\n    return torch.nn.Conv2d(1, 1, 3)\n"
        "def broken():\n    raise RuntimeError('no GPU here')\n"
    )
    result = e2c(tmp_path, "check", f"{source}:plain")
    assert result.exit_code == 2 and "in_type" in result.output
    result = e2c(tmp_path, "check", f"{source}:broken")
    assert result.exit_code == 1 and "no GPU here" in result.output
    assert e2c(tmp_path, "check", MODEL, "--tolerance", "0").exit_code == 2


def test_report_is_an_immutable_value():
    report = CheckReport("C1", 9, 1e-4, (("model", "M"),), ())
    assert report.ok and report.failures == []
    with pytest.raises(AttributeError):
        report.size = 3  # type: ignore[misc]
