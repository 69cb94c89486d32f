"""Fathers drawn on the device, a batch at a time: the random parameters come from a torch.Generator on
the image's device and every father of a batch is made by the same few kernels (an index gather for the
crops, flips and rotations by quarter turns; affine_grid-style coordinates, grid_sample and a per-sample
antialiasing matrix for the warps), so a training step reads nothing back to the host and keeps static
shapes (what a CUDA graph needs).

The distributions are those of core.augment.FatherSampler and core.isotropic.LateralSampler, drawn
differently (a torch generator instead of numpy's), so the same seed gives other fathers than the host
samplers do, with the same statistics (tests/core/test_sampling.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def uses_device_sampling(device) -> bool:
    """Whether training draws its fathers on the device. CUDA: yes (the host samplers issue tens of small
    kernels per father and their shapes change from step to step). CPU: no; the host samplers make only
    the father they need (the batched warp makes every father of a batch as a warp, and chooses after)
    and were measured at least as fast (docs/benchmarks.md, "Device-side fathers")."""
    return getattr(device, "type", str(device)) == "cuda"


class _Pool:
    """Sources of one shape as one tensor (N, C, H, W), drawn from with weights, by a device generator."""

    def __init__(self, sources, weights, generator):
        shapes = {tuple(s.shape) for s in sources}
        if len(shapes) != 1:
            raise ValueError(f"device-side sampling needs sources of one shape, got {sorted(shapes)}")
        self.pool = torch.stack(list(sources))
        self.weights = torch.as_tensor(weights, dtype=torch.float32, device=self.pool.device)
        self.gen = generator
        self.H, self.W = self.pool.shape[-2:]

    def rand(self, *shape):
        return torch.rand(shape, generator=self.gen, device=self.pool.device)

    def randn(self, *shape):
        return torch.randn(shape, generator=self.gen, device=self.pool.device)

    def pick(self, batch: int):
        return torch.multinomial(self.weights, batch, replacement=True, generator=self.gen)


def _gather(pool: _Pool, n, y0, x0, transpose, flip_r, flip_c, h: int, w: int):
    """Fathers (B, C, h, w): output pixel (i, j) reads the box at (y0, x0) at (i, j), rows and columns
    mirrored by ``flip_r`` / ``flip_c``, then (``transpose``) the box read as (j, i): all eight symmetries
    of the square, each an exact copy of source pixels."""
    dev = pool.pool.device
    i = torch.arange(h, device=dev)[None, :, None]
    j = torch.arange(w, device=dev)[None, None, :]
    i = torch.where(flip_r[:, None, None], h - 1 - i, i).expand(-1, h, w)
    j = torch.where(flip_c[:, None, None], w - 1 - j, j).expand(-1, h, w)
    t = transpose[:, None, None]
    r, c = torch.where(t, j, i), torch.where(t, i, j)
    rows, cols = y0[:, None, None] + r, x0[:, None, None] + c
    out = pool.pool[n[:, None, None], :, rows, cols]  # (B, h, w, C)
    return out.permute(0, 3, 1, 2)


def _uniform_int(pool: _Pool, high):
    """Integers uniform in [0, high) per sample (``high`` a tensor >= 1)."""
    return torch.minimum((pool.rand(high.shape[0]) * high).floor(), high - 1).long()


class DeviceFatherSampler:
    """core.augment.FatherSampler's fathers (5 % a crop as is, 45 % one of the 8 symmetries, 50 % an affine
    warp, with its scale, scale difference, shear, rotation and mirror), a batch at a time on the device.
    Sources must share one shape (gradual SR's growing pool stays with the host sampler)."""

    def __init__(self, sources, crop_size: int, cfg, seed: int):
        sources = list(sources)
        self.gen = torch.Generator(device=sources[0].device)
        self.gen.manual_seed(int(seed))
        self.p = _Pool(sources, [1.0] * len(sources), self.gen)
        self.crop = (min(crop_size, self.p.H), min(crop_size, self.p.W))
        self.cfg = cfg
        h, w = self.crop
        # the warp's sampling grid at its largest (the smallest scale); a smaller one is its top-left part
        self.grid_max = (max(h, round(h / cfg.augment_min_scale)), max(w, round(w / cfg.augment_min_scale)))

    @property
    def sources(self):
        return list(self.p.pool)

    def sample(self, batch: int) -> torch.Tensor:
        cfg, p = self.cfg, self.p
        r = p.rand(batch)
        as_is = r < cfg.augment_leave_as_is_probability
        dihedral = ~as_is & (r < cfg.augment_leave_as_is_probability + cfg.augment_no_interpolate_probability)
        n = p.pick(batch)
        plain = self._symmetries(n, dihedral)
        if cfg.augment_leave_as_is_probability + cfg.augment_no_interpolate_probability >= 1:
            return plain
        warped = self._affine(n)
        return torch.where((~as_is & ~dihedral)[:, None, None, None], warped, plain)

    def _symmetries(self, n, active):
        h, w = self.crop
        p, rot = self.p, self.cfg.augment_allow_rotation
        B = n.shape[0]
        can_turn = rot and (h == w or max(h, w) <= min(p.H, p.W))
        transpose = active & (p.rand(B) < 0.5) if can_turn else torch.zeros_like(active)
        # two mirrors and a transpose give the 8 symmetries uniformly, as a quarter-turn count and a mirror
        # do; without rotations (or a box that cannot turn) the 4 that keep the axes, as the two mirrors do
        flip_c = active & (p.rand(B) < 0.5)
        flip_r = active & (p.rand(B) < 0.5)
        bh = torch.where(transpose, w, h)
        bw = torch.where(transpose, h, w)
        y0 = _uniform_int(p, p.H - bh + 1)
        x0 = _uniform_int(p, p.W - bw + 1)
        return _gather(p, n, y0, x0, transpose, flip_r, flip_c, h, w)

    def warp_parameters(self, batch: int) -> dict:
        """The affine warps' random parameters, per sample, as core.augment.FatherSampler._affine draws them."""
        cfg, p = self.cfg, self.p
        lo = cfg.augment_min_scale
        s = lo + (1 - lo) * p.rand(batch)
        diff = cfg.augment_scale_diff_sigma * p.randn(batch)
        s2 = (s + diff).clamp(lo, 1.0) if cfg.augment_scale_diff_sigma > 0 else s
        swap = p.rand(batch) < 0.5
        shear = cfg.augment_shear_sigma * p.randn(batch, 2) if cfg.augment_shear_sigma > 0 \
            else torch.zeros(batch, 2, device=s.device)
        theta = 2 * math.pi * p.rand(batch) if cfg.augment_allow_rotation else torch.zeros_like(s)
        mirror = torch.where(p.rand(batch) < 0.5, -1.0, 1.0)
        return {"s": s, "diff": diff, "swap": swap, "sy": torch.where(swap, s2, s), "sx": torch.where(swap, s, s2),
                "shy": shear[:, 0], "shx": shear[:, 1], "theta": theta, "mirror": mirror, "u": p.rand(batch, 2)}

    def _affine(self, n, q=None):
        h, w = self.crop
        GH, GW = self.grid_max
        p = self.p
        q = self.warp_parameters(n.shape[0]) if q is None else q
        c, si = torch.cos(q["theta"]), torch.sin(q["theta"])
        # rotation @ shear @ mirror: maps offsets on the unit-spaced grid to input offsets (dy, dx)
        m00, m01 = c - si * q["shx"], (c * q["shy"] - si) * q["mirror"]
        m10, m11 = si + c * q["shx"], (si * q["shy"] + c) * q["mirror"]
        gh = torch.clamp(torch.round(h / q["sy"]), min=h).clamp(max=GH)
        gw = torch.clamp(torch.round(w / q["sx"]), min=w).clamp(max=GW)
        ey = (m00.abs() * gh + m01.abs() * gw) / 2
        ex = (m10.abs() * gh + m11.abs() * gw) / 2
        cy = torch.where(p.H > 2 * ey, ey + (p.H - 2 * ey) * q["u"][:, 0], torch.full_like(ey, p.H / 2))
        cx = torch.where(p.W > 2 * ex, ex + (p.W - 2 * ex) * q["u"][:, 1], torch.full_like(ex, p.W / 2))
        dev = gh.device
        oy = torch.arange(GH, device=dev)[None, :, None] + 0.5 - gh[:, None, None] / 2
        ox = torch.arange(GW, device=dev)[None, None, :] + 0.5 - gw[:, None, None] / 2
        iy = cy[:, None, None] + m00[:, None, None] * oy + m01[:, None, None] * ox
        ix = cx[:, None, None] + m10[:, None, None] * oy + m11[:, None, None] * ox
        grid = torch.stack((2 * ix / p.W - 1, 2 * iy / p.H - 1), dim=-1).to(p.pool.dtype)
        warped = F.grid_sample(p.pool[n], grid, mode="bicubic", padding_mode="reflection", align_corners=False)
        ry, rx = shrink_matrices(gh, GH, h), shrink_matrices(gw, GW, w)
        return torch.einsum("bhy,bcyx,bwx->bchw", ry.to(warped.dtype), warped, rx.to(warped.dtype))


def _cubic(x):
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    far = -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + far * ((ax > 1) & (ax <= 2))


def shrink_matrices(n_in, n_max: int, n_out: int):
    """(B, n_out, n_max) matrices resizing the first ``n_in[b]`` samples of an axis to ``n_out``, as
    core.resize.weight_matrix does (MATLAB's antialiased cubic, mirrored at the ends), one per sample;
    columns past ``n_in[b]`` are zero. ``n_in`` (>= n_out) is a float tensor of whole numbers."""
    dev = n_in.device
    s = (n_out / n_in.float())[:, None, None]  # <= 1: the kernel stretched by 1/s
    width = 4.0 / s
    x = torch.arange(1, n_out + 1, device=dev, dtype=torch.float32)[None, :, None]
    u = x / s + 0.5 * (1 - 1 / s)
    taps = int(math.ceil(4.0 * n_max / n_out)) + 2
    ind = torch.floor(u - width / 2) + torch.arange(taps, device=dev, dtype=torch.float32)
    wts = s * _cubic(s * (u - ind))
    wts = wts / wts.sum(-1, keepdim=True)
    period = 2 * n_in.long()[:, None, None]
    k = torch.remainder(ind.long() - 1, period)
    k = torch.where(k < n_in.long()[:, None, None], k, period - 1 - k)
    out = torch.zeros(n_in.shape[0], n_out, n_max, device=dev, dtype=torch.float32)
    return out.scatter_add_(-1, k, wts).float()


class DeviceLateralSampler:
    """core.isotropic.LateralSampler's crops (a plane chosen uniformly, a square crop placed uniformly, the
    two lateral axes swapped half the time, each axis mirrored half the time), a batch at a time."""

    def __init__(self, planes, crop_size: int, seed: int):
        planes = list(planes)
        self.gen = torch.Generator(device=planes[0].device)
        self.gen.manual_seed(int(seed))
        self.p = _Pool(planes, [1.0] * len(planes), self.gen)
        self.crop = min(crop_size, self.p.H, self.p.W)

    @property
    def sources(self):
        return list(self.p.pool)

    def sample(self, batch: int) -> torch.Tensor:
        p, c = self.p, self.crop
        n = p.pick(batch)
        y0 = _uniform_int(p, torch.full((batch,), p.H - c + 1, device=n.device))
        x0 = _uniform_int(p, torch.full((batch,), p.W - c + 1, device=n.device))
        transpose, flip_r, flip_c = (p.rand(3, batch) < 0.5).unbind(0)
        return _gather(p, n, y0, x0, transpose, flip_r, flip_c, c, c)


def father_sampler(sources, crop_size: int, cfg, seed: int, grows: bool = False):
    """The sampler of 2-D ZSSR's fathers for ``sources`` on their device: on the device where that pays
    (:func:`uses_device_sampling`), the sources share one shape and the pool does not ``grow`` (gradual
    SR adds its larger outputs); core.augment.FatherSampler otherwise."""
    import numpy as np

    from .augment import FatherSampler

    sources = list(sources)
    if not grows and uses_device_sampling(sources[0].device) and len({tuple(s.shape) for s in sources}) == 1:
        return DeviceFatherSampler(sources, crop_size, cfg, seed)
    return FatherSampler(sources, crop_size, cfg, np.random.default_rng(seed))
