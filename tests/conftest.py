import os
import tempfile

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the probes' decisions are kept per machine: the suite keeps its own, never the user's
os.environ.setdefault("NAPARI_ZSSR_CACHE_DIR", tempfile.mkdtemp(prefix="zssr-probe-cache-"))
SR_DATA = os.environ.get("ZSSR_SR_DATA", os.path.join(ROOT, "..", "shared", "data", "sr"))


@pytest.fixture
def tiny_config():
    """A config that runs in a fraction of a second: the full recipe, few steps, a narrow net."""
    from napari_zssr import ZSSRConfig

    return ZSSRConfig.preset("fast", max_iters=12, min_iters=12, width=8, depth=4, crop_size=24,
                             batch_size=2, run_test_every=4, learning_rate_policy_check_every=4,
                             learning_rate_slope_range=8, back_projection_iters=2, device="cpu",
                             precision="float32")


@pytest.fixture
def structured_image():
    """A 2-D image with edges and texture at several scales (not random noise)."""
    y, x = np.mgrid[0:40, 0:48].astype(np.float64)
    img = 100 + 60 * (np.sin(x / 3.0) * np.cos(y / 5.0) > 0.2) + 20 * np.sin((x + 2 * y) / 4.0)
    img[10:25, 12:30] += 50
    return img.astype(np.float32)


def blob_volume(shape, n: int, radii=(2, 5), seed: int = 0) -> np.ndarray:
    """A float64 volume of ``shape`` holding ``n`` Gaussian blobs of random radii: isotropic structure."""
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[tuple(slice(0, s) for s in shape)].astype(np.float64)
    vol = np.zeros(z.shape)
    for _ in range(n):
        c = rng.uniform([0, 0, 0], shape)
        r = rng.uniform(*radii)
        vol += np.exp(-(((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2) / (2 * r * r)))
    return vol


def power_law_image(shape, seed: int = 0, exponent: float = 2.0) -> np.ndarray:
    """A float64 image with random phases and a 1 / f^exponent power spectrum: the same statistics at
    every scale, as natural scenes have, so a kernel read by cross-scale recurrence has a known answer."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = 1.0
    spectrum = f ** (-exponent / 2) * np.exp(2j * np.pi * rng.random(shape))
    spectrum[0, 0] = 0
    img = np.fft.ifft2(spectrum).real
    return 100 + 40 * img / img.std()


def blur_2d(img: np.ndarray, cov) -> np.ndarray:
    """``img`` blurred by the exact (periodic) Gaussian of covariance ``cov`` (pixels^2, (y, x))."""
    fy = np.fft.fftfreq(img.shape[0])[:, None]
    fx = np.fft.fftfreq(img.shape[1])[None, :]
    quad = cov[0][0] * fy * fy + 2 * cov[0][1] * fy * fx + cov[1][1] * fx * fx
    return np.fft.ifft2(np.fft.fft2(img) * np.exp(-2 * np.pi ** 2 * quad)).real


@pytest.fixture
def stack():
    """A small anisotropic-looking stack (Z, Y, X) of blobs, uint16."""
    return (blob_volume((24, 32, 36), 12)[::4] * 3000 + 100).astype(np.uint16)
