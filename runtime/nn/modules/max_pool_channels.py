"""``MaxPoolChannels``: the plain-torch module that ``GroupPooling.export()`` produces.

Deliberately free of any dependency on the rest of the runtime: an exported model needs only
this class (it is small enough to copy into a deployment codebase).
"""

from __future__ import annotations

import torch

__all__ = ["MaxPoolChannels"]


class MaxPoolChannels(torch.nn.Module):
    """Max over consecutive groups of ``kernel_size`` channels: ``(B, C, ...) -> (B, C/k, ...)``."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.kernel_size = int(kernel_size)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        b, c = input.shape[:2]
        if c % self.kernel_size:
            raise ValueError(
                f"MaxPoolChannels: {c} input channels are not a multiple of "
                f"kernel_size={self.kernel_size}"
            )
        grouped = input.reshape(b, c // self.kernel_size, self.kernel_size, *input.shape[2:])
        return grouped.amax(dim=2)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"
