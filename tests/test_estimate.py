"""Reading the degradation from the data: the axial profile of a stack and the noise level."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from napari_zssr import QualityWarning, estimate_kernel, estimate_noise, upscale
from napari_zssr.stack.upscale import run_upscale

from .conftest import blob_volume


@pytest.fixture(scope="module")
def blobs():
    """A near-isotropic volume of blobs (48 x 64 x 64): the truth the estimates are checked against."""
    return blob_volume((48, 64, 64), 60, radii=(1.5, 4))


@pytest.mark.parametrize("sigma", [0.0, 1.5, 3.0])
def test_the_axial_sigma_is_read_from_the_stack(blobs, sigma):
    lr = (gaussian_filter1d(blobs, sigma, axis=0) if sigma else blobs)[::4]
    profile, info = estimate_kernel(lr, (4, 1, 1))
    assert info["sigma"] == pytest.approx(sigma, abs=0.35)
    assert profile.sum() == pytest.approx(1.0)
    if sigma == 0:  # no axial blur comes out as point sampling, not as a blur
        assert info["sigma"] < 0.3 and profile.size <= 3
    assert info["fwhm"] == pytest.approx(2.3548 * info["sigma"], rel=1e-3)


def test_estimate_in_isotropic_mode_is_reported_and_used(blobs, tiny_config):
    lr = gaussian_filter1d(blobs, 2.0, axis=0)[::4].astype(np.float32)
    out, rep = run_upscale(lr, (4, 1, 1), kernel="estimate", config=tiny_config, voxel_size=(1.2, 0.3, 0.3))
    assert out.shape == (45, 64, 64)
    assert rep.estimated_sigma[0] == pytest.approx(2.0, abs=0.4) and rep.kernel.startswith("estimate(sigma")
    assert rep.estimated_fwhm_physical[0] == pytest.approx(rep.estimated_fwhm[0] * 0.3)
    given = upscale(lr, (4, 1, 1), kernel=np.asarray(rep.estimated_kernel[0]), config=tiny_config)
    np.testing.assert_allclose(out, given, rtol=1e-5, atol=1e-5 * float(np.ptp(given)))  # the same run


def test_each_channel_gets_its_own_profile(blobs, tiny_config):
    two = np.stack([gaussian_filter1d(blobs, 0.01, axis=0)[::4], gaussian_filter1d(blobs, 2.5, axis=0)[::4]])
    _, rep = run_upscale(two.astype(np.float32), (1, 4, 1, 1), axes="CZYX", kernel="estimate", config=tiny_config)
    assert rep.estimated_sigma[0] < 0.5 < 1.5 < rep.estimated_sigma[1]


def test_estimate_falls_back_with_a_quality_warning_when_it_cannot_read_a_profile(tiny_config):
    small = np.random.default_rng(0).random((3, 30, 30)).astype(np.float32)  # 3 planes: no spectrum along z
    with pytest.warns(QualityWarning, match="could not be estimated.*default"):
        _, rep = run_upscale(small, (3, 1, 1), kernel="estimate", config=tiny_config)
    assert np.isnan(rep.estimated_sigma[0])


def test_estimate_outside_isotropic_mode_is_a_clear_error(structured_image, tiny_config):
    with pytest.raises(ValueError, match='kernel="estimate" reads the axial profile in isotropic mode'):
        upscale(structured_image, (2, 2), kernel="estimate", config=tiny_config)


def test_saved_networks_keep_the_estimated_profiles(blobs, tiny_config, tmp_path):
    lr = gaussian_filter1d(blobs, 2.0, axis=0)[::4].astype(np.float32)
    path = str(tmp_path / "nets.pt")
    first = upscale(lr, (4, 1, 1), kernel="estimate", config=tiny_config, save_networks=path)
    again = upscale(lr, (4, 1, 1), networks=path, config=tiny_config)
    np.testing.assert_allclose(again, first, rtol=1e-5, atol=1e-5 * float(np.ptp(first)))


def test_noise_is_read_from_the_finest_detail():
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:128, 0:128]
    smooth = 100 + 50 * np.sin(x / 9.0) * np.cos(y / 13.0)
    assert estimate_noise(smooth) < 0.2  # structure leaks little into the finest diagonal detail
    for sigma in (1.0, 5.0):
        assert estimate_noise(smooth + rng.normal(0, sigma, smooth.shape)) == pytest.approx(sigma, rel=0.1)
    assert estimate_noise(np.full((16, 16), 3.0)) == 0.0
    with pytest.raises(ValueError, match="at least 2 x 2"):
        estimate_noise(np.zeros(5))


def test_noise_std_estimate_is_read_from_the_data_and_used(structured_image, tiny_config, stack):
    from napari_zssr import ZSSRConfig
    from napari_zssr.core.zssr import run_zssr

    rng = np.random.default_rng(2)
    noisy = structured_image + rng.normal(0, 8.0, structured_image.shape).astype(np.float32)
    cfg = tiny_config.replace(noise_std="estimate")
    out, rep = run_zssr(noisy, 2, config=cfg)
    lo, hi = np.percentile(noisy, (0.1, 99.9))
    assert rep.estimated_noise == pytest.approx(8.0 / (hi - lo), rel=0.25)  # in normalised units
    assert np.all(np.isfinite(out))
    _, srep = run_upscale(stack, (1, 2, 2), config=cfg)
    assert srep.estimated_noise >= 0
    with pytest.raises(ValueError, match="noise_std"):
        ZSSRConfig(noise_std="loud")


def test_the_cli_takes_estimate_for_the_kernel_and_the_noise(tmp_path, capsys):
    import tifffile

    from napari_zssr.cli import main

    vol = gaussian_filter1d(blob_volume((48, 64, 64), 60, radii=(1.5, 4)), 2.0, axis=0)[::4]
    src = tmp_path / "s.tif"
    tifffile.imwrite(src, (vol * 1000).astype(np.uint16), imagej=True, resolution=(1 / 0.3, 1 / 0.3),
                     metadata={"axes": "ZYX", "spacing": 1.2, "unit": "um"})
    assert main(["upscale", str(src), str(tmp_path / "o.tif"), "--isotropic", "--kernel", "estimate", "--noise-std",
                 "estimate", "--max-iters", "6", "--preset", "fast", "--quiet", "--precision", "float32"]) == 0
    text = capsys.readouterr().out
    assert "estimated axial profile, channel 0: sigma" in text and "in the voxel sizes' unit" in text
