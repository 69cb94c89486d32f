"""core/train.py: the run-time choices the recipe leaves open: explicit scale steps, noisy sons and the
learning-rate policy's window."""

import numpy as np
import pytest

from napari_zssr import ZSSRConfig, run_zssr, upscale, zssr


def test_explicit_scale_factors_are_the_schedule(structured_image, tiny_config):
    steps = [(1.5, 1.0), (1.5, 2.0), (2.0, 2.0)]
    out, report = run_zssr(structured_image, 2, config=tiny_config.replace(scale_factors=steps))
    assert report.schedule == steps and len(report.steps) == 3
    assert out.shape == (80, 96) and np.all(np.isfinite(out))


@pytest.mark.parametrize("call", ["zssr", "upscale"])
def test_scale_factors_that_miss_the_requested_scale_are_refused(structured_image, tiny_config, call):
    cfg = tiny_config.replace(scale_factors=[(1.5, 1.5), (2.0, 2.5)])
    with pytest.raises(ValueError, match=r"end at the requested scale \(2.0, 2.0\).*\(2.0, 2.5\)"):
        if call == "zssr":
            zssr(structured_image, 2, config=cfg)
        else:
            upscale(np.stack([structured_image] * 2), (1, 2, 2), config=cfg)


def test_noisy_sons_change_the_result_and_the_real_preset_runs(structured_image, tiny_config):
    clean = zssr(structured_image, 2, config=tiny_config)
    noisy = zssr(structured_image, 2, config=tiny_config.replace(noise_std=0.05))
    assert np.abs(noisy - clean).max() > 0  # the noise reached training (the same path is otherwise exact)
    small = {k: getattr(tiny_config, k) for k in ("max_iters", "min_iters", "width", "depth", "crop_size",
                                                  "batch_size", "run_test_every", "device", "precision")}
    real = ZSSRConfig.preset("real", **small)
    assert real.noise_std > 0 and not real.output_flip and real.back_projection_iters == 0
    out, report = run_zssr(structured_image, 2, config=real)
    assert out.shape == (80, 96) and np.all(np.isfinite(out)) and report.preset == "real"


def test_noisy_sons_in_isotropic_mode(stack, tiny_config):
    clean = upscale(stack, (3, 1, 1), config=tiny_config)
    noisy = upscale(stack, (3, 1, 1), config=tiny_config.replace(noise_std=0.05))
    assert noisy.shape == clean.shape and np.abs(noisy - clean).max() > 0


@pytest.mark.parametrize("kind", ["2d", "axial"])
def test_sons_carry_noise_of_the_asked_spread(kind):
    import torch

    from napari_zssr.core.axial import AxialKernel
    from napari_zssr.core.isotropic import AxialPairs
    from napari_zssr.core.resize import Kernel
    from napari_zssr.core.train import SRPairs

    father = torch.full((4, 1, 64, 64), 0.5)
    gen = torch.Generator().manual_seed(0)
    if kind == "2d":
        noisy = SRPairs((2, 2), Kernel("cubic"), 0.05, (-1.0, 2.0), gen).son(father)
    else:
        noisy = AxialPairs(2.0, AxialKernel.default(2.0), 0.05, (-1.0, 2.0), gen).make(father)[0]
    resid = (noisy - 0.5).flatten()
    # a flat father: what is left is the noise (interpolated back up in the axial pair, which smooths it)
    assert abs(float(resid.mean())) < 0.005
    assert 0.02 < float(resid.std()) <= 0.055


def _policy_cfg(**kw):
    return ZSSRConfig.preset("paper", **kw)


def test_the_policy_fits_only_its_window():
    from napari_zssr.core.train import _policy

    cfg = _policy_cfg(run_test_every=50, learning_rate_slope_range=200)  # a window of 4 tests
    steps = list(range(50, 501, 50))
    falling_then_flat = [1.0, 0.8, 0.6, 0.4, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]
    # the whole history falls steeply; its last 4 tests are flat: the rate must drop
    assert _policy(1e-3, steps, falling_then_flat, cfg) == (1e-4, True)
    still_falling = [1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.5, 0.3, 0.1]
    assert _policy(1e-3, steps, still_falling, cfg) == (1e-3, False)


@pytest.mark.parametrize("every, window", [(300, 256), (50, 150)])
def test_a_window_of_fewer_than_4_tests_leaves_the_rate_alone(every, window):
    from napari_zssr.core.train import _policy

    cfg = _policy_cfg(run_test_every=every, learning_rate_slope_range=window)
    steps = [every * (i + 1) for i in range(10)]
    flat = [0.1] * 10  # the whole history says "stalled"; the window holds 0 or 3 tests
    assert _policy(1e-3, steps, flat, cfg) == (1e-3, False)


def test_a_config_that_never_tests_runs_with_a_constant_rate(structured_image, tiny_config):
    cfg = tiny_config.replace(learning_rate_policy="reference", run_test_every=1000, max_iters=40, min_iters=40,
                              learning_rate_slope_range=4, learning_rate_policy_check_every=4)
    out, report = run_zssr(structured_image, 2, config=cfg)
    assert report.steps == [40] and np.all(np.isfinite(out))
    assert {lr for *_, lr in report.history} == {cfg.learning_rate}
    assert np.isfinite(report.gain_db)  # measured once at the end
