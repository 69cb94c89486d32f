"""The plugin in a real napari viewer (Xvfb through pytest-xvfb), no mocks."""

import re

import numpy as np
import pytest

napari = pytest.importorskip("napari")

from napari_zssr import estimate_kernel  # noqa: E402
from napari_zssr.plugin.reader import napari_get_reader  # noqa: E402
from napari_zssr.plugin.sample_data import nuclei_aniso_sample  # noqa: E402
from napari_zssr.plugin.widget import ZSSRWidget  # noqa: E402
from napari_zssr.plugin.writer import write_single_image  # noqa: E402


def _widget(viewer):
    """The widget docked in ``viewer``, as napari opens it: its layer lists then follow the viewer's layers."""
    widget = ZSSRWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return widget


def _tiny(widget):
    widget.preset.value = "fast"
    widget.precision.value = "float32"
    widget.max_steps.value = 8
    widget.device.value = "cpu"


def _run_and_wait(qtbot, widget, timeout=120_000, preview=False):
    worker = widget.preview() if preview else widget.run()
    assert worker is not None
    # the widget's own slot on `finished` (connected before the worker started) enables Run again;
    # waiting on the signal here instead would miss it when a run fails at once (queued before we listen)
    qtbot.waitUntil(lambda: widget.run_btn.enabled, timeout=timeout)
    return worker


@pytest.fixture
def viewer_with_stack(make_napari_viewer):
    viewer = make_napari_viewer()
    data, kwargs, _ = nuclei_aniso_sample()[0]
    layer = viewer.add_image(data, **kwargs)
    return viewer, layer


def test_widget_isotropic_result_overlays_source(qtbot, viewer_with_stack):
    viewer, src = viewer_with_stack
    widget = _widget(viewer)
    assert widget.layer.value is src and widget.axes.value == "ZYX"
    widget.factors.value = "1, 1, 1"
    widget.make_isotropic()
    assert widget.parsed_factors()[0] == pytest.approx(1.16 / 0.26, rel=1e-3)
    _tiny(widget)
    before = src.data.copy()
    _run_and_wait(qtbot, widget)
    assert len(viewer.layers) == 2
    out = viewer.layers[-1]
    assert out.data.shape == (63, 128, 128)
    np.testing.assert_allclose(out.scale, [0.26, 0.26, 0.26], rtol=1e-3)
    # point samples: plane 0 stays where it was, so the translate is the source's
    np.testing.assert_allclose(out.translate, src.translate)
    np.testing.assert_array_equal(src.data, before)
    assert [str(u) for u in out.units] == [str(u) for u in src.units]
    assert "gain" in widget.status.value
    # the default kernel along z is the profile read from the stack, and the user is told what it was
    assert widget.kernel.value == "default" and "estimated axial profile, channel 0: sigma" in widget.status.value
    assert out.metadata["zssr"]["kernel"].startswith("estimate(sigma")


def test_widget_both_modes_with_anisotropic_factors(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    src = viewer.add_image(rng.random((4, 20, 24)).astype(np.float32), scale=(2.0, 0.5, 0.5), translate=(1, 3, 5))
    widget = _widget(viewer)
    widget.factors.value = "4, 2, 2"
    _tiny(widget)
    _run_and_wait(qtbot, widget)
    out = viewer.layers[-1]
    assert out.data.shape == (13, 40, 48)
    np.testing.assert_allclose(out.scale, [0.5, 0.25, 0.25])
    # z: point samples keep the origin; y/x: pixel areas shift by (s/f - s)/2
    np.testing.assert_allclose(out.translate, [1, 3 + (0.25 - 0.5) / 2, 5 + (0.25 - 0.5) / 2])
    # the first output pixel centre lies at the left edge of the first source pixel plus a quarter pixel
    assert out.data_to_world((0, 0, 0))[1] == pytest.approx(src.data_to_world((0, 0, 0))[1] - 0.125)


def test_cancel_leaves_no_layer(qtbot, viewer_with_stack):
    viewer, _ = viewer_with_stack
    widget = _widget(viewer)
    widget.preset.value = "fast"
    widget.max_steps.value = 5000
    widget.device.value = "cpu"
    widget.precision.value = "float32"
    widget.factors.value = "4, 1, 1"
    assert widget.run() is not None
    qtbot.waitUntil(lambda: widget.progress.value > 0 or "training" in widget.status.value, timeout=60_000)
    widget.cancel()
    qtbot.waitUntil(lambda: widget.run_btn.enabled, timeout=10_000)  # the run ended
    assert len(viewer.layers) == 1
    qtbot.waitUntil(lambda: "cancelled" in widget.status.value, timeout=5000)
    assert widget.run_btn.enabled


def test_errors_reach_the_user_and_widget_stays_usable(qtbot, viewer_with_stack):
    viewer, _ = viewer_with_stack
    widget = _widget(viewer)
    widget.factors.value = "0.5, 1, 1"
    assert widget.run() is None
    assert "only enlarges" in widget.status.value
    widget.factors.value = "1, 2"
    assert widget.run() is None and "one factor per axis" in widget.status.value
    assert widget.run_btn.enabled and len(viewer.layers) == 1


def test_reader_and_writer_round_trip(tmp_path, make_napari_viewer):
    viewer = make_napari_viewer()
    data = (np.random.default_rng(1).random((5, 16, 18)) * 1000).astype(np.uint16)
    layer = viewer.add_image(data, scale=(1.2, 0.3, 0.3), units=("um", "um", "um"), metadata={"axes": "ZYX"})
    path = str(tmp_path / "saved.tif")
    write_single_image(path, layer.data, {"scale": layer.scale, "units": layer.units, "metadata": layer.metadata})
    reader = napari_get_reader(path)
    assert reader is not None and napari_get_reader(str(tmp_path / "x.png")) is None
    (back, kwargs, kind), = reader(path)
    assert kind == "image"
    np.testing.assert_array_equal(back, data)
    np.testing.assert_allclose(kwargs["scale"], [1.2, 0.3, 0.3])
    assert kwargs["metadata"]["axes"] == "ZYX" and kwargs["units"] == ["um"] * 3
    viewer.open(path, plugin="napari-zssr")
    np.testing.assert_allclose(viewer.layers[-1].scale, [1.2, 0.3, 0.3])


def test_sample_data_opens_with_scale(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-zssr", "nuclei_aniso")
    np.testing.assert_allclose(viewer.layers[-1].scale, [1.16, 0.26, 0.26])


def test_manifest_is_valid_and_installed():
    from npe2 import PluginManifest

    pm = PluginManifest.from_distribution("napari-zssr")
    assert pm.name == "napari-zssr"
    assert {w.display_name for w in pm.contributions.widgets} == {"ZSSR super-resolution"}
    assert {s.key for s in pm.contributions.sample_data} == {"nuclei_aniso", "cell_2d"}
    import pathlib

    root = pathlib.Path(__file__).parents[1]  # the top-level manifest is the packaged one
    assert (root / "napari.yaml").read_text() == (root / "src" / "napari_zssr" / "napari.yaml").read_text()


def test_closing_the_viewer_during_a_run_stops_the_worker_cleanly(qtbot, make_napari_viewer, caplog):
    import logging

    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(0).random((40, 48)).astype(np.float32))
    widget = _widget(viewer)
    widget.preset.value = "fast"
    widget.max_steps.value = 5000
    widget.device.value = "cpu"
    widget.precision.value = "float32"
    worker = widget.run()
    assert worker is not None
    outcome = {"finished": False, "errors": [], "returned": []}
    worker.finished.connect(lambda: outcome.__setitem__("finished", True))
    worker.errored.connect(outcome["errors"].append)
    worker.returned.connect(outcome["returned"].append)
    qtbot.waitUntil(lambda: "training" in widget.status.value, timeout=60_000)
    added = []
    viewer.layers.events.inserted.connect(lambda e: added.append(e.value))
    with caplog.at_level(logging.WARNING):
        viewer.close()
        qtbot.waitUntil(lambda: outcome["finished"], timeout=15_000)
        qtbot.wait(100)
    assert outcome["errors"] == []
    assert outcome["returned"] in ([], [None])  # aborted, or cancelled with nothing to return
    assert added == []  # closing the viewer empties it; the run must not add its result afterwards
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_dask_layer_in_and_result_too_big_for_ram_comes_back_as_a_dask_layer(qtbot, make_napari_viewer, tmp_path):
    import os

    import dask.array as da

    viewer = make_napari_viewer()
    data = np.random.default_rng(0).random((3, 20, 24)).astype(np.float32)
    src = viewer.add_image(da.from_array(data, chunks=(1, 20, 24)), scale=(1.0, 0.5, 0.5))
    widget = _widget(viewer)
    widget.factors.value = "1, 2, 2"
    _tiny(widget)
    _run_and_wait(qtbot, widget)
    in_ram = viewer.layers[-1]
    assert isinstance(in_ram.data, np.ndarray)
    widget.layer.value = src
    widget.ram_fraction = 0.0  # any result is "too big": it goes to a zarr store on disk
    _run_and_wait(qtbot, widget)
    on_disk = viewer.layers[-1]
    assert isinstance(on_disk.data, da.Array) and on_disk.data.shape == (3, 40, 48)
    np.testing.assert_allclose(np.asarray(on_disk.data), in_ram.data, rtol=1e-6)
    assert "kept on disk in" in widget.status.value and on_disk.metadata["zssr"]["store"].endswith(".zarr/0")
    np.testing.assert_allclose(on_disk.scale, in_ram.scale)
    temp = os.path.dirname(os.path.dirname(on_disk.metadata["zssr"]["store"]))
    assert os.path.basename(temp).startswith("napari-zssr-") and os.path.isdir(temp)
    viewer.layers.remove(on_disk)  # the plugin's own temporary store goes with its layer
    assert not os.path.exists(temp)
    widget.store_folder.value = str(tmp_path)  # a folder the user chose: kept, never reused
    for _ in range(2):
        _run_and_wait(qtbot, widget)
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == [f"{src.name}-2.zarr", f"{src.name}.zarr"], kept
    viewer.layers.remove(viewer.layers[-1])
    assert sorted(p.name for p in tmp_path.iterdir()) == kept


def test_preview_runs_on_the_current_plane_and_estimates_the_whole_run(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    data = np.random.default_rng(0).random((5, 20, 24)).astype(np.float32)
    src = viewer.add_image(data, scale=(2.0, 0.5, 0.5), translate=(1, 3, 5))
    viewer.dims.set_point(0, src.data_to_world((3, 0, 0))[0])  # show plane 3
    widget = _widget(viewer)
    widget.factors.value = "1, 2, 2"
    _tiny(widget)
    _run_and_wait(qtbot, widget, preview=True)
    out = viewer.layers[-1]
    assert out.name.endswith("preview") and out.data.shape == (1, 40, 48)
    # the preview lies over plane 3 of the source, as the full result's plane 3 would
    assert out.data_to_world((0, 0, 0))[0] == pytest.approx(src.data_to_world((3, 0, 0))[0])
    assert "the whole layer: about" in widget.status.value and "(5, 40, 48)" in widget.status.value
    assert len(viewer.layers) == 2


def test_an_isotropic_preview_uses_the_axial_profile_of_the_whole_stack(qtbot, viewer_with_stack):
    # the preview's band is too thin to read the default's profile from: it takes the whole stack's
    viewer, src = viewer_with_stack
    widget = _widget(viewer)
    widget.factors.value = "1, 1, 1"
    widget.make_isotropic()
    _tiny(widget)
    _run_and_wait(qtbot, widget, preview=True)
    out = viewer.layers[-1]
    assert out.name.endswith("preview") and "whole stack's axial profile" in widget.status.value
    note = next(n for n in out.metadata["zssr"]["notes"] if "whole stack's axial profile" in n)
    whole = float(note.split("(sigma ")[1].split(" px")[0])
    _, info = estimate_kernel(np.asarray(src.data, dtype=np.float64), (widget.parsed_factors()[0], 1, 1),
                              seed=widget.seed.value)
    assert whole == pytest.approx(info["sigma"], abs=0.006)


@pytest.mark.parametrize("t_unit", ["second", "pixel"])
def test_make_isotropic_on_a_time_lapse_converts_spatial_axes_only(make_napari_viewer, t_unit):
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((3, 4, 16, 16), np.float32), scale=(30.0, 1200.0, 0.3, 0.3),
                             units=(t_unit, "nanometer", "micrometer", "micrometer"))
    widget = _widget(viewer)
    widget.layer.value = layer
    widget.axes.value = "TZYX"
    widget.factors.value = "1, 1, 1, 1"
    widget.make_isotropic()
    assert widget.parsed_factors() == pytest.approx([1, 4, 1, 1])
    assert widget.mode.value == "isotropic"


@pytest.mark.parametrize("units, scale, message", [
    (None, (1.0, 1.0, 1.0), "no voxel sizes"),
    (("second", "micrometer", "micrometer"), (2.0, 0.3, 0.3), "the Z axis is in second"),
    (("pixel", "micrometer", "micrometer"), (2.0, 0.3, 0.3), "the Z axis is in pixel"),
])
def test_make_isotropic_says_what_is_missing(make_napari_viewer, units, scale, message):
    viewer = make_napari_viewer()
    kw = {} if units is None else {"units": units}
    layer = viewer.add_image(np.zeros((4, 16, 16), np.float32), scale=scale, **kw)
    widget = _widget(viewer)
    widget.layer.value = layer
    widget.factors.value = "1, 1, 1"
    widget.make_isotropic()  # no exception reaches the user
    assert message in widget.status.value and widget.factors.value == "1, 1, 1"


def _long_run(qtbot, viewer):
    """A docked widget in the middle of a long run (5000 steps) on a new image; (widget, finished list)."""
    viewer.add_image(np.random.default_rng(0).random((40, 48)).astype(np.float32))
    widget = _widget(viewer)
    _tiny(widget)
    widget.max_steps.value = 5000
    worker = widget.run()
    finished = []
    worker.finished.connect(lambda: finished.append(True))
    qtbot.waitUntil(lambda: "training" in widget.status.value, timeout=60_000)
    return widget, finished


def test_closing_the_viewer_waits_for_this_widgets_run_only(qtbot, make_napari_viewer):
    import threading

    from napari.qt.threading import thread_worker

    stop, ended = threading.Event(), threading.Event()

    @thread_worker
    def other_plugins_work():
        stop.wait(20)  # some other plugin's long job
        ended.set()

    other = other_plugins_work()
    other_done = []
    other.finished.connect(lambda: other_done.append(True))
    other.start()
    viewer = make_napari_viewer()
    widget, finished = _long_run(qtbot, viewer)
    try:
        viewer.close()
        assert widget.controller.stopped.is_set(), "the widget's own run was not waited for"
        assert not ended.is_set(), "closing waited for another plugin's worker"
    finally:
        stop.set()
    qtbot.waitUntil(lambda: bool(other_done) and bool(finished), timeout=15_000)


def test_a_run_that_does_not_stop_in_time_is_reported_not_raised(qtbot, make_napari_viewer, caplog):
    import logging

    viewer = make_napari_viewer()
    widget, finished = _long_run(qtbot, viewer)
    with caplog.at_level(logging.WARNING, logger="napari_zssr"):
        assert widget.shutdown(timeout_ms=0) is False
    assert any("did not stop within" in r.getMessage() for r in caplog.records)
    qtbot.waitUntil(lambda: bool(finished), timeout=15_000)  # it still stops, at its next progress report
    assert len(viewer.layers) == 1


def test_an_rgb_layer_gets_the_answer_of_the_api(qtbot, make_napari_viewer, structured_image):
    from napari_zssr import ZSSRConfig, zssr

    viewer = make_napari_viewer()
    rgb = np.clip(np.stack([structured_image, 255 - structured_image, structured_image * 0.5 + 10], -1), 0, 255)
    src = viewer.add_image(rgb.astype(np.uint8), rgb=True)
    widget = _widget(viewer)
    widget.layer.value = src
    assert widget.axes.value == "YXS"
    widget.factors.value = "2, 2, 1"
    _tiny(widget)
    seen = _recorded(widget)
    _run_and_wait(qtbot, widget)
    out = viewer.layers[-1]
    assert out.rgb and out.data.shape == (80, 96, 3)
    words = " | ".join(s for _, s in seen)
    assert "training network: step" in words and "network 1/3" not in words  # one network over the colours
    cfg = ZSSRConfig.preset("fast", device="cpu", seed=0, precision="float32").with_max_iters(8)
    api = np.clip(np.round(zssr(rgb.astype(np.uint8), 2, config=cfg, channel_axis=-1)), 0, 255)
    assert np.abs(out.data.astype(float) - api).max() <= 1  # the same network; rounding may differ by one level


def test_opened_through_the_manifest_it_runs_with_public_names_only(qtbot, make_napari_viewer, recwarn):
    viewer = make_napari_viewer()
    src = viewer.add_image(np.random.default_rng(0).random((24, 28)).astype(np.float32), scale=(0.5, 0.5))
    _, widget = viewer.window.add_plugin_dock_widget("napari-zssr", "ZSSR super-resolution")
    assert widget.layer.value is not None and widget.layer.value.name == src.name
    _tiny(widget)
    _run_and_wait(qtbot, widget)
    assert viewer.layers[-1].data.shape == (48, 56)
    private = [w for w in recwarn if "private" in str(w.message).lower()]
    assert not private, [str(w.message) for w in private]


def test_an_error_in_the_run_is_notified_once(qtbot, make_napari_viewer):
    import dask.array as da
    from napari.utils.notifications import notification_manager

    viewer = make_napari_viewer()
    data = np.random.default_rng(0).random((3, 20, 24)).astype(np.float32)
    data[1, 5, 5] = np.nan  # found only when the lazy layer is read, inside the run
    viewer.add_image(da.from_array(data, chunks=(1, 20, 24)))
    widget = _widget(viewer)
    widget.factors.value = "1, 2, 2"
    _tiny(widget)
    before = len(notification_manager.records)
    # napari's worker relays the error to its notification manager, which in tests raises it in the event loop
    with qtbot.captureExceptions() as raised:
        _run_and_wait(qtbot, widget)
        qtbot.wait(200)
    assert len([e for e in raised if "NaN" in str(e[1])]) == 1  # napari's one notification
    ours = [str(n.message) for n in notification_manager.records[before:] if "NaN" in str(n.message)]
    assert ours == []  # and none more from the widget
    assert "error:" in widget.status.value and "NaN" in widget.status.value


def test_the_result_can_keep_the_source_dtype(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    src = viewer.add_image((np.random.default_rng(0).random((24, 28)) * 60000).astype(np.uint16))
    widget = _widget(viewer)
    widget.layer.value = src
    _tiny(widget)
    _run_and_wait(qtbot, widget)
    as_float = viewer.layers[-1].data
    assert as_float.dtype == np.float32
    widget.layer.value = src
    widget.dtype.value = "same as source"
    _run_and_wait(qtbot, widget)
    same = viewer.layers[-1].data
    assert same.dtype == np.uint16
    np.testing.assert_array_equal(same, np.clip(np.round(as_float), 0, 65535).astype(np.uint16))


def test_the_kernel_can_be_estimated_from_the_layer(qtbot, viewer_with_stack):
    viewer, src = viewer_with_stack
    widget = _widget(viewer)
    widget.factors.value = "1, 1, 1"
    widget.make_isotropic()
    widget.kernel.value = "estimate from the data"
    _tiny(widget)
    _run_and_wait(qtbot, widget)
    out = viewer.layers[-1]
    assert out.data.shape == (63, 128, 128)
    assert "estimated axial profile, channel 0: sigma" in widget.status.value
    assert out.metadata["zssr"]["kernel"].startswith("estimate(sigma")
    assert out.metadata["zssr"]["estimated_sigma"] == pytest.approx(widget_sigma(widget), abs=0.006)
    widget.layer.value = viewer.add_image(src.data[:2, :96, :96], name="crop")  # small: planes mode is per plane
    widget.factors.value = "1, 2, 2"
    widget.mode.value = "planes"  # the 2-D kernel of the planes, one per channel
    _run_and_wait(qtbot, widget)
    out = viewer.layers[-1]
    assert out.data.shape == (2, 192, 192) and "estimated 2-D kernel, channel 0: sigma" in widget.status.value
    assert np.asarray(out.metadata["zssr"]["estimated_kernel"][0]).ndim == 2
    from napari_zssr import imresize

    from .conftest import power_law_image

    made = imresize(power_law_image((192, 192), seed=6), 0.5).astype(np.float32)  # bicubic-made: bicubic stays
    widget.layer.value = viewer.add_image(made, name="bicubic-made")
    widget.factors.value = "2, 2"
    _run_and_wait(qtbot, widget)
    assert "kernel estimate kept bicubic, because the Gaussian does not fit" in widget.status.value
    assert any("kept bicubic" in n for n in viewer.layers[-1].metadata["zssr"]["notes"])


def widget_sigma(widget) -> list:
    """The axial sigmas the widget's status line shows."""
    found = re.findall(r"estimated axial profile, channel \d+: sigma ([0-9.]+) px", widget.status.value)
    return [float(v) for v in found]


def test_the_widget_is_in_the_layers_transform_menu(make_napari_viewer):
    from napari._app_model import get_app_model

    viewer = make_napari_viewer()
    app = get_app_model()
    items = [i for i in app.menus.get_menu("napari/layers/transform") if hasattr(i, "command")]
    assert "napari-zssr.widget" in [i.command.id for i in items]
    app.commands.execute_command("napari-zssr.widget").result()  # what choosing the menu item runs
    docks = viewer.window.dock_widgets
    assert any(isinstance(w, ZSSRWidget) for w in docks.values()), list(docks)


def test_networks_saved_by_one_run_are_applied_to_another_layer(qtbot, make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    rng = np.random.default_rng(3)
    first = (rng.random((4, 32, 32)) * 1000).astype(np.float32)
    a = viewer.add_image(first, name="t0", scale=(1.0, 0.3, 0.3), units=("um",) * 3)
    b = viewer.add_image(first * 0.9 + 20, name="t1", scale=(1.0, 0.3, 0.3), units=("um",) * 3)
    c = viewer.add_image(first, name="finer", scale=(1.0, 0.15, 0.15), units=("um",) * 3)
    widget = _widget(viewer)
    _tiny(widget)
    nets = tmp_path / "nets.pt"
    widget.layer.value = a
    widget.factors.value = "1, 2, 2"
    widget.save_nets.value = str(nets)
    _run_and_wait(qtbot, widget)
    assert nets.exists() and viewer.layers[-1].name.startswith("t0 ZSSR")
    widget.save_nets.value = None
    widget.apply_nets.value = str(nets)
    for layer, warned in ((b, False), (c, True)):
        widget.layer.value = layer
        widget.factors.value = "1, 2, 2"
        _run_and_wait(qtbot, widget)
        out = viewer.layers[-1]
        assert out.name.startswith(f"{layer.name} ZSSR") and out.data.shape == (4, 64, 64)
        assert "no network was trained in this run: the saved networks were applied" in widget.status.value
        assert ("trained at voxel sizes" in widget.status.value) == warned, widget.status.value
    widget.apply_nets.value = str(tmp_path / "not_networks.pt")
    (tmp_path / "not_networks.pt").write_bytes(b"junk")
    assert widget.run() is None and "not a napari-zssr networks file" in widget.status.value


def test_a_layer_without_voxel_sizes_takes_them_typed_and_guessed_axes_are_flagged(make_napari_viewer):
    viewer = make_napari_viewer()
    data = np.random.default_rng(4).random((5, 16, 16)).astype(np.float32)
    layer = viewer.add_image(data)  # as napari's own TIFF reader gives it: scale 1, no axes
    widget = _widget(viewer)
    widget.layer.value = layer
    assert widget.axes.value == "ZYX" and "guessed as ZYX from the shape" in widget.status.value
    shown = lambda w: not w.native.isHidden()  # noqa: E731 - the viewer's window itself is not shown in tests
    assert shown(widget.z_step) and shown(widget.pixel_size) and "no voxel sizes" in widget.status.value
    widget.factors.value = "1, 1, 1"
    widget.make_isotropic()  # nothing typed yet: says what is missing, changes nothing
    assert "type the z step" in widget.status.value and widget.factors.value == "1, 1, 1"
    widget.z_step.value, widget.pixel_size.value = 1.2, 0.3
    widget.make_isotropic()
    assert widget.parsed_factors() == pytest.approx([4, 1, 1])
    np.testing.assert_allclose(layer.scale, [1.2, 0.3, 0.3])  # so that the result overlays it
    assert [str(u) for u in layer.units] == ["micrometer"] * 3
    np.testing.assert_array_equal(layer.data, data)
    assert not shown(widget.z_step) and "typed z step 1.2" in widget.status.value

    labelled = viewer.add_image(data, scale=(1.2, 0.3, 0.3), units=("um",) * 3, metadata={"axes": "ZYX"})
    widget.layer.value = labelled
    assert not shown(widget.z_step) and "guessed" not in widget.status.value


def test_closing_the_viewer_removes_the_plugins_temporary_stores(qtbot, make_napari_viewer):
    import os

    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(5).random((2, 16, 16)).astype(np.float32))
    widget = _widget(viewer)
    widget.factors.value = "1, 2, 2"
    _tiny(widget)
    widget.ram_fraction = 0.0
    _run_and_wait(qtbot, widget)
    temp = os.path.dirname(os.path.dirname(viewer.layers[-1].metadata["zssr"]["store"]))
    assert os.path.isdir(temp)
    viewer.close()
    assert not os.path.exists(temp)


def test_the_papers_choices_in_the_advanced_section_reach_the_run(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.random.default_rng(6).random((24, 24)).astype(np.float32))
    widget = _widget(viewer)
    _tiny(widget)
    shown = lambda w: not w.native.isHidden()  # noqa: E731
    assert not shown(widget.gradual_steps)
    widget.advanced.value = True
    assert shown(widget.gradual_steps) and shown(widget.back_projection) and shown(widget.noise_std)
    widget.noise_std.value = "lots"
    assert widget.run() is None and "noise on the sons must be a number or 'estimate'" in widget.status.value
    widget.layer.value = layer
    widget.gradual_steps.value = 2
    widget.back_projection.value = False
    widget.noise_std.value = "0.0125"
    _run_and_wait(qtbot, widget)
    out = viewer.layers[-1]
    assert out.data.shape == (48, 48)
    used = out.metadata["zssr"]["config"]  # what the run used, kept with the result (provenance)
    assert (used["gradual_steps"], used["back_projection_iters"], used["noise_std"]) == (2, 0, 0.0125)
    assert len(out.metadata["zssr"]["steps"][0]) == 2  # two gradual steps were trained
    assert out.metadata["zssr"]["version"] and used["seed"] == 0 and out.metadata["zssr"]["source"] == layer.name
    widget.noise_std.value = "estimate"
    _run_and_wait(qtbot, widget)
    assert isinstance(viewer.layers[-1].metadata["zssr"]["config"]["noise_std"], float)  # the level read
    widget.mode.value = "isotropic"  # reaches the axial factor in one step: the field says it does not apply
    assert not widget.gradual_steps.enabled
    widget.mode.value = "planes"
    assert widget.gradual_steps.enabled


def test_a_run_shows_its_progress_in_the_activity_dock(qtbot, make_napari_viewer):
    from napari.utils import progress

    viewer = make_napari_viewer()
    layer = viewer.add_image(np.random.default_rng(7).random((24, 24)).astype(np.float32), name="cells")
    _, widget = viewer.window.add_plugin_dock_widget("napari-zssr", "ZSSR super-resolution")
    _tiny(widget)
    widget.layer.value = layer
    seen = []

    def record(e):
        seen.append((list(e.added), list(e.removed)))

    progress._all_instances.events.changed.connect(record)  # how napari's activity dock hears of bars
    try:
        _run_and_wait(qtbot, widget)
        added = [bar for a, _ in seen for bar in a]
        removed = [bar for _, r in seen for bar in r]
        ours = [bar for bar in added if bar.desc.startswith("ZSSR cells")]
        assert len(ours) == 1 and ours[0] in removed  # one bar for the run, gone when it ends
        assert ours[0].n > 0
        assert ours[0] not in progress._all_instances and widget.controller.activity is None
        widget.max_steps.value = 5000
        worker = widget.run()  # a cancelled run takes its bar away too
        returned = []
        worker.returned.connect(returned.append)
        qtbot.waitUntil(lambda: "training" in widget.status.value, timeout=60_000)
        assert widget.controller.activity in progress._all_instances
        widget.cancel()
        qtbot.waitUntil(lambda: widget.run_btn.enabled, timeout=60_000)
        assert returned == [None]  # cancelled, not finished
        assert widget.controller.activity is None
        assert not [b for b in progress._all_instances if b.desc.startswith("ZSSR")]
    finally:
        progress._all_instances.events.changed.disconnect(record)


def _bead(voxel_size, offset=100.0):
    """A widefield bead image (NA 1, 520 nm, water) on a camera offset, z first."""
    from napari_zssr import gaussian_psf

    return (gaussian_psf(1.0, 0.52, 1.33, voxel_size, shape=(41, 21, 21)) * 5e4 + offset).astype(np.float32)


def test_the_axial_kernel_comes_from_a_psf_layer(qtbot, make_napari_viewer):
    from napari_zssr.core.kernels import widefield_sigmas

    viewer = make_napari_viewer()
    um = ("um",) * 3
    src = viewer.add_image(np.random.default_rng(8).random((6, 24, 24)).astype(np.float32), name="stack",
                           scale=(1.0, 0.25, 0.25), units=um)
    bead = viewer.add_image(_bead((0.1, 0.05, 0.05)), name="bead", scale=(0.1, 0.05, 0.05), units=um)
    widget = _widget(viewer)
    _tiny(widget)
    widget.layer.value = src
    widget.factors.value = "4, 1, 1"
    widget.mode.value = "isotropic"
    widget.kernel.value = "PSF from a layer"
    assert not widget.psf_layer.native.isHidden()
    widget.psf_layer.value = src
    assert widget.run() is None and "the PSF layer is the image itself" in widget.status.value
    widget.psf_layer.value = bead
    _run_and_wait(qtbot, widget)
    out = viewer.layers[-1]
    assert out.data.shape == (21, 24, 24)
    # the bead's own voxel size places it: the axial excess over the lateral width, in result pixels (0.25 um)
    sz, sxy = widefield_sigmas(1.0, 0.52, 1.33)
    sigma = float(out.metadata["zssr"]["kernel"].split("gaussian(")[1].rstrip(")"))
    assert sigma == pytest.approx(np.sqrt(sz**2 - sxy**2) / 0.25, rel=0.02)
    assert widget.status.value.startswith("done") and "the bead's widths: sigma_z 0.456" in widget.status.value


def _state(layer) -> tuple:
    """Everything of a layer that reading it must leave as it was."""
    return (tuple(layer.scale), tuple(layer.translate), tuple(str(u) for u in layer.units), dict(layer.metadata),
            np.array(layer.data, copy=True))


def _same_state(a, b) -> bool:
    return a[:4] == b[:4] and np.array_equal(a[4], b[4])


def test_reading_a_psf_layer_changes_no_layer(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    src = viewer.add_image(np.random.default_rng(8).random((32, 32)).astype(np.float32), name="plane",
                           scale=(0.05, 0.05), units=("um", "um"))
    bead = viewer.add_image(_bead((0.1, 0.05, 0.05)), name="bead")  # scale 1, no unit: taken at the image's
    stack = viewer.add_image(np.random.default_rng(9).random((4, 16, 16)).astype(np.float32), name="no sizes")
    before = [_state(lay) for lay in (src, bead, stack)]
    widget = _widget(viewer)
    _tiny(widget)
    widget.layer.value = src
    widget.factors.value = "2, 2"
    widget.kernel.value = "PSF from a layer"
    widget.psf_layer.value = bead
    _run_and_wait(qtbot, widget)
    assert widget.status.value.startswith("done"), widget.status.value
    assert "the PSF has no voxel sizes: the image's were used (1, 0.05, 0.05)" in widget.status.value
    assert "the bead's widths: sigma_z" in widget.status.value
    assert viewer.layers[-1].metadata["zssr"]["kernel"] != "cubic"
    # a stack without sizes, its z step typed, and a PSF that cannot be placed: refused, nothing changed
    widget.layer.value = stack
    widget.factors.value = "1, 2, 2"
    widget.z_step.value, widget.pixel_size.value = 1.2, 0.3
    widget.psf_layer.value = stack
    assert widget.run() is None and "the PSF layer is the image itself" in widget.status.value
    assert all(_same_state(b, _state(lay)) for b, lay in zip(before, (src, bead, stack)))


def test_the_layer_lists_follow_the_viewers_layers(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = _widget(viewer)
    assert widget.layer.value is None and list(widget.layer.choices) == []
    first = viewer.add_image(np.zeros((8, 10), np.float32), name="first")
    assert list(widget.layer.choices) == [first] and widget.layer.value is first
    assert widget.axes.value == "YX" and widget.factors.value == "2, 2"  # the chosen layer's fields filled
    viewer.add_points(np.zeros((1, 2)))  # not an image: not offered
    bead = viewer.add_image(_bead((0.1, 0.05, 0.05)), name="bead")
    assert list(widget.layer.choices) == [first, bead] and bead in widget.psf_layer.choices
    viewer.layers.remove(first)
    assert list(widget.layer.choices) == [bead] and first not in widget.psf_layer.choices
    assert widget.layer.value is bead


def test_a_time_lapse_ome_tiff_is_made_isotropic_with_one_network_for_all_time_points(qtbot, make_napari_viewer,
                                                                                      tmp_path):
    import tifffile

    path = str(tmp_path / "timelapse.ome.tif")
    data = (np.random.default_rng(9).random((2, 4, 16, 16)) * 1000).astype(np.uint16)
    tifffile.imwrite(path, data, ome=True, photometric="minisblack",
                     metadata={"axes": "TZYX", "PhysicalSizeZ": 1.2, "PhysicalSizeY": 0.3, "PhysicalSizeX": 0.3})
    viewer = make_napari_viewer()
    layer, = viewer.open(path, plugin="napari-zssr")
    _, widget = viewer.window.add_plugin_dock_widget("napari-zssr", "ZSSR super-resolution")
    widget.layer.value = layer
    assert widget.axes.value == "TZYX"
    widget.factors.value = "1, 1, 1, 1"
    widget.make_isotropic()
    assert widget.parsed_factors() == pytest.approx([1, 4, 1, 1]) and widget.mode.value == "isotropic"
    _tiny(widget)
    worker = widget.run()
    assert "one network per channel for all time points" in widget.status.value  # said as the run starts
    qtbot.waitUntil(lambda: widget.run_btn.enabled, timeout=120_000)
    assert worker is not None
    out = viewer.layers[-1]
    assert out.data.shape == (2, 13, 16, 16)
    np.testing.assert_allclose(out.scale[1:], [0.3, 0.3, 0.3])
    assert len(out.metadata["zssr"]["steps"]) == 1  # one network trained, applied to both time points
    np.testing.assert_array_equal(layer.data, data)


def test_a_layer_in_nanometres_with_optics_and_saved_networks_gets_the_same_kernel(qtbot, make_napari_viewer,
                                                                                    tmp_path):
    """The optics' voxel sizes and the networks' voxel sizes reach the run in one unit: saving networks
    must not change the axial kernel the optics give (once, a nm layer's sizes replaced the optics' um)."""
    viewer = make_napari_viewer()
    data = (np.random.default_rng(2).random((6, 24, 24)) * 1000).astype(np.uint16)
    widget = _widget(viewer)
    kernels = []
    for scale, unit in (((1.2, 0.3, 0.3), "um"), ((1200.0, 300.0, 300.0), "nm")):
        layer = viewer.add_image(data, name=unit, scale=scale, units=(unit,) * 3, metadata={"axes": "ZYX"})
        widget.layer.value = layer
        widget.factors.value = "4, 1, 1"
        widget.kernel.value = "Gaussian from optics"
        widget.save_nets.value = str(tmp_path / f"{unit}.pt")
        _tiny(widget)
        _run_and_wait(qtbot, widget)
        assert viewer.layers[-1] is not layer, widget.status.value
        kernels.append(viewer.layers[-1].metadata["zssr"]["kernel"])
    assert kernels[0] == kernels[1] and "sigma" in kernels[0], kernels


def test_make_isotropic_on_a_fresh_stack_changes_z_only_and_says_what_it_set(viewer_with_stack):
    viewer, _ = viewer_with_stack  # the bundled sample: z step 1.16 um, pixels 0.26 um
    widget = _widget(viewer)
    assert widget.factors.value == "1, 1, 1" and widget.mode.value == "auto"  # a stack starts with no x2 laterally
    assert widget.run() is None and "factors are all 1: press make isotropic" in widget.status.value
    widget.make_isotropic()
    assert widget.parsed_factors() == pytest.approx([1.16 / 0.26, 1, 1], rel=1e-5)
    assert widget.mode.value == "isotropic"
    assert widget.status.value == ("z factor 4.46154 from the layer's z step 1.16 um and pixel size 0.26 um; "
                                   "lateral factors kept at 1; mode isotropic")
    widget.factors.value = "1, 2, 2"  # lateral factors the user typed are kept, and z follows them
    widget.make_isotropic()
    assert widget.parsed_factors() == pytest.approx([1.16 / 0.13, 2, 2], rel=1e-5)
    assert widget.mode.value == "both" and "lateral factors kept at 2; mode both" in widget.status.value
    widget.layer.value = viewer.add_image(np.zeros((8, 10), np.float32), name="plane")
    assert widget.factors.value == "2, 2"  # a 2-D image still starts at x2
    assert widget.mode.value == "auto"  # the stack's mode ("both") cannot fit a 2-D image


def test_fixing_the_axes_or_the_sizes_updates_what_the_panel_says(make_napari_viewer):
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((5, 16, 16), np.float32))  # scale 1, no axes, no units
    widget = _widget(viewer)
    shown = lambda w: not w.native.isHidden()  # noqa: E731
    assert shown(widget.z_step) and "no voxel sizes" in widget.status.value and "guessed" in widget.status.value
    widget.axes.value = "TYX"  # a time-lapse: no z, so no z step to ask for, and x2 laterally
    assert not shown(widget.z_step) and widget.status.value == "" and widget.factors.value == "1, 2, 2"
    widget.axes.value = "ZYX"
    assert shown(widget.z_step) and "no voxel sizes" in widget.status.value and widget.factors.value == "1, 1, 1"
    layer.scale, layer.units = (1.2, 0.3, 0.3), ("um",) * 3  # the user gave the layer its sizes in napari
    assert not shown(widget.z_step) and not shown(widget.pixel_size) and "no voxel sizes" not in widget.status.value
    widget.make_isotropic()
    assert widget.parsed_factors() == pytest.approx([4, 1, 1])
    assert "no voxel sizes" not in widget.status.value and "z factor 4 from the layer's z step 1.2 um" in \
        widget.status.value


def test_a_warning_raised_in_the_run_reaches_naparis_notifications_once(qtbot, make_napari_viewer):
    from napari.utils.notifications import notification_manager

    viewer = make_napari_viewer()
    # too small to read a kernel from: the run falls back to bicubic with a QualityWarning, in the worker thread
    viewer.add_image(np.random.default_rng(0).random((24, 28)).astype(np.float32))
    widget = _widget(viewer)
    _tiny(widget)
    widget.kernel.value = "estimate from the data"
    for run in (1, 2):  # each run tells its own warnings
        before = len(notification_manager.records)
        _run_and_wait(qtbot, widget)
        qtbot.wait(50)
        said = [str(n.message) for n in notification_manager.records[before:]]
        ours = [m for m in said if "the kernel could not be estimated" in m]
        assert len(ours) == 1, said
        assert "too small to read its kernel from" in ours[0] and ours[0].startswith("ZSSR: channel 0")
        assert str(notification_manager.records[before:][said.index(ours[0])].severity) == "warning"


def _recorded(widget) -> list:
    """(progress, status) each time the run shows its status (the widget's own show_status still runs)."""
    seen, show = [], widget.show_status

    def record(text, percent=None):
        show(text, percent)
        seen.append((widget.progress.value, widget.status.value))

    widget.show_status = record
    return seen


def test_one_bar_over_the_whole_run_with_its_stage_in_words(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(0).random((4, 20, 24)).astype(np.float32), scale=(2.0, 0.5, 0.5))
    widget = _widget(viewer)
    widget.factors.value = "4, 2, 2"  # planes, then isotropic: two stages, one bar
    _tiny(widget)
    seen = _recorded(widget)
    _run_and_wait(qtbot, widget)
    during = [(v, s) for v, s in seen[1:] if not s.startswith("done")]  # after the plan's line, before the end
    assert during[0][1].startswith("checking the input")  # said from the first event, before any training
    bar = [v for v, _ in during]
    assert bar == sorted(bar) and bar[-1] >= 90  # never starts over
    words = " | ".join(s for _, s in during)
    first, second = words.index("planes stage (1/2): training network"), words.index("isotropic stage (2/2)")
    assert first < second and "applying the network" in words
    assert "network 1/" not in words  # one network per stage trains here: no count
    assert seen[-1][1].startswith("done") and widget.progress.value == 100


def test_the_time_of_a_run_is_shown_beside_run_before_it_starts(qtbot, make_napari_viewer):
    import torch

    from napari_zssr.core.precision import auto_preset
    from napari_zssr.plugin.time_estimate import estimate_words
    from napari_zssr.stack.choices import Training, config_factory
    from napari_zssr.stack.plan import make_plan

    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(0).random((3, 24, 28)).astype(np.float32))
    widget = _widget(viewer)
    _tiny(widget)
    qtbot.waitUntil(lambda: widget.time_estimate.value.startswith("no estimate: the factors are all 1"),
                    timeout=5000)
    widget.factors.value = "1, 2, 2"
    assert not widget.time_estimate.value.startswith("about")  # worked out in a worker, not in this call
    qtbot.waitUntil(lambda: widget.time_estimate.value.startswith("about"), timeout=60_000)
    fast = Training(preset="fast", device="cpu", precision="float32", max_steps=8)
    expected = estimate_words(make_plan((3, 24, 28), (1, 2, 2)), (3, 24, 28), config_factory(fast))
    assert widget.time_estimate.value == expected and expected.endswith("preset fast")
    widget.preset.value = "auto"  # resolved as the run resolves it (a probe, once per machine)
    qtbot.waitUntil(lambda: bool(widget.estimate.shown_for) and widget.estimate.shown_for[-1].preset == "auto",
                    timeout=60_000)
    assert widget.time_estimate.value.endswith(f"preset {auto_preset(torch.device('cpu'))[0]}")


def test_the_uncertainty_comes_as_a_hidden_layer_exactly_over_the_result(qtbot, viewer_with_stack):
    viewer, src = viewer_with_stack
    widget = _widget(viewer)
    widget.factors.value = "2, 1, 1"
    _tiny(widget)
    widget.uncertainty.value = True
    _run_and_wait(qtbot, widget)
    assert len(viewer.layers) == 3, widget.status.value
    result, unc = viewer.layers[1], viewer.layers[2]
    assert unc.name == f"{result.name} uncertainty" and not unc.visible
    assert unc.data.shape == result.data.shape and unc.data.dtype == np.float32
    np.testing.assert_allclose(unc.scale, result.scale)
    np.testing.assert_allclose(unc.translate, result.translate)
    assert float(np.asarray(unc.data).max()) > 0
