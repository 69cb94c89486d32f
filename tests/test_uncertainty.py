"""The per-voxel uncertainty through every door: the API in each mode, a store, the CLI. (The widget's layer
is tested with the other widget runs, in test_napari.py.)"""

import warnings

import numpy as np
import pytest
import tifffile

from napari_zssr import upscale
from napari_zssr.cli import main
from napari_zssr.stack.upscale import run_upscale

from .conftest import blob_volume

FAST = ["--max-iters", "6", "--preset", "fast", "--quiet", "--precision", "float32", "--seed", "0"]


@pytest.fixture
def stack():
    return (blob_volume((12, 52, 50), 30) * 1000 + 100).astype(np.float32)


@pytest.mark.parametrize("mode, scale", [("isotropic", (2, 1, 1)), ("planes", (1, 2, 1.5)), ("both", (2, 2, 2))])
def test_every_mode_returns_an_uncertainty_shaped_and_placed_as_the_result(stack, tiny_config, mode, scale):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result, report = run_upscale(stack, scale, mode=mode, config=tiny_config, return_uncertainty=True)
    unc = report.uncertainty
    assert unc.shape == result.shape and unc.dtype == np.float32
    assert np.all(np.isfinite(unc)) and unc.min() >= 0 and unc.max() > 0
    # in intensity units: the scale of the data's differences, not of the normalised [0, 1] range
    assert 1e-4 * np.ptp(stack) < unc.mean() < np.ptp(stack)
    assert any("expected absolute error" in n for n in report.notes)


def test_upscale_returns_the_pair_only_when_asked(stack, tiny_config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = upscale(stack, (2, 1, 1), config=tiny_config)
        pair = upscale(stack, (2, 1, 1), config=tiny_config, return_uncertainty=True)
    assert isinstance(plain, np.ndarray)
    assert isinstance(pair, tuple) and pair[1].shape == plain.shape


def test_colour_samples_get_one_uncertainty_each(structured_image, tiny_config):
    rgb = np.stack([structured_image, structured_image[::-1], structured_image * 0.5], -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result, unc = upscale(rgb, (2, 2, 1), axes="YXS", config=tiny_config, return_uncertainty=True)
    assert unc.shape == result.shape == (80, 96, 3)
    assert unc[..., 2].mean() < unc[..., 0].mean()  # half the contrast, less error


def test_the_uncertainty_is_higher_where_the_data_cannot_be_learnt(tiny_config):
    """Left half: smooth blobs a network learns; right half: noise no network can predict."""
    rng = np.random.default_rng(3)
    vol = blob_volume((12, 48, 96), 40, radii=(3, 6)) * 1000 + 200
    vol[:, :, 48:] = 200 + 300 * rng.random((12, 48, 48))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, unc = upscale(vol.astype(np.float32), (2, 1, 1), config=tiny_config, return_uncertainty=True)
    assert unc[:, :, 52:].mean() > 1.5 * unc[:, :, :44].mean()


def test_it_costs_no_network_pass_beyond_its_calibration(stack, tiny_config, monkeypatch):
    """The map is made from the interpolated input and the fitted model: with it, the network runs on the
    held-out pair once more per training (the fit), and nowhere else."""
    from napari_zssr.core.network import ZSSRNet

    calls = {"n": 0}
    forward = ZSSRNet.forward

    def counted(self, x):
        calls["n"] += 1
        return forward(self, x)

    monkeypatch.setattr(ZSSRNet, "forward", counted)
    counts = []
    for flag in (False, True):
        calls["n"] = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            upscale(stack, (2, 1, 1), config=tiny_config, return_uncertainty=flag)
        counts.append(calls["n"])
    assert counts[0] == counts[1]  # the fit runs in both: the model travels with every trained network


def test_a_store_keeps_the_uncertainty_and_a_rerun_returns_it(stack, tiny_config, tmp_path):
    out = tmp_path / "r.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result, unc = upscale(stack, (2, 1, 1), config=tiny_config, out=str(out), return_uncertainty=True)
        again, unc2 = upscale(stack, (2, 1, 1), config=tiny_config, out=str(out), return_uncertainty=True)
    assert (out / "uncertainty").is_dir()
    assert unc.shape == result.shape
    np.testing.assert_array_equal(np.asarray(unc2), np.asarray(unc))
    # a store made without it is another job: it is refused, not handed back without the map
    with pytest.raises(FileExistsError):
        upscale(stack, (2, 1, 1), config=tiny_config, out=str(out))


def test_applied_networks_have_no_model_of_their_error(stack, tiny_config, tmp_path):
    nets = tmp_path / "n.zssr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        upscale(stack, (2, 1, 1), config=tiny_config, save_networks=str(nets))
    with pytest.raises(ValueError, match="networks file holds no model"):
        upscale(stack, (2, 1, 1), networks=str(nets), return_uncertainty=True)


def test_the_cli_writes_it_beside_a_tiff_result(tmp_path, stack):
    src, out, err = tmp_path / "s.tif", tmp_path / "o.tif", tmp_path / "err.tif"
    tifffile.imwrite(src, stack.astype(np.uint16), imagej=True, metadata={"axes": "ZYX"})
    assert main(["upscale", str(src), str(out), "--scale", "2", "1", "1", "--uncertainty", str(err), *FAST]) == 0
    result, unc = tifffile.imread(out), tifffile.imread(err)
    assert unc.shape == result.shape and unc.dtype == np.float32 and unc.max() > 0


def test_the_cli_keeps_it_in_a_zarr_store(tmp_path, stack):
    import zarr

    src, out = tmp_path / "s.tif", tmp_path / "o.zarr"
    tifffile.imwrite(src, stack.astype(np.uint16), imagej=True, metadata={"axes": "ZYX"})
    assert main(["upscale", str(src), str(out), "--scale", "2", "1", "1", "--uncertainty", *FAST]) == 0
    assert zarr.open_array(str(out / "uncertainty"), mode="r").shape == zarr.open_array(str(out / "0")).shape


@pytest.mark.parametrize("output, flag, message", [
    ("o.tif", [], "needs a file"),
    ("o.zarr", ["e.tif"], "without a file"),
    ("o.tif", ["e.png"], "written as TIFF"),
    ("o.tif", ["o.tif"], "is the input or the output"),
])
def test_the_cli_refuses_an_uncertainty_file_it_cannot_write_before_running(tmp_path, stack, capsys, output, flag,
                                                                           message):
    src = tmp_path / "s.tif"
    tifffile.imwrite(src, stack.astype(np.uint16), imagej=True, metadata={"axes": "ZYX"})
    args = ["upscale", str(src), str(tmp_path / output), "--scale", "2", "1", "1", "--uncertainty",
            *[str(tmp_path / f) for f in flag], *FAST]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / output).exists()


def test_planes_too_small_to_fit_a_model_on_are_refused_before_training(tiny_config):
    with pytest.raises(ValueError, match="needs planes of at least 8 x 8"):
        upscale(np.random.default_rng(0).random((3, 12, 12)) * 100, (1, 2, 2), mode="planes", config=tiny_config,
                return_uncertainty=True)


def test_a_lost_uncertainty_chunk_of_a_stored_run_is_computed_again(stack, tiny_config, tmp_path):
    """The done flag covers the uncertainty too: a unit whose uncertainty no longer reads back is redone."""
    from napari_zssr import Cancelled

    out = tmp_path / "r.zarr"

    def stop_after_first(p):
        return not (p.get("stage") == "infer" and p.get("done", 0) >= 1)

    cfg = tiny_config.replace(tile_pixels=12 * 50 * 8)  # slabs of 8 rows: several units
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Cancelled):
            upscale(stack, (2, 1, 1), config=cfg, out=str(out), return_uncertainty=True, callback=stop_after_first)
    chunks = [p for p in (tmp_path / "r.zarr.partial" / "uncertainty").rglob("*") if p.is_file()
              and not p.name.startswith((".", "zarr"))]
    assert chunks
    for chunk in chunks:
        chunk.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, report = run_upscale(stack, (2, 1, 1), config=cfg, out=str(out), return_uncertainty=True)
    assert any("no longer read back as written" in n for n in report.notes)
