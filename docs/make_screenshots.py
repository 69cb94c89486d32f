"""Refresh the screenshots of docs/user-guide.md in docs/images: a real napari window, run under Xvfb, with
the widget docked as the Plugins menu docks it.

    xvfb-run -a -s "-screen 0 1900x1200x24" python docs/make_screenshots.py [--only NAME ...] [--steps N]

Each picture is one task of the guide, made by pressing the widget's buttons on a bundled sample with the
"fast" preset and few training steps (STEPS; about a minute in all on two idle CPU cores, several where
another process trains too; each run's own time shows in its picture):

- make_isotropic.png: the panel after "make isotropic" on the anisotropic nuclei stack, with the time
  beside Run (no run);
- widget_xz.png: the same stack after Run, source over result in an XZ view (the guide's first picture);
- widget_2d.png: the 2-D cell sample enlarged x2, source beside result;
- big_store.png: the stack as a lazy (dask) layer, its result written to a zarr store in the folder
  given in "big results in" (the widget's RAM threshold is lowered so that this small sample takes the
  path a big result takes);
- distrust.png: a run with a wrong Gaussian from optics (NA 0.5, far wider along z than the data's blur):
  the over-sharpened result, the status's figures and napari's warning notifications.
"""

import argparse
import os
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHOTS = ("make_isotropic", "widget_xz", "widget_2d", "big_store", "distrust")
# max training steps per picture (0: the preset's own, 300 to 600): the guide's first picture and the 2-D
# one show what a user gets (the cell needs the preset's own steps to beat cubic with the default kernel);
# the others show the widget's behaviour, which few steps already give
STEPS = {"make_isotropic": 0, "widget_xz": 300, "widget_2d": 0, "big_store": 100, "distrust": 100}
Y_ROW = 86  # the row of the nuclei stack the XZ views show: through three nuclei


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, help="max steps per network in every picture (default: STEPS)")
    ap.add_argument("--out", default=os.path.join(HERE, "images"))
    ap.add_argument("--only", nargs="+", choices=SHOTS, default=list(SHOTS))
    args = ap.parse_args()
    import napari
    from napari.settings import get_settings

    get_settings().application.gui_notification_level = "warning"  # as a user sees it: warnings pop up
    try:  # a warning's notification stays until the picture is taken, however slow the machine
        from napari._qt.dialogs.qt_notification import NapariQtNotification

        NapariQtNotification.DISMISS_AFTER = 3_600_000
    except ImportError:
        pass
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1800, 1050)  # the dock at its own width: the status's final words fit
    _, widget = viewer.window.add_plugin_dock_widget("napari-zssr", "ZSSR super-resolution")
    os.makedirs(args.out, exist_ok=True)
    shots = Shots(viewer, widget, args.out, args.steps)
    t_all = time.perf_counter()
    for name in args.only:
        t0 = time.perf_counter()
        shots.steps = STEPS[name] if args.steps is None else args.steps
        getattr(shots, name)()
        print(f"{name}.png: {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"all: {time.perf_counter() - t_all:.0f} s")
    viewer.close()


def pump(seconds: float = 0.0, until=None, limit: float = 600.0) -> None:
    """Let Qt run for ``seconds``, or until ``until()`` holds (at most ``limit`` seconds)."""
    from qtpy.QtWidgets import QApplication

    t0 = time.perf_counter()
    while True:
        QApplication.processEvents()
        elapsed = time.perf_counter() - t0
        if (until is None and elapsed >= seconds) or (until is not None and until()) or elapsed > limit:
            return
        time.sleep(0.05)


class Shots:
    def __init__(self, viewer, widget, out, steps):
        self.viewer, self.w, self.out, self.steps = viewer, widget, out, steps
        canvas = getattr(viewer, "canvas", None)  # napari 0.9 moved the grid there
        self.grid = canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid

    # ------------------------------------------------------------------ helpers

    def fresh(self, sample: str):
        """The viewer with one bundled sample, chosen in the widget (which fills axes and factors), and no
        notification left from the last picture."""
        from qtpy.QtWidgets import QApplication

        for toast in QApplication.allWidgets():
            if type(toast).__name__ == "NapariQtNotification":
                toast.close()
        self.viewer.layers.clear()
        self.grid.enabled = False
        self.viewer.open_sample("napari-zssr", sample)
        self.viewer.dims.order = tuple(range(self.viewer.dims.ndim))
        layer = self.viewer.layers[-1]
        self.w.layer.value = layer
        self.w.mode.value = "auto"
        self.w.preset.value = "fast"
        self.w.max_steps.value = self.steps
        self.w.kernel.value = "default"
        self.w.store_folder.value = None
        self.w.ram_fraction = type(self.w).ram_fraction
        return layer

    def wait_estimate(self) -> None:
        """Until the time beside Run is worked out for the settings shown."""
        est = self.w.estimate
        pump(0.6)  # the estimate starts after a short wait for more typing
        pump(until=lambda: est.worker is None and est.shown_for is not None, limit=120)

    def run(self):
        """Press Run and wait for the result (and for the estimate, which comes back after a run)."""
        worker = self.w.run()
        if worker is None:
            raise RuntimeError(f"the widget refused the run: {self.w.status.value}")
        done = []
        worker.finished.connect(lambda: done.append(True))
        pump(until=lambda: bool(done))
        pump(0.5)
        self.wait_estimate()
        print("   status:", self.w.status.value)
        return self.viewer.layers[-1]

    def xz_view(self, y_index: float, grid=True) -> None:
        """Z down, X across, at row ``y_index`` of the source: the axis made isotropic on screen."""
        src = self.viewer.layers[0]
        self.grid.enabled = grid
        if grid:
            self.grid.shape = (2, 1)
        self.viewer.dims.order = (1, 0, 2)
        self.viewer.dims.set_point(1, src.translate[1] + y_index * src.scale[1])
        pump(0.3)
        self.viewer.reset_view()
        pump(0.3)

    def save(self, name: str, canvas_only: bool = False) -> None:
        from qtpy.QtWidgets import QApplication, QLineEdit

        if QApplication.focusWidget() is not None:
            QApplication.focusWidget().clearFocus()
        for edit in self.w.native.findChildren(QLineEdit):  # no field's text shown selected
            edit.deselect()
        pump(0.2)
        path = os.path.join(self.out, f"{name}.png")
        self.viewer.screenshot(path, canvas_only=canvas_only)
        print("  ", path)

    # ------------------------------------------------------------------ the guide's pictures

    def make_isotropic(self) -> None:
        self.fresh("nuclei_aniso")
        self.w.make_isotropic()
        self.wait_estimate()
        print("   status:", self.w.status.value, "|", self.w.time_estimate.value)
        path = os.path.join(self.out, "make_isotropic.png")
        dock = self.w.native.parentWidget()
        while dock is not None and not dock.inherits("QDockWidget"):
            dock = dock.parentWidget()
        dock = dock or self.w.native
        from qtpy.QtCore import QPoint, QRect

        bottom = self.w.plot.mapTo(dock, QPoint(0, self.w.plot.height())).y() + 6  # not the empty dock below
        dock.grab(QRect(0, 0, dock.width(), min(bottom, dock.height()))).save(path)
        print("  ", path)

    def widget_xz(self) -> None:
        self.fresh("nuclei_aniso")
        self.w.make_isotropic()
        res = self.run()
        res.colormap = "magma"
        self.xz_view(Y_ROW)
        self.save("widget_xz")

    def widget_2d(self) -> None:
        self.fresh("cell_2d")  # factors start at 2, 2 for a 2-D image
        res = self.run()
        self.grid.enabled = True
        self.grid.shape = (1, 2)
        pump(0.3)
        self.viewer.reset_view()
        pump(0.3)
        self.viewer.layers.selection.active = res
        self.save("widget_2d")

    def big_store(self) -> None:
        import dask.array as da

        src = self.fresh("nuclei_aniso")
        lazy = self.viewer.add_image(
            da.from_array(src.data, chunks=(1, *src.data.shape[1:])), name="nuclei (lazy, dask)",
            scale=src.scale, units=src.units, axis_labels=src.axis_labels, metadata=dict(src.metadata),
            contrast_limits=src.contrast_limits)
        self.viewer.layers.remove(src)
        self.w.layer.value = lazy
        folder = os.path.join(tempfile.mkdtemp(prefix="zssr-shots-"), "results")
        os.makedirs(folder)
        self.w.store_folder.value = folder
        self.w.ram_fraction = 1e-12  # this small sample takes the path of a result too big for the RAM
        self.w.make_isotropic()
        res = self.run()
        res.colormap = "magma"
        self.xz_view(Y_ROW)
        self.save("big_store")

    def distrust(self) -> None:
        self.fresh("nuclei_aniso")
        self.w.make_isotropic()
        self.w.kernel.value = "Gaussian from optics"
        self.w.na.value = 0.5  # a wrong NA: the axial Gaussian far wider than the stack's own blur
        res = self.run()
        res.colormap = "magma"
        self.xz_view(Y_ROW)
        pump(1.5)  # the warnings' notifications have faded in (napari shows the latest on top)
        self.save("distrust")


if __name__ == "__main__":
    main()
