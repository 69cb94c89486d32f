"""core/sampling.py: fathers drawn on the device have the host samplers' statistics (branch frequencies,
the 8 symmetries, uniform crop positions, the warps' scale, shear, rotation and mirror), and the same warp
for the same parameters; checked with fixed seeds and binomial tolerances."""

import math

import numpy as np
import pytest
import torch

from napari_zssr import ZSSRConfig
from napari_zssr.core.augment import FatherSampler
from napari_zssr.core.isotropic import LateralSampler, lateral_sampler
from napari_zssr.core.sampling import (
    DeviceFatherSampler,
    DeviceLateralSampler,
    father_sampler,
    uses_device_sampling,
)

H, W = 30, 40


def _coded(n=1, channels=1):
    """Planes whose pixel values say where they are: plane * H * W + y * W + x (exact in float32)."""
    y, x = np.mgrid[0:H, 0:W]
    return [torch.as_tensor(np.repeat((k * H * W + y * W + x)[None], channels, 0).astype(np.float32))
            for k in range(n)]


def _decode(f):
    """(plane, y0, x0, symmetry) of a father that is an exact copy of source pixels, or None (a warp).
    The symmetry is (transpose, flip rows, flip cols), found from the corner's neighbours."""
    v = f[0].round().long()
    if not torch.equal(v.float(), f[0]):
        return None
    k, rest = divmod(int(v.min()), H * W)
    y0, x0 = divmod(rest, W)
    a, right, down = int(v[0, 0]), int(v[0, 1]), int(v[1, 0])
    transpose = abs(right - a) == W
    flip_c = (right - a) < 0
    flip_r = (down - a) < 0
    return k, y0, x0, (transpose, flip_r, flip_c)


def _within(count, n, p, sigmas=5.0):
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_the_three_branches_and_the_eight_symmetries_come_as_often_as_on_the_host(device):
    cfg = ZSSRConfig.preset("paper")
    n = 4000
    fathers = DeviceFatherSampler([p.to(device) for p in _coded()], 8, cfg, seed=1).sample(n).cpu()
    decoded = [_decode(f) for f in fathers]
    warps = sum(d is None for d in decoded)
    assert _within(warps, n, 0.5)
    sym = {}
    for d in decoded:
        if d is not None:
            sym[d[3]] = sym.get(d[3], 0) + 1
    assert len(sym) == 8
    ident = (False, False, False)
    # the identity: the 5 % kept as is, and 1 in 8 of the 45 % of symmetries
    assert _within(sym[ident], n, 0.05 + 0.45 / 8)
    assert all(_within(c, n, 0.45 / 8) for s, c in sym.items() if s != ident)


def test_without_rotation_only_the_four_axis_keeping_symmetries_come():
    cfg = ZSSRConfig.preset("real")
    assert not cfg.augment_allow_rotation
    decoded = [_decode(f) for f in DeviceFatherSampler(_coded(), 8, cfg, seed=2).sample(2000)]
    kinds = {d[3] for d in decoded if d is not None}
    assert kinds == {(False, a, b) for a in (False, True) for b in (False, True)}


def test_crops_are_placed_uniformly():
    cfg = ZSSRConfig.preset("paper", augment_leave_as_is_probability=1.0, augment_no_interpolate_probability=0.0)
    n, c = 6000, 8
    decoded = [_decode(f) for f in DeviceFatherSampler(_coded(), c, cfg, seed=3).sample(n)]
    ys = np.array([d[1] for d in decoded])
    xs = np.array([d[2] for d in decoded])
    assert ys.min() == 0 and ys.max() == H - c and xs.min() == 0 and xs.max() == W - c
    for v, top in ((ys, H - c), (xs, W - c)):
        counts = np.bincount(v, minlength=top + 1)
        expected = n / (top + 1)
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert chi2 < top + 1 + 6 * math.sqrt(2 * (top + 1))  # mean dof, plus 6 standard deviations


def test_the_warps_parameters_have_the_recipes_distributions():
    cfg = ZSSRConfig.preset("paper")
    q = DeviceFatherSampler(_coded(), 8, cfg, seed=4).warp_parameters(20000)
    lo = cfg.augment_min_scale
    s = q["s"].numpy()
    assert s.min() >= lo and s.max() <= 1 and abs(s.mean() - (lo + 1) / 2) < 0.01
    assert abs(np.std(s) - (1 - lo) / math.sqrt(12)) < 0.01
    assert abs(float(q["diff"].std()) - cfg.augment_scale_diff_sigma) < 0.01
    both = torch.cat([q["sy"], q["sx"]])
    assert float(both.min()) >= lo and float(both.max()) <= 1
    assert abs(float(q["sy"].mean()) - float(q["sx"].mean())) < 0.01  # neither axis is favoured
    for k in ("shy", "shx"):
        assert abs(float(q[k].std()) - cfg.augment_shear_sigma) < 0.005 and abs(float(q[k].mean())) < 0.005
    theta = q["theta"].numpy()
    assert theta.min() >= 0 and theta.max() < 2 * math.pi and abs(theta.mean() - math.pi) < 0.05
    assert _within(int((q["mirror"] < 0).sum()), 20000, 0.5)
    u = q["u"].numpy()
    assert abs(u.mean() - 0.5) < 0.01 and u.min() >= 0 and u.max() < 1


class _Replay:
    """A numpy-like generator that hands the host sampler given values, in the order it draws them."""

    def __init__(self, values):
        self.values = list(values)

    def uniform(self, a, b):
        return a + (b - a) * self.values.pop(0)

    def normal(self, mean, sd, size=None):
        return self.values.pop(0) if size is None else np.array([self.values.pop(0) for _ in range(size)])

    def random(self):
        return self.values.pop(0)


def test_a_warp_on_the_device_is_the_host_samplers_warp_for_the_same_parameters():
    cfg = ZSSRConfig.preset("paper")
    img = torch.rand(3, 120, 140, generator=torch.Generator().manual_seed(0))  # every warp fits inside
    dev = DeviceFatherSampler([img], 24, cfg, seed=5)
    q = dev.warp_parameters(6)
    out = dev._affine(torch.zeros(6, dtype=torch.long), q)
    lo = cfg.augment_min_scale
    for b in range(6):
        values = [(float(q["s"][b]) - lo) / (1 - lo), float(q["diff"][b]), 0.75 if q["swap"][b] else 0.25,
                  float(q["shy"][b]), float(q["shx"][b]), float(q["theta"][b]) / (2 * math.pi),
                  0.25 if q["mirror"][b] < 0 else 0.75, float(q["u"][b, 0]), float(q["u"][b, 1])]
        ref = FatherSampler([img], 24, cfg, _Replay(values))._affine(img)
        torch.testing.assert_close(out[b], ref, rtol=1e-4, atol=1e-4)
    assert float((out[0] - out[1]).abs().max()) > 0.05


def test_lateral_crops_choose_planes_places_and_symmetries_uniformly():
    n, c = 4000, 8
    decoded = [_decode(f) for f in DeviceLateralSampler(_coded(3), c, seed=6).sample(n)]
    assert all(d is not None for d in decoded)  # crops, mirrors and the swap of axes only: no resampling
    planes = np.bincount([d[0] for d in decoded], minlength=3)
    assert all(_within(k, n, 1 / 3) for k in planes)
    for i in range(3):
        assert _within(sum(d[3][i] for d in decoded), n, 0.5)
    ys = np.array([d[1] for d in decoded])
    assert ys.min() == 0 and ys.max() == H - c and abs(ys.mean() - (H - c) / 2) < 0.3


def test_the_same_seed_gives_the_same_fathers_and_another_seed_others():
    cfg = ZSSRConfig.preset("paper")
    img = [torch.rand(1, 40, 40, generator=torch.Generator().manual_seed(1))]
    a = DeviceFatherSampler(img, 16, cfg, seed=7).sample(4)
    assert torch.equal(a, DeviceFatherSampler(img, 16, cfg, seed=7).sample(4))
    assert not torch.equal(a, DeviceFatherSampler(img, 16, cfg, seed=8).sample(4))
    assert a.shape == (4, 1, 16, 16)


@pytest.mark.parametrize("kind", ["father", "lateral"])
def test_the_cpu_keeps_the_host_samplers(kind):
    assert not uses_device_sampling(torch.device("cpu")) and uses_device_sampling(torch.device("cuda"))
    planes = _coded(2)
    if kind == "father":
        assert isinstance(father_sampler(planes, 8, ZSSRConfig.preset("paper"), 0), FatherSampler)
    else:
        assert isinstance(lateral_sampler(planes, 8, 0), LateralSampler)
