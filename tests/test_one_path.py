"""One image, one answer, whichever door it came through: API zssr(), API upscale(), the CLI, the widget
(tests/test_napari.py). RGB colour samples (S) share one network; fluorescence channels (C) get one each."""

import numpy as np
import pytest
import tifffile

from napari_zssr import upscale, zssr
from napari_zssr.cli import main
from napari_zssr.io import read_image

from .compare import assert_close


@pytest.fixture
def rgb(structured_image):
    return np.stack([structured_image, 255 - structured_image, structured_image * 0.5 + 10], -1)


def test_zssr_and_upscale_agree_on_an_rgb_image(rgb, tiny_config):
    joint = zssr(rgb, 2, config=tiny_config, channel_axis=-1)
    assert_close(upscale(rgb, (2, 2, 1), axes="YXS", config=tiny_config), joint, 1e-5)
    assert_close(np.moveaxis(upscale(np.moveaxis(rgb, -1, 0), (1, 2, 2), axes="SYX", config=tiny_config), 0, -1),
                 joint, 1e-5)
    # as channels, each colour has its own network: another answer
    apart = upscale(rgb, (2, 2, 1), axes="YXC", config=tiny_config)
    assert np.abs(apart - joint).max() > 1e-4 * float(joint.max() - joint.min())  # well above rounding (1e-7)


def test_the_cli_gives_what_the_api_gives(tmp_path, rgb, tiny_config):
    src, out = tmp_path / "rgb.tif", tmp_path / "out.tif"
    tifffile.imwrite(src, rgb.astype(np.float32), photometric="rgb")
    assert read_image(src).axes == "YXS"
    steps = str(tiny_config.max_iters)
    assert main(["upscale", str(src), str(out), "--scale", "2", "--preset", "fast", "--max-iters", steps, "--quiet",
                 "--device", "cpu", "--dtype", "float32", "--precision", "float32"]) == 0
    cfg = tiny_config.__class__.preset("fast", device="cpu", precision="float32").with_max_iters(tiny_config.max_iters)
    assert_close(read_image(out).data, zssr(rgb, 2, config=cfg, channel_axis=-1), 1e-5)


def test_colour_samples_are_enlarged_in_planes_mode_only(rgb, tiny_config):
    with pytest.raises(ValueError, match="planes mode only"):
        upscale(np.stack([rgb] * 3), (2, 1, 1, 1), axes="ZYXS", config=tiny_config)
    with pytest.raises(ValueError, match="both C .* and S"):
        upscale(rgb[None], (1, 2, 2, 1), axes="CYXS", config=tiny_config)
    with pytest.raises(ValueError, match="colour axis must be 1"):
        upscale(rgb, (2, 2, 2), axes="YXS", config=tiny_config)
