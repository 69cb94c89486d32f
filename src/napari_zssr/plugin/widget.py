"""The "ZSSR super-resolution" dock widget: choose a layer, factors and settings; run in a thread."""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    LineEdit,
    ProgressBar,
    PushButton,
    SpinBox,
)
from qtpy.QtCore import QEvent, QObject, Qt, Signal

from ..core.config import PRECISIONS
from ..stack.plan import MODES
from .loss_plot import LossPlot

PRESETS = ["auto", "fast", "paper", "gradual", "real (noisy data)"]
# "default": along z (isotropic) the profile read from the data, cubic where it cannot be read; in
# planes bicubic, the paper's. The indices below are used by name in _on_kernel and _kernel_args.
KERNELS = ["default", "Gaussian from optics", "file", "estimate from the data", "PSF from a layer", "cubic"]


def _merged(*parts: dict) -> dict:
    """upscale() keywords from several helpers; one that two of them set must agree (a voxel size in
    another unit would otherwise replace the first silently)."""
    out = {}
    for part in parts:
        for key, value in part.items():
            if key in out and not _same(out[key], value):
                raise ValueError(f"internal: two settings disagree on {key} ({out[key]!r} and {value!r})")
            out[key] = value
    return out


def _same(a, b) -> bool:
    try:
        return bool(np.all(np.asarray(a) == np.asarray(b)))
    except (TypeError, ValueError):
        return a is b


class _Relay(QObject):
    """Carries progress from the worker thread to the GUI thread (a queued Qt connection)."""

    progress = Signal(object)


class _CloseWatcher(QObject):
    """Calls ``on_close`` when the watched window receives its close event (before it goes away)."""

    def __init__(self, on_close):
        super().__init__()
        self._on_close = on_close

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Close:
            self._on_close()
        return False


def guess_axes(layer) -> str:
    """Axis letters for a layer: from our own metadata, from axis labels, or from its shape."""
    nd = layer.data.ndim
    md = (layer.metadata or {}).get("axes")
    if isinstance(md, str) and len(md) == nd:
        return md
    labels = [str(a).upper() for a in getattr(layer, "axis_labels", ())]
    if layer.rgb:
        spatial = labels if all(a in "TZYX" and len(a) == 1 for a in labels) and len(set(labels)) == len(labels) \
            else list("TZYX"[-(nd - 1):])
        return "".join(spatial) + "S"  # RGB colour samples: one network over the colours, as the API and CLI
    if len(labels) == nd and all(len(a) == 1 and a in "TCZYX" for a in labels) and len(set(labels)) == nd:
        return "".join(labels)
    return {2: "YX", 3: "ZYX", 4: "TZYX", 5: "TCZYX"}.get(nd, "")


def axes_from_shape_only(layer) -> bool:
    """True where ``guess_axes`` had nothing but the shape to go by (no axes in the metadata, no letter
    labels): then ZYX may really be TYX, and the user should say."""
    md = (layer.metadata or {}).get("axes")
    if isinstance(md, str) and len(md) == layer.data.ndim:
        return False
    labels = [str(a).upper() for a in getattr(layer, "axis_labels", ())]
    return not (labels and all(len(a) == 1 and a in "TCZYXS" for a in labels))


def layer_geometry(layer, axes: str):
    """(scale, translate) per letter of ``axes``; an RGB channel axis gets 1 and 0."""
    scale, translate = list(layer.scale), list(layer.translate)
    if layer.rgb:
        scale, translate = scale + [1.0], translate + [0.0]
    return scale, translate


def spatial_sizes_of(layer, axes: str) -> tuple:
    """The layer's voxel sizes per letter of Z, Y, X in one unit, and that unit (io.units.spatial_sizes)."""
    from ..io.units import spatial_sizes

    scale, _ = layer_geometry(layer, axes)
    units = list(getattr(layer, "units", None) or [None] * layer.ndim) + ([None] if layer.rgb else [])
    return spatial_sizes(axes, scale, units if len(units) == len(axes) else None)


def device_choices():
    import torch

    from ..core.device import describe_device, resolve_device

    out = [(f"auto ({describe_device(resolve_device('auto'))})", "auto"), ("CPU", "cpu")]
    for i in range(torch.cuda.device_count()):
        out.append((f"CUDA {i}: {torch.cuda.get_device_name(i)}", f"cuda:{i}"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(("Apple MPS", "mps"))
    return out


class ZSSRWidget(Container):
    """Upscale an image layer with ZSSR and add the result as a new layer over it."""

    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        from napari.layers import Image

        self._viewer = napari_viewer
        self._image_type = Image
        self.layer = ComboBox(label="image", choices=self._layer_choices, nullable=True)
        self.axes = LineEdit(label="axes", tooltip="T, C, Z, Y, X, S per array axis (C: channels, one network each; "
                                                   "S: RGB colours, one network for all)")
        self.mode = ComboBox(label="mode", choices=["auto", *MODES], value="auto")
        self.factors = LineEdit(label="factors", tooltip="one factor per axis, e.g. 4, 1, 1 for z x4")
        self.make_iso = PushButton(text="make isotropic (z factor from the layer's scale)")
        # for layers without voxel sizes (napari's own TIFF reader, or a file without them)
        self.z_step = FloatSpinBox(label="z step (um)", min=0.0, max=1e4, step=0.05, value=0.0, visible=False,
                                   tooltip="the layer has no voxel sizes: type the z step to make it isotropic")
        self.pixel_size = FloatSpinBox(label="pixel size (um)", min=0.0, max=1e4, step=0.01, value=0.0,
                                       visible=False, tooltip="the lateral pixel size of the layer")
        self.preset = ComboBox(label="preset", choices=PRESETS, value="auto")
        self.max_steps = SpinBox(label="max steps", min=0, max=100000, value=0,
                                 tooltip="cap on training steps per network; 0: the preset's own")
        self.kernel = ComboBox(label="kernel", choices=KERNELS, value=KERNELS[0],
                               tooltip="default: along z, the axial blur read from the stack (cubic where it "
                                       "cannot be read); in planes, bicubic (the paper's). cubic: the cubic "
                                       "stretched to the factor, always. estimate: read from the data in every mode")
        self.na = FloatSpinBox(label="NA", min=0.05, max=1.7, step=0.05, value=1.0, visible=False)
        self.wavelength = FloatSpinBox(label="wavelength (nm)", min=200, max=2000, step=10, value=520, visible=False)
        self.ri = FloatSpinBox(label="refractive index", min=1.0, max=2.0, step=0.01, value=1.33, visible=False)
        self.kernel_file = FileEdit(label="kernel file", filter="*.npy *.tif *.tiff *.mat", visible=False)
        self.psf_layer = ComboBox(label="PSF layer", choices=self._layer_choices, nullable=True, visible=False,
                                  tooltip="an image of one bead (a measured PSF, z first) or a computed PSF; its "
                                          "scale is its voxel size (without one, the image's own is assumed)")
        self.seed = SpinBox(label="seed", min=0, max=2**31 - 1, value=0)
        self.device = ComboBox(label="device", choices=device_choices())
        self.dtype = ComboBox(label="output", choices=["float32", "same as source"], value="float32",
                              tooltip="float32, or the source's type (rounded and clipped)")
        self.precision = ComboBox(label="precision", choices=list(PRECISIONS), value="auto",
                                  tooltip="the network's precision; auto: the fastest a short probe finds correct")
        self.save_nets = FileEdit(label="save networks", mode="w", filter="*.pt", nullable=True,
                                  tooltip="after the run, save the trained networks (one per channel) to this file, "
                                          "to apply them to other layers of the same acquisition")
        self.apply_nets = FileEdit(label="apply networks", mode="r", filter="*.pt", nullable=True,
                                   tooltip="apply networks saved by an earlier run instead of training (their "
                                           "settings and kernel are used)")
        self.store_folder = FileEdit(label="big results in", mode="d", nullable=True,
                                     tooltip="results too big for RAM are written to a zarr store in this folder "
                                             "and kept; empty: a temporary folder, removed with its layer")
        # the paper's other run-time choices, in the same words as the API and the CLI
        self.advanced = CheckBox(text="advanced settings (the paper's choices)", value=False)
        self.gradual_steps = SpinBox(label="gradual steps", min=0, max=20, value=0, visible=False,
                                     tooltip="gradual scale increases (paper: 6); 0: the preset's own. Isotropic "
                                             "mode reaches the axial factor in one step and does not use them")
        self.back_projection = CheckBox(text="back-projection", value=True, visible=False,
                                        tooltip="make the result consistent with the input when shrunk again")
        self.noise_std = LineEdit(label="noise on the sons", value="", visible=False,
                                  tooltip="empty: the preset's own; a number in normalised units (the paper's "
                                          "'real' setting: 0.0125), or 'estimate' to read it from the data")
        self.preview_btn = PushButton(text="Preview (current plane or a band of rows)",
                                      tooltip="run on a small region first: see the result, the time it took "
                                              "and an estimate for the whole layer")
        self.run_btn = PushButton(text="Run")
        self.cancel_btn = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="progress", min=0, max=100, value=0)
        self.status = Label(label="", value="")
        self.extend([self.layer, self.axes, self.mode, self.factors, self.make_iso, self.z_step, self.pixel_size,
                     self.preset, self.max_steps,
                     self.kernel, self.na, self.wavelength, self.ri, self.kernel_file, self.psf_layer,
                     self.seed, self.device,
                     self.precision, self.dtype, self.store_folder, self.save_nets, self.apply_nets,
                     self.advanced, self.gradual_steps, self.back_projection, self.noise_std,
                     self.preview_btn, self.run_btn, self.cancel_btn, self.progress, self.status])
        self.status.native.setWordWrap(True)  # long messages must not widen the dock
        self.plot = LossPlot()
        self.native.layout().addWidget(self.plot)

        self._relay = _Relay()
        self._relay.progress.connect(self._on_progress, Qt.QueuedConnection)
        self._worker = None
        self._activity = None  # the run's bar in napari's activity dock
        self._net_note = ""  # why networks applied to this layer may not fit it
        self._psf_note = ""  # which voxel size the PSF layer was taken at, where it has none of its own
        self._applying = False  # this run applies saved networks
        self._sizes_missing = False  # the layer has no voxel sizes: the typed ones are used
        self._run_temp = None  # the temporary folder of this run's store, if it has one
        self._stopped = threading.Event()  # set when this widget's run has left its worker function
        self._stopped.set()
        self._cancel = False
        self._closing = False
        self._t0 = 0.0
        self.layer.changed.connect(self._on_layer)
        self.kernel.changed.connect(self._on_kernel)
        self.mode.changed.connect(self._on_mode)
        self.make_iso.changed.connect(self.make_isotropic)
        self.advanced.changed.connect(self._on_advanced)
        self.run_btn.changed.connect(self.run)
        self.preview_btn.changed.connect(self.preview)
        self.cancel_btn.changed.connect(self.cancel)
        napari_viewer.layers.events.inserted.connect(self._refresh_layers)
        napari_viewer.layers.events.removed.connect(self._refresh_layers)
        self._refresh_layers()
        # closing the viewer (or deleting the dock) during a run stops the worker cleanly; the window is
        # found through Qt (the dock's top-level window) when a run starts, not through napari's internals
        self._close_watcher = _CloseWatcher(self._on_viewer_close)
        self._temp_stores = {}  # id of a result layer -> the temporary folder of its store
        napari_viewer.layers.events.removed.connect(self._remove_temp_store)
        self._watched = None
        self.native.destroyed.connect(self.shutdown)

    def _remove_temp_store(self, event) -> None:
        """A result layer whose store the plugin put in a temporary folder is gone: so is the folder.
        A store in a folder the user chose is never removed."""
        from ..stack.placement import remove_temp_folder

        remove_temp_folder(self._temp_stores.pop(id(event.value), None))

    def _on_viewer_close(self) -> None:
        from ..stack.placement import remove_temp_folder

        self.shutdown()
        for folder in self._temp_stores.values():
            remove_temp_folder(folder)
        self._temp_stores.clear()

    def shutdown(self, *_, timeout_ms: int = 30_000) -> bool:
        """The viewer or the widget is going away: cancel this widget's run, wait for it, add nothing.

        Only this widget's own worker is waited for, never the other workers of napari or of other
        plugins. Returns False when the run did not stop within ``timeout_ms`` (it then ends on its
        own at its next progress call, and adds nothing).
        """
        self._closing = True
        self._cancel = True
        self._close_activity()
        worker = self._worker
        if worker is None:
            return True
        try:
            worker.quit()
        except RuntimeError:  # the worker's Qt object is already gone
            pass
        # a cancel lands within about a second
        if self._stopped.wait(timeout_ms / 1000):
            return True
        import logging

        logging.getLogger("napari_zssr").warning(
            "the ZSSR run did not stop within %.0f s of closing; it ends at its next progress report and adds "
            "nothing", timeout_ms / 1000)
        return False

    def _refresh_layers(self, *_):
        self.layer.reset_choices()
        self.psf_layer.reset_choices()
        choices = self._layer_choices()
        if self.layer.value is None and choices:
            self.layer.value = choices[-1][1]

    # ------------------------------------------------------------------ inputs

    def _layer_choices(self, widget=None):
        return [(lay.name, lay) for lay in self._viewer.layers if isinstance(lay, self._image_type)]

    def _on_layer(self, layer):
        if layer is None:
            return
        axes = guess_axes(layer)
        self.axes.value = axes
        self.factors.value = ", ".join("2" if a in "YX" else "1" for a in axes)
        missing = "Z" in axes and not self._has_voxel_sizes(layer, axes)
        self._sizes_missing = missing
        self.z_step.visible = self.pixel_size.visible = missing
        notes = []
        if layer.data.ndim - int(layer.rgb) >= 3 and axes_from_shape_only(layer):  # RGB's last axis is S
            notes.append(f"axes guessed as {axes} from the shape: check them (a time-lapse is TYX, and ZYX on "
                         f"it would interpolate between time points)")
        if missing:
            notes.append("the layer has no voxel sizes: type the z step and pixel size to make it isotropic")
        self.status.value = "; ".join(notes)

    @staticmethod
    def _has_voxel_sizes(layer, axes: str) -> bool:
        try:
            spatial_sizes_of(layer, axes)
        except ValueError:
            return False
        return True

    def _on_kernel(self, value):
        optics = value == KERNELS[1]
        for w in (self.na, self.wavelength, self.ri):
            w.visible = optics
        self.kernel_file.visible = value == KERNELS[2]
        self.psf_layer.visible = value == KERNELS[4]

    def parsed_factors(self):
        text = self.factors.value.replace(";", ",")
        try:
            vals = [float(v) for v in text.replace(",", " ").split()]
        except ValueError:
            raise ValueError(f"factors must be numbers separated by commas, got {self.factors.value!r}") from None
        if len(vals) != len(self.axes.value):
            raise ValueError(f"give one factor per axis ({len(self.axes.value)} for axes {self.axes.value}), "
                             f"got {len(vals)}")
        return vals

    def make_isotropic(self, *_):
        """Fill the z factor so that the z step becomes the lateral pixel size: f_z = s_z / (s_xy / f_xy)."""
        layer, axes = self.layer.value, self.axes.value.upper()
        if layer is None or "Z" not in axes:
            self.status.value = "make isotropic needs an image with a Z axis"
            return
        typed = self._sizes_missing and self.z_step.value > 0 and self.pixel_size.value > 0
        try:
            vals = self.parsed_factors()
            steps = self._typed_sizes(layer, axes) if typed else spatial_sizes_of(layer, axes)[0]
        except ValueError as exc:
            hint = "; or type the z step and the pixel size" if self._sizes_missing else ""
            self.status.value = f"make isotropic: {exc}{hint}"
            return
        zi, xi = axes.index("Z"), axes.index("X")
        fz = steps["Z"] / (steps["X"] / vals[xi])
        if fz <= 1.0 + 1e-9:
            self.status.value = f"the z step ({steps['Z']:g}) is not coarser than the pixel size: nothing to do"
            return
        vals[zi] = round(fz, 4)
        self.factors.value = ", ".join(f"{v:g}" for v in vals)
        if typed:
            self.status.value = (f"the layer's scale is now the typed z step {steps['Z']:g} um and pixel size "
                                 f"{steps['X']:g} um; z factor {vals[zi]:g}")
        if self.mode.value == "auto" and all(v == 1 for a, v in zip(axes, vals) if a in "YX"):
            self.mode.value = "isotropic"

    def _apply_typed_sizes(self, layer, axes: str) -> None:
        """The typed z step and pixel size, where the layer has none, become its scale: here, when a run
        starts, and only here, so that the result overlays the source."""
        if self._sizes_missing and self.z_step.value > 0 and self.pixel_size.value > 0:
            self._typed_sizes(layer, axes)

    def _typed_sizes(self, layer, axes: str) -> dict:
        """The typed z step and pixel size, given to the layer as its scale (in um) so that the result,
        scaled from it, overlays the source; the data itself is not touched."""
        z, xy = float(self.z_step.value), float(self.pixel_size.value)
        sizes = {"Z": z, "Y": xy, "X": xy}
        scale, _ = layer_geometry(layer, axes)
        scale = [sizes.get(a, v) for a, v in zip(axes, scale)]
        layer.scale = scale[:-1] if layer.rgb else scale
        units = list(getattr(layer, "units", None) or ["pixel"] * layer.ndim)
        spatial = [a for a in axes if a != "S"]
        layer.units = [("um" if a in sizes else u) for a, u in zip(spatial, units)]
        self._sizes_missing = False
        self.z_step.visible = self.pixel_size.visible = False
        return sizes

    def _config(self):
        """A function that builds the run's config; the settings are read and checked now, on the GUI thread."""
        from ..core.config import ZSSRConfig
        from ..core.device import resolve_device
        from ..core.precision import auto_preset_name

        dev = resolve_device(self.device.value)
        name = self.preset.value.split()[0]
        over = {"seed": int(self.seed.value), "device": self.device.value, "precision": self.precision.value,
                **self._advanced_overrides()}
        steps = int(self.max_steps.value)
        ZSSRConfig.preset("fast" if name == "auto" else name, **over)  # a bad setting is refused before the run

        def make():
            cfg = ZSSRConfig.preset(auto_preset_name(dev) if name == "auto" else name, **over)
            return cfg.with_max_iters(steps) if steps else cfg

        return make

    def _on_mode(self, mode: str) -> None:
        # isotropic mode reaches the axial factor in one step (its pairs are built along z at that factor)
        self.gradual_steps.enabled = mode != "isotropic"

    def _on_advanced(self, shown: bool) -> None:
        for w in (self.gradual_steps, self.back_projection, self.noise_std):
            w.visible = bool(shown)

    def _advanced_overrides(self) -> dict:
        """ZSSRConfig fields from the advanced section; untouched fields keep the preset's values."""
        over = {}
        if self.gradual_steps.value:
            over["gradual_steps"] = int(self.gradual_steps.value)
        if not self.back_projection.value:
            over["back_projection_iters"] = 0
        text = self.noise_std.value.strip()
        if text:
            if text.lower() == "estimate":
                over["noise_std"] = "estimate"
            else:
                try:
                    over["noise_std"] = float(text)
                except ValueError:
                    raise ValueError(f"noise on the sons must be a number or 'estimate', got {text!r}") from None
        return over

    def _kernel_args(self, layer, axes, factors, mode):
        self._psf_note = ""
        if self.kernel.value == KERNELS[0]:
            return {}
        if self.kernel.value == KERNELS[2]:
            from ..io import read_kernel

            return {"kernel": read_kernel(self.kernel_file.value)}
        if self.kernel.value == KERNELS[3]:
            return {"kernel": "estimate"}
        if self.kernel.value == KERNELS[5]:
            return {"kernel": "cubic"}
        if self.kernel.value == KERNELS[4]:
            return self._psf_args(layer, axes, factors, mode)
        from ..io.units import to_unit
        from ..stack.optics import optics_kernel

        # the wavelength (typed in nm) goes into the layer's unit, so that the voxel sizes given with the
        # PSF are the layer's own, as every other voxel size of the run is
        sizes, unit = spatial_sizes_of(layer, axes)
        wavelength = to_unit(self.wavelength.value, "nm", unit) if unit is not None else self.wavelength.value / 1000.0
        return optics_kernel(axes, sizes, factors, mode, self.na.value, wavelength, self.ri.value)

    def _psf_args(self, layer, axes, factors, mode) -> dict:
        """The kernel from the PSF layer, its voxel size in the image's unit: from its own scale, or, where
        it has none, the image's (a bead imaged as the data was); the status says which."""
        from ..io.units import to_unit
        from ..stack.optics import measured_psf_kernel

        psf = self.psf_layer.value
        if psf is None:
            raise ValueError("choose the layer that holds the PSF (an image of one bead)")
        if psf is layer:
            raise ValueError(f"the PSF layer is the image itself ({layer.name!r}); choose an image of one bead")
        if psf.rgb or psf.ndim not in (2, 3):
            raise ValueError(f"the PSF layer {psf.name!r} must be a 2-D (z, x) or 3-D (z, y, x) grey image, got "
                             f"{'an RGB image' if psf.rgb else f'{psf.ndim} axes'}")
        data = psf.data[0] if getattr(psf, "multiscale", False) else psf.data
        psf_axes = "ZYX" if psf.ndim == 3 else ("YX" if mode == "planes" else "ZX")
        image_known, psf_known = self._has_voxel_sizes(layer, axes), self._has_voxel_sizes(psf, psf_axes)
        if image_known:
            sizes, unit = spatial_sizes_of(layer, axes)
        elif mode != "planes" or psf_known:
            raise ValueError("the PSF is placed on the result's grid by the image's voxel sizes, and the image "
                             "has none: type the z step and pixel size (or set the layer's scale)")
        else:  # planes mode, neither has sizes: the bead was imaged on the image's own pixel grid
            sizes, unit = {a: 1.0 for a in "ZYX"}, None
        if psf_known:
            own, own_unit = spatial_sizes_of(psf, psf_axes)
            if (own_unit is None) != (unit is None):
                raise ValueError(f"the PSF layer's voxel sizes are in {own_unit or 'no unit'} and the image's in "
                                 f"{unit or 'no unit'}: these do not convert")
            psf_vs = [own[a] if unit is None else to_unit(own[a], own_unit, unit) for a in psf_axes]
        else:
            psf_vs = [sizes.get(a, 1.0) for a in psf_axes]
            self._psf_note = (f"the PSF layer has no voxel sizes: the image's were used "
                              f"({', '.join(f'{v:g}' for v in psf_vs)})")
        kw, (sig_z, sig_xy) = measured_psf_kernel(data, psf_vs, axes, sizes, factors, mode)
        bead = f"the bead's widths: sigma_z {sig_z:.3g}, sigma_xy {sig_xy:.3g} {unit or 'pixels'}"
        self._psf_note = f"{self._psf_note}; {bead}" if self._psf_note else bead
        return kw

    def _network_args(self, layer, axes) -> dict:
        """``save_networks=`` and ``networks=`` from the two file fields, with the layer's voxel sizes so
        that networks applied to data of another pixel size say so."""
        kw = {}
        self._net_note = ""
        save, apply = ("" if f.value is None else str(f.value) for f in (self.save_nets, self.apply_nets))
        if save:  # the file dialog asked before replacing; the file is replaced only once the run has finished
            kw["save_networks"] = save
            kw["overwrite"] = True
        if apply:
            kw["networks"] = apply
        if kw:
            try:
                sizes, unit = spatial_sizes_of(layer, axes)
            except ValueError:  # no voxel sizes, or axes without a length unit: nothing to compare
                sizes, unit = {}, None
            if unit is not None and sizes:  # as the optics give them: 1 on the axes that are not lengths
                kw["voxel_size"] = [sizes.get(a, 1.0) for a in axes]
                kw["unit"] = unit
        if apply:  # a file that is not ours is refused now; a pixel size that differs is said at the end too
            from ..stack.networks import load_networks, voxel_size_note

            self._net_note = voxel_size_note(load_networks(apply), kw.get("voxel_size"), kw.get("unit"))
        return kw

    # ------------------------------------------------------------------ running

    def run(self, *_):
        """Start a run in a worker thread; errors in the settings are shown at once."""
        return self._start(preview=False)

    def preview(self, *_):
        """Run on a small region: the current plane (up to 256 x 256) in planes mode, a band of 32 rows
        through all planes in isotropic mode; the status then estimates the whole run."""
        return self._start(preview=True)

    def _start(self, preview: bool):
        from napari.qt.threading import create_worker
        from napari.utils.notifications import show_error

        from ..stack.blocks import as_array
        from ..stack.plan import make_plan

        try:
            layer = self.layer.value
            if layer is None:
                raise ValueError("choose an image layer")
            axes = self.axes.value.upper()
            factors = self.parsed_factors()
            data = as_array(layer.data[0] if getattr(layer, "multiscale", False) else layer.data)
            whole = data
            full_plan = make_plan(data.shape, factors, axes, self.mode.value)
            start = [0] * len(data.shape)
            if preview:
                region = self._preview_region(layer, data.shape, full_plan)
                start = [sl.start for sl in region]
                data = np.asarray(data[region])
            plan = make_plan(data.shape, factors, axes, self.mode.value)
            make_config = self._config()
            self._apply_typed_sizes(layer, axes)  # before the kernel's settings are read, which change no layer
            kw = self._kernel_args(layer, axes, factors, plan.mode)
            # an isotropic preview's band is too thin to read an axial profile from: the worker reads
            # the whole stack's, as the full run would
            profile_from = (whole if preview and full_plan.mode == "isotropic" and axes == "ZYX"
                            and kw.get("kernel", "estimate") == "estimate" else None)
            # napari shows RGB as 8-bit or [0, 1] floats: the source's dtype, rounded and clipped
            if layer.rgb or self.dtype.value == "same as source":
                kw["dtype"] = layer.data.dtype
            if not preview:
                kw = _merged(kw, self._big_result_store(layer, data, plan), self._network_args(layer, axes))
            # a store the plugin put in a new temporary folder goes with its layer
            self._run_temp = os.path.dirname(kw["out"]) if "out" in kw and self.store_folder.value is None else None
            self._applying = "networks" in kw
        except (ValueError, TypeError, OSError) as exc:
            show_error(f"ZSSR: {exc}")
            self.status.value = f"error: {exc}"
            return None
        self._cancel = False
        self._stopped.clear()
        self._t0 = time.perf_counter()
        self.plot.clear()
        self.progress.value = 0
        self._watch_window()
        self.status.value = f"{'preview: ' if preview else ''}{plan.describe()} - preset {self.preset.value}"
        if plan.mode == "isotropic" and self.gradual_steps.value > 1:
            self.status.value += "; gradual steps do not apply in isotropic mode (one step to the axial factor)"
        if self._psf_note:
            self.status.value += f"; {self._psf_note}"
        self._worker = create_worker(self._work, data, factors, axes, plan.mode, make_config, kw,
                                     profile_from, full_plan.z_factor)
        self._worker.returned.connect(lambda res: self._on_done(layer, plan, res, start, full_plan if preview
                                                                else None))
        self._worker.errored.connect(self._on_error)
        self._worker.finished.connect(self._on_finished)
        self._start_activity(f"ZSSR {'preview of ' if preview else ''}{layer.name}")
        self.run_btn.enabled = self.preview_btn.enabled = False
        self.cancel_btn.enabled = True
        self._worker.start()
        return self._worker

    def _preview_region(self, layer, shape, plan) -> tuple:
        """The preview region (stack.preview) around what the viewer shows now."""
        from ..stack.preview import preview_region

        try:
            pos = np.asarray(layer.world_to_data(self._viewer.dims.point[-layer.ndim:]), dtype=float)
        except (ValueError, TypeError, IndexError):
            pos = None
        return preview_region(shape, plan, pos)

    ram_fraction = 0.25  # results bigger than this share of the free RAM go to a zarr store on disk

    def _big_result_store(self, layer, data, plan) -> dict:
        """``out=`` a zarr store when the result would crowd the RAM; napari then reads it lazily."""
        from ..stack.placement import result_fits_in_ram, store_for

        if result_fits_in_ram(data.shape, plan, self.ram_fraction):
            return {}
        folder = self.store_folder.value
        if folder is not None and not os.path.isdir(folder):
            raise ValueError(f"the folder for big results does not exist: {folder}")
        return {"out": store_for(layer.name, folder)}

    def _work(self, data, factors, axes, mode, make_config, kw, profile_from=None, z_factor=1.0):
        from ..core.estimate import estimate_kernel
        from ..core.progress import Cancelled
        from ..stack.estimates import estimate_crop
        from ..stack.upscale import run_upscale

        def callback(p):
            self._relay.progress.emit(dict(p))
            return not self._cancel

        try:
            cfg = make_config()  # here, in the worker: the "auto" preset may time the device for a few seconds
            note = None
            if profile_from is not None:  # a ZYX stack: the crop and seed the full run reads its profile with
                ys, xs = estimate_crop(*profile_from.shape[1:])
                try:
                    profile, info = estimate_kernel(np.asarray(profile_from[:, ys, xs], dtype=np.float64),
                                                    (z_factor, 1, 1), seed=cfg.seed, callback=callback)
                    kw = {**kw, "kernel": profile}
                    note = f"preview with the whole stack's axial profile (sigma {info['sigma']:.2f} px)"
                except ValueError:
                    pass  # the band's own reading, or the cubic, as the run decides
            res = run_upscale(data, factors, axes=axes, mode=mode, config=cfg, callback=callback, **kw)
            if note:
                res[1].notes.append(note)
            return res
        except Cancelled:
            return None  # a cancel is not an error: no traceback, no notification
        finally:
            self._stopped.set()

    def cancel(self, *_):
        """Ask the run to stop; it does within about a second, and adds no layer."""
        self._cancel = True
        self.status.value = "cancelling..."

    def _watch_window(self) -> None:
        top = self.native.window()
        if top is not self.native and id(top) != self._watched:
            top.installEventFilter(self._close_watcher)
            self._watched = id(top)  # not the window itself: the widget must not keep the viewer alive

    def _start_activity(self, desc: str) -> None:
        from napari.utils import progress

        self._close_activity()
        self._activity = progress(total=100, desc=desc)

    def _close_activity(self) -> None:
        if self._activity is not None:
            self._activity.close()
            self._activity = None

    def _set_progress(self, percent: int, text: str) -> None:
        self.progress.value = percent
        self.status.value = text
        bar = self._activity
        if bar is not None and percent > bar.n:
            bar.update(percent - bar.n)

    def _on_progress(self, p):
        if self._closing:
            return
        stage = p.get("stage")
        unit = f"network {p['unit']}/{p['units']} " if "units" in p else ""
        if stage == "train" and p.get("total"):
            elapsed = time.perf_counter() - self._t0
            self.plot.add(p.get("loss"), p.get("rec_error"))
            self._set_progress(int(100 * p["step"] / p["total"]),
                               f"{unit}training step {p['step']}/{p['total']}, loss {p.get('loss', 0):.4f}, "
                               f"lr {p.get('learning_rate', 0):.0e}; {p.get('device', '')}; {elapsed:.0f} s elapsed")
        elif stage == "estimate":
            channel = f" of channel {p['channel']}" if "channel" in p else ""
            self._set_progress(self.progress.value, f"estimating the kernel{channel} from the data; "
                                                    f"{time.perf_counter() - self._t0:.0f} s elapsed")
        elif stage == "infer":
            done, total = p.get("done"), p.get("todo")
            percent = int(100 * done / total) if done and total else self.progress.value
            self._set_progress(percent,
                               f"{unit}applying the network" + (f" ({done}/{total})" if done and total else ""))

    def _on_done(self, layer, plan, res, start=None, full_plan=None):
        from ..stack.plan import output_geometry

        if self._closing:
            return  # the viewer was closed during the run: nothing to add, nobody to tell
        if res is None:
            self.status.value = "cancelled; no layer was added"
            return
        out, report = res
        store_path = None
        if not isinstance(out, np.ndarray):  # a zarr store on disk: napari reads it lazily
            import dask.array as da

            store_path = str(getattr(out.store, "root", out.store))
            out = da.from_zarr(out)
        scale, translate = layer_geometry(layer, plan.axes)
        if start is not None:  # a preview region: its first voxel sits start voxels into the layer
            translate = [t + s0 * s for t, s0, s in zip(translate, start, scale)]
        new_scale, new_translate = output_geometry(plan, scale, translate)
        if layer.rgb:
            new_scale, new_translate = new_scale[:-1], new_translate[:-1]
        f_txt = "x".join(f"{f:g}" for a, f in zip(plan.axes, plan.scale) if a not in "CT")
        from .. import __version__

        meta = {"axes": plan.axes, "zssr": {"version": __version__, "source": layer.name, "plan": report.plan,
                                            "preset": report.preset, "device": report.device,
                                            "precision": report.precision, "config": report.config,
                                            "steps": [u.steps for u in report.units],
                                            "kernel": report.kernel, "seconds": report.seconds,
                                            "gain_db": report.gain_db, "gain_held_out": report.gain_held_out,
                                            "factors": plan.scale, "axial_excess_db": report.axial_excess_db,
                                            **report.estimates(), **({"notes": report.notes} if report.notes else {})}}
        if store_path:
            meta["zssr"]["store"] = store_path
        kwargs = {"name": f"{layer.name} ZSSR {f_txt}{' preview' if full_plan else ''}",
                      "scale": new_scale, "translate": new_translate, "metadata": meta,
                      "rgb": layer.rgb, "blending": layer.blending, "colormap": layer.colormap.name}
        for key in ("units", "axis_labels"):
            if getattr(layer, key, None) is not None:
                kwargs[key] = getattr(layer, key)
        if not layer.rgb:
            kwargs["contrast_limits"] = layer.contrast_limits
        try:
            added = self._viewer.add_image(out, **kwargs)
        except TypeError:  # older napari without units / axis_labels
            kwargs.pop("units", None)
            kwargs.pop("axis_labels", None)
            added = self._viewer.add_image(out, **kwargs)
        if store_path and self._run_temp is not None:
            self._temp_stores[id(added)] = self._run_temp
        where = f"; kept on disk in {store_path}" if store_path else ""
        if report.estimated_sigma:
            where += "; " + report.estimate_text()
        if self._psf_note and full_plan is None:  # what the kernel was read from stays in the final words
            where += f"; {self._psf_note}"
        if report.notes:
            where += "; " + "; ".join(report.notes)
        if (np.isfinite(report.gain_db) and not report.gain_db > 0) or report.over_sharpened():  # QualityWarning
            where += "; WARNING: it may be no better than interpolation (see the notification)"
        held = "held out" if report.gain_held_out else "not held out"
        gain = f"internal gain over cubic {report.gain_db:+.2f} dB ({held})"
        if self._applying:
            gain = "applied the saved networks (no training)"
            if self._net_note:
                where += f"; WARNING: {self._net_note}"
        device = f" on {report.device}" if report.device else ""
        self.status.value = f"done in {report.seconds:.1f} s{device} in {report.precision}; {gain}{where}"
        if full_plan is not None:
            estimate = self._estimate(layer, full_plan, report, math.prod(out.shape))
            self.status.value = f"preview {self.status.value}; {estimate}"
        self.progress.value = 100

    @staticmethod
    def _estimate(layer, full_plan, report, preview_voxels: int) -> str:
        from ..stack.preview import estimate_run

        full_shape = layer.data[0].shape if getattr(layer, "multiscale", False) else layer.data.shape
        est = estimate_run(full_shape, full_plan, report, preview_voxels)
        return (f"the whole layer: about {est['seconds']:.0f} s, result {est['shape']} "
                f"({est['megabytes']:.0f} MB as float32)")

    def _on_error(self, exc):
        # napari's worker already notifies the user of the error (once); the status says it too
        if self._closing:
            return
        self.status.value = f"error: {exc}"

    def _on_finished(self):
        self._worker = None
        self._close_activity()
        if self._closing:
            return
        self.run_btn.enabled = self.preview_btn.enabled = True
        self.cancel_btn.enabled = False
