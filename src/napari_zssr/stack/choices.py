"""What a user chose, as the CLI's options and the widget's fields give it, turned into upscale()'s settings.

The CLI and the widget both call these functions, so that each vocabulary a user types or picks (kernel
kinds, presets, output types, factors, noise) is parsed here and only here, and every error of a setting
is raised here, naming the setting, before any work starts. No napari, no Qt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..core.config import PRESETS
from .optics import Optics  # noqa: F401 - the widget and the CLI take the optics' type from here

# the widget's words for the kernel kinds; the CLI takes the kinds' own names, a file or a number
KERNEL_LABELS = {"default": "default", "optics": "Gaussian from optics", "file": "file",
                 "estimate": "estimate from the data", "psf": "PSF from a layer", "cubic": "cubic"}
PRESET_CHOICES = ("auto", *PRESETS)
PRESET_LABELS = {"real": "real (noisy data)"}  # where a preset's name alone says too little in a list
DTYPE_LABELS = {"float32": "float32", "same": "same as source"}


@dataclass(frozen=True)
class Sizes:
    """An image's voxel sizes per letter of Z, Y and X in one ``unit`` (None: a unit without a name);
    no sizes at all, with the ``reason`` in words, where they are unknown."""

    sizes: dict = field(default_factory=dict)
    unit: str | None = None
    reason: str = ""

    @classmethod
    def none(cls, reason: str) -> Sizes:
        return cls({}, None, reason)

    @property
    def known(self) -> bool:
        return bool(self.sizes)

    def per_axis(self, axes: str) -> list:
        """One size per letter of ``axes``: 1 on those that are not lengths (T, C, S)."""
        return [self.sizes.get(a, 1.0) for a in axes]

    def kwargs(self, axes: str) -> dict:
        """upscale()'s ``voxel_size`` and ``unit``: every size of a run comes from here, in this one unit."""
        return {"voxel_size": self.per_axis(axes), "unit": self.unit} if self.known else {}


@dataclass(frozen=True)
class KernelSettings:
    """upscale()'s kernel keywords (``kernel``, ``psf_voxel_size``) for a choice, its kind and what the
    user should be told about it (where a PSF's voxel size came from, the bead's widths)."""

    kwargs: dict
    kind: str
    note: str = ""


# ------------------------------------------------------------------ kernels


def kernel_kind(choice, path=None) -> tuple:
    """(kind, value) for a kernel choice: None or "default"; "estimate"; "cubic"; another interpolation
    kernel's name; a number (a Gaussian sigma); "optics"; "psf"; "file" with ``path``; any other text is a
    kernel file's path (one that exists, or has an extension: a missing one is then refused by name).
    The widget's labels (KERNEL_LABELS) stand for their kinds."""
    from ..core.kernels import KERNELS, kernel_name

    if choice is None:
        return "default", None
    if isinstance(choice, (int, float, np.integer, np.floating)) and not isinstance(choice, (bool, np.bool_)):
        return "sigma", float(choice)
    text = str(choice).strip()
    kind = {label: kind for kind, label in KERNEL_LABELS.items()}.get(text, text.lower() or "default")
    if kind in ("default", "estimate", "optics", "psf"):
        return kind, None
    if kind == "file":
        if not path:
            raise ValueError("choose the kernel file")
        return "file", os.fspath(path)
    try:
        return "sigma", float(text)
    except ValueError:
        pass
    try:
        name = kernel_name(text)
    except ValueError:
        name = None
    if name is not None:
        return ("cubic", "cubic") if name == "cubic" else ("name", name)
    if os.path.exists(text) or os.path.splitext(text)[1]:
        return "file", text
    raise ValueError(f"unknown kernel {text!r}: give default, estimate, {', '.join(KERNELS)}, a Gaussian sigma "
                     "or a kernel file (.npy, .tif, .mat)")


def kernel_settings(choice, plan, n_planes: int, sizes: Sizes, *, path=None, optics: Optics | None = None,
                    psf=None, psf_sizes: Sizes | None = None, psf_voxel_size=None, metadata=None,
                    channels: int = 1) -> KernelSettings:
    """upscale()'s kernel keywords for the user's kernel choice (see ``kernel_kind``) on ``plan``, checked as
    the run will check them (stack.spec.stage_kernels) so that a bad one is refused now.

    ``sizes``: the image's voxel sizes; ``optics`` for "optics" (None: read from the file's ``metadata``, as
    io.read_image gives it, for its ``channels``); ``psf`` (an image of one bead, z first) and
    its own ``psf_sizes`` (None or unknown: the image's are taken) for "psf"; ``psf_voxel_size`` for a PSF
    given as a kernel file.
    """
    from .spec import stage_kernels

    kind, value = kernel_kind(choice, path)
    note = ""
    if kind == "optics":
        kwargs, note = _optics_kernel(optics, plan, sizes, metadata, channels)
    elif kind == "psf":
        kwargs, note = _psf_kernel(psf, psf_sizes or Sizes(), plan, sizes)
    else:
        kwargs = _named_kernel(kind, value, plan)
    if psf_voxel_size is not None:
        if kind != "file":
            raise ValueError(f"a PSF's voxel size (psf_voxel_size) goes with a PSF given as a kernel file, not "
                             f"with the kernel {'default' if kind == 'default' else choice!r}")
        kwargs["psf_voxel_size"] = tuple(float(v) for v in psf_voxel_size)
    vs = sizes.per_axis(plan.axes) if sizes.known else None
    stage_kernels(kwargs.get("kernel"), plan, vs, kwargs.get("psf_voxel_size"), n_planes, unit=sizes.unit,
                  channels=channels)
    return KernelSettings(kwargs, kind, note)


def _named_kernel(kind: str, value, plan) -> dict:
    if kind == "default":
        return {}
    if kind == "sigma" and plan.mode == "planes":
        raise ValueError(f"a Gaussian sigma ({value:g}) is an axial kernel, for isotropic or both mode; planes mode "
                         f"takes a kernel name, a kernel file or 'estimate'")
    if kind == "file":
        from ..io import read_kernel

        return {"kernel": read_kernel(value)}
    return {"kernel": "estimate" if kind == "estimate" else value}


def _optics_kernel(optics: Optics | None, plan, sizes: Sizes, metadata=None, channels: int = 1) -> tuple:
    """(upscale()'s kernel keywords, which values were used, in words) for the widefield Gaussian of the plan's
    mode; the wavelength (nm) goes into the image's unit, so that every size the run is given is in that one
    unit. planes mode, or one wavelength per channel: the optics themselves (each channel's Gaussian, checked
    against the PSF the image shows); else the 3-D PSF array."""
    from ..io.units import to_unit
    from .optics import optics_kernel

    if optics is None and metadata is not None:
        optics = Optics.from_metadata(metadata)
    if optics is None:
        raise ValueError("a Gaussian from optics needs the numerical aperture, wavelength and refractive index")
    if not sizes.known:
        raise ValueError(f"a Gaussian from optics needs the image's voxel sizes: {sizes.reason or 'it has none'}")
    waves = optics.check().wavelengths(channels)
    used = "the optics: " + "; ".join(dict.fromkeys(optics.words(w) for w in waves))
    if plan.mode == "planes" or len(set(waves)) > 1:
        return {"kernel": optics}, used
    # sizes without a named unit are taken as micrometres, the microscopes' usual one
    wavelength = waves[0] / 1000.0 if sizes.unit is None else to_unit(waves[0], "nm", sizes.unit)
    kw = optics_kernel(plan.axes, sizes.sizes, plan.scale, plan.mode, optics.na, wavelength,
                       optics.refractive_index)
    return {k: v for k, v in kw.items() if k in ("kernel", "psf_voxel_size")}, used


def psf_axes(ndim: int, mode: str) -> str:
    """The axis letters of a PSF image: (z, y, x), or a 2-D (z, x) section (a 2-D bead image in planes mode)."""
    if ndim not in (2, 3):
        raise ValueError(f"the PSF must be a 2-D (z, x) or 3-D (z, y, x) image of one bead, got {ndim} axes")
    return "ZYX" if ndim == 3 else ("YX" if mode == "planes" else "ZX")


def _psf_kernel(psf, psf_sizes: Sizes, plan, sizes: Sizes) -> tuple:
    """The kernel from an image of one bead, placed by its own voxel size in the image's unit or, where it
    has none, the image's (a bead imaged as the data was); (kwargs, what was taken, in words)."""
    from ..io.units import to_unit
    from .optics import measured_psf_kernel

    if psf is None:
        raise ValueError("choose the PSF (an image of one bead)")
    axes = psf_axes(len(np.shape(psf)), plan.mode)
    if sizes.known:
        grid, unit = sizes.sizes, sizes.unit
    elif plan.mode != "planes" or psf_sizes.known:
        raise ValueError("the PSF is placed on the result's grid by the image's voxel sizes, and the image has "
                         "none: type the z step and pixel size (or set the layer's scale)")
    else:  # planes mode, neither has sizes: the bead was imaged on the image's own pixel grid
        grid, unit = {a: 1.0 for a in "ZYX"}, None
    note = ""
    if psf_sizes.known:
        if (psf_sizes.unit is None) != (unit is None):
            raise ValueError(f"the PSF's voxel sizes are in {psf_sizes.unit or 'no unit'} and the image's in "
                             f"{unit or 'no unit'}: these do not convert")
        psf_vs = [psf_sizes.sizes[a] if unit is None else to_unit(psf_sizes.sizes[a], psf_sizes.unit, unit)
                  for a in axes]
    else:
        psf_vs = [grid.get(a, 1.0) for a in axes]
        note = f"the PSF has no voxel sizes: the image's were used ({', '.join(f'{v:g}' for v in psf_vs)}); "
    kw, (sig_z, sig_xy) = measured_psf_kernel(psf, psf_vs, plan.axes, grid, plan.scale, plan.mode)
    return kw, f"{note}the bead's widths: sigma_z {sig_z:.3g}, sigma_xy {sig_xy:.3g} {unit or 'pixels'}"


# ------------------------------------------------------------------ factors


def parse_factors(text: str) -> list:
    """Factors typed as numbers separated by commas, semicolons or spaces."""
    try:
        return [float(v) for v in str(text).replace(";", ",").replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"factors must be numbers separated by commas, got {text!r}") from None


def factors_per_axis(values, axes: str, what: str = "factors") -> list:
    """One factor per letter of ``axes`` from one per axis, one per spatial axis (Z, Y, X), or, for a 2-D
    image, one for both Y and X; the engine (stack.plan) checks the values themselves."""
    values = [float(v) for v in values]
    spatial = [a for a in axes if a in "ZYX"]
    if len(values) == 1 and spatial == ["Y", "X"]:
        values *= 2
    if len(values) == len(axes):
        return values
    if len(values) == len(spatial) and values:
        per = dict(zip(spatial, values))
        return [per.get(a, 1.0) for a in axes]
    raise ValueError(f"{what}: give one factor per axis ({len(axes)}, axes {axes}) or per spatial axis "
                     f"({len(spatial)}, {''.join(spatial)}); got {len(values)}")


def isotropic_factors(factors, axes: str, sizes: Sizes, what: str = "making a stack isotropic",
                      whose: str = "its") -> list:
    """``factors`` with the z factor that makes the z step the lateral pixel size: f_z = s_z / (s_x / f_x).
    ``what`` names the setting in an error (the CLI's option, the widget's button), ``whose`` the sizes."""
    if "Z" not in axes:
        raise ValueError(f"{what} needs a Z axis; the data has axes {axes}")
    if not sizes.known:
        raise ValueError(f"{what} needs {whose} z step and pixel size; {sizes.reason or 'none are known'}")
    out = [float(f) for f in factors]
    lateral = sizes.sizes["X"] / out[axes.index("X")]
    fz = sizes.sizes["Z"] / lateral
    if fz <= 1.0 + 1e-9:
        raise ValueError(f"the z step ({sizes.sizes['Z']:g}) is not coarser than the pixel size ({lateral:g}): the "
                         f"stack is already isotropic")
    out[axes.index("Z")] = fz
    return out


# ------------------------------------------------------------------ training settings


@dataclass(frozen=True)
class Training:
    """The training settings a user chose; None: the preset's own."""

    preset: str = "auto"
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    max_steps: int | None = None
    gradual_steps: int | None = None
    back_projection: bool = True
    noise_std: float | str | None = None


def parse_preset(text: str) -> str:
    """"auto" or a preset's name, from the name or the widget's label for it."""
    name = {label: name for name, label in PRESET_LABELS.items()}.get(text, text)
    if name not in PRESET_CHOICES:
        raise ValueError(f"unknown preset {text!r}; choose one of {', '.join(PRESET_CHOICES)}")
    return name


def preset_labels() -> list:
    return [PRESET_LABELS.get(p, p) for p in PRESET_CHOICES]


def parse_noise_std(text):
    """The noise added to the LR sons: empty (the preset's own, None), a number, or "estimate"."""
    text = "" if text is None else str(text).strip()
    if not text:
        return None
    if text.lower() == "estimate":
        return "estimate"
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"noise on the sons must be a number or 'estimate', got {text!r}") from None


def config_factory(training: Training, client=None):
    """A function that makes the run's ZSSRConfig. The settings are checked now (on the "fast" preset where
    "auto" is asked, whose choice needs the device timed), so that a bad one is refused before any probe;
    "auto" is resolved when the function is called: on this machine's device, or on the cluster workers'."""
    from ..core.config import ZSSRConfig

    preset = parse_preset(training.preset)
    over = {"seed": int(training.seed), "device": training.device, "precision": training.precision}
    if training.gradual_steps is not None:
        over["gradual_steps"] = int(training.gradual_steps)
    if not training.back_projection:
        over["back_projection_iters"] = 0
    if training.noise_std is not None:
        over["noise_std"] = training.noise_std
    steps = training.max_steps

    def make(name, why=""):
        cfg = ZSSRConfig.preset(name, chosen_because=why, **over)
        return cfg if steps is None else cfg.with_max_iters(int(steps))

    make("fast" if preset == "auto" else preset)
    return lambda: make(*auto_choice(training.device, client)) if preset == "auto" else make(preset)


def auto_choice(device: str, client=None) -> tuple:
    """(preset, why in words) that "auto" means: on this machine's ``device``, decided once per machine
    (core.precision, kept in the user's cache folder, so a dry run and the run after it agree), or on the
    cluster's workers' devices."""
    import torch

    from ..core.device import resolve_device
    from ..core.precision import auto_preset

    if client is not None:  # the workers' devices count, not this machine's
        from .runners import worker_device

        return auto_preset(torch.device(worker_device(client, device)))
    return auto_preset(resolve_device(device))


def result_dtype(choice: str, source_dtype) -> np.dtype:
    """The result's type: float32, or the source's ("same", rounded and clipped; a float source gives float32)."""
    name = {label: name for name, label in DTYPE_LABELS.items()}.get(choice, choice)
    if name not in DTYPE_LABELS:
        raise ValueError(f"unknown output type {choice!r}; choose one of {', '.join(DTYPE_LABELS)}")
    dtype = np.dtype(source_dtype) if name == "same" else np.dtype(np.float32)
    return np.dtype(np.float32) if np.issubdtype(dtype, np.floating) else dtype


def device_choices() -> list:
    """(label, device) for each device this machine offers; "auto" names the one it picks."""
    import torch

    from ..core.device import describe_device, resolve_device

    out = [(f"auto ({describe_device(resolve_device('auto'))})", "auto"), ("CPU", "cpu")]
    for i in range(torch.cuda.device_count()):
        out.append((f"CUDA {i}: {torch.cuda.get_device_name(i)}", f"cuda:{i}"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(("Apple MPS", "mps"))
    return out
