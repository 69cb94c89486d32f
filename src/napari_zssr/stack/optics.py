"""A Gaussian degradation kernel from the microscope's optics, for the mode a run uses."""

from __future__ import annotations


def optics_kernel(axes: str, voxel_size: dict, factors, mode: str, na: float, wavelength: float,
                  refractive_index: float) -> dict:
    """upscale() keywords (``kernel`` and, in isotropic mode, ``psf_voxel_size``, ``voxel_size``) for a
    widefield Gaussian PSF; ``voxel_size`` (per letter of Z, Y, X) and ``wavelength`` in one unit.

    planes mode: the lateral Gaussian on the output grid (pixels of size voxel / factor); isotropic
    and both: the 3-D PSF, from which upscale() takes the axial kernel.
    """
    from ..core.kernels import gaussian_kernel, gaussian_psf, widefield_sigmas

    if mode == "planes":
        _, sig_xy = widefield_sigmas(na, wavelength, refractive_index)
        fy, fx = factors[axes.index("Y")], factors[axes.index("X")]
        return {"kernel": gaussian_kernel([sig_xy / (voxel_size["Y"] / fy), sig_xy / (voxel_size["X"] / fx)])}
    psf_vs = (voxel_size["Z"], voxel_size["Y"], voxel_size["X"])
    psf = gaussian_psf(na, wavelength, refractive_index, psf_vs)
    return {"kernel": psf, "psf_voxel_size": psf_vs, "voxel_size": [voxel_size.get(a, 1.0) for a in axes]}
