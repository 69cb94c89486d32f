"""A Gaussian degradation kernel from the microscope's optics, for the mode a run uses: the optics as a
type (``Optics``), read from a file's metadata or given by the caller, and the kernels they make."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.kernels import bead_sigmas, gaussian_kernel, gaussian_psf, widefield_sigmas

# where each value lives in OME metadata, for the words that name a missing one
OME_PLACES = {"numerical aperture": "OME Objective/@LensNA",
              "emission wavelength": "OME Channel/@EmissionWavelength",
              "refractive index": "OME ObjectiveSettings/@RefractiveIndex or Objective/@Immersion"}


@dataclass(frozen=True)
class Optics:
    """A widefield microscope: numerical aperture, emission wavelength in nm (one, or one per channel) and
    immersion refractive index. ``kernel=Optics(...)`` gives upscale() the Gaussian PSF they make, per channel;
    ``Optics.from_metadata(read_image(path).metadata)`` takes them from a file."""

    na: float
    wavelength_nm: float | tuple
    refractive_index: float

    @classmethod
    def from_metadata(cls, metadata: dict, na=None, wavelength_nm=None, refractive_index=None) -> Optics:
        """The optics an image's metadata (io.read_image's ``metadata["optics"]``) give, each value given here
        taking precedence; a ValueError names every value that neither gives."""
        found = dict((metadata or {}).get("optics") or {})
        waves = found.get("emission_nm") or []
        values = {"numerical aperture": na if na is not None else found.get("na"),
                  "emission wavelength": wavelength_nm if wavelength_nm is not None else
                  (tuple(waves) if waves and all(w is not None for w in waves) else None),
                  "refractive index": refractive_index if refractive_index is not None else
                  found.get("refractive_index")}
        missing = [name for name, v in values.items() if v is None]
        if missing:
            raise ValueError("a Gaussian from optics needs " + ", ".join(missing) + ", and the file's metadata lack "
                             + ("it" if len(missing) == 1 else "them") + " ("
                             + "; ".join(OME_PLACES[m] for m in missing) + ")")
        wl = values["emission wavelength"]
        wl = wl[0] if isinstance(wl, tuple) and len(set(wl)) == 1 else wl
        return cls(float(values["numerical aperture"]), wl, float(values["refractive index"]))

    def check(self) -> Optics:
        """Itself, where every value is usable; else a ValueError naming the value."""
        for name, v, low in (("numerical aperture", self.na, 0), ("refractive index", self.refractive_index, 1),
                             *(("wavelength", w, 0) for w in self._waves())):
            number = isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(v)
            if not (number and (v >= 1 if name == "refractive index" else v > low)):  # air's index is 1
                what = "at least 1" if name == "refractive index" else f"above {low}"
                raise ValueError(f"the {name} must be a number {what}, got {v!r}")
        if self.na >= self.refractive_index:
            raise ValueError(f"the numerical aperture ({self.na:g}) must be below the refractive index "
                             f"({self.refractive_index:g})")
        return self

    def _waves(self) -> tuple:
        w = self.wavelength_nm
        return tuple(w) if isinstance(w, (tuple, list, np.ndarray)) else (w,)

    def wavelengths(self, channels: int) -> list:
        """The emission wavelength (nm) of each of ``channels`` channels: one for all, or one each."""
        w = self._waves()
        if len(w) == 1:
            return [float(w[0])] * channels
        if len(w) != channels:
            raise ValueError(f"the optics give {len(w)} emission wavelengths for {channels} channels: give one, or "
                             f"one per channel")
        return [float(v) for v in w]

    def sigma_xy(self, wavelength_nm: float, unit) -> float:
        """The lateral sigma of the PSF at ``wavelength_nm`` in ``unit`` (None: micrometres)."""
        from ..io.units import to_unit

        wl = wavelength_nm / 1000.0 if unit is None else to_unit(wavelength_nm, "nm", unit)
        return widefield_sigmas(self.na, wl, self.refractive_index)[1]

    def words(self, wavelength_nm: float) -> str:
        return f"NA {self.na:g}, emission {wavelength_nm:g} nm, refractive index {self.refractive_index:g}"


def optics_lateral(optics: Optics, pixel_yx, unit, channels: int) -> list:
    """(2-D Gaussian kernel on the output grid, sigma in output pixels (y, x), words) per channel, for output
    pixels of size ``pixel_yx`` in ``unit``."""
    out = []
    for wl in optics.check().wavelengths(channels):
        s = optics.sigma_xy(wl, unit)
        sig = [s / pixel_yx[0], s / pixel_yx[1]]
        out.append((gaussian_kernel(sig), sig, optics.words(wl)))
    return out


def optics_psfs(optics: Optics, voxel_zyx, unit, channels: int) -> list:
    """(3-D Gaussian PSF on the voxel grid ``voxel_zyx`` in ``unit``, words) per channel."""
    from ..io.units import to_unit

    out = []
    for wl in optics.check().wavelengths(channels):
        w = wl / 1000.0 if unit is None else to_unit(wl, "nm", unit)
        out.append((gaussian_psf(optics.na, w, optics.refractive_index, tuple(voxel_zyx)), optics.words(wl)))
    return out


def optics_kernel(axes: str, voxel_size: dict, factors, mode: str, na: float, wavelength: float,
                  refractive_index: float) -> dict:
    """upscale() keywords (``kernel`` and, in isotropic mode, ``psf_voxel_size``, ``voxel_size``) for a
    widefield Gaussian PSF; ``voxel_size`` (per letter of Z, Y, X) and ``wavelength`` in one unit.

    planes mode: the lateral Gaussian on the output grid (pixels of size voxel / factor); isotropic
    and both: the 3-D PSF, from which upscale() takes the axial kernel.
    """
    if mode == "planes":
        _, sig_xy = widefield_sigmas(na, wavelength, refractive_index)
        fy, fx = factors[axes.index("Y")], factors[axes.index("X")]
        return {"kernel": gaussian_kernel([sig_xy / (voxel_size["Y"] / fy), sig_xy / (voxel_size["X"] / fx)])}
    psf_vs = (voxel_size["Z"], voxel_size["Y"], voxel_size["X"])
    psf = gaussian_psf(na, wavelength, refractive_index, psf_vs)
    return {"kernel": psf, "psf_voxel_size": psf_vs, "voxel_size": [voxel_size.get(a, 1.0) for a in axes]}


MAX_PSF_VOXELS = 1 << 24  # a PSF is a small image of one bead; a whole stack chosen by mistake is refused


def measured_psf_kernel(psf, psf_voxel_size, axes: str, voxel_size: dict, factors, mode: str) -> tuple:
    """upscale() keywords for the PSF in an image of one bead, 2-D (z, x) or 3-D (z, y, x), whose voxel
    size ``psf_voxel_size`` is in the unit of ``voxel_size`` (per letter of Z, Y, X); and the bead's
    (sigma_z, sigma_xy) in that unit.

    The widths come from Gaussians fitted to the bead's projections (core.kernels.bead_sigmas: the
    camera offset and the noise do not widen them). planes mode: a Gaussian as wide as the bead
    laterally, on the output grid; isotropic and both: the axial Gaussian of the PSF's anisotropic
    part, sqrt(sigma_z^2 - sigma_xy^2), in fine-grid pixels (0 where the bead is no longer along z).
    """
    shape = tuple(psf.shape) if hasattr(psf, "shape") else np.shape(psf)
    if math.prod(shape) > MAX_PSF_VOXELS:  # checked before a lazy layer is read
        raise ValueError(f"the PSF has {math.prod(shape)} voxels (shape {shape}); a PSF is a small image of one "
                         f"bead: crop it around the bead")
    p = np.asarray(psf, dtype=np.float64)
    vs = tuple(float(v) for v in np.broadcast_to(np.asarray(psf_voxel_size, dtype=float), (p.ndim,)))
    sig_z, sig_xy = bead_sigmas(p, vs)
    if mode == "planes":
        fy, fx = factors[axes.index("Y")], factors[axes.index("X")]
        kernel = gaussian_kernel([sig_xy / (voxel_size["Y"] / fy), sig_xy / (voxel_size["X"] / fx)])
        return {"kernel": kernel}, (sig_z, sig_xy)
    fine_step = voxel_size["Z"] / factors[axes.index("Z")]
    return {"kernel": math.sqrt(max(sig_z**2 - sig_xy**2, 0.0)) / fine_step}, (sig_z, sig_xy)
