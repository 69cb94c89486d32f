"""The widget's fields read into one frozen ``Run``: what the worker runs and what the result is placed
by. Every setting goes through the parser the CLI uses (stack.choices); no layer is changed here."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..stack.choices import Sizes
from ..stack.plan import Plan
from .layers import layer_data, layer_sizes, read_psf


@dataclass(frozen=True)
class Run:
    """One run as the user started it; the controller's done handler places its result by it."""

    layer: object
    data: object                     # the layer's array, or the preview's region of it
    plan: Plan
    make_config: object              # () -> ZSSRConfig, called in the worker (the "auto" preset times the device)
    kwargs: dict                     # upscale()'s other keywords
    preset: str = "auto"
    whole: Plan | None = None        # a preview: the plan of the whole layer; None for a run
    start: tuple = ()                # the region's first voxel in the layer
    profile_from: object = None      # an isotropic preview: the whole stack, to read its axial profile from
    kernel_note: str = ""            # what the kernel was read from (a PSF's voxel size, the bead's widths)
    net_note: str = ""               # why saved networks may not fit this layer
    temp_folder: str | None = None   # the temporary folder of the result's store, removed with its layer
    typed_sizes: Sizes | None = None  # voxel sizes the user typed, given to the layer when the run starts
    gradual_steps: int = 0
    seed: int = 0                    # the run's seed, also for an isotropic preview's whole-stack profile

    @property
    def preview(self) -> bool:
        return self.whole is not None

    @property
    def applying(self) -> bool:
        return bool(self.kwargs.get("networks"))

    def start_text(self) -> str:
        text = f"{'preview: ' if self.preview else ''}{self.plan.describe()} - preset {self.preset}"
        if self.plan.mode == "isotropic" and self.gradual_steps > 1:
            text += "; gradual steps do not apply in isotropic mode (one step to the axial factor)"
        return f"{text}; {self.kernel_note}" if self.kernel_note else text


def image_sizes(panel, layer, axes: str) -> tuple:
    """(the layer's voxel sizes, or those typed in the panel where it has none; whether they were typed)."""
    sizes = layer_sizes(layer, axes)
    z, xy = float(panel.z_step.value), float(panel.pixel_size.value)
    if not sizes.known and "Z" in axes and z > 0 and xy > 0:
        return Sizes({"Z": z, "Y": xy, "X": xy}, "um"), True
    return sizes, False


def read_run(panel, preview: bool, position=None) -> Run:
    """The run the panel's fields describe; a setting that cannot run is a ValueError (or TypeError, OSError)
    naming it. ``position``: where the viewer is (data coordinates of the layer), for a preview's region."""
    from ..stack.choices import result_dtype
    from ..stack.plan import make_plan
    from ..stack.preview import preview_region

    whole, layer_plan = whole_plan(panel)
    layer, axes = panel.layer.value, layer_plan.axes
    data, start = whole, (0,) * len(whole.shape)
    if preview:
        region = preview_region(whole.shape, layer_plan, position)
        data, start = np.asarray(whole[region]), tuple(sl.start for sl in region)
    plan = make_plan(data.shape, layer_plan.scale, axes, layer_plan.mode)
    sizes, typed = image_sizes(panel, layer, axes)
    kernel = _kernel(panel, layer, plan, data.shape, sizes)
    source_dtype = "same" if layer.rgb else panel.dtype.value  # napari shows RGB as 8-bit or [0, 1] floats
    kwargs = {**kernel.kwargs, **sizes.kwargs(axes), "dtype": result_dtype(source_dtype, layer.data.dtype),
              "return_uncertainty": bool(panel.uncertainty.value)}
    net_note, temp = "", None
    if not preview:
        store = _big_result_store(layer.name, data.shape, plan, panel.store_folder.value, panel.ram_fraction)
        temp = os.path.dirname(store["out"]) if store and panel.store_folder.value is None else None
        networks, net_note = _networks(panel, sizes, axes)
        kwargs.update(store, **networks)
    # an isotropic preview's band is too thin to read an axial profile from: the worker reads the whole
    # stack's, as the full run would
    profile_from = whole if (preview and layer_plan.mode == "isotropic" and axes == "ZYX"
                             and kernel.kind in ("default", "estimate")) else None
    return Run(layer, data, plan, _training(panel), kwargs, panel.preset.value, layer_plan if preview else None,
               start, profile_from, kernel.note, net_note, temp, sizes if typed else None,
               int(panel.gradual_steps.value), int(panel.seed.value))


def _kernel(panel, layer, plan, shape, sizes):
    """The kernel settings (stack.choices.kernel_settings) of the panel's kernel fields: the fields the
    chosen kind needs are read, no other."""
    from ..stack.blocks import shape5_of
    from ..stack.choices import Optics, kernel_kind, kernel_settings

    label, path = panel.kernel.value, panel.kernel_file.value
    path = None if path is None or str(path) in ("", ".") else os.fspath(path)  # an empty field reads as "."
    kind, _ = kernel_kind(label, path)
    extra = {"path": path}
    if kind == "optics":
        extra["optics"] = Optics(float(panel.na.value), float(panel.wavelength.value), float(panel.ri.value))
    elif kind == "psf":
        extra["psf"], extra["psf_sizes"] = read_psf(panel.psf_layer.value, layer, plan.mode)
    return kernel_settings(label, plan, shape5_of(shape, plan.axes)[2], sizes, **extra)


OPTICS_FIELDS = (("na", "numerical aperture"), ("wavelength", "emission wavelength"), ("ri", "refractive index"))


def file_optics(layer) -> tuple:
    """({panel field: value} of the optics the layer's file recorded (io.read_image's ``metadata["optics"]``),
    [the fields' names it lacks]). A layer napari split from a channel axis takes its own channel's wavelength,
    found by its name; a wavelength that is not the layer's own is never taken."""
    found = (getattr(layer, "metadata", None) or {}).get("optics") or {}
    if not found:
        return {}, [name for _, name in OPTICS_FIELDS]
    waves, names = list(found.get("emission_nm") or []), list(found.get("channel_names") or [])
    wave = None
    if getattr(layer, "name", None) in names and len(names) == len(waves):
        wave = waves[names.index(layer.name)]
    elif waves and len(set(waves)) == 1:
        wave = waves[0]
    values = {"na": found.get("na"), "wavelength": wave, "ri": found.get("refractive_index")}
    return ({k: float(v) for k, v in values.items() if v is not None},
            [name for key, name in OPTICS_FIELDS if values[key] is None])


def training(panel):
    """The panel's training settings (stack.choices.Training), read as the run reads them."""
    from ..stack.choices import Training, parse_noise_std

    return Training(
        preset=panel.preset.value, device=panel.device.value, precision=panel.precision.value,
        seed=int(panel.seed.value), max_steps=int(panel.max_steps.value) or None,
        gradual_steps=int(panel.gradual_steps.value) or None, back_projection=bool(panel.back_projection.value),
        noise_std=parse_noise_std(panel.noise_std.value))


def _training(panel):
    """A function making the run's ZSSRConfig (stack.choices.config_factory: checked now, made in the worker)."""
    from ..stack.choices import config_factory

    return config_factory(training(panel))


def whole_plan(panel) -> tuple:
    """(the layer's array, the plan of a run over all of it) from the panel's layer, axes, factors and mode;
    a ValueError says what is missing or wrong."""
    from ..stack.blocks import as_array
    from ..stack.plan import make_plan

    layer = panel.layer.value
    if layer is None:
        raise ValueError("choose an image layer")
    axes, factors = panel.axes.value.upper(), panel.parsed_factors()
    if factors and all(f == 1 for f in factors):
        what = "press make isotropic for the z factor, or type" if "Z" in axes else "type"
        raise ValueError(f"the factors are all 1: {what} the factors to enlarge by (e.g. 2 on Y and X)")
    whole = as_array(layer_data(layer))
    return whole, make_plan(whole.shape, factors, axes, panel.mode.value)


def _big_result_store(name: str, shape, plan, folder, fraction: float) -> dict:
    """``out=`` a zarr store when the result would crowd the RAM; napari then reads it lazily."""
    from ..stack.placement import result_fits_in_ram, store_for

    if result_fits_in_ram(shape, plan, fraction):
        return {}
    if folder is not None and not os.path.isdir(folder):
        raise ValueError(f"the folder for big results does not exist: {folder}")
    return {"out": store_for(name, folder)}


def _networks(panel, sizes: Sizes, axes: str) -> tuple:
    """(``save_networks=`` and ``networks=`` from the two file fields, why the networks applied may not
    fit this layer). A file that is not a networks file is refused now."""
    kw = {}
    save, apply = ("" if f.value is None else str(f.value) for f in (panel.save_nets, panel.apply_nets))
    if save:  # the file dialog asked before replacing; the file is replaced only once the run has finished
        kw.update(save_networks=save, overwrite=True)
    if not apply:
        return kw, ""
    from ..stack.networks import load_networks, voxel_size_note

    kw["networks"] = apply
    given = sizes.kwargs(axes)
    return kw, voxel_size_note(load_networks(apply), given.get("voxel_size"), given.get("unit"))
