import numpy as np
import pytest

from napari_zssr import upscale
from napari_zssr.stack.plan import make_plan
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


@pytest.mark.parametrize(
    "shape,scale,kw,exc,match",
    [
        ((6, 8, 8), (2, 1), {}, ValueError, "one factor per axis"),
        ((6, 8, 8), (2, 1, 1), {"axes": "ZY"}, ValueError, "2 letters"),
        ((6, 8, 8), (2, 1, 1), {"axes": "ZZX"}, ValueError, "must contain Y and X|repeats"),
        ((6, 8, 8), (2, 1, 1), {"axes": "ZYQ"}, ValueError, "letters from"),
        ((1, 8, 8), (2, 1, 1), {}, ValueError, "at least 2 z planes"),
        ((2, 6, 8, 8), (2, 2, 1, 1), {"axes": "CZYX"}, ValueError, "channel axis must be 1"),
        ((2, 6, 8, 8), (2, 2, 1, 1), {"axes": "TZYX"}, ValueError, "time axis must be 1"),
        ((32, 32, 3), (2, 2, 1), {}, ValueError, "looks like an RGB"),
        ((2, 6, 8, 8), (1, 2, 1, 1), {}, ValueError, "must name its axes"),
        ((6, 8, 8), (2, 1, 1), {"mode": "planes"}, ValueError, "calls for 'isotropic'"),
        ((6, 8, 8), (2, 1, 1), {"mode": "sideways"}, ValueError, "mode must be"),
        ((6, 8, 8), (0.5, 1, 1), {}, ValueError, "only enlarges"),
        ((6, 8, 8), (1, 1, 1), {}, ValueError, "at least one factor"),
        ((6, 8, 8), (np.nan, 1, 1), {}, ValueError, "positive and finite"),
        ((2, 6, 8, 8), (1, 2, 1, 1), {"axes": "CZYX", "channel_axis": 1}, ValueError, "disagrees"),
        ((6, 8, 8), (2, 1, 1), {"planes": "some"}, ValueError, "planes must be"),
    ],
)
def test_plan_errors(shape, scale, kw, exc, match):
    with pytest.raises(exc, match=match):
        make_plan(shape, scale, **kw)


def test_data_errors(tiny_config):
    vol = np.ones((4, 8, 8))
    vol[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        upscale(vol, (2, 1, 1), config=tiny_config)
    with pytest.raises(TypeError, match="dtype bool"):
        upscale(np.ones((4, 8, 8), bool), (2, 1, 1), config=tiny_config)
    with pytest.raises(ValueError, match="psf_voxel_size"):
        upscale(np.ones((4, 8, 8)), (2, 1, 1), kernel=np.ones((3, 3, 3)), config=tiny_config)
