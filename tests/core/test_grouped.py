"""core/grouped.py and core/train_group.py: G networks as one grouped network give what G networks give
apart (same weights: same outputs; same seeds: same training, within float tolerance)."""

import numpy as np
import pytest
import torch

from napari_zssr import ZSSRConfig
from napari_zssr.core.augment import FatherSampler
from napari_zssr.core.grouped import GroupedNet, grouping_pays, split_channels
from napari_zssr.core.network import ZSSRNet
from napari_zssr.core.progress import Progress
from napari_zssr.core.resize import Kernel
from napari_zssr.core.train import SRPairs, fresh_network, train
from napari_zssr.core.train_group import train_group


def _nets(n, channels=1, width=8, depth=4):
    nets = []
    for g in range(n):
        net = ZSSRNet(channels, width, depth)
        net.reset(0.1, torch.Generator().manual_seed(g))
        nets.append(net)
    return nets


@pytest.mark.parametrize("channels", [1, 3])
def test_a_grouped_network_gives_its_members_outputs(channels):
    nets = _nets(3, channels)
    xs = [torch.rand(2, channels, 20, 24, generator=torch.Generator().manual_seed(10 + g)) for g in range(3)]
    group = GroupedNet(nets)
    with torch.no_grad():
        out = split_channels(group(torch.cat(xs, 1)), 3)
        part = split_channels(group(torch.cat([xs[0], xs[2]], 1), active=[0, 2]), 2)
        alone = [net(x) for net, x in zip(nets, xs)]
    for a, b in zip(out, alone):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(part[1], alone[2], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(alone[0], alone[1])  # the members differ: the check above could fail


def test_members_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="share their shape"):
        GroupedNet([ZSSRNet(1, 8, 4), ZSSRNet(1, 16, 4)])


def test_grouping_is_used_on_cuda_only_until_a_cpu_gain_is_measured():
    assert grouping_pays(torch.device("cuda"), 64)
    assert not grouping_pays(torch.device("cpu"), 32) and not grouping_pays(torch.device("cpu"), 64)


def _image(seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:56].astype(np.float32)
    img = 0.5 + 0.3 * np.sin(x / (2 + seed) + y / 5.0) + 0.1 * rng.standard_normal((48, 56)).astype(np.float32)
    return torch.as_tensor(img[None])


def _cfg(**kw):
    base = dict(max_iters=16, min_iters=16, width=8, depth=4, crop_size=24, batch_size=2, run_test_every=4,
                learning_rate_policy_check_every=4, learning_rate_slope_range=8, device="cpu", precision="float32")
    base.update(kw)
    return ZSSRConfig.preset("fast", **base)


def _setup(img, cfg, seed):
    net, clip, gen = fresh_network([img], cfg, torch.device("cpu"), seed)
    sampler = FatherSampler([img], cfg.crop_size, cfg, np.random.default_rng(seed))
    return net, sampler, SRPairs((2.0, 2.0), Kernel("cubic"), 0.02, clip, gen)


def _alone(img, cfg, seed):
    net, sampler, pairs = _setup(img, cfg, seed)
    stats = train(net, sampler, pairs, cfg, img[None], Progress(None, {}))
    return net, stats


def test_grouped_training_gives_each_member_its_training_alone_and_freezes_a_stopped_one():
    imgs = [_image(0), _image(1), _image(2)]
    cfgs = [_cfg(max_iters=8, min_iters=8), _cfg(), _cfg(learning_rate_policy="reference", max_iters=12,
                                                         min_iters=4)]
    made = [_setup(img, cfg, 5 + g) for g, (img, cfg) in enumerate(zip(imgs, cfgs))]
    seen = []
    stats = train_group([m[0] for m in made], [m[1] for m in made], [m[2] for m in made], cfgs,
                        [img[None] for img in imgs], Progress(lambda p: seen.append(p), {}, interval=0.0))
    assert [s.steps for s in stats] == [8, 16, 12]
    assert any(p.get("networks") == 2 for p in seen)  # the first member stopped; the others went on
    for g, (img, cfg) in enumerate(zip(imgs, cfgs)):
        net, alone = _alone(img, cfg, 5 + g)
        assert alone.steps == stats[g].steps
        for a, b in zip(made[g][0].parameters(), net.parameters()):
            torch.testing.assert_close(a, b, rtol=2e-3, atol=2e-4)
        assert stats[g].rec_error == pytest.approx(alone.rec_error, rel=2e-2)
        assert [h[0] for h in stats[g].history if h[0] % 4 == 0] == [h[0] for h in alone.history if h[0] % 4 == 0]


def test_grouped_copies_train_as_well_as_separate_ones():
    cfg = _cfg(max_iters=40, min_iters=40)
    img = _image(3)
    made = [_setup(img, cfg, 20 + g) for g in range(4)]
    group = train_group([m[0] for m in made], [m[1] for m in made], [m[2] for m in made], cfg,
                        [img[None]] * 4, Progress(None, {}))
    apart = [_alone(img, cfg, 20 + g)[1] for g in range(4)]
    grouped_err = np.mean([s.rec_error for s in group])
    apart_err = np.mean([s.rec_error for s in apart])
    assert grouped_err == pytest.approx(apart_err, rel=0.05)
    assert all(s.rec_error < s.cubic_error for s in group)  # they learnt something: the check has teeth
