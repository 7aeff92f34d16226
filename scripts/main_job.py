"""The main job: compile a network's bases ahead of time, build it offline, train it, measure it.

1. ``e2c compile scripts/main_job.py:build_model`` collects every basis the network needs (a dry
   run, nothing sampled) and compiles the missing ones into the artifact store.
2. The network is instantiated in offline mode (``E2C_OFFLINE=1``): every basis comes from the
   store, nothing is compiled. Cold (first) and warm instantiation times are reported.
3. It trains for a few epochs on scikit-learn's handwritten digits (shipped inside the package, no
   download) and reports test accuracy.
4. It measures the rotation-invariance error of the trained classifier: exact rotations by 90°
   (error at float32 round-off) and 45° rotations (interpolation error; C8 is equivariant to them
   only up to the resampling of the image).

A second section runs the same steps for the PDO variant of the network (``R2Diffop`` layers,
finite differences; ``e2c compile scripts/main_job.py:build_pdo_model``), a third for an
SO(2)-steerable network with Fourier non-linearities (band-limited regular fields, ``FourierELU``
on a grid of 12 rotations; its grids and Fourier matrices are compiled and stored like the
convolution bases; ``e2c compile scripts/main_job.py:build_fourier_model``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from e2compile import gspaces  # noqa: E402
from runtime import nn  # noqa: E402

DIGIT_SIZE = 15  # digits are 8x8: upsampled to an odd size so that 90° rotations are exact,
IMAGE_SIZE = 23  # then padded with zeros so that rotating them by 45° loses no ink (23 = 3 mod 4:
# every strided antialiased pooling then samples a grid symmetric about the centre)


class DigitClassifier(torch.nn.Module):
    """A C8-steerable CNN: three R2Conv blocks, group pooling, global pooling, linear head
    (``pdo=True``: R2Diffop layers of the same sizes instead of R2Conv)."""

    def __init__(self, n_classes: int = 10, width: int = 8, pdo: bool = False) -> None:
        super().__init__()
        layer = nn.R2Diffop if pdo else nn.R2Conv
        space = gspaces.Rot2dOnR2(N=8)
        self.in_type = nn.FieldType(space, [space.trivial_repr])
        t1 = nn.FieldType(space, [space.regular_repr] * width)
        t2 = nn.FieldType(space, [space.regular_repr] * (2 * width))
        t3 = nn.FieldType(space, [space.regular_repr] * (2 * width))
        self.features = nn.SequentialModule(
            layer(self.in_type, t1, kernel_size=5, padding=2, bias=False),
            nn.InnerBatchNorm(t1),
            nn.ReLU(t1, inplace=True),
            nn.PointwiseMaxPoolAntialiased(t1, kernel_size=3, stride=2, padding=1),
            layer(t1, t2, kernel_size=3, padding=1, bias=False),
            nn.InnerBatchNorm(t2),
            nn.ReLU(t2, inplace=True),
            nn.PointwiseMaxPoolAntialiased(t2, kernel_size=3, stride=2, padding=1),
            layer(t2, t3, kernel_size=3, padding=1),
            nn.InnerBatchNorm(t3),
            nn.ReLU(t3, inplace=True),
            nn.GroupPooling(t3),
        )
        self.head = torch.nn.Linear(2 * width, n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = nn.GeometricTensor(images, self.in_type)
        features = self.features(x).tensor
        return self.head(features.mean(dim=(2, 3)))


class FourierDigitClassifier(torch.nn.Module):
    """An SO(2)-steerable CNN: R2Conv (5x5) to band-limited regular fields (frequencies 0..2),
    FourierELU on 12 rotations, antialiased average pooling; a last R2Conv to invariant (trivial)
    fields, global pooling, linear head. No batch normalisation: with IIDBatchNorm2d after each
    R2Conv (escnn's usual block) it reached a lower test accuracy in the demo's six epochs."""

    def __init__(self, n_classes: int = 10, width: int = 8) -> None:
        super().__init__()
        space = gspaces.rot2dOnR2(N=-1)
        irreps = space.fibergroup.bl_irreps(2)
        self.in_type = nn.FieldType(space, [space.trivial_repr])
        act1 = nn.FourierELU(space, width, irreps, N=12, inplace=True)
        act2 = nn.FourierELU(space, 2 * width, irreps, N=12, inplace=True)
        t_out = nn.FieldType(space, [space.trivial_repr] * (4 * width))
        self.features = nn.SequentialModule(
            nn.R2Conv(self.in_type, act1.in_type, kernel_size=5, padding=2),
            act1,
            nn.PointwiseAvgPoolAntialiased(act1.out_type, sigma=0.66, stride=2, padding=1),
            nn.R2Conv(act1.out_type, act2.in_type, kernel_size=5, padding=2),
            act2,
            nn.PointwiseAvgPoolAntialiased(act2.out_type, sigma=0.66, stride=2, padding=1),
            nn.R2Conv(act2.out_type, t_out, kernel_size=5, padding=2),
            nn.ELU(t_out, inplace=True),
        )
        self.head = torch.nn.Linear(4 * width, n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = nn.GeometricTensor(images, self.in_type)
        return self.head(self.features(x).tensor.mean(dim=(2, 3)))


def build_model() -> DigitClassifier:
    """Entry point for ``e2c compile scripts/main_job.py:build_model``."""
    return DigitClassifier()


def build_pdo_model() -> DigitClassifier:
    """Entry point for ``e2c compile scripts/main_job.py:build_pdo_model`` (R2Diffop layers)."""
    return DigitClassifier(pdo=True)


def build_fourier_model() -> FourierDigitClassifier:
    """Entry point for ``e2c compile scripts/main_job.py:build_fourier_model`` (SO(2), Fourier
    non-linearities)."""
    return FourierDigitClassifier()


def load_digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits as sklearn_digits

    data = sklearn_digits()
    images = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = torch.nn.functional.interpolate(
        images, size=(DIGIT_SIZE, DIGIT_SIZE), mode="bilinear", align_corners=True
    )
    margin = (IMAGE_SIZE - DIGIT_SIZE) // 2
    images = torch.nn.functional.pad(images, (margin,) * 4)
    labels = torch.tensor(data.target, dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(labels), generator=generator)
    n_train = int(0.8 * len(labels))
    train, test = order[:n_train], order[n_train:]
    return images[train], labels[train], images[test], labels[test]


def rotate(images: torch.Tensor, angle: float) -> torch.Tensor:
    """Rotate a batch of images about their centre (bilinear, zeros outside)."""
    c, s = torch.cos(torch.tensor(angle)), torch.sin(torch.tensor(angle))
    theta = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=images.dtype)
    grid = torch.nn.functional.affine_grid(
        theta.expand(len(images), 2, 3), list(images.shape), align_corners=True
    )
    return torch.nn.functional.grid_sample(images, grid, align_corners=True)


def train(model: DigitClassifier, x: torch.Tensor, y: torch.Tensor, epochs: int) -> None:
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(1)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        total = 0.0
        for start in range(0, len(y), 64):
            batch = order[start : start + 64]
            # random 90° rotations as light augmentation are unnecessary: the model is invariant
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        print(f"  epoch {epoch + 1}: loss {total / len(y):.4f}")


@torch.no_grad()
def accuracy(model: DigitClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return (model(x).argmax(dim=1) == y).float().mean().item()


@torch.no_grad()
def invariance_error(model: DigitClassifier, x: torch.Tensor) -> dict[str, float]:
    """Relative change of the logits when the input is rotated (the classifier is invariant)."""
    model.eval()
    reference = model(x)
    errors = {}
    for name, rotated in {
        "90°": torch.rot90(x, 1, dims=(2, 3)),
        "180°": torch.rot90(x, 2, dims=(2, 3)),
        "45°": rotate(x, torch.pi / 4),
    }.items():
        errors[name] = ((model(rotated) - reference).norm() / reference.norm()).item()
    return errors


def compile_bases(entry: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "compile",
            f"{Path(__file__).resolve()}:{entry}",
            "--jobs",
            "2",
        ],
        cwd=ROOT,
        check=True,
    )
    return time.perf_counter() - start


def run(entry: str, data: tuple[torch.Tensor, ...], step: int = 1) -> None:
    """Compile, build offline, train and measure the network that ``entry`` builds."""
    builder = globals()[entry]
    torch.manual_seed(0)
    os.environ.pop("E2C_OFFLINE", None)
    print(f"{step}. compiling the network's bases ahead of time (e2c compile ...:{entry})")
    compile_seconds = compile_bases(entry)
    print(f"   done in {compile_seconds:.2f} s (a second run finds them all in the store)")

    print(f"{step + 1}. instantiating the network offline, from the store")
    os.environ["E2C_OFFLINE"] = "1"
    start = time.perf_counter()
    model = builder()
    cold = time.perf_counter() - start
    start = time.perf_counter()
    builder()
    warm = time.perf_counter() - start
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"   first instantiation {cold * 1e3:.1f} ms, second {warm * 1e3:.1f} ms, "
        f"{n_params} parameters"
    )

    print(f"{step + 2}. training on scikit-learn's digits")
    x_train, y_train, x_test, y_test = data
    start = time.perf_counter()
    train(model, x_train, y_train, epochs=int(os.environ.get("E2C_DEMO_EPOCHS", "6")))
    print(
        f"   trained in {time.perf_counter() - start:.1f} s; "
        f"test accuracy {accuracy(model, x_test, y_test):.3f}"
    )
    for name, rotated in {
        "90°": torch.rot90(x_test, 1, dims=(2, 3)),
        "45°": rotate(x_test, torch.pi / 4),
    }.items():
        print(
            f"   test accuracy on the test set rotated by {name}: "
            f"{accuracy(model, rotated, y_test):.3f}"
        )

    print(f"{step + 3}. measured invariance error of the logits (relative)")
    for name, err in invariance_error(model, x_test[:256]).items():
        print(f"   rotation {name:>4}: {err:.2e}")

    exported = model.features.export()
    probe = torch.randn(4, 1, IMAGE_SIZE, IMAGE_SIZE)
    diff = exported(probe) - model.features(nn.GeometricTensor(probe, model.in_type)).tensor
    print(f"{step + 4}. exported plain-torch network agrees to {diff.abs().max().item():.1e}")


def main() -> None:
    data = load_digits()
    run("build_model", data)
    print("\nThe same task with R2Diffop layers (steerable PDOs, finite differences)")
    run("build_pdo_model", data, step=6)
    print("\nAn SO(2)-steerable network with Fourier non-linearities (FourierELU, 12 rotations)")
    run("build_fourier_model", data, step=11)


if __name__ == "__main__":
    main()
