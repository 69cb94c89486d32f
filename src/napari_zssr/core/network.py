"""The image-specific CNN: plain 3x3 convolutions with ReLU between, learning a residual."""

from __future__ import annotations

import math

import torch
from torch import nn


class ZSSRNet(nn.Module):
    """``depth`` 3x3 convolutions of ``width`` channels, no biases, ReLU between, none after.

    The input is the LR image already interpolated to the output grid; with ``residual`` the
    network predicts the correction to that interpolation.
    """

    def __init__(self, channels: int, width: int = 64, depth: int = 8, residual: bool = True):
        super().__init__()
        chans = [channels] + [width] * (depth - 1) + [channels]
        self.convs = nn.ModuleList(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False) for cin, cout in zip(chans[:-1], chans[1:])
        )
        self.residual = residual

    @property
    def reach(self) -> int:
        """Pixels of context one output pixel depends on, on each side."""
        return len(self.convs)

    def reset(self, init_variance: float, generator: torch.Generator) -> None:
        # N(0, sqrt(init_variance / fan_in)), as the reference; drawn on the CPU so the same seed
        # gives the same weights on every device.
        with torch.no_grad():
            for conv in self.convs:
                fan_in = conv.weight[0].numel()
                w = torch.randn(conv.weight.shape, generator=generator) * math.sqrt(init_variance / fan_in)
                conv.weight.copy_(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for i, conv in enumerate(self.convs):
            y = conv(y)
            if i < len(self.convs) - 1:
                y = torch.relu(y)
        return x + y if self.residual else y
