"""G independent ZSSR networks run as one module: layer i of every member is one grouped convolution.

The members keep their own parameters (the grouped weights are concatenated from them on each forward),
so each member's gradient comes from its own slice of the input alone, each member can have its own
optimiser, and after training every member is an ordinary ZSSRNet again. Filling a GPU with many small
networks this way removes most of the per-network kernel launches; on a CPU the convolutions are
compute-bound already, and whether grouping pays there is measured (benchmarks/speed.py), not assumed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .network import ZSSRNet


class GroupedNet(nn.Module):
    """The networks ``members`` (ZSSRNets of one shape) as one: input (B, G*C, h, w), member g reading and
    writing channels g*C:(g+1)*C. ``active`` (indices into the members) runs a subset: the members that
    have stopped training are left out, and their weights are untouched."""

    def __init__(self, members):
        super().__init__()
        members = list(members)
        if not members:
            raise ValueError("a grouped network needs at least one member")
        first = members[0]
        shape = _shape(first)
        for m in members[1:]:
            if _shape(m) != shape:
                raise ValueError(f"grouped networks must share their shape, got {_shape(m)} and {shape}")
        self.members = nn.ModuleList(members)
        self.channels = first.convs[0].in_channels
        self.residual = first.residual

    @property
    def reach(self) -> int:
        return self.members[0].reach

    @property
    def convs(self):
        """The first member's layers: what code that reads a network's shape looks at."""
        return self.members[0].convs

    def forward(self, x: torch.Tensor, active=None) -> torch.Tensor:
        idx = range(len(self.members)) if active is None else list(active)
        n = len(idx)
        if x.shape[-3] != n * self.channels:
            raise ValueError(f"expected {n} x {self.channels} channels, got {x.shape[-3]}")
        depth = len(self.members[0].convs)
        y = x
        for i in range(depth):
            ws = [self.members[g].convs[i].weight for g in idx]
            w = torch.cat(ws) if n > 1 else ws[0]
            y = F.conv2d(y, w, padding=1, groups=n)
            if i < depth - 1:
                y = torch.relu(y)
        return x + y if self.residual else y


def _shape(net: ZSSRNet) -> tuple:
    return tuple(tuple(c.weight.shape) for c in net.convs) + (bool(net.residual),)


def split_channels(t: torch.Tensor, n: int) -> list:
    """(B, n*C, h, w) -> n tensors (B, C, h, w): each member's part of a grouped input or output."""
    return list(t.chunk(n, dim=-3))


def grouping_pays(device, width: int) -> bool:
    """Whether G networks train faster as one grouped network than one after the other on ``device``.

    CUDA: yes; one small network leaves the GPU idle most of each step (issue 30's profile: about four
    fifths), so G of them in one launch cost little more than one. CPU: no; the convolutions are
    compute-bound there and a grouped convolution was measured no faster than G plain ones
    (docs/benchmarks.md, "Many networks at once"), for the narrow "fast" network and the paper's alike.
    ``width`` is part of the rule so that a measured exception can be stated here.
    """
    del width  # no width-dependent exception measured yet
    return getattr(device, "type", str(device)) == "cuda"
