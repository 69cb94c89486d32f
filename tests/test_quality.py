"""The internal gain on held-out pixels: no father comes from the band it is measured on."""

import numpy as np
import pytest
import torch

from napari_zssr.core.augment import FatherSampler
from napari_zssr.core.quality import holdout_split

from .conftest import blur_2d, power_law_image


def test_no_father_comes_from_the_held_out_band(tiny_config):
    img = torch.rand(1, 64, 80)
    img[..., 72:] = 1000.0  # the last tenth of the width, marked
    sources, band = holdout_split([img, img.clone()], 24, 2.0)
    assert band.shape == (1, 1, 64, 16) and all(s.shape[-1] == 64 for s in sources)  # 8 LR px at x2: 16 columns
    cfg = tiny_config.replace(augment_leave_as_is_probability=0.3, augment_no_interpolate_probability=0.3)
    fathers = FatherSampler(sources, 24, cfg, np.random.default_rng(0)).sample(400)
    assert float(fathers.max()) < 2.0  # crops, flips and affine warps alike stay left of the band


def test_a_narrow_image_holds_nothing_back():
    img = torch.rand(1, 40, 40)
    sources, band = holdout_split([img], 24, 2.0)
    assert band is None and sources[0] is img


def test_the_reported_gain_is_held_out_where_the_image_allows(tiny_config):
    from napari_zssr.core.zssr import run_zssr
    from napari_zssr.stack.upscale import run_upscale

    lr = blur_2d(power_law_image((192, 192), seed=7), np.eye(2))[::2, ::2].astype(np.float32)
    _, rep = run_zssr(lr, 2, config=tiny_config)
    assert rep.gain_held_out and np.isfinite(rep.gain_db)
    _, small = run_zssr(lr[:40, :40], 2, config=tiny_config)
    assert not small.gain_held_out and np.isfinite(small.gain_db)
    vol = np.stack([power_law_image((64, 64), seed=s) for s in range(12)]).astype(np.float32)[::3]
    _, srep = run_upscale(vol, (3, 1, 1), config=tiny_config)
    assert srep.gain_held_out and srep.units[0].gain_held_out


def test_the_cli_says_where_the_gain_was_measured(tmp_path, capsys):
    import tifffile

    from napari_zssr.cli import main

    lr = blur_2d(power_law_image((256, 256), seed=8), np.eye(2))[::2, ::2]  # 128 px: twice the "fast" crop (64)
    src = tmp_path / "img.tif"
    tifffile.imwrite(src, np.clip(lr * 100, 0, 65535).astype(np.uint16))
    assert main(["upscale", str(src), str(tmp_path / "o.tif"), "--scale", "2", "--max-iters", "6", "--preset", "fast",
                 "--quiet", "--precision", "float32"]) == 0
    assert "internal gain over cubic on held-out pixels" in capsys.readouterr().out


@pytest.mark.parametrize("width", [47, 48])
def test_the_band_needs_twice_the_crop(width):
    _, band = holdout_split([torch.rand(1, 48, width)], 24, 2.0)
    assert (band is None) == (width < 48)
