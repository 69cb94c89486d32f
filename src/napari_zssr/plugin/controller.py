"""Running a ``Run`` for the widget: the worker thread, progress relayed to the GUI thread, the result
added as a layer over its source, and the run stopped cleanly when the viewer closes."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import warnings

import numpy as np
from qtpy.QtCore import QEvent, QObject, Qt, QTimer, Signal

from ..stack import report_text
from ..stack.progress_words import Overall


class _Relay(QObject):
    """Carries progress and warnings from the worker thread to the GUI thread (queued Qt connections)."""

    progress = Signal(object)
    warned = Signal(object)  # (category name, text)


@contextlib.contextmanager
def relayed_warnings(emit):
    """The run's own warnings (the UserWarning and RuntimeWarning kinds, as the CLI prints them) raised in
    this thread go to ``emit((category name, text))``: napari 0.9.2 records none raised in a worker thread.
    Other threads' warnings, and other kinds, go where they went before."""
    me = threading.get_ident()
    with warnings.catch_warnings():
        before = warnings.showwarning
        for kind in (UserWarning, RuntimeWarning):  # every time, not once per place: each run is told
            warnings.simplefilter("always", kind)

        def show(message, category, filename, lineno, file=None, line=None):
            if threading.get_ident() == me and issubclass(category, (UserWarning, RuntimeWarning)):
                emit((category.__name__, str(message)))
            else:
                before(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


class _CloseWatcher(QObject):
    """Calls ``on_close`` when the watched window receives its close event (before it goes away)."""

    def __init__(self, on_close):
        super().__init__()
        self._on_close = on_close

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Close:
            self._on_close()
        return False


class RunController:
    """Runs one ``Run`` at a time for ``view`` (the widget: its ``show_status``, ``set_running`` and ``plot``)."""

    def __init__(self, viewer, view):
        self._viewer = viewer
        self._view = view
        self._relay = _Relay()
        self._relay.progress.connect(self._on_progress, Qt.QueuedConnection)
        self._relay.warned.connect(self._on_warning, Qt.QueuedConnection)
        self.overall = Overall()  # the run's progress as one fraction and one line of words
        self._warned = set()      # the warnings shown for this run, each once
        # the elapsed time moves on between progress events too (a probe may take seconds without one)
        self._ticker = QTimer()
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._show_overall)
        self.worker = None
        self.activity = None  # the run's bar in napari's activity dock
        self.stopped = threading.Event()  # set when this controller's run has left its worker function
        self.stopped.set()
        self._cancel = False
        self._closing = False
        self._t0 = 0.0
        self._temp_stores = {}  # id of a result (or uncertainty) layer -> the temporary folder of its store
        viewer.layers.events.removed.connect(self._remove_temp_store)
        # closing the viewer during a run stops the worker cleanly; the window is found through Qt (the
        # dock's top-level window) when a run starts, not through napari's internals
        self._close_watcher = _CloseWatcher(self._on_viewer_close)
        self._watched = None

    # ------------------------------------------------------------------ starting and stopping

    def start(self, run):
        """Start ``run`` in a worker thread and return the worker."""
        from napari.qt.threading import create_worker

        self._cancel = False
        self.stopped.clear()
        self._t0 = time.perf_counter()
        self.overall, self._warned = Overall(), set()
        self._watch_window()
        self._view.show_status(run.start_text(), 0)
        self._ticker.start()
        self.worker = create_worker(self._work, run)
        self.worker.returned.connect(lambda res: self._on_done(run, res))
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self._start_activity(f"ZSSR {'preview of ' if run.preview else ''}{run.layer.name}")
        self._view.set_running(True)
        self.worker.start()
        return self.worker

    def cancel(self) -> None:
        self._cancel = True

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel the run, wait for it, add nothing. Only this controller's worker is waited for, never
        the other workers of napari or of other plugins. False: it did not stop within ``timeout_ms``
        (it then ends on its own at its next progress call, and adds nothing)."""
        self._closing = True
        self._cancel = True
        self._ticker.stop()
        self._close_activity()
        worker = self.worker
        if worker is None:
            return True
        try:
            worker.quit()
        except RuntimeError:  # the worker's Qt object is already gone
            pass
        if self.stopped.wait(timeout_ms / 1000):  # a cancel lands within about a second
            return True
        logging.getLogger("napari_zssr").warning(
            "the ZSSR run did not stop within %.0f s of closing; it ends at its next progress report and adds "
            "nothing", timeout_ms / 1000)
        return False

    def _on_viewer_close(self) -> None:
        from ..stack.placement import remove_temp_folder

        self.shutdown()
        for folder in self._temp_stores.values():
            remove_temp_folder(folder)
        self._temp_stores.clear()

    def _remove_temp_store(self, event) -> None:
        """A result layer whose store the plugin put in a temporary folder is gone: so is the folder.
        A store in a folder the user chose is never removed."""
        from ..stack.placement import remove_temp_folder

        folder = self._temp_stores.pop(id(event.value), None)
        if folder not in self._temp_stores.values():  # the result and its uncertainty share one store
            remove_temp_folder(folder)

    def _watch_window(self) -> None:
        top = self._view.native.window()
        if top is not self._view.native and id(top) != self._watched:
            top.installEventFilter(self._close_watcher)
            self._watched = id(top)  # not the window itself: the widget must not keep the viewer alive

    # ------------------------------------------------------------------ the worker thread

    def _work(self, run):
        from ..core.progress import Cancelled
        from ..stack.upscale import run_upscale

        def callback(p):
            self._relay.progress.emit(dict(p))
            return not self._cancel

        from .time_estimate import MEASURING

        try:
            with MEASURING:  # an estimate measuring the device ends first (this run may measure it too)
                pass
            with relayed_warnings(self._relay.warned.emit):
                kwargs, note = run.kwargs, None
                if run.profile_from is not None:
                    kwargs, note = self._whole_stack_profile(run, run.seed, callback)
                # the config is made inside the run, after its "probing" event: the "auto" preset may time
                # the device for a few seconds, and the user is told so
                res = run_upscale(run.data, run.plan.scale, axes=run.plan.axes, mode=run.plan.mode,
                                  config=run.make_config, callback=callback, **kwargs)
            if note:
                res[1].notes.append(note)
            return res
        except Cancelled:
            return None  # a cancel is not an error: no traceback, no notification
        finally:
            self.stopped.set()

    @staticmethod
    def _whole_stack_profile(run, seed: int, callback) -> tuple:
        """A ZYX preview's kernel: the axial profile of the whole stack, read from the crop and with the
        seed the full run reads it with; (keywords, note), or the run's own keywords where none is read."""
        from ..core.estimate import estimate_kernel
        from ..stack.estimates import estimate_crop

        whole = run.profile_from
        ys, xs = estimate_crop(*whole.shape[1:])
        try:
            profile, info = estimate_kernel(np.asarray(whole[:, ys, xs], dtype=np.float64),
                                            (run.whole.z_factor, 1, 1), seed=seed, callback=callback)
        except ValueError:
            return run.kwargs, None  # the band's own reading, or the cubic, as the run decides
        note = f"preview with the whole stack's axial profile (sigma {info['sigma']:.2f} px)"
        return {**run.kwargs, "kernel": profile}, note

    # ------------------------------------------------------------------ back on the GUI thread

    def _start_activity(self, desc: str) -> None:
        from napari.utils import progress

        self._close_activity()
        self.activity = progress(total=100, desc=desc)

    def _close_activity(self) -> None:
        if self.activity is not None:
            self.activity.close()
            self.activity = None

    def _set_progress(self, percent, text: str) -> None:
        self._view.show_status(text, percent)
        bar = self.activity
        if bar is not None and percent is not None and percent > bar.n:
            bar.update(percent - bar.n)

    def _on_progress(self, p):
        """Every event goes to the one ``Overall``: one bar over the whole run, the stage in words."""
        if self._closing:
            return
        if p.get("stage") == "train" and p.get("total"):
            self._view.plot.add(p.get("loss"), p.get("rec_error"))
        self.overall.update(p)
        self._show_overall()

    def _show_overall(self) -> None:
        if self._closing or self.worker is None:
            return
        elapsed = time.perf_counter() - self._t0
        self._set_progress(int(100 * self.overall.fraction), f"{self.overall.words} - {elapsed:.0f} s elapsed")

    def _on_warning(self, warned) -> None:
        """A warning of the run, shown once per run as napari shows warnings (its notification manager)."""
        from napari.utils.notifications import show_warning

        if self._closing or warned in self._warned:
            return
        self._warned.add(warned)
        kind, text = warned
        show_warning(f"ZSSR: {text}" if kind in ("UserWarning", "QualityWarning") else f"ZSSR ({kind}): {text}")

    def _on_done(self, run, res):
        self._ticker.stop()  # the final words stay
        if self._closing:
            return  # the viewer was closed during the run: nothing to add, nobody to tell
        if res is None:
            self._view.show_status("cancelled; no layer was added")
            return
        out, report = res
        store = None
        if not isinstance(out, np.ndarray):  # a zarr store on disk: napari reads it lazily
            import dask.array as da

            store = str(getattr(out.store, "root", out.store))
            out = da.from_zarr(out)
        added = add_result(self._viewer, run, out, report, store)
        layers = [added]
        if report.uncertainty is not None:
            layers.append(add_uncertainty(self._viewer, added, report.uncertainty))
        if store and run.temp_folder is not None:
            self._temp_stores.update({id(layer): run.temp_folder for layer in layers})
        extra = [note for note in (run.kernel_note if not run.preview else "",
                                   f"WARNING: {run.net_note}" if run.net_note else "") if note]
        text = report_text.status(report, applied=run.applying, store=store, extra=extra, unit=run.kwargs.get("unit"))
        if run.preview:
            text = f"preview {text}; {_estimate(run, report, math.prod(out.shape))}"
        self._view.show_status(text, 100)

    def _on_error(self, exc):
        # napari's worker already notifies the user of the error (once); the status says it too
        self._ticker.stop()
        if not self._closing:
            self._view.show_status(f"error: {exc}")

    def _on_finished(self):
        self.worker = None
        self._ticker.stop()
        self._close_activity()
        if not self._closing:
            self._view.set_running(False)


def add_result(viewer, run, out, report, store=None):
    """The result as a new image layer over its source: scale and origin from the plan, display settings
    and units from the source, the run's provenance in its metadata."""
    from ..stack.plan import output_geometry
    from .layers import layer_geometry

    layer, plan = run.layer, run.plan
    scale, translate = layer_geometry(layer)
    # a preview region: its first voxel sits start voxels into the layer
    translate = [t + s0 * s for t, s0, s in zip(translate, run.start or [0] * len(scale), scale)]
    new_scale, new_translate = output_geometry(plan, scale, translate)
    if layer.rgb:
        new_scale, new_translate = new_scale[:-1], new_translate[:-1]
    meta = report_text.provenance(report, factors=dict(zip(plan.axes, plan.scale)), source=layer.name)
    if store:
        meta["store"] = store
    f_txt = "x".join(f"{f:g}" for a, f in zip(plan.axes, plan.scale) if a not in "CT")
    kwargs = {"name": f"{layer.name} ZSSR {f_txt}{' preview' if run.preview else ''}", "scale": new_scale,
              "translate": new_translate, "metadata": {"axes": plan.axes, "zssr": meta}, "rgb": layer.rgb,
              "blending": layer.blending, "colormap": layer.colormap.name}
    for key in ("units", "axis_labels"):
        if getattr(layer, key, None) is not None:
            kwargs[key] = getattr(layer, key)
    if not layer.rgb:
        kwargs["contrast_limits"] = layer.contrast_limits
    return viewer.add_image(out, **kwargs)


def add_uncertainty(viewer, result_layer, uncertainty):
    """The expected absolute error of each voxel as a hidden layer exactly over the result: shown when the
    user asks, it marks where the detail is a guess."""
    data = uncertainty
    if not isinstance(data, np.ndarray):  # kept in the result's store: read lazily
        import dask.array as da

        data = da.from_zarr(data)
    if result_layer.rgb:  # one error per colour: shown as their mean, over the RGB result
        data = data.mean(axis=-1)
    meta = {"axes": result_layer.metadata.get("axes", "").replace("S", ""), "zssr_uncertainty_of": result_layer.name}
    kwargs = {"name": f"{result_layer.name} uncertainty", "scale": result_layer.scale,
              "translate": result_layer.translate, "colormap": "magma", "blending": "additive", "visible": False,
              "metadata": meta}
    for key in ("units", "axis_labels"):
        value = getattr(result_layer, key, None)
        if value is not None:
            kwargs[key] = value
    return viewer.add_image(data, **kwargs)


def _estimate(run, report, preview_voxels: int) -> str:
    """The whole layer's run, estimated from a preview's (stack.preview)."""
    from ..stack.preview import estimate_run
    from .layers import layer_data

    est = estimate_run(layer_data(run.layer).shape, run.whole, report, preview_voxels)
    return (f"the whole layer: about {est['seconds']:.0f} s, result {est['shape']} "
            f"({est['megabytes']:.0f} MB as float32)")
