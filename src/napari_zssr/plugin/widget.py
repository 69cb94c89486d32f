"""The "ZSSR super-resolution" dock widget: the panel (its fields and their handlers). What the fields mean
is read by plugin/settings_ui.py through the parser the CLI uses; plugin/controller.py runs it."""

from __future__ import annotations

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
    create_widget,
)

from ..core.config import PRECISIONS
from ..stack.choices import DTYPE_LABELS, KERNEL_LABELS, device_choices, preset_labels
from ..stack.plan import MODES
from .controller import RunController
from .layers import axes_from_shape_only, give_sizes, guess_axes, layer_sizes
from .loss_plot import LossPlot
from .time_estimate import RunTimeEstimate

KERNEL_TIP = ("default: along z, the axial blur read from the stack (cubic where it cannot be read); in planes, "
              "bicubic (the paper's). cubic: the cubic stretched to the factor, always. estimate: read from the data "
              "in every mode")


class ZSSRWidget(Container):
    """Upscale an image layer with ZSSR and add the result as a new layer over it."""

    ram_fraction = 0.25  # results bigger than this share of the free RAM go to a zarr store on disk

    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self._viewer = napari_viewer
        self.extend([*self._input_fields(), *self._kernel_fields(), *self._run_fields(), *self._advanced_fields(),
                     *self._buttons()])
        for label in (self.status, self.time_estimate):
            label.native.setWordWrap(True)  # long messages must not widen the dock
        self.plot = LossPlot()
        self.native.layout().addWidget(self.plot)
        self.controller = RunController(napari_viewer, self)
        self.estimate = RunTimeEstimate(self, self.time_estimate)
        self._followed = None     # the layer whose scale and units changes refresh what the panel says
        self._notes = ""          # what the panel last said about the layer (guessed axes, missing sizes)
        self._defaults = ""       # the factors the layer's fields were filled with
        self._optics_note = ""    # which optics the layer's file gave, and which it lacks
        self.layer.changed.connect(self._on_layer)
        self.axes.changed.connect(self._on_axes)
        for field in (self.layer, self.axes, self.factors, self.mode, self.preset, self.max_steps, self.device,
                      self.precision, self.gradual_steps):  # what the time of a run depends on
            field.changed.connect(self.estimate.refresh)
        self.kernel.changed.connect(self._on_kernel)
        self.mode.changed.connect(self._on_mode)
        self.make_iso.changed.connect(self.make_isotropic)
        self.advanced.changed.connect(self._on_advanced)
        self.run_btn.changed.connect(self.run)
        self.preview_btn.changed.connect(self.preview)
        self.cancel_btn.changed.connect(self.cancel)
        self.native.destroyed.connect(self.shutdown)
        self._on_layer(self.layer.value)

    def _input_fields(self) -> list:
        from napari.layers import Image

        # napari's own layer list: it follows the viewer's layers once the widget is docked
        self.layer = create_widget(annotation=Image, label="image")
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
        return [self.layer, self.axes, self.mode, self.factors, self.make_iso, self.z_step, self.pixel_size]

    def _kernel_fields(self) -> list:
        from napari.layers import Image

        self.kernel = ComboBox(label="kernel", choices=list(KERNEL_LABELS.values()), value=KERNEL_LABELS["default"],
                               tooltip=KERNEL_TIP)
        self.na = FloatSpinBox(label="NA", min=0.05, max=1.7, step=0.05, value=1.0, visible=False)
        self.wavelength = FloatSpinBox(label="wavelength (nm)", min=200, max=2000, step=10, value=520, visible=False)
        self.ri = FloatSpinBox(label="refractive index", min=1.0, max=2.0, step=0.001, value=1.33, visible=False)
        self.kernel_file = FileEdit(label="kernel file", filter="*.npy *.tif *.tiff *.mat", visible=False)
        self.psf_layer = create_widget(
            annotation=Image, label="PSF layer",
            options={"nullable": True, "visible": False,
                     "tooltip": "an image of one bead (a measured PSF, z first) or a computed PSF; its scale is its "
                                "voxel size (without one, the image's own is assumed)"})
        return [self.kernel, self.na, self.wavelength, self.ri, self.kernel_file, self.psf_layer]

    def _run_fields(self) -> list:
        self.preset = ComboBox(label="preset", choices=preset_labels(), value="auto")
        self.max_steps = SpinBox(label="max steps", min=0, max=100000, value=0,
                                 tooltip="cap on training steps per network; 0: the preset's own")
        self.seed = SpinBox(label="seed", min=0, max=2**31 - 1, value=0)
        self.device = ComboBox(label="device", choices=device_choices())
        self.precision = ComboBox(label="precision", choices=list(PRECISIONS), value="auto",
                                  tooltip="the network's precision; auto: the fastest a short probe finds correct")
        self.dtype = ComboBox(label="output", choices=list(DTYPE_LABELS.values()), value=DTYPE_LABELS["float32"],
                              tooltip="float32, or the source's type (rounded and clipped)")
        self.store_folder = FileEdit(label="big results in", mode="d", nullable=True,
                                     tooltip="results too big for RAM are written to a zarr store in this folder "
                                             "and kept; empty: a temporary folder, removed with its layer")
        self.save_nets = FileEdit(label="save networks", mode="w", filter="*.pt", nullable=True,
                                  tooltip="after the run, save the trained networks (one per channel) to this file, "
                                          "to apply them to other layers of the same acquisition")
        self.apply_nets = FileEdit(label="apply networks", mode="r", filter="*.pt", nullable=True,
                                   tooltip="apply networks saved by an earlier run instead of training (their "
                                           "settings and kernel are used)")
        self.uncertainty = CheckBox(text="uncertainty layer", value=False,
                                    tooltip="also add, hidden, the expected absolute error of each voxel of the "
                                            "result: where its detail is supported by the data, and where it is a "
                                            "guess")
        return [self.preset, self.max_steps, self.seed, self.device, self.precision, self.dtype, self.store_folder,
                self.save_nets, self.apply_nets, self.uncertainty]

    def _advanced_fields(self) -> list:
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
        return [self.advanced, self.gradual_steps, self.back_projection, self.noise_std]

    def _buttons(self) -> list:
        self.preview_btn = PushButton(text="Preview (current plane or a band of rows)",
                                      tooltip="run on a small region first: see the result, the time it took "
                                              "and an estimate for the whole layer")
        self.run_btn = PushButton(text="Run")
        self.time_estimate = Label(label="time", value="",
                                   tooltip="about how long Run would take with these settings on this machine")
        self.cancel_btn = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="progress", min=0, max=100, value=0)
        self.status = Label(label="", value="")
        return [self.preview_btn, self.run_btn, self.time_estimate, self.cancel_btn, self.progress, self.status]

    # ------------------------------------------------------------------ handlers

    def _on_layer(self, layer) -> None:
        self._follow(layer)
        if layer is None:
            return
        axes = guess_axes(layer)
        self._defaults = ""  # a new layer: its own factors, whatever the last one's were
        self.axes.value = axes
        self.factors.value = self._defaults = default_factors(axes)
        if "Z" not in axes and self.mode.value in ("isotropic", "both"):  # the last stack's mode cannot fit
            self.mode.value = "auto"
        self._fill_optics(layer)
        self._show_notes(replace=True)

    def _fill_optics(self, layer) -> None:
        """The optics fields take what the layer's file recorded; the status asks for what it lacks when the
        Gaussian from optics is chosen."""
        from .settings_ui import file_optics

        values, missing = file_optics(layer)
        for key, value in values.items():
            field = getattr(self, key)
            field.value = min(max(value, field.min), field.max)
        given = ", ".join(f"{name} {values[key]:g}" for key, name in
                          (("na", "NA"), ("wavelength", "wavelength"), ("ri", "refractive index")) if key in values)
        lacks = f"type the {' and '.join(missing)}, which the file lacks" if missing else ""
        self._optics_note = "; ".join(x for x in (f"optics from the file: {given}" if given else "", lacks) if x)
        if self.kernel.value == KERNEL_LABELS["optics"] and not self.running:
            self.status.value = self._optics_note

    def _follow(self, layer) -> None:
        """Say again what the layer lacks when its scale or units change (the user fixed them in napari)."""
        old, self._followed = self._followed, layer
        for lay, how in ((old, "disconnect"), (layer, "connect")):
            if lay is not None:
                for event in (lay.events.scale, lay.events.units):
                    getattr(event, how)(self._on_sizes)

    def _on_sizes(self, *_) -> None:
        self._show_notes()

    def _on_axes(self, text: str) -> None:
        """The user corrected the axes: factors still at the old axes' defaults follow, the notes are redone."""
        axes = str(text).upper()
        if self.layer.value is None or not self._fits(axes):
            return
        if self.factors.value == self._defaults:
            self.factors.value = self._defaults = default_factors(axes)
        self._show_notes()

    def _fits(self, axes: str) -> bool:
        layer = self.layer.value
        return len(axes) == layer.ndim + int(layer.rgb)

    def _show_notes(self, replace: bool = False) -> None:
        """What the panel tells about the layer: axes guessed from the shape, voxel sizes missing (their
        fields shown only then). The status shows it unless it holds other words (a run's, make isotropic's)."""
        layer, axes = self.layer.value, self.axes.value.upper()
        if layer is None or not self._fits(axes):
            return
        missing = "Z" in axes and not layer_sizes(layer, axes).known
        self.z_step.visible = self.pixel_size.visible = missing
        notes = []
        if layer.ndim >= 3 and axes_from_shape_only(layer) and axes == guess_axes(layer):
            notes.append(f"axes guessed as {axes} from the shape: check them (a time-lapse is TYX, and ZYX on "
                         f"it would interpolate between time points)")
        if missing:
            notes.append("the layer has no voxel sizes: type the z step and pixel size to make it isotropic")
        if replace or (not self.running and self.status.value in ("", self._notes)):
            self.status.value = "; ".join(notes)
        self._notes = "; ".join(notes)

    def _on_kernel(self, value) -> None:
        for w in (self.na, self.wavelength, self.ri):
            w.visible = value == KERNEL_LABELS["optics"]
        if value == KERNEL_LABELS["optics"] and self._optics_note and not self.running:
            self.status.value = self._optics_note
        self.kernel_file.visible = value == KERNEL_LABELS["file"]
        self.psf_layer.visible = value == KERNEL_LABELS["psf"]

    def _on_mode(self, mode: str) -> None:
        # isotropic mode reaches the axial factor in one step (its pairs are built along z at that factor)
        self.gradual_steps.enabled = mode != "isotropic"

    def _on_advanced(self, shown: bool) -> None:
        for w in (self.gradual_steps, self.back_projection, self.noise_std):
            w.visible = bool(shown)

    def parsed_factors(self) -> list:
        """One factor per axis from the factors field (one per axis, or per spatial axis)."""
        from ..stack.choices import factors_per_axis, parse_factors

        return factors_per_axis(parse_factors(self.factors.value), self.axes.value.upper())

    def make_isotropic(self, *_) -> None:
        """Set the z factor so that the z step becomes the lateral pixel size: f_z = s_z / (s_x / f_x). Only z
        changes: the lateral factors stay as they are (1 unless the user typed others), and the mode follows
        (isotropic, or both where lateral factors were typed). The status says what was set and from what."""
        from ..stack.choices import isotropic_factors
        from .settings_ui import image_sizes

        layer, axes = self.layer.value, self.axes.value.upper()
        if layer is None or "Z" not in axes:
            self.status.value = "make isotropic needs an image with a Z axis"
            return
        sizes, typed = image_sizes(self, layer, axes)
        try:
            factors = isotropic_factors(self.parsed_factors(), axes, sizes, "make isotropic", "the layer's")
        except ValueError as exc:
            hint = "; or type the z step and the pixel size" if not sizes.known else ""
            self.status.value = f"{exc}{hint}"
            return
        self.factors.value = ", ".join(f"{v:g}" for v in factors)
        if typed:  # the result is scaled from the layer's scale: the layer takes the typed sizes now
            self._give_sizes(layer, axes, sizes)
        lateral = [f for a, f in zip(axes, factors) if a in "YX"]
        if all(f == 1 for f in lateral):
            self.mode.value = "isotropic"
        elif self.mode.value in ("planes", "isotropic"):
            self.mode.value = "both"
        self.status.value = isotropic_words(factors[axes.index("Z")], sizes, typed, lateral, self.mode.value)

    def _give_sizes(self, layer, axes, sizes) -> None:
        give_sizes(layer, axes, sizes)
        self.z_step.visible = self.pixel_size.visible = False

    # ------------------------------------------------------------------ running

    def run(self, *_):
        """Start a run in a worker thread and return the worker; None when the settings are refused (the
        status and a notification say why)."""
        return self._start(preview=False)

    def preview(self, *_):
        """Run on a small region: the current plane (up to 256 x 256) in planes mode, a band of 32 rows
        through all planes in isotropic mode; the status then estimates the whole run."""
        return self._start(preview=True)

    def _start(self, preview: bool):
        from napari.utils.notifications import show_error

        from .settings_ui import read_run

        try:
            run = read_run(self, preview, self._position(self.layer.value) if preview else None)
        except (ValueError, TypeError, OSError) as exc:
            show_error(f"ZSSR: {exc}")
            self.status.value = f"error: {exc}"
            return None
        if run.typed_sizes is not None:  # accepted: the layer takes the typed sizes, so the result overlays it
            self._give_sizes(run.layer, run.plan.axes, run.typed_sizes)
        self.plot.clear()
        return self.controller.start(run)

    def _position(self, layer):
        """Where the viewer is, in the layer's data coordinates (None where that cannot be said)."""
        import numpy as np

        if layer is None:
            return None
        try:
            return np.asarray(layer.world_to_data(self._viewer.dims.point[-layer.ndim:]), dtype=float)
        except (ValueError, TypeError, IndexError):
            return None

    def cancel(self, *_):
        """Ask the run to stop; it does within about a second, and adds no layer."""
        self.controller.cancel()
        self.status.value = "cancelling..."

    def shutdown(self, *_, timeout_ms: int = 30_000) -> bool:
        """The viewer or the widget is going away: cancel this widget's run, wait for it, add nothing
        (False: it did not stop within ``timeout_ms``; it then ends at its next progress report)."""
        self.estimate.close()
        self._follow(None)  # the layer outlives the panel: its events must not call into it
        return self.controller.shutdown(timeout_ms)

    # ------------------------------------------------------------------ what the controller shows

    def show_status(self, text: str, percent=None) -> None:
        self.status.value = text
        if percent is not None:
            self.progress.value = percent

    @property
    def running(self) -> bool:
        return self.controller.worker is not None

    def set_running(self, running: bool) -> None:
        self.run_btn.enabled = self.preview_btn.enabled = not running
        self.cancel_btn.enabled = running
        if not running:  # estimates wait while a run is going: they would slow it, and it them
            self.estimate.refresh()


def default_factors(axes: str) -> str:
    """The factors a layer's fields start with: x2 on Y and X for images; 1 everywhere for stacks (with a Z
    axis), whose usual wish is an isotropic volume: "make isotropic" then sets z alone."""
    return ", ".join("2" if a in "YX" and "Z" not in axes else "1" for a in axes)


def isotropic_words(fz: float, sizes, typed: bool, lateral, mode: str) -> str:
    """What "make isotropic" set and from what, in the status's words."""
    unit = f" {sizes.unit}" if sizes.unit else ""
    whose = "the typed" if typed else "the layer's"
    text = (f"z factor {fz:g} from {whose} z step {sizes.sizes['Z']:g}{unit} and pixel size "
            f"{sizes.sizes['X']:g}{unit}")
    if typed:
        text += " (now the layer's scale, so that the result overlays it)"
    kept = f"{lateral[0]:g}" if len(set(lateral)) == 1 else " x ".join(f"{f:g}" for f in lateral)
    return f"{text}; lateral factors kept at {kept}; mode {mode}"
