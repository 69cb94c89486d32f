"""Sampling HR fathers from the image itself: crops, rotations/flips and affine warps, on the device."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .resize import resize_torch


class FatherSampler:
    """Draws batches of HR fathers (B, C, h, w) from a pool of source images (C, H, W).

    All randomness comes from ``rng`` (host side, numpy) so that a seed fixes the sequence of
    fathers on every device; pixels never leave the device.
    """

    def __init__(self, sources, crop_size: int, cfg, rng: np.random.Generator):
        self.sources = list(sources)
        self.weights = [1.0] * len(self.sources)
        h = min(s.shape[-2] for s in self.sources)
        w = min(s.shape[-1] for s in self.sources)
        self.crop = (min(crop_size, h), min(crop_size, w))
        self.cfg = cfg
        self.rng = rng

    def add_source(self, image: torch.Tensor, weight: float) -> None:
        """Add an SR output to the pool (gradual SR); ``weight`` is its relative chance of being picked."""
        self.sources.append(image)
        self.weights.append(float(weight))

    def sample(self, batch: int) -> torch.Tensor:
        p = np.asarray(self.weights) / np.sum(self.weights)
        return torch.stack([self._one(self.sources[self.rng.choice(len(self.sources), p=p)]) for _ in range(batch)])

    def _one(self, src: torch.Tensor) -> torch.Tensor:
        cfg, rng = self.cfg, self.rng
        r = rng.random()
        if r < cfg.augment_leave_as_is_probability:
            return self._crop(src, *self.crop)
        if r < cfg.augment_leave_as_is_probability + cfg.augment_no_interpolate_probability:
            return self._dihedral(src)
        return self._affine(src)

    def _crop(self, src, h, w):
        H, W = src.shape[-2:]
        y = int(self.rng.integers(0, H - h + 1))
        x = int(self.rng.integers(0, W - w + 1))
        return src[..., y : y + h, x : x + w]

    def _dihedral(self, src):
        h, w = self.crop
        k = int(self.rng.integers(0, 4)) if self.cfg.augment_allow_rotation else 0
        if k % 2 and max(h, w) <= min(src.shape[-2:]):
            out = torch.rot90(self._crop(src, w, h), k, dims=(-2, -1))
        else:
            out = torch.rot90(self._crop(src, h, w), k - k % 2, dims=(-2, -1))
        if self.rng.random() < 0.5:
            out = torch.flip(out, dims=(-1,))
        if not self.cfg.augment_allow_rotation and self.rng.random() < 0.5:
            out = torch.flip(out, dims=(-2,))
        return out

    def _affine(self, src):
        cfg, rng = self.cfg, self.rng
        h, w = self.crop
        s = rng.uniform(cfg.augment_min_scale, 1.0)
        s2 = float(np.clip(s + rng.normal(0.0, cfg.augment_scale_diff_sigma), cfg.augment_min_scale, 1.0)) \
            if cfg.augment_scale_diff_sigma > 0 else s
        sy, sx = (s, s2) if rng.random() < 0.5 else (s2, s)
        shy, shx = rng.normal(0.0, cfg.augment_shear_sigma, 2) if cfg.augment_shear_sigma > 0 else (0.0, 0.0)
        theta = rng.uniform(0, 2 * math.pi) if cfg.augment_allow_rotation else 0.0
        mirror = -1.0 if rng.random() < 0.5 else 1.0
        c, si = math.cos(theta), math.sin(theta)
        # maps offsets on a unit-spaced sampling grid to input offsets (dy, dx); the scale is
        # applied afterwards by an antialiased resize, which a bare warp cannot do
        m = np.array([[c, -si], [si, c]]) @ np.array([[1.0, shy], [shx, 1.0]]) @ np.diag([1.0, mirror])
        gh, gw = max(h, round(h / sy)), max(w, round(w / sx))
        H, W = src.shape[-2:]
        ey = (abs(m[0, 0]) * gh + abs(m[0, 1]) * gw) / 2
        ex = (abs(m[1, 0]) * gh + abs(m[1, 1]) * gw) / 2
        cy = rng.uniform(ey, H - ey) if H > 2 * ey else H / 2
        cx = rng.uniform(ex, W - ex) if W > 2 * ex else W / 2
        dev, dt = src.device, src.dtype
        oy = torch.arange(gh, device=dev, dtype=dt) + 0.5 - gh / 2
        ox = torch.arange(gw, device=dev, dtype=dt) + 0.5 - gw / 2
        gy, gx = torch.meshgrid(oy, ox, indexing="ij")
        iy = cy + m[0, 0] * gy + m[0, 1] * gx
        ix = cx + m[1, 0] * gy + m[1, 1] * gx
        grid = torch.stack((2 * ix / W - 1, 2 * iy / H - 1), dim=-1)[None]
        warped = F.grid_sample(src[None], grid, mode="bicubic", padding_mode="reflection", align_corners=False)[0]
        if (gh, gw) == (h, w):
            return warped
        return resize_torch(warped, scale=(h / gh, w / gw), output_shape=(h, w))
