#!/usr/bin/env bash
# Create (or reuse) .venv-escnn/: a SEPARATE environment holding escnn 1.0.11, the library the
# 2D escnn-compatible modules are compared against side by side. escnn is never a dependency of
# e2compile and is never installed into .venv/ (nor into the e2cnn reference env .venv-e2cnn/).
#
# Idempotent: a second run only checks the stamp (and, with --check, re-runs the smoke test).
#
# What escnn 1.0.11 needs, and why these pins:
# * torch first, pinned to the CPU wheel (found via pip's find-links), so nothing pulls CUDA.
# * lie_learn is imported unconditionally when escnn.group is imported (its SO(3) helpers), and
#   lie_learn 0.0.2 requires numpy < 2; it ships a cp311 manylinux wheel, so nothing is built.
#   NumPy is therefore the last 1.x release, 1.26.4. escnn 1.0.11 itself uses no removed NumPy
#   alias (np.float, ...).
# * pymanopt 2.x (escnn imports `pymanopt.optimizers`, the 2.x name) and autograd: only used for
#   numerical change-of-basis searches, imported if present. pymanopt 2.2.1 refuses SciPy
#   1.10-1.12, so SciPy is 1.13.1 (the last release that supports NumPy 1.26 with 3.11 wheels).
# * py3nj (SO(3) Clebsch-Gordan coefficients; escnn falls back to a slow numerical method with a
#   warning without it) is a source-only package built with meson and a FORTRAN compiler. When
#   `gfortran` is missing this script installs Debian's gfortran with apt-get (needs root) and
#   says so.
# * torch_geometric: escnn's point convolutions (R2PointConv) subclass its MessagePassing; escnn
#   imports them only if it is present. 2.6.1 is pure Python and works with numpy 1.26.
# * sympy: the version torch 2.13 requires.
#
# Usage: bash scripts/setup_escnn_env.sh [--check]
#   PYTHON=python3.11   interpreter to create the venv with (default: python3)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.venv-escnn"
python="${PYTHON:-python3}"
stamp="$venv/.e2c-escnn-stamp"

TORCH="torch==2.13.0"
PINS=(
    "numpy==1.26.4"
    "scipy==1.13.1"
    "sympy==1.14.0"
    "lie_learn==0.0.2"
    "pymanopt==2.2.1"
    "autograd==1.7.0"
    "joblib==1.4.2"
    "py3nj==0.2.1"
    "torch_geometric==2.6.1"
    "escnn==1.0.11"
)
want="$(printf '%s\n' "$TORCH" "${PINS[@]}" | sha256sum | cut -c1-16)"

smoke_test() {
    # escnn R2Conv + FourierELU on SO(2) (band-limited regular fields, L=2, a 12-point grid):
    # build, run a forward pass, check the shape and the rotation equivariance by 90 degrees (on
    # the grid, so nearly exact; the bound is loose all the same). Then an R2PointConv, which
    # needs torch_geometric.
    "$venv/bin/python" - <<'EOF'
import math
import warnings

import torch

warnings.simplefilter("ignore")
from escnn import gspaces, nn  # noqa: E402

torch.manual_seed(0)
gs = gspaces.rot2dOnR2(N=-1, maximum_frequency=4)
t_in = nn.FieldType(gs, 3 * [gs.trivial_repr])
elu = nn.FourierELU(gs, 4, irreps=[(k,) for k in range(3)], N=12, inplace=False)
conv = nn.R2Conv(t_in, elu.in_type, kernel_size=5, padding=2)
model = nn.SequentialModule(conv, elu).eval()
x = nn.GeometricTensor(torch.randn(2, 3, 17, 17), t_in)
with torch.no_grad():
    y = model(x)
    assert y.shape == (2, elu.out_type.size, 17, 17), y.shape
    g = gs.fibergroup.element(math.pi / 2)
    a = model(x.transform(g)).tensor
    b = y.transform(g).tensor
    err = ((a - b).norm() / b.norm()).item()
assert err < 0.2, f"equivariance error {err}"
t_out = nn.FieldType(gs, [gs.irrep(0), gs.irrep(1)])
pconv = nn.R2PointConv(t_in, t_out, width=2.0, n_rings=3)
pos = torch.randn(12, 2)
edges = torch.nonzero(torch.cdist(pos, pos) < 1.5).T
with torch.no_grad():
    z = pconv(nn.GeometricTensor(torch.randn(12, 3), t_in, pos), edges)
assert z.shape == (12, 3), z.shape
import escnn, numpy, scipy  # noqa: E401,E402
print(f"escnn {escnn.__version__} torch {torch.__version__} numpy {numpy.__version__} "
      f"scipy {scipy.__version__}: R2Conv+FourierELU on SO(2) ok, out {tuple(y.shape)}, "
      f"90-degree relative equivariance error {err:.2e}; R2PointConv ok")
EOF
}

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    if [ "${1:-}" = "--check" ]; then
        smoke_test
    fi
    exit 0
fi
if ! command -v gfortran >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup_escnn_env: py3nj needs a FORTRAN compiler and gfortran is missing;" \
             "install it (Debian: apt-get install gfortran) and re-run" >&2
        exit 1
    fi
    echo "setup_escnn_env: gfortran not found; installing Debian's gfortran with apt-get" \
         "(py3nj, needed by escnn, is built from source with it)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gfortran >/dev/null
fi
pip=("$venv/bin/python" -m pip -q --disable-pip-version-check)
# torch first, pinned to the CPU wheel, so nothing pulls a multi-GB CUDA build.
"${pip[@]}" install --no-warn-script-location "$TORCH"
# The rest, with torch held at the version just installed.
"${pip[@]}" install --no-warn-script-location "${PINS[@]}" "$TORCH"
smoke_test
echo "$want" > "$stamp"
