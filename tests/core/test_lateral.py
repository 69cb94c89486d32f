"""core/lateral.py: the lateral (2-D) network trained on fathers drawn from one image or a channel's planes,
and applied with the ensemble and back-projection: the report and progress of a training, its network, its
seeds, gradual steps and a cancel that lands inside training."""

import numpy as np
import pytest
import torch

from napari_zssr import Cancelled, imresize
from napari_zssr.core.config import schedule_for
from napari_zssr.core.lateral import predict, start_report, train_zssr
from napari_zssr.core.progress import Progress, Stage
from napari_zssr.core.resize import Kernel

CPU = torch.device("cpu")
CUBIC = Kernel("cubic")


@pytest.fixture
def plane(structured_image):
    """The conftest image normalised to 0..1, as the units hand planes to the network."""
    img = structured_image.astype(np.float64)
    return ((img - img.min()) / np.ptp(img)).astype(np.float32)


def _train(plane, cfg, seed=0, callback=None, scale=(2.0, 2.0)):
    seen = []
    progress = Progress(callback or (lambda p: seen.append(dict(p))), {})
    report = start_report(cfg, CPU, scale, "cubic", progress, "a test plan")
    net = train_zssr([torch.as_tensor(plane[None])], scale, CUBIC, cfg, CPU, progress, seed, report)
    return net, report, seen


def test_the_report_records_the_run_and_its_start_is_announced(tiny_config):
    seen = []
    progress = Progress(lambda p: seen.append(dict(p)), {})
    cfg = tiny_config.replace(gradual_steps=2)
    report = start_report(cfg, CPU, (2.0, 3.0), "cubic", progress, "a test plan")
    assert (report.preset, report.scale, report.kernel, report.seed, report.precision) == (
        "fast", (2.0, 3.0), "cubic", 0, "float32")
    assert report.schedule == schedule_for(cfg, (2.0, 3.0)) and report.device.startswith("CPU")
    assert len(report.schedule) == 2 and report.schedule[-1] == (2.0, 3.0)
    assert report.steps == [] and np.isnan(report.gain_db)  # nothing trained yet
    # one event, sent whatever the interval, carrying what every later event of the run carries
    assert seen == [{"preset": "fast", "device": report.device, "plan": "a test plan", "scale": (2.0, 3.0),
                     "precision": "float32", "stage": Stage.START, "step": 0, "total": tiny_config.max_iters}]


def test_a_network_trained_on_a_plane_enlarges_it_by_its_scale(plane, tiny_config):
    net, report, seen = _train(plane, tiny_config)
    assert (net.kind, net.scale, net.channels, net.bp_iters) == ("lateral", (2.0, 2.0), 1, 2)
    assert net.device.type == "cpu" and report.notes == []  # no out-of-memory retry on the way
    assert report.steps == [tiny_config.max_iters] and np.isfinite(report.gain_db)
    assert [p["stage"] for p in seen].count(Stage.INFER) == 1 and seen[-1]["gain_db"] == report.gain_db
    out = predict(net, torch.as_tensor(plane[None]), CUBIC, tiny_config, CPU)
    assert out.shape == (1, 80, 96) and out.dtype == torch.float32 and torch.isfinite(out).all()
    # a few steps stay close to cubic interpolation, in the plane's own units
    cubic = imresize(plane.astype(np.float64), 2)
    assert np.abs(out[0].numpy() - cubic).mean() < 0.1 * plane.std()


def test_the_same_seed_trains_the_same_network_and_another_seed_another(plane, tiny_config):
    x = torch.as_tensor(plane[None])
    first = predict(_train(plane, tiny_config)[0], x, CUBIC, tiny_config, CPU)
    again = predict(_train(plane, tiny_config)[0], x, CUBIC, tiny_config, CPU)
    other = predict(_train(plane, tiny_config, seed=1)[0], x, CUBIC, tiny_config, CPU)
    torch.testing.assert_close(again, first, rtol=0, atol=0)
    assert (other - first).abs().max() > 1e-5


def test_gradual_steps_train_one_stage_per_step_and_report_each(plane, tiny_config):
    net, report, seen = _train(plane, tiny_config.replace(gradual_steps=2))
    assert report.schedule == [(2.0, 1.0), (2.0, 2.0)] and report.steps == [12, 12]
    # the final pass's own progress (throttled to every 0.5 s, so present on a slow machine only) names no step
    assert [p["scale_step"] for p in seen if p["stage"] == Stage.INFER and "scale_step" in p] == [1, 2]
    assert net.scale == (2.0, 2.0)  # the last step's network is the one handed back


def test_predict_takes_another_scale_and_back_projection_pulls_the_result_onto_the_input(plane, tiny_config):
    net = _train(plane, tiny_config)[0]
    x = torch.as_tensor(plane[None])
    assert predict(net, x, CUBIC, tiny_config, CPU, scale=(1.5, 1.5)).shape == (1, 60, 72)

    def misfit(bp):  # how far the result, downscaled again, is from the input
        out = predict(net, x, CUBIC, tiny_config, CPU, bp_iters=bp)[0].numpy().astype(np.float64)
        return np.abs(imresize(out, 0.5) - plane).mean()

    none, default, more = misfit(0), misfit(None), misfit(8)
    assert more < 0.1 * default < 0.1 * none


def test_the_colours_of_an_rgb_plane_train_one_network(plane, tiny_config):
    rgb = torch.as_tensor(np.stack([plane, 1 - plane, 0.5 * plane]))
    progress = Progress(None, {})
    report = start_report(tiny_config, CPU, (2.0, 2.0), "cubic", progress, "rgb")
    net = train_zssr([rgb], (2.0, 2.0), CUBIC, tiny_config, CPU, progress, 0, report)
    assert net.channels == 3
    out = predict(net, rgb, CUBIC, tiny_config, CPU)
    assert out.shape == (3, 80, 96)
    np.testing.assert_allclose(out.mean(dim=(1, 2)).numpy(), rgb.mean(dim=(1, 2)).numpy(), atol=0.05)


def test_a_cancel_lands_inside_training(plane, tiny_config):
    stages = []

    def cancel_in_training(p):
        stages.append(p["stage"])
        return p["stage"] != Stage.TRAIN

    with pytest.raises(Cancelled, match="cancelled by the progress callback"):
        _train(plane, tiny_config.replace(max_iters=200, min_iters=200), callback=cancel_in_training)
    assert stages[-1] == Stage.TRAIN and Stage.INFER not in stages
