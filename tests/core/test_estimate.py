"""core/estimate.py (with estimate_lateral.py): reading the degradation from the data: the 2-D kernel, the
axial profile of a stack, the noise level. How a run uses them: tests/stack/test_estimates.py."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from napari_zssr import estimate_kernel, estimate_noise

from ..conftest import blob_volume, blur_2d, power_law_image


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


@pytest.mark.parametrize("cov", [[[2.0, 0.6], [0.6, 1.0]], [[0.0, 0.0], [0.0, 0.0]], [[3.5, -1.0], [-1.0, 1.5]]])
def test_the_2d_kernel_is_read_from_the_image(cov):
    lr = blur_2d(power_law_image((256, 256), seed=1), cov)[::2, ::2]
    kernel, info = estimate_kernel(lr, 2)
    # output-grid pixels^2; the spread over images grows with the kernel (0.42 at most for the widest, 6 seeds)
    np.testing.assert_allclose(info["cov"], cov, atol=0.15 + 0.1 * np.trace(cov))
    assert info["sigma"] == pytest.approx(np.sqrt(np.diag(info["cov"])).tolist())
    if cov[0][0] == 0:  # no blur at all comes out as (near) point sampling, or as the sharp default
        assert max(info["sigma"]) < 0.5
    else:  # a blur the bicubic default does not have: the Gaussian is chosen
        assert info["chosen"] == "gaussian" and info["misfit_cubic"] - info["misfit"] > 0.5 * info["misfit_split"]
        assert kernel.sum() == pytest.approx(1.0) and kernel.ndim == 2
        assert info["fwhm"][0] == pytest.approx(2.3548 * info["sigma"][0], rel=1e-3)


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
