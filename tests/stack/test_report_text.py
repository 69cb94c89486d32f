"""stack/report_text.py: one formatting of a run's report for the CLI's summary, the widget's status and
the metadata of a result."""

import json

import numpy as np
import pytest

from napari_zssr.core.progress import UpscaleReport, ZSSRReport
from napari_zssr.stack import report_text

from ..conftest import blob_volume


@pytest.fixture(scope="module")
def estimated():
    """A real isotropic run with the axial profile read from the data, on a small stack of blobs."""
    from napari_zssr import ZSSRConfig
    from napari_zssr.stack.upscale import run_upscale

    cfg = ZSSRConfig.preset("fast", max_iters=8, min_iters=8, width=8, depth=4, crop_size=24, batch_size=2,
                            run_test_every=4, learning_rate_policy_check_every=4, learning_rate_slope_range=8,
                            back_projection_iters=2, device="cpu", precision="float32")
    stack = (blob_volume((32, 40, 40), 30, seed=3)[::4] * 3000 + 100).astype(np.float32)
    return run_upscale(stack, (4, 1, 1), axes="ZYX", kernel="estimate", config=cfg, voxel_size=(1.2, 0.3, 0.3),
                       unit="um")[1]


def test_the_cli_and_the_widget_say_the_same_findings(estimated):
    found = report_text.findings(estimated)
    assert found[0].startswith("internal gain over cubic")
    assert any(f.startswith("estimated axial profile, channel 0: sigma") and "in the voxel sizes' unit" in f
               for f in found), found
    summary = report_text.summary(estimated, source="in.tif", target="out.tif", in_shape=(8, 40, 40),
                                  out_shape=(29, 40, 40), seconds=1.0)
    status = report_text.status(estimated)
    for phrase in found:
        assert f"\n  {phrase}" in summary and f"; {phrase}" in status
    assert summary.startswith("in.tif (8, 40, 40) -> out.tif (29, 40, 40)\n  axes ZYX: isotropic mode on Z x4")
    assert status.startswith(f"done in {estimated.seconds:.1f} s on {estimated.device}")


def test_provenance_is_one_dictionary_for_layers_and_files(estimated):
    meta = report_text.provenance(estimated, factors={"Z": 4, "Y": 1, "X": 1}, source="stack")
    assert meta["software"] == "napari-zssr" and meta["version"] and meta["source"] == "stack"
    assert meta["factors"] == {"Z": 4.0, "Y": 1.0, "X": 1.0} and meta["seed"] == 0
    assert meta["config"]["max_iters"] == 8 and meta["steps"] == [u.steps for u in estimated.units]
    assert meta["estimated_sigma"] == estimated.estimated_sigma
    assert json.loads(json.dumps(meta))["plan"] == estimated.plan  # it goes into a file's description as JSON


def _unit(gain_db, steps=(8,), notes=()):
    return ZSSRReport(preset="fast", device="CPU", scale=(2, 2), schedule=[], kernel="cubic", seed=0,
                      steps=list(steps), gain_db=gain_db, notes=list(notes))


def test_the_gain_in_words():
    assert report_text.gain_text(UpscaleReport(plan="", units=[_unit(0.5)])) == (
        "internal gain over cubic on the data's own LR->HR pairs (not held out: the data is narrower than twice "
        "the crop): +0.50 dB")
    loaded = UpscaleReport(plan="", units=[_unit(float("nan"), steps=())])
    assert report_text.gain_text(loaded, applied=True) == (
        "internal gain over cubic: not measured (no network was trained in this run: the saved networks were "
        "applied)")
    assert report_text.gain_text(UpscaleReport(plan="", units=[_unit(float("nan"))])) == (
        "internal gain over cubic: not measured (the data holds too little to measure it on)")


def test_a_doubtful_result_is_flagged_and_notes_are_said_once():
    worse = UpscaleReport(plan="", notes=["retried with batch 2"], units=[_unit(-0.2, notes=["retried with batch 2",
                                                                                              "fell back"])])
    assert report_text.doubtful(worse)
    assert report_text.all_notes(worse) == ["retried with batch 2", "fell back"]
    status = report_text.status(worse, store="/tmp/r.zarr", extra=["the bead's widths: sigma_z 1"])
    assert status.endswith("; note: retried with batch 2; note: fell back; kept on disk in /tmp/r.zarr; the bead's "
                           "widths: sigma_z 1; WARNING: it may be no better than interpolation (see the notification)")
    over = UpscaleReport(plan="", units=[_unit(0.5)], axial_excess_db=[1.0, 7.5])
    assert report_text.doubtful(over) and report_text.axial_check_text(over) == [
        "axial spectrum against lateral: +1.0, +7.5 dB (over-sharpened; the bar is +3 dB)"]
    assert not report_text.doubtful(UpscaleReport(plan="", units=[_unit(0.5)]))
