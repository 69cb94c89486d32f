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


class Source(str, enum.Enum):
    """Where a stage's kernel comes from."""

    CUBIC = "cubic"          # the paper's default: bicubic (2-D), the cubic stretched to the factor (axial)
    GIVEN = "given"          # a kernel array, a named kernel, a Gaussian sigma or an axial profile
    PSF = "psf"              # derived from a PSF array placed on the output grid
    ESTIMATE = "estimate"    # read from the data, per channel; the default where it cannot be read
    SAVED = "saved"          # a networks file's own (back-projection must use what they learnt with)


@dataclass(frozen=True)
class StageKernel:
    """The kernel of one stage: ``kernel`` (a core.resize.Kernel for planes, a core.axial.AxialKernel for
    isotropic) is what every channel runs with until ``per_channel`` holds each channel's own.

    ``asked``: the user asked for the estimate (a channel it cannot be read for warns), rather than it
    being the isotropic default (a note says so)."""

    stage: str
    source: Source
    kernel: object
    per_channel: tuple = ()
    asked: bool = False

    @property
    def pending(self) -> bool:
        """Still to be read from the data."""
        return self.source is Source.ESTIMATE and not self.per_channel

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


def lateral_kernel(kernel) -> StageKernel:
    """The planes stage's kernel from a user's 2-D ``kernel`` (None: bicubic; "estimate": read per channel)."""
    if is_estimate(kernel):
        return StageKernel("planes", Source.ESTIMATE, Kernel("cubic"), asked=True)
    kern = Kernel("cubic" if kernel is None else kernel, ndim_max=2)
    if kern.numeric and kern.array.ndim != 2:
        raise ValueError(f"the 2-D kernel must be 2-D, got shape {kern.array.shape}")
    return StageKernel("planes", Source.CUBIC if kern.name == "cubic" else Source.GIVEN, kern)


def axial_stage_kernel(kernel, f: float, fine_step, psf_voxel_size, n_planes: int) -> StageKernel:
    """The isotropic stage's kernel: None reads the profile from the data (the cubic where it cannot),
    "cubic" keeps the cubic, "estimate" reads it and warns where it cannot; a sigma, a profile or a PSF."""
    if kernel is None or is_estimate(kernel):
        return StageKernel("isotropic", Source.ESTIMATE, AxialKernel.default(f), asked=kernel is not None)
    found = axial_kernel(kernel, f, fine_step, psf_voxel_size, n_planes=n_planes)
    if found.name == "cubic":
        return StageKernel("isotropic", Source.CUBIC, found)
    psf = not isinstance(kernel, (str, AxialKernel)) and np.ndim(kernel) in (2, 3)
    return StageKernel("isotropic", Source.PSF if psf else Source.GIVEN, found)


def stage_kernels(kernel, plan, vs, psf_voxel_size, n_planes: int) -> tuple:
    """(planes stage's kernel or None, isotropic stage's or None, the fine z step): in both mode the user's
    ``kernel`` is the axial one and the planes stage keeps bicubic, unless it is "estimate" (both read)."""
    lateral = axial = fine_step = None
    if plan.mode in ("planes", "both"):
        lateral = lateral_kernel(kernel if plan.mode == "planes" or is_estimate(kernel) else None)
    if plan.mode in ("isotropic", "both"):
        fine_step = vs[plan.axes.index("Z")] / plan.z_factor if vs is not None else None
        axial = axial_stage_kernel(kernel, plan.z_factor, fine_step, psf_voxel_size, n_planes)
    return lateral, axial, fine_step


def saved_kernels(saved: dict, lateral, axial) -> tuple:
    """The stages' kernels as a networks file holds them (the run's own where the file has none)."""
    lat, ax, axs, lats = nets.kernels_of(saved)
    if lateral is not None:
        lateral = StageKernel("planes", Source.SAVED, lat or lateral.kernel, lats)
    if axial is not None:
        axial = StageKernel("isotropic", Source.SAVED, ax or axial.kernel, axs)
    return lateral, axial
