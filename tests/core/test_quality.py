"""The internal gain on held-out pixels: no father comes from the band it is measured on."""

import numpy as np
import pytest
import torch

from napari_zssr.core.augment import FatherSampler
from napari_zssr.core.quality import holdout_split

from ..conftest import blur_2d, power_law_image


@pytest.mark.parametrize("side", ["left", "right"])
def test_no_father_comes_from_the_held_out_band(tiny_config, side):
    img = torch.rand(1, 64, 80) * 0.1
    cols = slice(0, 16) if side == "left" else slice(64, 80)  # 8 LR px at x2: 16 columns
    img[..., cols] = 1000.0 + torch.rand(1, 64, 16)  # marked, and with more detail than the other side
    sources, band = holdout_split([img, img.clone()], 24, 2.0)
    assert band.shape == (1, 1, 64, 16) and float(band.min()) >= 1000 and all(s.shape[-1] == 64 for s in sources)
    cfg = tiny_config.replace(augment_leave_as_is_probability=0.3, augment_no_interpolate_probability=0.3)
    fathers = FatherSampler(sources, 24, cfg, np.random.default_rng(0)).sample(400)
    assert float(fathers.max()) < 2.0  # crops, flips and affine warps alike stay out of the band


def test_the_band_is_taken_from_the_side_with_more_detail():
    img = np.zeros((1, 64, 100))
    img[..., :50] = np.random.default_rng(0).random((1, 64, 50))  # detail on the left, flat on the right
    _, band = holdout_split([img], 24, 2.0)
    np.testing.assert_array_equal(band[0], img[..., :16])
    _, band = holdout_split([img[..., ::-1]], 24, 2.0)
    np.testing.assert_array_equal(band[0], img[..., :16][..., ::-1])


def test_a_narrow_image_holds_nothing_back():
    img = torch.rand(1, 40, 40)
    sources, band = holdout_split([img], 24, 2.0)
    assert band is None and sources[0] is img


def test_the_reported_gain_is_held_out_where_the_image_allows(tiny_config):
    from napari_zssr import run_zssr
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


def test_the_axial_spectrum_check_sees_over_sharpening_and_nothing_else():
    from scipy.ndimage import gaussian_filter1d

    from napari_zssr.core.progress import AXIAL_EXCESS_DB
    from napari_zssr.core.quality import axial_excess_db

    from ..conftest import blob_volume

    vol = blob_volume((48, 64, 64), 60, radii=(1.5, 4))
    vol += np.random.default_rng(1).normal(0, 0.01, vol.shape)
    assert axial_excess_db(vol, 4) < AXIAL_EXCESS_DB  # isotropic: nothing to see
    assert axial_excess_db(gaussian_filter1d(vol, 2.0, axis=0), 4) < 0  # under-restored is not over-sharpened
    sharpened = vol + 1.0 * (vol - gaussian_filter1d(vol, 2.0, axis=0))  # an unsharp mask along z only
    assert axial_excess_db(sharpened, 4) > AXIAL_EXCESS_DB
    assert np.isnan(axial_excess_db(vol[:6], 4))  # too few planes to read


def test_an_isotropic_run_with_a_kernel_too_wide_warns_that_it_is_over_sharpened(tiny_config):
    import warnings

    from napari_zssr import QualityWarning
    from napari_zssr.stack.upscale import run_upscale

    from ..conftest import blob_volume

    vol = blob_volume((48, 64, 64), 60, radii=(1.5, 4))
    lr = (vol + np.random.default_rng(1).normal(0, 0.01, vol.shape))[::4].astype(np.float32)
    cfg = tiny_config.replace(max_iters=40, min_iters=40)
    for sigma, warned in ((3.0, True), (0.0, False)):  # no axial blur in the data
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _, rep = run_upscale(lr, (4, 1, 1), kernel=sigma, config=cfg)
        over = [w for w in caught if w.category is QualityWarning and "over-sharpened" in str(w.message)]
        assert bool(over) == warned, (sigma, rep.axial_excess_db)
        assert np.isfinite(rep.axial_excess_db[0])


def test_the_cli_prints_the_axial_check_and_its_warning(tmp_path, capsys):
    import tifffile

    from napari_zssr.cli import main

    from ..conftest import blob_volume

    vol = blob_volume((48, 64, 64), 60, radii=(1.5, 4))
    src = tmp_path / "lr.tif"
    tifffile.imwrite(src, (vol[::4] * 1000).astype(np.uint16), imagej=True, metadata={"axes": "ZYX"})
    assert main(["upscale", str(src), str(tmp_path / "o.tif"), "--scale", "4", "1", "1", "--mode", "isotropic",
                 "--axial-sigma", "3", "--max-iters", "40", "--preset", "fast", "--quiet",
                 "--precision", "float32"]) == 0
    out = capsys.readouterr()
    assert "axial spectrum against lateral" in out.out and "(over-sharpened;" in out.out
    assert "over-sharpened" in out.err and "try kernel='estimate'" in out.err
