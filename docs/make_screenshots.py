"""Refresh the screenshots in docs/images: a real napari window (run under Xvfb), the widget docked.

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_screenshots.py [--steps 300]

Opens the bundled anisotropic nuclei stack, runs the widget's "make isotropic" with the fast
preset, and saves the window with the source and the result side by side in an XZ view.
"""

import argparse
import os
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", default=os.path.join(HERE, "images"))
    args = ap.parse_args()
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_zssr.plugin.widget import ZSSRWidget

    from napari.settings import get_settings

    get_settings().application.gui_notification_level = "none"
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 900)
    viewer.open_sample("napari-zssr", "nuclei_aniso")
    widget = ZSSRWidget(viewer)
    viewer.window.add_dock_widget(widget, name="ZSSR super-resolution", area="right")
    widget.native.setMaximumWidth(460)
    widget.factors.value = "1, 1, 1"
    widget.make_isotropic()
    widget.preset.value = "fast"
    widget.max_steps.value = args.steps
    worker = widget.run()
    done = []
    worker.finished.connect(lambda: done.append(True))
    while not done:
        QApplication.processEvents()
        time.sleep(0.05)
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    res = viewer.layers[-1]
    res.colormap = "magma"
    viewer.grid.enabled = True
    viewer.grid.shape = (2, 1)
    viewer.dims.order = (1, 0, 2)  # show Z (rows) against X: the axis ZSSR enlarged
    viewer.dims.set_point(1, 64 * 0.26)
    viewer.reset_view()
    os.makedirs(args.out, exist_ok=True)
    viewer.screenshot(os.path.join(args.out, "widget_xz.png"), canvas_only=False)
    viewer.grid.enabled = False
    viewer.dims.order = (0, 1, 2)
    viewer.dims.set_point(0, 7 * 1.16)
    viewer.reset_view()
    viewer.screenshot(os.path.join(args.out, "widget_xy.png"), canvas_only=False)
    print("gain", res.metadata["zssr"]["gain_db"], "shape", np.shape(res.data))
    viewer.close()


if __name__ == "__main__":
    main()
