"""Generate the e2cnn 0.2.3 checkpoint fixtures of ``tests/runtime/test_checkpoint_conversion.py``.

Run once, in our environment; the reference runs in its own (``.venv-e2cnn``, made by
``bash scripts/setup_reference_env.sh``) through ``benchmarks/reference.py``::

    .venv/bin/python scripts/make_e2cnn_checkpoints.py [FAMILY ...]

For every family of ``tests/e2cnn_checkpoint_models.py`` (or the ones named) it builds the model
with e2cnn, perturbs its parameters, runs two training batches (so batch-norm statistics move),
and saves ``tests/data/e2cnn_checkpoints/<family>.pt``: the reference's eval-mode ``state_dict``
(sampled bases and cached filters included, as e2cnn saves them), an input and the reference's
eval output.

e2cnn 0.2.3's ``GNormBatchNorm`` calls ``.view`` on the result of ``torch.einsum``, which torch 2
may return non-contiguous (a ``RuntimeError``). The snippet hands that module a ``torch`` whose
``einsum`` returns a contiguous copy: the same values, e2cnn's own code otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from reference import _PRELUDE, run_reference  # noqa: E402

BODY = r"""
import importlib.util, os
import e2cnn.nn.modules.batchnormalization.gnorm as gnorm_module


class _ContiguousEinsum:
    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def einsum(*args, **kwargs):
        return torch.einsum(*args, **kwargs).contiguous()


gnorm_module.torch = _ContiguousEinsum()
spec = importlib.util.spec_from_file_location("models", ARGS["models"])
models = importlib.util.module_from_spec(spec)
spec.loader.exec_module(models)
os.makedirs(ARGS["out"], exist_ok=True)
sizes = {}
for family in ARGS["families"] or models.FAMILIES:
    torch.manual_seed(0)
    model = models.build(family, gspaces, nn)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    model.train()
    for _ in range(2):
        x = 2 * torch.randn(4, *models.INPUT_SHAPE[1:]) + 0.5
        model(nn.GeometricTensor(x, model.in_type))
    model.eval()
    x = torch.randn(*models.INPUT_SHAPE)
    with torch.no_grad():
        y = model(nn.GeometricTensor(x, model.in_type)).tensor
    path = os.path.join(ARGS["out"], family + ".pt")
    torch.save({"state_dict": model.state_dict(), "input": x, "output": y,
                "versions": {k: str(v) for k, v in versions().items()}}, path)
    sizes[family] = os.path.getsize(path)
print(json.dumps({"sizes": sizes, "versions": versions()}))
"""


def main() -> int:
    args = {
        "models": str(ROOT / "tests" / "e2cnn_checkpoint_models.py"),
        "out": str(ROOT / "tests" / "data" / "e2cnn_checkpoints"),
        "families": sys.argv[1:],
    }
    result = run_reference(f"{_PRELUDE}\nARGS = json.loads({json.dumps(json.dumps(args))})\n{BODY}")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
