"""core/resize.py: MATLAB-compatible imresize (numpy and torch): MATLAB's own LR files reproduced, shapes,
antialiasing, numeric kernels centred as MATLAB centres them, and bad inputs named."""

import glob
import os

import numpy as np
import pytest
from PIL import Image

from napari_zssr import imresize
from napari_zssr.core.resize import resize_torch

from ..conftest import SR_DATA


@pytest.mark.parametrize("s", [2, 3, 4])
def test_reproduces_matlab_lr_files(s):
    files = sorted(glob.glob(os.path.join(SR_DATA, "Set*", f"image_SRF_{s}", "*_HR.png")))
    if not files:
        pytest.skip(f"Set5/Set14 not found under {SR_DATA}")
    exact = within_one = total = 0
    for hr_path in files:
        hr = np.array(Image.open(hr_path))
        lr = np.array(Image.open(hr_path.replace("_HR", "_LR")))
        out = imresize(hr, 1 / s)
        assert out.dtype == np.uint8 and out.shape == lr.shape
        d = np.abs(out.astype(int) - lr.astype(int))[2:-2, 2:-2]
        exact += np.count_nonzero(d == 0)
        within_one += np.count_nonzero(d <= 1)
        total += d.size
    assert exact / total >= 0.80
    assert within_one / total >= 0.995


def test_float_input_keeps_float_and_matches_quantised_matlab_closely():
    files = sorted(glob.glob(os.path.join(SR_DATA, "Set5", "image_SRF_2", "*_HR.png")))
    if not files:
        pytest.skip("Set5 not found")
    hr = np.array(Image.open(files[0])).astype(np.float64)
    out = imresize(hr, 0.5)
    lr = np.array(Image.open(files[0].replace("_HR", "_LR"))).astype(float)
    assert out.dtype == np.float64
    assert np.mean(np.abs(np.round(out) - lr) <= 1) > 0.99


@pytest.mark.parametrize("kernel", ["cubic", "linear", "lanczos2", "lanczos3", "box"])
def test_constant_stays_constant_and_shapes_follow_matlab(kernel):
    x = np.full((17, 23), 3.5)
    for scale, shape in [((2, 2), (34, 46)), ((0.5, 0.5), (9, 12)), ((1.7, 0.3), (29, 7))]:
        out = imresize(x, scale, kernel=kernel)
        assert out.shape == shape
        np.testing.assert_allclose(out, 3.5, rtol=1e-12)


def test_scale_one_leaves_axis_untouched_and_extra_axes_alone():
    rng = np.random.default_rng(0)
    x = rng.random((10, 12, 3))
    np.testing.assert_array_equal(imresize(x, (1, 1, 1)), x)
    out = imresize(x, 2)  # a scalar acts on the first two axes, as in MATLAB
    assert out.shape == (20, 24, 3)
    np.testing.assert_allclose(out[..., 1], imresize(x[..., 1], 2), atol=1e-12)
    out = imresize(x, (1, 2))
    assert out.shape == (10, 24, 3)
    np.testing.assert_allclose(out[:, :, 0], imresize(x[:, :, 0], (1, 2)), atol=1e-12)


def test_antialiasing_is_decided_per_axis():
    rng = np.random.default_rng(1)
    x = rng.random((16, 32))
    both = imresize(x, (2, 0.5))
    sequential = imresize(imresize(x, (2, 1)), (1, 0.5))
    np.testing.assert_allclose(both, sequential, atol=1e-12)
    aliased = imresize(imresize(x, (2, 1)), (1, 0.5), antialias=False)
    assert np.abs(both - aliased).max() > 0.05


def test_scale_and_output_shape_together():
    x = np.arange(100, dtype=float).reshape(10, 10)
    out = imresize(x, scale=(1.5, 1.5), output_shape=(16, 14))
    assert out.shape == (16, 14)
    # with the scale given, the geometry is the scale's: the first rows agree with the plain resize
    np.testing.assert_allclose(out[:14, :14], imresize(x, 1.5)[:14, :14], atol=1e-9)
    only_shape = imresize(x, output_shape=(20, 5))
    assert only_shape.shape == (20, 5)


@pytest.mark.parametrize("s", [2, 3, 4])
@pytest.mark.parametrize("ksize", [(5, 5), (4, 4), (6, 3)])
def test_numeric_kernel_is_centred_on_matlab_sample_positions(s, ksize):
    # Any kernel averages a linear ramp to the ramp's value at the kernel's centre of mass, so
    # the LR image must read the ramp exactly at MATLAB's positions u = s*i + (s-1)/2 (0-based).
    rng = np.random.default_rng(s)
    k = rng.random(ksize) + 0.1
    y, x = np.mgrid[0:48, 0:60].astype(float)
    ramp = 3 * y + 7 * x
    out = imresize(ramp, 1 / s, kernel=k)
    i, j = np.mgrid[0 : out.shape[0], 0 : out.shape[1]]
    want = 3 * (s * i + (s - 1) / 2) + 7 * (s * j + (s - 1) / 2)
    m = 3  # away from the mirrored border
    np.testing.assert_allclose(out[m:-m, m:-m], want[m:-m, m:-m], atol=1e-9)


def test_numeric_kernel_non_integer_scale_is_centred_too():
    k = np.ones((3, 3))
    y, x = np.mgrid[0:45, 0:45].astype(float)
    out = imresize(2 * y + x, 1 / 1.5, kernel=k)
    i = np.arange(out.shape[0])
    u = (i + 0.5) * 1.5 - 0.5
    np.testing.assert_allclose(out[3:-3, 10], 2 * u[3:-3] + u[10], atol=1e-9)


@pytest.mark.parametrize("kernel", ["cubic", "lanczos3", "numeric"])
def test_torch_matches_numpy(kernel):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.random((2, 3, 21, 30))
    k = rng.random((4, 5)) if kernel == "numeric" else kernel
    for scale in [(0.5, 0.5), (1 / 3, 1 / 1.5)] + ([] if kernel == "numeric" else [(2.5, 1.3)]):
        want = imresize(x, (1, 1) + scale, kernel=k) if kernel != "numeric" else np.stack(
            [np.stack([imresize(c, scale, kernel=k) for c in b]) for b in x])
        got = resize_torch(torch.as_tensor(x), scale=scale, kernel=k).numpy()
        np.testing.assert_allclose(got, want, atol=1e-10)


def test_bad_inputs_are_named_and_input_is_not_modified():
    x = np.arange(20.0).reshape(4, 5)
    before = x.copy()
    with pytest.raises(TypeError, match="image must be a real numeric array, got dtype bool"):
        imresize(x > 3, 2)
    with pytest.raises(TypeError, match="image must be a real numeric array, got dtype complex128"):
        imresize(x.astype(complex), 2)
    with pytest.raises(TypeError, match="image must be a real numeric array, got dtype object"):
        imresize(np.array([[None, 1]], dtype=object), 2)
    for bad in (0, -1, np.nan, np.inf):
        with pytest.raises(ValueError, match=r"scale factors must be positive and finite, got \[.+, .+\]"):
            imresize(x, bad)
    with pytest.raises(ValueError, match="3 scale factors given for an array with 2 axes"):
        imresize(x, (1, 2, 3))
    with pytest.raises(ValueError, match=r"image is empty \(shape \(0, 3\)\)"):
        imresize(np.zeros((0, 3)), 2)
    y = x.copy()
    y[1, 1] = np.nan
    with pytest.raises(ValueError, match="image contains NaN or inf values"):
        imresize(y, 2)
    with pytest.raises(ValueError, match="unknown kernel 'gauss'; choose one of box, cubic"):
        imresize(x, 2, kernel="gauss")
    with pytest.raises(ValueError, match="kernel must have a positive sum, got -9"):
        imresize(x, 0.5, kernel=-np.ones((3, 3)))
    with pytest.raises(ValueError, match="kernel contains NaN or inf values"):
        imresize(x, 0.5, kernel=np.array([[1, np.nan]]))
    with pytest.raises(ValueError, match="a numeric kernel only downscales; use a named kernel to enlarge"):
        imresize(x, 2, kernel=np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"give scale or output_shape \(or both\)"):
        imresize(x)
    np.testing.assert_array_equal(x, before)


def test_read_only_and_non_contiguous_inputs():
    x = np.asfortranarray(np.random.default_rng(3).random((12, 9)))[:, ::2]
    x.flags.writeable = False
    out = imresize(x, 2)
    assert out.shape == (24, 10)
