"""stack/zssr.py: zssr() on one 2-D image (its colours or channels learnt by one network): shapes, layout,
seeds, the paper's recipe steps, progress and cancel, and errors that name the problem."""

import numpy as np
import pytest

from napari_zssr import Cancelled, ZSSRConfig, imresize, zssr


@pytest.mark.parametrize("scale,shape", [((2, 2), (80, 96)), ((1, 2.5), (40, 120)), ((3.3, 1.7), (132, 82))])
def test_any_per_axis_scale(structured_image, tiny_config, scale, shape):
    out = zssr(structured_image, scale, config=tiny_config)
    assert out.shape == shape and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    # stays in the input's units: close to cubic interpolation after a few steps
    cubic = imresize(structured_image.astype(np.float64), scale)
    assert np.abs(out - cubic).mean() < 0.2 * structured_image.std()


@pytest.mark.parametrize("channel_axis", [0, -1])
def test_channels_share_one_network_and_keep_layout(structured_image, tiny_config, channel_axis):
    rgb = np.stack([structured_image, 255 - structured_image, structured_image * 0.5 + 10], axis=channel_axis)
    out = zssr(rgb, 2, config=tiny_config, channel_axis=channel_axis)
    want = (3, 80, 96) if channel_axis == 0 else (80, 96, 3)
    assert out.shape == want
    # each channel comes back in its own range
    means = out.mean(axis=(1, 2) if channel_axis == 0 else (0, 1))
    np.testing.assert_allclose(means, rgb.mean(axis=(1, 2) if channel_axis == 0 else (0, 1)), rtol=0.1)


def test_same_seed_same_result_other_seed_differs(structured_image, tiny_config):
    a = zssr(structured_image, 2, config=tiny_config)
    b = zssr(structured_image, 2, config=tiny_config)
    c = zssr(structured_image, 2, config=tiny_config.replace(seed=1))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0


def test_learns_to_beat_cubic_on_self_similar_image():
    # An HR image of sharp-edged blocks at several sizes, downscaled by 2 with the bicubic kernel:
    # the edges recur across scales, which is what ZSSR exploits.
    rng = np.random.default_rng(0)
    hr = np.zeros((96, 96))
    for _ in range(40):
        y, x = rng.integers(0, 90, 2)
        h, w = rng.integers(3, 20, 2)
        hr[y : y + h, x : x + w] = rng.uniform(0, 1)
    lr = imresize(hr, 0.5)
    cfg = ZSSRConfig.preset("fast", max_iters=150, min_iters=150, width=32, depth=6, crop_size=32,
                            batch_size=4, device="cpu", back_projection_iters=4, precision="float32")
    out = zssr(lr, 2, config=cfg)
    cubic = imresize(lr, 2)
    err = lambda a: np.mean((a[4:-4, 4:-4] - hr[4:-4, 4:-4]) ** 2)  # noqa: E731
    assert err(out) < 0.9 * err(cubic)


def test_back_projection_makes_result_consistent_with_input(structured_image, tiny_config):
    cfg = tiny_config.replace(output_flip=False)
    lr = structured_image.astype(np.float64)
    down = lambda a: imresize(a.astype(np.float64), 0.5)  # noqa: E731
    off = zssr(structured_image, 2, config=cfg.replace(back_projection_iters=0))
    on = zssr(structured_image, 2, config=cfg.replace(back_projection_iters=8))
    assert np.abs(down(on) - lr).mean() < 0.5 * np.abs(down(off) - lr).mean()


def test_gradual_steps_and_numeric_kernel(structured_image, tiny_config):
    k = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]).astype(float)
    seen = []
    out = zssr(structured_image, (2, 2), kernel=k, config=tiny_config.replace(gradual_steps=3),
               callback=lambda p: seen.append(p))
    assert out.shape == (80, 96)
    steps = {p["scale_step"] for p in seen if p["stage"] == "train"}
    assert steps == {1, 2, 3}


def test_callback_reports_and_can_cancel(structured_image, tiny_config):
    seen = []
    zssr(structured_image, 2, config=tiny_config, callback=lambda p: seen.append(dict(p)))
    train = [p for p in seen if p["stage"] == "train"]
    assert train and {"step", "total", "loss", "learning_rate", "rec_error", "preset", "device"} <= set(train[-1])
    assert seen[-1]["stage"] == "done" and "gain_db" in seen[-1]

    calls = []

    def cancel(p):
        calls.append(p["stage"])
        return p["stage"] != "train"

    with pytest.raises(Cancelled):
        zssr(structured_image, 2, config=tiny_config, callback=cancel)
    assert calls[-1] == "train"


def test_default_config_is_reported(structured_image):
    seen = []
    with pytest.raises(Cancelled):  # at the first report that carries the run's settings
        zssr(structured_image, 2, callback=lambda p: seen.append(p) or "preset" not in p)
    from napari_zssr.core.device import describe_device, resolve_device
    from napari_zssr.core.precision import auto_preset

    dev = resolve_device("auto")  # config=None asks for the auto preset on the auto device
    assert seen[-1]["preset"] == auto_preset(dev)[0] and seen[-1]["device"] == describe_device(dev)
    assert seen[-1]["total"] == ZSSRConfig.preset(auto_preset(dev)[0]).max_iters


def test_small_images_are_valid_and_constant_image_warns(tiny_config):
    small = np.arange(30, dtype=np.float32).reshape(5, 6)
    assert zssr(small, 2, config=tiny_config).shape == (10, 12)
    with pytest.warns(UserWarning, match="channel 0 is constant: it comes back interpolated"):
        out = zssr(np.full((8, 8), 7.0), 2, config=tiny_config)
    np.testing.assert_allclose(out, 7.0)


def test_input_is_never_modified(structured_image, tiny_config):
    img = structured_image.copy()
    img.flags.writeable = False
    zssr(img, 2, config=tiny_config)
    np.testing.assert_array_equal(img, structured_image)


@pytest.mark.parametrize(
    "image,scale,kw,exc,match",
    [
        (np.full((8, 8), np.nan), 2, {}, ValueError, r"image contains 64 NaN or inf value\(s\); replace them"),
        (np.zeros((0, 8)), 2, {}, ValueError, r"image is too small to learn from: shape \(0, 8\)"),
        (np.zeros((1, 1)), 2, {}, ValueError, r"image is too small to learn from: shape \(1, 1\) \(each spatial"),
        (np.zeros((8, 8)), 0.5, {}, ValueError, r"zssr only enlarges: every factor must be >= 1, got \[0.5, 0.5\]"),
        (np.zeros((8, 8)), 0, {}, ValueError, r"scale factors must be positive and finite, got \[0.0, 0.0\]"),
        (np.zeros((8, 8)), -2, {}, ValueError, r"scale factors must be positive and finite, got \[-2.0, -2.0\]"),
        (np.zeros((8, 8)), float("inf"), {}, ValueError,
         r"scale factors must be positive and finite, got \[inf, inf\]"),
        (np.zeros((8, 8)), (2, 2, 2), {}, ValueError, r"zssr takes 2 scale factors, got 3: \[2.0, 2.0, 2.0\]"),
        (np.zeros((8, 8)), 1, {}, ValueError, r"at least one scale factor must be > 1, got \[1.0, 1.0\]"),
        (np.zeros((8, 8)), "2", {}, TypeError, "scale must be a number or a sequence of 2 numbers, got '2'"),
        (np.zeros((8, 8), bool), 2, {}, TypeError, "image must be a real numeric array, got dtype bool"),
        (np.zeros((8, 8), complex), 2, {}, TypeError, "image must be a real numeric array, got dtype complex128"),
        (np.zeros((8, 8), object), 2, {}, TypeError, "image must be a real numeric array, got dtype object"),
        (np.zeros((8, 8, 3)), 2, {}, ValueError,
         r"zssr expects a 2-D image, got shape \(8, 8, 3\) \(pass channel_axis= for a multi-channel image"),
        (np.zeros((8, 8, 3)), 2, {"channel_axis": 3}, ValueError,
         r"channel_axis 3 does not exist in an array of shape \(8, 8, 3\)"),
        (np.zeros((8, 8)), 2, {"kernel": np.array([[1.0, np.inf]])}, ValueError, "kernel contains NaN or inf values"),
        (np.zeros((8, 8)), 2, {"kernel": -np.ones((3, 3))}, ValueError, "kernel must have a positive sum, got -9"),
        (np.zeros((8, 8)), 2, {"kernel": "gaussian"}, ValueError,
         "unknown kernel 'gaussian'; choose one of box, cubic"),
        (np.zeros((8, 8)), 2, {"config": {"width": 3}}, TypeError, "config must be a ZSSRConfig or None, got dict"),
        (np.zeros((8, 8)), 2, {"config": ZSSRConfig(device="tpu")}, ValueError,
         "unknown device 'tpu'; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"),
    ],
)
def test_bad_input_names_the_problem(image, scale, kw, exc, match):
    with pytest.raises(exc, match=match):
        zssr(image, scale, **kw)
