"""A Gaussian degradation kernel from the microscope's optics, for the mode a run uses."""

from __future__ import annotations

import math

import numpy as np

from ..core.kernels import bead_sigmas, gaussian_kernel, gaussian_psf, widefield_sigmas


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
