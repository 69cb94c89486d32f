"""stack/estimates.py: what a run reads from its data besides the image (kernel="estimate", the isotropic
default, noise_std="estimate"): reported, used as a given kernel would be, saved with the networks, a
fallback with a QualityWarning or a note, and progress and cancel while it reads."""

import re
import warnings

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from napari_zssr import QualityWarning, estimate_kernel, upscale
from napari_zssr.stack.upscale import run_upscale

from ..conftest import blob_volume, blur_2d, power_law_image


@pytest.fixture(scope="module")
def blobs():
    """A near-isotropic volume of blobs (48 x 64 x 64): the truth the estimates are checked against."""
    return blob_volume((48, 64, 64), 60, radii=(1.5, 4))


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
    with pytest.warns(QualityWarning, match="could not be estimated.*cubic"):
        _, rep = run_upscale(small, (3, 1, 1), kernel="estimate", config=tiny_config)
    assert np.isnan(rep.estimated_sigma[0])


def test_the_isotropic_default_is_the_profile_read_from_the_data(blobs, tiny_config):
    lr = gaussian_filter1d(blobs, 2.0, axis=0)[::4].astype(np.float32)
    out, rep = run_upscale(lr, (4, 1, 1), config=tiny_config)  # no kernel given
    assert rep.kernel.startswith("estimate(sigma") and rep.estimated_sigma[0] == pytest.approx(2.0, abs=0.4)
    asked = upscale(lr, (4, 1, 1), kernel="estimate", config=tiny_config)
    np.testing.assert_allclose(out, asked, rtol=1e-5, atol=1e-5 * float(np.ptp(asked)))  # the same run
    cubic, rep_c = run_upscale(lr, (4, 1, 1), kernel="cubic", config=tiny_config)  # the old default, by name
    assert rep_c.kernel.startswith("cubic") and not rep_c.estimated_sigma
    assert np.abs(cubic - out).max() > 1e-2 * float(np.ptp(out)), "the estimated profile made no difference"


def test_the_isotropic_default_falls_back_to_the_cubic_with_a_note_not_a_warning(tiny_config):
    small = np.random.default_rng(0).random((3, 30, 30)).astype(np.float32)  # 3 planes: no spectrum along z
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, rep = run_upscale(small, (3, 1, 1), config=tiny_config)
    assert not [w for w in caught if "could not be estimated" in str(w.message)]
    assert any("could not be estimated" in n and "cubic" in n for n in rep.notes)
    assert rep.kernel.startswith("cubic") and np.isnan(rep.estimated_sigma[0])
    assert rep.estimate_text() == "estimated axial sigma not read (cubic)"


def test_a_both_mode_store_of_the_default_is_not_taken_for_a_cubic_one(tiny_config, tmp_path):
    # both mode reads its axial profile after the planes stage, when the store is already open
    vol = blob_volume((12, 32, 32), 20, radii=(1.5, 3))[::2].astype(np.float32)
    out = str(tmp_path / "o.zarr")
    upscale(vol, (2, 2, 2), config=tiny_config, out=out)
    with pytest.raises(FileExistsError, match=r"o\.zarr exists and holds the result of another run \(other input or "
                                              r"settings\); pass overwrite=True"):
        upscale(vol, (2, 2, 2), kernel="cubic", config=tiny_config, out=out)


def test_a_bicubic_made_image_keeps_the_bicubic_kernel(tiny_config):
    from napari_zssr import imresize, run_zssr

    lr = imresize(power_law_image((256, 256), seed=6), 0.5)  # MATLAB's bicubic: the paper's LR images
    kernel, info = estimate_kernel(lr, 2)
    assert (kernel == "cubic" and info["chosen"] == "cubic"
            and "does not fit the data clearly better" in info["why_cubic"])
    lr = lr[:96, :96].astype(np.float32)
    out, rep = run_zssr(lr, 2, kernel="estimate", config=tiny_config)
    assert rep.kernel == "estimate(cubic)" and rep.estimated_kernel == ["cubic"]
    assert any("kernel estimate kept bicubic, because the Gaussian does not fit" in n for n in rep.notes)
    np.testing.assert_array_equal(out, run_zssr(lr, 2, config=tiny_config)[0])  # the default run itself


def test_zssr_estimates_reports_and_uses_the_2d_kernel(tiny_config):
    from napari_zssr import run_zssr

    lr = blur_2d(power_law_image((192, 192), seed=2), [[1.5, 0.0], [0.0, 0.5]])[::2, ::2].astype(np.float32)
    out, rep = run_zssr(lr, 2, kernel="estimate", config=tiny_config)
    assert rep.kernel.startswith("estimate(sigma") and len(rep.estimated_kernel) == 1
    sy, sx = rep.estimated_sigma[0]
    assert sy == pytest.approx(np.sqrt(1.5), abs=0.3) and sx == pytest.approx(np.sqrt(0.5), abs=0.3)
    given = run_zssr(lr, 2, kernel=np.asarray(rep.estimated_kernel[0]), config=tiny_config)[0]
    np.testing.assert_allclose(out, given, rtol=1e-5, atol=1e-5 * float(np.ptp(given)))  # the same run


def test_planes_mode_estimates_each_channel_and_both_mode_each_stage(tiny_config):
    sharp = power_law_image((128, 128), seed=3)
    two = np.stack([np.stack([blur_2d(sharp, np.eye(2) * v)[::2, ::2]] * 4) for v in (0.1, 2.5)]).astype(np.float32)
    _, rep = run_upscale(two, (1, 1, 2, 2), axes="CZYX", kernel="estimate", config=tiny_config,
                         voxel_size=(1, 2.0, 0.4, 0.4))
    small, big = (max(s) for s in rep.estimated_sigma)
    assert small < 0.7 < 1.2 < big
    assert rep.estimated_fwhm_physical[1][0] == pytest.approx(rep.estimated_fwhm[1][0] * 0.2)
    vol = np.stack([blur_2d(power_law_image((96, 96), seed=s), np.eye(2) * 1.5) for s in range(24)])
    vol = gaussian_filter1d(vol, 2.0, axis=0)[::3, ::2, ::2].astype(np.float32)  # z x3, yx x2
    _, rep = run_upscale(vol, (3, 2, 2), mode="both", kernel="estimate", config=tiny_config)
    assert len(rep.estimated_lateral_sigma) == 1 and len(rep.estimated_sigma) == 1
    assert np.isfinite(rep.estimated_sigma[0]) and max(rep.estimated_lateral_sigma[0]) > 0.7


def test_a_2d_estimate_falls_back_with_a_quality_warning_on_a_small_or_flat_image(tiny_config):
    from napari_zssr import run_zssr

    small = power_law_image((40, 40)).astype(np.float32)
    with pytest.warns(QualityWarning, match="could not be estimated.*bicubic"):
        out, rep = run_zssr(small, 2, kernel="estimate", config=tiny_config)
    assert out.shape == (80, 80) and rep.estimated_kernel == [None] and rep.kernel == "cubic"
    with pytest.warns(UserWarning, match="channel 0 is constant: it comes back interpolated"):
        run_zssr(np.full((64, 64), 7.0, np.float32), 2, kernel="estimate", config=tiny_config)
    with pytest.raises(ValueError, match="estimate_kernel reads"):
        estimate_kernel(np.zeros((8, 8, 8)), (2, 2, 1))
    planes = np.stack([blur_2d(power_law_image((128, 128), seed=1), np.eye(2) * 2)[::2, ::2]] * 2)
    two = np.stack([planes, np.full_like(planes, 5.0)]).astype(np.float32)  # channel 1 constant
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, rep = run_upscale(two, (1, 1, 2, 2), axes="CZYX", kernel="estimate", config=tiny_config)
    assert not any("could not be estimated" in str(w.message) for w in caught)  # its constant warning is enough
    assert np.isfinite(rep.estimated_sigma[0][0]) and np.isnan(rep.estimated_sigma[1][0])


def test_saved_networks_keep_the_estimated_profiles(blobs, tiny_config, tmp_path):
    lr = gaussian_filter1d(blobs, 2.0, axis=0)[::4].astype(np.float32)
    path = str(tmp_path / "nets.pt")
    first = upscale(lr, (4, 1, 1), kernel="estimate", config=tiny_config, save_networks=path)
    again = upscale(lr, (4, 1, 1), networks=path, config=tiny_config)
    np.testing.assert_allclose(again, first, rtol=1e-5, atol=1e-5 * float(np.ptp(first)))


def test_noise_std_estimate_is_read_from_the_data_and_used(structured_image, tiny_config, stack):
    from napari_zssr import ZSSRConfig, run_zssr

    rng = np.random.default_rng(2)
    noisy = structured_image + rng.normal(0, 8.0, structured_image.shape).astype(np.float32)
    cfg = tiny_config.replace(noise_std="estimate")
    out, rep = run_zssr(noisy, 2, config=cfg)
    lo, hi = np.percentile(noisy, (0.1, 99.9))
    assert rep.estimated_noise == pytest.approx(8.0 / (hi - lo), rel=0.25)  # in normalised units
    assert np.all(np.isfinite(out))
    _, srep = run_upscale(stack, (1, 2, 2), config=cfg)
    assert srep.estimated_noise >= 0
    with pytest.raises(ValueError, match="noise_std must be a finite number, got 'loud'"):
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
    # the FWHM in pixels and, the file's voxel sizes being in um, in um
    assert re.search(r"estimated axial profile, channel 0: sigma [\d.]+ px, FWHM [\d.]+ px \([\d.]+ um\) on the "
                     r"output grid", text), text


def test_saved_networks_keep_the_estimated_2d_kernels(tiny_config, tmp_path):
    lr = blur_2d(power_law_image((128, 128), seed=4), np.eye(2) * 2.0)[::2, ::2]
    lr = np.stack([lr] * 3).astype(np.float32)
    path = str(tmp_path / "nets.pt")
    first, rep = run_upscale(lr, (1, 2, 2), kernel="estimate", config=tiny_config, save_networks=path)
    assert rep.kernel.startswith("estimate(")
    again, rep2 = run_upscale(lr, (1, 2, 2), networks=path, config=tiny_config)
    assert rep2.kernel == rep.kernel
    np.testing.assert_allclose(again, first, rtol=1e-5, atol=1e-5 * float(np.ptp(first)))


def test_the_cli_saves_the_estimated_2d_kernel_and_takes_it_back(tmp_path, capsys):
    import tifffile

    from napari_zssr.cli import main

    lr = blur_2d(power_law_image((128, 128), seed=5), [[1.0, 0.3], [0.3, 2.0]])[::2, ::2]
    src = tmp_path / "img.tif"
    tifffile.imwrite(src, np.clip(lr * 100, 0, 65535).astype(np.uint16))
    args = ["--scale", "2", "--max-iters", "6", "--preset", "fast", "--quiet", "--precision", "float32"]
    kfile = tmp_path / "k.npy"
    assert main(["upscale", str(src), str(tmp_path / "o.tif"), "--kernel", "estimate", "--save-kernel", str(kfile)]
                + args) == 0
    text = capsys.readouterr().out
    assert "estimated 2-D kernel, channel 0: sigma" in text and f"saved to {kfile}" in text
    k = np.load(kfile)
    assert k.ndim == 2 and k.sum() == pytest.approx(1.0, abs=1e-4)
    assert main(["upscale", str(src), str(tmp_path / "o2.tif"), "--kernel", str(kfile)] + args) == 0
    assert main(["upscale", str(src), str(tmp_path / "o3.tif"), "--kernel", "estimate", "--save-kernel",
                 str(kfile)] + args) == 2  # refused before the run: the kernel file exists
    assert "exists" in capsys.readouterr().err
    assert main(["upscale", str(src), str(tmp_path / "o4.tif"), "--save-kernel", str(tmp_path / "k2.npy")]
                + args) == 2
    assert "add --kernel estimate" in capsys.readouterr().err


class _CancelAt:
    """A progress callback that cancels at the first report of ``stage``, recording what it saw."""

    def __init__(self, stage):
        self.stage, self.seen = stage, []

    def __call__(self, info):
        self.seen.append(dict(info))
        return info.get("stage") != self.stage


def test_an_estimate_reports_progress_and_can_be_cancelled(blobs, tiny_config):
    from napari_zssr import Cancelled, run_zssr

    lr = blur_2d(power_law_image((192, 192), seed=2), [[1.5, 0.0], [0.0, 0.5]])[::2, ::2]
    cb = _CancelAt("estimate")
    with pytest.raises(Cancelled):
        estimate_kernel(lr, 2, callback=cb)
    assert [i["stage"] for i in cb.seen] == ["estimate"]  # stopped at the first candidate
    seen = []
    estimate_kernel(lr, 2, callback=lambda info: seen.append(info["stage"]))
    assert seen and set(seen) == {"estimate"}

    cb = _CancelAt("estimate")
    with pytest.raises(Cancelled):
        run_zssr(lr.astype(np.float32), 2, kernel="estimate", config=tiny_config, callback=cb)
    assert cb.seen[-1]["stage"] == "estimate" and not any(i["stage"] == "train" for i in cb.seen)
    for data, scale, axes in ((gaussian_filter1d(blobs, 2.0, axis=0)[::4], (4, 1, 1), "ZYX"),
                              (blobs[:4, :, :], (1, 2, 2), "ZYX")):
        cb = _CancelAt("estimate")
        with pytest.raises(Cancelled):
            upscale(data.astype(np.float32), scale, axes=axes, kernel="estimate", config=tiny_config, callback=cb)
        assert cb.seen[-1]["stage"] == "estimate" and cb.seen[-1]["channel"] == 0


def test_the_cli_says_why_the_estimate_kept_bicubic(tmp_path, capsys):
    import tifffile

    from napari_zssr import imresize
    from napari_zssr.cli import main

    lr = imresize(power_law_image((256, 256), seed=6), 0.5)  # MATLAB's bicubic: nothing else fits better
    src = tmp_path / "b.tif"
    tifffile.imwrite(src, np.clip(lr * 1000, 0, 65535).astype(np.uint16))
    assert main(["upscale", str(src), str(tmp_path / "o.tif"), "--scale", "2", "--kernel", "estimate", "--max-iters",
                 "4", "--preset", "fast", "--quiet", "--precision", "float32"]) == 0
    assert ("note: channel 0: the kernel estimate kept bicubic, "
            "because the Gaussian does not fit") in capsys.readouterr().out


def test_the_noise_a_run_trains_with_is_the_median_over_its_planes(tiny_config):
    from napari_zssr.stack.estimates import with_estimated_noise

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64]
    smooth = 0.5 + 0.2 * np.sin(x / 9.0) * np.cos(y / 13.0)  # normalised, as the planes a run reads
    planes = [smooth + rng.normal(0, sigma, smooth.shape) for sigma in (0.01, 0.05, 0.02)]
    cfg, sigma = with_estimated_noise(tiny_config.replace(noise_std="estimate"), planes)
    assert sigma == pytest.approx(0.02, rel=0.1) and cfg.noise_std == sigma  # not the mean (0.027)
    assert cfg.replace(noise_std=0.0) == tiny_config.replace(noise_std=0.0)  # nothing else changed


@pytest.mark.parametrize("source, says, not_says", [
    ("estimate", "the profile read from the data may be too wide", "try kernel='estimate'"),
    ("cubic", "try kernel='estimate' or a smaller sigma", "the profile read from the data"),
    ("saved", "networks applied were trained with a kernel too wide", "try kernel='estimate'")])
def test_the_over_sharpened_warning_gives_advice_that_fits_the_runs_kernel(source, says, not_says):
    import warnings

    from napari_zssr.core.progress import QualityWarning, UpscaleReport
    from napari_zssr.stack.blocks import Blocks
    from napari_zssr.stack.estimates import check_axial_spectrum
    from napari_zssr.stack.inputs import ChannelStats

    rng = np.random.default_rng(0)
    from scipy.ndimage import gaussian_filter

    # smooth across, white along z: far more axial detail than lateral, as an over-sharpened result has
    vol = gaussian_filter(rng.normal(size=(64, 64, 64)), (0, 3, 3)).astype(np.float32)[None, None]
    report = UpscaleReport(plan="test")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_axial_spectrum(report, Blocks(vol, "CTZYX"), [0], 4.0, [ChannelStats(0.0, 1.0, False, [])], source)
    words = [str(w.message) for w in caught if w.category is QualityWarning]
    assert len(words) == 1 and says in words[0] and not_says not in words[0], words
    assert report.over_sharpened() == [0]
