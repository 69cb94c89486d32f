import numpy as np
import pytest

from napari_zssr import Cancelled, ZSSRConfig, imresize, zssr
from napari_zssr.core.infer import forward_tiled, transforms


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
    with pytest.raises(Cancelled):
        zssr(structured_image, 2, callback=lambda p: seen.append(p) or False)
    from napari_zssr.core.device import describe_device, resolve_device
    from napari_zssr.core.precision import auto_preset_name

    dev = resolve_device("auto")  # config=None asks for the auto preset on the auto device
    assert seen[0]["preset"] == auto_preset_name(dev) and seen[0]["device"] == describe_device(dev)
    assert seen[0]["total"] == ZSSRConfig.preset(auto_preset_name(dev)).max_iters


def test_small_images_are_valid_and_constant_image_warns(tiny_config):
    small = np.arange(30, dtype=np.float32).reshape(5, 6)
    assert zssr(small, 2, config=tiny_config).shape == (10, 12)
    with pytest.warns(UserWarning, match="constant"):
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
        (np.full((8, 8), np.nan), 2, {}, ValueError, "NaN"),
        (np.zeros((0, 8)), 2, {}, ValueError, "too small"),
        (np.zeros((1, 1)), 2, {}, ValueError, "too small"),
        (np.zeros((8, 8)), 0.5, {}, ValueError, "only enlarges"),
        (np.zeros((8, 8)), 0, {}, ValueError, "positive and finite"),
        (np.zeros((8, 8)), -2, {}, ValueError, "positive and finite"),
        (np.zeros((8, 8)), float("inf"), {}, ValueError, "positive and finite"),
        (np.zeros((8, 8)), (2, 2, 2), {}, ValueError, "2 scale factors"),
        (np.zeros((8, 8)), 1, {}, ValueError, "at least one"),
        (np.zeros((8, 8)), "2", {}, TypeError, "scale"),
        (np.zeros((8, 8), bool), 2, {}, TypeError, "dtype bool"),
        (np.zeros((8, 8), complex), 2, {}, TypeError, "complex"),
        (np.zeros((8, 8), object), 2, {}, TypeError, "object"),
        (np.zeros((8, 8, 3)), 2, {}, ValueError, "channel_axis"),
        (np.zeros((8, 8, 3)), 2, {"channel_axis": 3}, ValueError, "does not exist"),
        (np.zeros((8, 8)), 2, {"kernel": np.array([[1.0, np.inf]])}, ValueError, "NaN or inf"),
        (np.zeros((8, 8)), 2, {"kernel": -np.ones((3, 3))}, ValueError, "positive sum"),
        (np.zeros((8, 8)), 2, {"kernel": "gaussian"}, ValueError, "unknown kernel"),
        (np.zeros((8, 8)), 2, {"config": {"width": 3}}, TypeError, "ZSSRConfig"),
        (np.zeros((8, 8)), 2, {"config": ZSSRConfig(device="tpu")}, ValueError, "device"),
    ],
)
def test_bad_input_names_the_problem(image, scale, kw, exc, match):
    with pytest.raises(exc, match=match):
        zssr(image, scale, **kw)


def test_tiled_forward_equals_untiled():
    import torch

    from napari_zssr.core.network import ZSSRNet

    net = ZSSRNet(2, width=8, depth=5)
    net.reset(0.1, torch.Generator().manual_seed(0))
    x = torch.randn(1, 2, 70, 53)
    with torch.no_grad():
        whole = net(x)
        tiled = forward_tiled(net, x, tile_pixels=24 * 24)
    torch.testing.assert_close(tiled, whole, rtol=1e-5, atol=1e-6)


def test_ensemble_transforms():
    assert len(transforms(True, True)) == 8
    non_square = transforms(False, True)
    assert len(non_square) == 4 and all(k % 2 == 0 for k, _ in non_square)
    assert transforms(True, False) == [(0, False)]


@pytest.mark.parametrize("scale, shape", [((2.0, 2.0), (12, 12)), ((2.0, 2.0), (10, 14)), ((1.5, 2.5), (11, 9))])
def test_batched_ensemble_equals_one_transform_at_a_time(scale, shape):
    """The GPU path (transforms of one shape in one batch) gives what the CPU path gives."""
    import torch

    from napari_zssr.core.infer import _super_resolve
    from napari_zssr.core.network import ZSSRNet
    from napari_zssr.core.resize import Kernel

    torch.manual_seed(0)
    net = ZSSRNet(1, 8, 4).eval()
    lr = torch.rand((1, 1) + shape)
    with torch.no_grad():
        one = _super_resolve(net, lr, scale, Kernel("cubic"), 3, True, 4096, batch_transforms=False)
        batch = _super_resolve(net, lr, scale, Kernel("cubic"), 3, True, 4096, batch_transforms=True)
        tiled = _super_resolve(net, lr, scale, Kernel("cubic"), 3, True, 300, batch_transforms=True)
    np.testing.assert_allclose(batch.numpy(), one.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tiled.numpy(), one.numpy(), rtol=1e-5, atol=1e-6)
