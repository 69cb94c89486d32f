"""Precision: each one within tolerance of float32 on tiny images; a precision the device cannot run is
a clear error; "auto" is decided by a probe, once per process, and reported; the precision used is
part of saved networks and store fingerprints."""

import numpy as np
import pytest
import torch

from napari_zssr import ZSSRConfig, run_zssr, upscale
from napari_zssr.core.precision import choose, probe, resolve_precision

from ..compare import assert_close

CPU = torch.device("cpu")


def _bf16_runs_on_the_cpu() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3))
        return True
    except RuntimeError:
        return False


needs_bf16 = pytest.mark.skipif(not _bf16_runs_on_the_cpu(), reason="bfloat16 autocast does not run on this CPU")


def test_config_checks_the_precision_name():
    with pytest.raises(ValueError, match="precision must be one of auto, float32, bfloat16, float16"):
        ZSSRConfig(precision="float8")
    assert ZSSRConfig().precision == "auto"


@needs_bf16
def test_bfloat16_is_within_tolerance_of_float32(structured_image, tiny_config):
    ref, rep32 = run_zssr(structured_image, 2, config=tiny_config)
    low, rep16 = run_zssr(structured_image, 2, config=tiny_config.replace(precision="bfloat16"))
    assert rep32.precision == "float32" and rep16.precision == "bfloat16"
    # bfloat16 keeps 8 bits of mantissa in the convolutions; the loss, resizes and output stay float32
    assert_close(low, ref, 1e-2)
    assert np.abs(low - ref).max() > 0  # it did run in another precision


@needs_bf16
def test_bfloat16_in_isotropic_mode(stack, tiny_config):
    ref = upscale(stack, (3, 1, 1), config=tiny_config)
    low = upscale(stack, (3, 1, 1), config=tiny_config.replace(precision="bfloat16"))
    assert_close(low, ref, 1e-2)


def test_float16_that_does_not_run_is_a_clear_error_or_runs_within_tolerance(structured_image, tiny_config):
    cfg = tiny_config.replace(precision="float16")
    try:
        out, rep = run_zssr(structured_image, 2, config=cfg)
    except ValueError as exc:
        assert "precision 'float16' does not run on CPU" in str(exc)
        return
    assert rep.precision == "float16"
    assert_close(out, run_zssr(structured_image, 2, config=tiny_config)[0], 1e-2)


def test_auto_probes_once_per_shape_and_reports_its_figures(structured_image, tiny_config):
    cfg = tiny_config.replace(precision="auto")
    first = probe(CPU, 1, cfg.width, cfg.depth, cfg.crop_size, cfg.batch_size)
    again = probe(CPU, 1, cfg.width, cfg.depth, cfg.crop_size, cfg.batch_size)
    assert again is first  # cached: the choice cannot flip within a process
    assert "float32" in first["times"] and all(t > 0 for t in first["times"].values())
    resolved, measured = resolve_precision(cfg, CPU, 1)
    assert resolved.precision == choose(first) and measured is first
    out, rep = run_zssr(structured_image, 2, config=cfg)
    assert rep.precision == resolved.precision and rep.precision_probe is first
    assert np.all(np.isfinite(out))


def test_choose_needs_a_clear_gain_over_float32():
    assert choose({"times": {"float32": 1.0, "bfloat16": 0.95}}) == "float32"
    assert choose({"times": {"float32": 1.0, "bfloat16": 0.5}}) == "bfloat16"
    assert choose({"times": {"float32": 1.0}}) == "float32"


def test_the_precision_used_is_saved_with_the_networks(stack, tiny_config, tmp_path):
    from napari_zssr.stack.networks import load_networks
    from napari_zssr.stack.upscale import run_upscale

    path = tmp_path / "nets.pt"
    _, rep = run_upscale(stack, (1, 2, 2), config=tiny_config.replace(precision="auto"), save_networks=str(path))
    assert rep.precision in ("float32", "bfloat16", "float16")
    saved = load_networks(path)
    assert saved["config"]["precision"] == rep.precision  # resolved before saving, kept with the weights
    _, again = run_upscale(stack, (1, 2, 2), networks=str(path))
    assert again.precision == rep.precision  # applying them uses the same precision


@needs_bf16
def test_a_store_of_one_precision_is_not_resumed_in_another(stack, tiny_config, tmp_path):
    out = str(tmp_path / "o.zarr")
    upscale(stack, (1, 2, 2), config=tiny_config, out=out)
    with pytest.raises(FileExistsError, match=r"o\.zarr exists and holds the result of another run \(other input or "
                                              r"settings\); pass overwrite=True"):
        upscale(stack, (1, 2, 2), config=tiny_config.replace(precision="bfloat16"), out=out)
