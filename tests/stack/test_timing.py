"""stack/timing.py: the estimate before a run counts the work the run will do (its accuracy is measured in
docs/benchmarks.md, never here: a timed test would fail on a busy machine)."""

import pytest
import torch

from napari_zssr import ZSSRConfig
from napari_zssr.stack.plan import make_plan
from napari_zssr.stack.timing import estimate_time

CPU = torch.device("cpu")


@pytest.fixture
def cfg():
    return ZSSRConfig.preset("fast", width=8, depth=4, crop_size=24, batch_size=1, device="cpu", precision="float32")


def _estimate(shape, scale, cfg, shape5, axes=None, mode="auto", planes="shared"):
    return estimate_time(make_plan(shape, scale, axes, mode, None, planes), shape5, cfg, CPU)


def test_each_channel_trains_its_own_network_and_an_rgb_image_one(cfg):
    one = _estimate((8, 32, 32), (4, 1, 1), cfg, (1, 1, 8, 32, 32))
    two = _estimate((2, 8, 32, 32), (1, 4, 1, 1), cfg, (2, 1, 8, 32, 32), axes="CZYX")
    assert (one.networks, two.networks) == (1, 2)
    assert two.train_s == pytest.approx(2 * one.train_s) and two.infer_s == pytest.approx(2 * one.infer_s)
    rgb = _estimate((32, 32, 3), (2, 2, 1), cfg, (3, 1, 1, 32, 32), axes="YXS")
    assert rgb.networks == 1


def test_both_mode_trains_twice_and_independent_planes_once_a_plane(cfg):
    assert _estimate((8, 32, 32), (4, 2, 2), cfg, (1, 1, 8, 32, 32), mode="both").networks == 2
    assert _estimate((8, 32, 32), (1, 2, 2), cfg, (1, 1, 8, 32, 32), mode="planes", planes="independent").networks == 8


def test_a_bigger_output_takes_longer_to_apply_and_the_words_say_so(cfg):
    small = _estimate((8, 32, 32), (4, 1, 1), cfg, (1, 1, 8, 32, 32))
    big = _estimate((8, 64, 64), (4, 1, 1), cfg, (1, 1, 8, 64, 64))
    assert big.infer_s == pytest.approx(4 * small.infer_s) and big.train_s == pytest.approx(small.train_s)
    assert big.words().startswith("about ") and "1 network(s) trained" in big.words()
