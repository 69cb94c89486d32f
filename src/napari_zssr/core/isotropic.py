"""Isotropic mode: learn from lateral planes how z degrades, then restore XZ and YZ planes.

Father: a lateral crop (either lateral axis may play z; flips and 180-degree rotations allowed;
no scaling, shear or free rotation, which would change the grid the axial kernel lives on).
Son: the father blurred along its rows by the axial kernel and point-sampled every f rows.
Network input: the son interpolated back (cubic through the kept rows).
"""

from __future__ import annotations

import numpy as np
import torch

from .axial import AxialKernel, coarse_length, down_matrix, fine_length, up_matrix
from .infer import forward_tiled, median
from .precision import Precision
from .quality import holdout_split, record_held_out
from .resize import apply_matrix
from .sampling import DeviceLateralSampler, uses_device_sampling
from .train import fresh_network, train_into


class LateralSampler:
    """Random lateral crops (B, C, c, c) from a pool of (C, H, W) planes, with the lateral symmetries."""

    def __init__(self, planes, crop_size: int, rng: np.random.Generator):
        self.sources = list(planes)
        side = min(min(p.shape[-2:]) for p in self.sources)
        self.crop = min(crop_size, side)
        self.rng = rng

    def sample(self, batch: int) -> torch.Tensor:
        out = []
        c, rng = self.crop, self.rng
        for _ in range(batch):
            src = self.sources[int(rng.integers(len(self.sources)))]
            H, W = src.shape[-2:]
            y, x = int(rng.integers(0, H - c + 1)), int(rng.integers(0, W - c + 1))
            t = src[..., y : y + c, x : x + c]
            if rng.random() < 0.5:
                t = t.transpose(-1, -2)
            flips = [d for d in (-2, -1) if rng.random() < 0.5]
            out.append(torch.flip(t, dims=flips) if flips else t)
        return torch.stack(out)


def lateral_sampler(planes, crop_size: int, seed: int):
    """The sampler of the lateral crops, on the device where that pays (core.sampling)."""
    planes = list(planes)
    if uses_device_sampling(planes[0].device) and len({tuple(s.shape) for s in planes}) == 1:
        return DeviceLateralSampler(planes, crop_size, seed)
    return LateralSampler(planes, crop_size, np.random.default_rng(seed))


class AxialPairs:
    """Pairs for a point-sampled low-resolution axis (the rows of each father)."""

    def __init__(self, f: float, kernel: AxialKernel, noise_std: float, clip, generator):
        self.f, self.kernel, self.noise_std, self.clip, self.generator = float(f), kernel, noise_std, clip, generator
        self.scale = (self.f, 1.0)

    def make(self, father):
        h = father.shape[-2]
        m = coarse_length(h, self.f)
        if m < 2:
            raise ValueError(f"crops of {h} rows are too short for a factor of {self.f:g}; raise crop_size")
        son = apply_matrix(father, down_matrix(h, self.f, self.kernel), -2)
        if self.noise_std > 0:
            son = son + self.noise_std * torch.randn(son.shape, generator=self.generator, device=son.device,
                                                     dtype=son.dtype)
        son = son.clamp(self.clip[0], self.clip[1])
        hf = fine_length(m, self.f)
        return apply_matrix(son, up_matrix(m, self.f, hf), -2), father[..., :hf, :]

    def test_pair(self, image, size):
        H, W = image.shape[-2:]
        h, w = min(H, size), min(W, size)
        y, x = (H - h) // 2, (W - w) // 2
        return self.make(image[..., y : y + h, x : x + w])


def back_project_z(sr, lr, f, kernel: AxialKernel, iters: int):
    """sr += up(lr - down(sr)) along rows, with the son's own point-sampling operator."""
    if iters <= 0:
        return sr
    down = down_matrix(sr.shape[-2], f, kernel, lr.shape[-2])
    up = up_matrix(lr.shape[-2], f, sr.shape[-2])
    for _ in range(iters):
        sr = sr + apply_matrix(lr - apply_matrix(sr, down, -2), up, -2)
    return sr


@torch.no_grad()
def restore_planes(net, lr, f, kernel: AxialKernel, bp_iters: int, flips: bool, tile_pixels: int, check=None,
                   precision=None):
    """Enlarge the rows of planes (B, C, n, w) by f: ensemble of axis-preserving flips, median, back-projection;
    the network at ``precision`` (a core.precision.Precision; None: float32)."""
    n = lr.shape[-2]
    nf = fine_length(n, f)
    up = up_matrix(n, f, nf)
    # flipping z is only an exact symmetry when the output grid ends on the last input plane
    z_symmetric = abs((n - 1) * f - round((n - 1) * f)) < 1e-9
    dims_sets = [()]
    if flips:
        dims_sets = [(), (-1,)] + ([(-2,), (-2, -1)] if z_symmetric else [])
    outs = []
    for dims in dims_sets:
        x = torch.flip(lr, dims) if dims else lr
        up_x = apply_matrix(x, up, -2)
        if precision is not None and precision.reduced:  # oneDNN's bfloat16 kernels, the tensor cores
            up_x = up_x.contiguous(memory_format=torch.channels_last)
        sr = forward_tiled(net, up_x, tile_pixels, check, precision)
        sr = torch.flip(sr, dims) if dims else sr
        outs.append(back_project_z(sr, lr, f, kernel, bp_iters))
        if check is not None:
            check()
    sr = outs[0] if len(outs) == 1 else median(torch.stack(outs))
    return back_project_z(sr, lr, f, kernel, bp_iters)


def restore_slab(net, slab: np.ndarray, row0: int, rows: int, f, kernel: AxialKernel, cfg, device, tile_pixels: int,
                 out: np.ndarray, check=None) -> np.ndarray:
    """Fill ``out`` (nf, rows, X) with the mean of the XZ-plane and YZ-plane restorations of the rows
    ``row0:row0 + rows`` of ``slab`` (Z, Y, X).

    Both passes estimate the same voxels from different planes; their errors are partly independent
    (each sees only one lateral direction), so the mean is better than either. The rows around them are
    context: the YZ planes see them through the network's reach, so a slab
    with a margin of ``net.reach`` rows on each side gives exactly what the whole volume gives.
    """
    Z, Y, X = slab.shape
    nf = fine_length(Z, f)
    out[...] = 0
    bp = cfg.back_projection_for(0)
    passes = ((1, row0, row0 + rows, X), (2, 0, X, Y))
    precision = Precision.of(cfg.precision, device)
    if precision.reduced:
        net.to(memory_format=torch.channels_last)
    for axis, start, stop, other in passes:
        batch = max(1, tile_pixels // max(1, nf * other))
        for a in range(start, stop, batch):
            b = min(stop, a + batch)
            block = slab[:, a:b, :] if axis == 1 else slab[:, :, a:b]
            # (Z, B, W) -> (B, 1, Z, W)
            planes = torch.as_tensor(np.ascontiguousarray(np.moveaxis(block, axis, 0)), device=device)[:, None]
            sr = restore_planes(net, planes, f, kernel, bp, cfg.flips_for(axial=True), tile_pixels, check,
                                precision)
            res = sr[:, 0].to("cpu", torch.float32).numpy()
            if axis == 1:
                out[:, a - row0 : b - row0, :] += np.moveaxis(res, 0, 1)
            else:
                out[:, :, a:b] += np.moveaxis(res[:, :, row0 : row0 + rows], 0, 2)
    out *= 0.5
    net.to(memory_format=torch.contiguous_format)
    return out


def train_isotropic(planes, f: float, kernel: AxialKernel, cfg, device, progress, seed: int, report):
    """Train one network on lateral planes (list of normalised (1, H, W) tensors) for an axial factor f."""
    net, clip, gen = fresh_network(planes, cfg, device, seed)
    planes, band = holdout_split(planes, cfg.crop_size, 1.0)  # no father comes from the band
    sampler = lateral_sampler(planes, cfg.crop_size, seed)  # on the device where that pays
    if coarse_length(sampler.crop, f) < 2:
        raise ValueError(f"lateral planes of {sampler.crop} pixels are too small for a z factor of {f:g}")
    train_into(report, net, sampler, AxialPairs(f, kernel, cfg.noise_std, clip, gen), cfg,
               planes[len(planes) // 2][None], progress)
    record_held_out(report, net, AxialPairs(f, kernel, 0.0, clip, gen), band, cfg.precision,
                    whole=planes[len(planes) // 2][None])
    net.eval()
    return net
