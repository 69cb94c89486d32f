"""core/estimate_psf.py: the lateral PSF of a fluorescence image as a round Gaussian, read from the image
against its own shrunk copy; nothing (and why) where it cannot be read. How a run uses it:
tests/stack/test_estimates.py."""

import numpy as np
import pytest
from scipy import ndimage

from napari_zssr.core.estimate_psf import estimate_psf, spot_bound

from ..conftest import power_law_image


def _fluorescence(seed: int, side: int = 256) -> np.ndarray:
    """Bright structure of every size on a dark background: a power-law scene cut at its 60th percentile."""
    p = power_law_image((side, side), seed=seed)
    return np.clip(p - np.percentile(p, 60), 0, None)


def _psf_and_sample(hr, sigma: float, s: int) -> np.ndarray:
    """``hr`` blurred by a round Gaussian centred as MATLAB's geometry wants it, read every s-th pixel."""
    half = int(np.ceil(4 * sigma)) + s
    y, x = np.mgrid[-half:half + 1, -half:half + 1] - (s - 1) / 2
    k = np.exp(-0.5 * (x * x + y * y) / sigma ** 2)
    return ndimage.correlate(hr, k / k.sum(), mode="reflect")[::s, ::s]


@pytest.mark.parametrize("sigma", [0.8, 1.6])
def test_a_known_gaussian_psf_is_read_from_a_fluorescence_like_image(sigma):
    found = estimate_psf(_psf_and_sample(_fluorescence(1), sigma, 2), 2)
    assert found["why_not"] == ""
    assert found["sigma"] == pytest.approx(sigma, abs=0.15)  # output-grid pixels
    assert found["fwhm"] == pytest.approx(2.3548 * found["sigma"], rel=1e-3)
    assert 0 <= found["uncertainty"] < 0.2 and len(found["halves"]) == 2


@pytest.mark.parametrize("image, why", [
    (np.zeros((128, 128)), "the image is flat"),
    (np.abs(np.random.default_rng(0).standard_normal((128, 128))), "unblurred point samples"),
    (np.random.default_rng(0).standard_normal((128, 128)), "does not look like emitters on a dark background"),
])
def test_flat_or_pure_noise_reads_no_psf_and_says_why(image, why):
    found = estimate_psf(image, 2)
    assert why in found["why_not"]
    assert np.isnan(found["sigma"]) and np.isnan(found["fwhm"])


def test_an_image_too_small_to_check_its_halves_reads_nothing():
    found = estimate_psf(_psf_and_sample(_fluorescence(2, 96), 1.2, 2), 2)
    assert np.isnan(found["sigma"]) and found["why_not"]


def test_isolated_spots_bound_the_psf_from_above():
    rng = np.random.default_rng(3)
    img = np.zeros((128, 128))
    yy, xx = np.mgrid[0:128, 0:128]
    for cy, cx in rng.uniform(8, 120, size=(40, 2)):
        img += rng.uniform(0.5, 1.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.5 ** 2))
    bound, n = spot_bound([img])
    assert n >= 10 and bound == pytest.approx(1.5, abs=0.15)


def test_factors_of_one_are_refused():
    with pytest.raises(ValueError, match="both factors > 1"):
        estimate_psf(np.zeros((64, 64)), (1, 2))
