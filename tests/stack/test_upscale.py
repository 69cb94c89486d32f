"""stack/upscale.py: upscale() on n-D stacks: the mode each set of factors picks and its shapes, plane positions,
the flip ensemble, channels and time points kept apart, the input never modified, data refused in words."""

import numpy as np
import pytest

from napari_zssr import upscale
from napari_zssr.stack.upscale import run_upscale


@pytest.mark.parametrize(
    "scale,mode,shape",
    [((4, 1, 1), "isotropic", (21, 32, 36)), ((2.5, 1, 1), "isotropic", (13, 32, 36)),
     ((1, 2, 1.5), "planes", (6, 64, 54)), ((1, 1, 2.5), "planes", (6, 32, 90)), ((3, 2, 2), "both", (16, 64, 72))],
)
def test_auto_mode_and_shapes(stack, tiny_config, scale, mode, shape):
    out, rep = run_upscale(stack, scale, config=tiny_config)
    assert out.shape == shape and out.dtype == np.float32
    assert rep.plan.startswith("axes ZYX") and ("isotropic" in rep.plan) == (mode != "planes")
    assert ("planes mode" in rep.plan) == (mode != "isotropic")
    assert np.all(np.isfinite(out))
    assert abs(out.mean() - stack.mean()) < 0.15 * stack.mean()


def test_isotropic_keeps_plane_positions(stack, tiny_config):
    # plane i of the input sits on output plane i * f: with no axial blur to undo and enough
    # back-projection, the output passes (nearly) through the input planes
    cfg = tiny_config.replace(back_projection_iters=30)
    out = upscale(stack, (4, 1, 1), kernel=0.0, config=cfg)
    err_on = np.abs(out[::4] - stack).mean()
    err_between = np.abs(out[2::4] - stack[:-1]).mean()
    assert err_on < 0.1 * err_between


def test_the_flip_ensemble_runs_in_2d_and_along_z_only_when_asked(stack, tiny_config):
    # "auto" (the default): the flips in the planes stage, none along z, where the XZ and YZ passes
    # already average two restorations; True runs them in both stages
    assert tiny_config.output_flip == "auto"

    def run(scale, flip):
        return upscale(stack, scale, config=tiny_config.replace(output_flip=flip))

    iso_auto, iso_off, iso_on = (run((4, 1, 1), f) for f in ("auto", False, True))
    np.testing.assert_array_equal(iso_auto, iso_off)
    assert np.abs(iso_on - iso_auto).max() > 1e-3
    planes_auto, planes_on, planes_off = (run((1, 2, 2), f) for f in ("auto", True, False))
    np.testing.assert_array_equal(planes_auto, planes_on)
    assert np.abs(planes_off - planes_auto).max() > 1e-3


def test_channels_are_never_mixed(stack, tiny_config):
    a = stack.astype(np.float32)
    b = np.flip(a, axis=2).copy()
    out_ab = upscale(np.stack([a, b]), (1, 3, 1, 1), axes="CZYX", config=tiny_config)
    out_a = upscale(np.stack([a, a * 0 + 5, b]), (1, 3, 1, 1), axes="CZYX", config=tiny_config)
    np.testing.assert_array_equal(out_ab[0], out_a[0])
    np.testing.assert_allclose(out_a[1], 5.0)


def test_time_and_channels_with_dtype(stack, tiny_config):
    data = np.stack([np.stack([stack, stack // 2]), np.stack([stack, stack // 3])])  # T, C, Z, Y, X
    out = upscale(data, (1, 1, 1, 2, 2), axes="TCZYX", config=tiny_config, dtype=np.uint16)
    assert out.shape == (2, 2, 6, 64, 72) and out.dtype == np.uint16


def test_independent_planes_differ_from_shared(stack, tiny_config):
    shared = upscale(stack[:2], (1, 2, 2), config=tiny_config)
    indep = upscale(stack[:2], (1, 2, 2), config=tiny_config, planes="independent")
    assert shared.shape == indep.shape and np.abs(shared - indep).max() > 0


def test_rgb_with_axes(tiny_config):
    rgb = np.random.default_rng(0).integers(0, 255, (20, 22, 3)).astype(np.uint8)
    assert upscale(rgb, (2, 2, 1), axes="YXC", config=tiny_config).shape == (40, 44, 3)


def test_input_is_not_modified(stack, tiny_config):
    before = stack.copy()
    stack.flags.writeable = False
    upscale(stack, (4, 1, 1), config=tiny_config)
    np.testing.assert_array_equal(stack, before)


def test_data_errors(tiny_config):
    vol = np.ones((4, 8, 8))
    vol[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"data contains 1 NaN or inf value\(s\); replace them before upscaling"):
        upscale(vol, (2, 1, 1), config=tiny_config)
    with pytest.raises(TypeError, match="data has dtype bool, which is not a numeric image type"):
        upscale(np.ones((4, 8, 8), bool), (2, 1, 1), config=tiny_config)
    with pytest.raises(ValueError, match=r"a PSF array needs psf_voxel_size=\(z, y, x\) and the data's voxel_size"):
        upscale(np.ones((4, 8, 8)), (2, 1, 1), kernel=np.ones((3, 3, 3)), config=tiny_config)
