"""The kernel of each stage of a run, as a type: what the user's ``kernel`` stands for, parsed here and
nowhere else, and, once read from the data or a networks file, the kernel each channel runs with."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

import numpy as np

from ..core.axial import AxialKernel, axial_kernel
from ..core.resize import Kernel
from . import networks as nets
from .optics import Optics, optics_lateral, optics_psfs


class Source(str, enum.Enum):
    """Where a stage's kernel comes from."""

    CUBIC = "cubic"          # the paper's default: bicubic (2-D), the cubic stretched to the factor (axial)
    GIVEN = "given"          # a kernel array, a named kernel, a Gaussian sigma or an axial profile
    PSF = "psf"              # derived from a PSF array placed on the output grid
    ESTIMATE = "estimate"    # read from the data, per channel; the default where it cannot be read
    OPTICS = "optics"        # the Gaussian PSF of the microscope's optics (NA, emission wavelength, immersion)
    SAVED = "saved"          # a networks file's own (back-projection must use what they learnt with)


@dataclass(frozen=True)
class StageKernel:
    """The kernel of one stage: ``kernel`` (a core.resize.Kernel for planes, a core.axial.AxialKernel for
    isotropic) is what every channel runs with until ``per_channel`` holds each channel's own.

    ``asked``: the user asked for the estimate (a channel it cannot be read for warns), rather than it
    being the isotropic default (a note says so). ``compare``: the kernels (the optics') are to be compared
    with the PSF read from the data before the run (the report says where they disagree)."""

    stage: str
    source: Source
    kernel: object
    per_channel: tuple = ()
    asked: bool = False
    compare: bool = False

    @property
    def pending(self) -> bool:
        """Still to be read from the data (or compared with what the data show)."""
        return (self.source is Source.ESTIMATE and not self.per_channel) or self.compare

    def with_channels(self, kernels) -> StageKernel:
        return dataclasses.replace(self, per_channel=tuple(kernels))

    def only(self, c: int) -> StageKernel:
        """As channel ``c``'s units see it: one kernel."""
        if not self.per_channel:
            return self
        return dataclasses.replace(self, kernel=self.per_channel[c], per_channel=())

    @property
    def name(self) -> str:
        names = [k.name for k in self.per_channel] or [self.kernel.name]
        return "; ".join(dict.fromkeys(names)) if self.stage == "planes" else "; ".join(names)

    def arrays(self) -> list:
        """The numbers behind the kernels (for a fingerprint of the run)."""
        kernels = [self.kernel, *self.per_channel]
        return [getattr(k, "array", None) if self.stage == "planes" else k.taps for k in kernels]


def is_estimate(kernel) -> bool:
    return isinstance(kernel, str) and kernel.lower() == "estimate"


OPTICS_WORD = ("kernel='optics' needs the microscope's optics: pass optics= (an Optics(na, wavelength_nm, "
               "refractive_index), a dict of those, or a file's metadata: read_image(path).metadata), or "
               "kernel=Optics(...) itself, with voxel_size")


def with_optics(kernel, optics):
    """``kernel``, with the word "optics" replaced by the Optics that ``optics`` gives: an Optics, a dict of
    its values (na, wavelength_nm, refractive_index), or a file's metadata (io.read_image's, whose "optics"
    the file's OME holds); a ValueError names what is missing."""
    if not (isinstance(kernel, str) and kernel.strip().lower() == "optics") or optics is None:
        return kernel
    if isinstance(optics, Optics):
        return optics
    if not isinstance(optics, dict):
        raise TypeError(f"optics must be an Optics, a dict of na, wavelength_nm and refractive_index, or a file's "
                        f"metadata; got {type(optics).__name__}")
    values = {"na", "wavelength_nm", "refractive_index"}
    if not set(optics) <= values:  # a file's metadata (read_image's), which names what its OME lacks
        return Optics.from_metadata(optics)
    return Optics.from_metadata({}, **optics)


def _optics_given(kernel) -> bool:
    """Whether ``kernel`` is the optics; the bare word, which carries no values, is refused by name."""
    if isinstance(kernel, str) and kernel.strip().lower() == "optics":
        raise ValueError(OPTICS_WORD)
    return isinstance(kernel, Optics)


def lateral_kernel(kernel, pixel_yx=None, unit=None, channels: int = 1) -> StageKernel:
    """The planes stage's kernel from a user's 2-D ``kernel`` (None: bicubic; "estimate": read per channel;
    an Optics: its Gaussian per channel on output pixels of size ``pixel_yx`` in ``unit``)."""
    if is_estimate(kernel):
        return StageKernel("planes", Source.ESTIMATE, Kernel("cubic"), asked=True)
    if _optics_given(kernel):
        if pixel_yx is None:
            raise ValueError("a Gaussian from optics needs the image's pixel size (voxel_size)")
        kernels = [Kernel(k).named(f"optics({words}: sigma {sig[0]:.3g} x {sig[1]:.3g} px)")
                   for k, sig, words in optics_lateral(kernel, pixel_yx, unit, channels)]
        return StageKernel("planes", Source.OPTICS, kernels[0], tuple(kernels), compare=True)
    kern = Kernel("cubic" if kernel is None else kernel, ndim_max=2)
    if kern.numeric and kern.array.ndim != 2:
        raise ValueError(f"the 2-D kernel must be 2-D, got shape {kern.array.shape}")
    return StageKernel("planes", Source.CUBIC if kern.name == "cubic" else Source.GIVEN, kern)


def axial_stage_kernel(kernel, f: float, fine_step, psf_voxel_size, n_planes: int, voxel_zyx=None, unit=None,
                       channels: int = 1) -> StageKernel:
    """The isotropic stage's kernel: None reads the profile from the data (the cubic where it cannot),
    "cubic" keeps the cubic, "estimate" reads it and warns where it cannot; a sigma, a profile or a PSF;
    an Optics: each channel's PSF on the voxel grid ``voxel_zyx`` (in ``unit``), as a PSF is taken."""
    if kernel is None or is_estimate(kernel):
        return StageKernel("isotropic", Source.ESTIMATE, AxialKernel.default(f), asked=kernel is not None)
    if _optics_given(kernel):
        if voxel_zyx is None:
            raise ValueError("a Gaussian from optics needs the image's voxel sizes (voxel_size)")
        kernels = []
        for psf, words in optics_psfs(kernel, voxel_zyx, unit, channels):
            k = axial_kernel(psf, f, fine_step, voxel_zyx, n_planes=n_planes)
            kernels.append(AxialKernel(k.taps, f"optics({words}: {k.name})"))
        return StageKernel("isotropic", Source.OPTICS, kernels[0], tuple(kernels))
    found = axial_kernel(kernel, f, fine_step, psf_voxel_size, n_planes=n_planes)
    if found.name == "cubic":
        return StageKernel("isotropic", Source.CUBIC, found)
    psf = not isinstance(kernel, (str, AxialKernel)) and np.ndim(kernel) in (2, 3)
    return StageKernel("isotropic", Source.PSF if psf else Source.GIVEN, found)


def stage_kernels(kernel, plan, vs, psf_voxel_size, n_planes: int, unit=None, channels: int = 1) -> tuple:
    """(planes stage's kernel or None, isotropic stage's or None, the fine z step): in both mode the user's
    ``kernel`` is the axial one and the planes stage keeps bicubic, unless it is "estimate" (both read).
    ``unit`` (of ``vs``) and ``channels`` serve a kernel given as the optics (per channel)."""
    lateral = axial = fine_step = None
    if plan.joint and isinstance(kernel, Optics) and len(set(kernel.wavelengths(channels))) > 1:
        raise ValueError("an RGB image's colours share one network and one kernel: give the optics one wavelength")
    size = {a: vs[plan.axes.index(a)] for a in "ZYX" if a in plan.axes} if vs is not None else None
    if plan.mode in ("planes", "both"):
        pixel = None if size is None else [size[a] / plan.scale[plan.axes.index(a)] for a in "YX"]
        lateral = lateral_kernel(kernel if plan.mode == "planes" or is_estimate(kernel) else None, pixel, unit,
                                 channels)
    if plan.mode in ("isotropic", "both"):
        fine_step = size["Z"] / plan.z_factor if size is not None else None
        zyx = None if size is None else [size[a] for a in "ZYX"]
        axial = axial_stage_kernel(kernel, plan.z_factor, fine_step, psf_voxel_size, n_planes, zyx, unit, channels)
    return lateral, axial, fine_step


def saved_kernels(saved: dict, lateral, axial) -> tuple:
    """The stages' kernels as a networks file holds them (the run's own where the file has none)."""
    lat, ax, axs, lats = nets.kernels_of(saved)
    if lateral is not None:
        lateral = StageKernel("planes", Source.SAVED, lat or lateral.kernel, lats)
    if axial is not None:
        axial = StageKernel("isotropic", Source.SAVED, ax or axial.kernel, axs)
    return lateral, axial
