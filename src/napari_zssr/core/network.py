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


class TrainedNetwork:
    """A trained network with what applying it needs: the one type for a 2-D image, a stack's channel,
    a networks file and a cluster worker.

    ``kind`` is "lateral" (2-D ZSSR at ``scale`` = (sy, sx)) or "axial" (isotropic mode, ``scale`` =
    (f, 1)); ``bp_iters`` is the back-projection of its final pass. It pickles as CPU weights; the
    live network is rebuilt at most once per process and device.
    """

    def __init__(self, kind: str, net: ZSSRNet, scale, bp_iters: int = 0):
        self.kind, self.scale, self.bp_iters = kind, tuple(float(s) for s in scale), int(bp_iters)
        self.channels, self.width = net.convs[0].in_channels, net.convs[0].out_channels
        self.depth, self.residual = len(net.convs), bool(net.residual)
        self.device = next(net.parameters()).device  # where it was trained (after any CPU fallback)
        self._live = {str(self.device): net}
        self._state = None

    @classmethod
    def from_state(cls, kind: str, state: dict, scale, bp_iters: int, width: int, depth: int,
                   residual: bool = True) -> TrainedNetwork:
        """A network from saved weights (a CPU state dict), as a networks file holds it."""
        channels = int(state["convs.0.weight"].shape[1])
        net = ZSSRNet(channels, width, depth, residual)
        net.load_state_dict(state)
        return cls(kind, net.eval(), scale, bp_iters)

    @property
    def state(self) -> dict:
        """The weights as CPU tensors (copied once)."""
        if self._state is None:
            net = next(iter(self._live.values()))
            self._state = {k: v.detach().to("cpu").clone() for k, v in net.state_dict().items()}
        return self._state

    def on(self, device) -> ZSSRNet:
        """The live network on ``device``, in eval mode."""
        key = str(device)
        if key not in self._live:
            net = ZSSRNet(self.channels, self.width, self.depth, self.residual)
            net.load_state_dict(self.state)
            self._live[key] = net.to(device).eval()
        return self._live[key]

    def __getstate__(self):
        state = {k: v for k, v in self.__dict__.items() if k not in ("_live", "device")}
        state["_state"] = self.state
        return state

    def __setstate__(self, state):
        self.__dict__.update(state, _live={}, device=torch.device("cpu"))
