"""The model of a result's error: fitted on pairs, applied to planes and slabs."""

import numpy as np
import pytest

from napari_zssr.core.uncertainty import GAUSS_ABS, ErrorModel, features_2d, fit_error_model, of_planes, of_slab


def _textured(shape, seed=0):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    return (gaussian_filter(rng.random(shape), 2.0) * 4).astype(np.float32)


def test_the_fit_recovers_the_weights_of_an_error_made_from_them():
    x = _textured((256, 256))
    g2, _, inten = features_2d(x)
    truth = ErrorModel(gradient=2.0, noise=0.0, floor=1e-4, intensity=0.003)
    var = truth.gradient * g2 + truth.floor + truth.intensity * inten
    rng = np.random.default_rng(1)
    target = x + np.sqrt(var) * rng.standard_normal(x.shape)
    found = fit_error_model([(x, target, x, (0, 1))])
    assert found.held_out
    assert found.gradient == pytest.approx(truth.gradient, rel=0.25)
    assert found.intensity == pytest.approx(truth.intensity, rel=0.25)
    # and its expected absolute error matches what the errors were, in scale
    u = found.of_plane(x)
    assert np.median(u) == pytest.approx(np.median(np.abs(target - x)) / 0.674 * GAUSS_ABS, rel=0.2)


def test_a_pair_too_small_for_three_weights_gives_no_model():
    x = np.ones((6, 6), np.float32)
    assert fit_error_model([(x, x, x, (0, 1))]) is None
    y = np.ones((2, 3), np.float32)  # smaller than one block
    assert fit_error_model([(y, y, y, (0, 1))]) is None


def test_the_expected_error_grows_with_the_gradient_and_the_intensity_and_is_never_negative():
    model = ErrorModel(gradient=1.0, noise=0.0, floor=0.0, intensity=0.5)
    zero = np.zeros(4)
    u = model.expected_abs((np.array([0.0, 1.0, 1.0, 0.0]), zero, np.array([0.0, 0.0, 2.0, -3.0])))
    assert u.dtype == np.float32
    assert u[0] == 0 and u[3] == 0  # a negative intensity (below the normalised floor) adds no noise
    assert u[0] < u[1] < u[2]


def test_a_slab_gives_the_rows_the_whole_volume_gives():
    model = ErrorModel(gradient=1.0, noise=0.5, floor=1e-3, intensity=0.01)
    vol = _textured((6, 20, 16))
    whole = of_slab(model, vol, 2.0, 0, 20)
    assert whole.shape == (11, 20, 16)
    part = of_slab(model, vol[:, 3:16], 2.0, 4, 6)  # rows 7..13, with context on both sides
    np.testing.assert_allclose(part, whole[:, 7:13], rtol=1e-5, atol=1e-7)


def test_the_error_carried_from_the_planes_stage_adds_in_quadrature():
    model = ErrorModel(gradient=0.0, noise=0.0, floor=0.0, intensity=0.0)
    vol = _textured((5, 8, 8))
    prior = np.full((5, 8, 8), 0.3, np.float32)
    u = of_slab(model, vol, 3.0, 0, 8, prior=prior)
    np.testing.assert_allclose(u, 0.3, rtol=1e-5)
    u2 = of_slab(ErrorModel(0.0, 0.0, 0.16, 0.0), vol, 3.0, 0, 8, prior=prior)
    np.testing.assert_allclose(u2, np.sqrt((GAUSS_ABS * 0.4) ** 2 + 0.3**2), rtol=1e-5)


def test_planes_are_enlarged_to_the_result_grid_channel_by_channel():
    model = ErrorModel(gradient=1.0, noise=0.0, floor=0.0, intensity=0.0)
    plane = np.stack([_textured((12, 10)), np.zeros((12, 10), np.float32)])
    u = of_planes(model, plane, (2.0, 1.5), (24, 15))
    assert u.shape == (2, 24, 15) and u.dtype == np.float32
    assert u[0].max() > 0 and np.all(u[1] == 0)  # a flat channel has no gradient


def test_the_local_noise_tells_noise_from_smooth_structure():
    rng = np.random.default_rng(0)
    x = _textured((64, 64))
    x[:, 32:] += rng.normal(0, 0.2, (64, 32)).astype(np.float32)
    _, noise, _ = features_2d(x)
    assert noise[:, 40:56].mean() == pytest.approx(0.04, rel=0.3)  # the variance of the noise added
    assert noise[:, 4:24].mean() < 0.1 * noise[:, 40:56].mean()
    _, along_x, _ = features_2d(x, fine=(1,))  # isotropic mode: the rows are interpolated, read across only
    assert along_x[:, 40:56].mean() == pytest.approx(0.04, rel=0.3)
