"""Interpolation kernels (MATLAB's imresize set) and numeric downscaling kernels."""

from __future__ import annotations

import numpy as np

from .checks import check_numeric


def cubic(x):
    """Keys cubic convolution kernel with a = -0.5 (MATLAB's 'cubic')."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (
        -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    ) * ((ax > 1) & (ax <= 2))


def linear(x):
    return (x + 1.0) * ((x >= -1) & (x < 0)) + (1.0 - x) * ((x >= 0) & (x <= 1))


def box(x):
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


def _lanczos(a):
    eps = np.finfo(np.float64).eps

    def kernel(x):
        # The eps terms keep x = 0 finite exactly as MATLAB does.
        num = np.sin(np.pi * x) * np.sin(np.pi * x / a) + eps
        den = np.pi**2 * x * x / a + eps
        return (num / den) * (np.abs(x) < a)

    return kernel


KERNELS = {
    "cubic": (cubic, 4.0),
    "linear": (linear, 2.0),
    "lanczos2": (_lanczos(2), 4.0),
    "lanczos3": (_lanczos(3), 6.0),
    "box": (box, 1.0),
}
_ALIASES = {"bicubic": "cubic", "bilinear": "linear", "triangle": "linear"}


def kernel_name(name: str) -> str:
    """The canonical name of an interpolation kernel, or a ValueError listing the choices."""
    if not isinstance(name, str):
        raise TypeError(f"kernel name must be a string, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in KERNELS:
        choices = ", ".join(sorted(KERNELS) + sorted(_ALIASES))
        raise ValueError(f"unknown kernel {name!r}; choose one of {choices} or pass an array")
    return key


def validate_numeric_kernel(kernel, ndim_max: int = 2) -> np.ndarray:
    """Check a numeric downscaling kernel and return it as float64 normalised to sum 1.

    Negative lobes are allowed (the cubic has them); the sum must be positive.
    """
    k = np.asarray(kernel)
    check_numeric(k, "kernel")
    if k.ndim == 0 or k.ndim > ndim_max:
        raise ValueError(f"kernel must have 1 to {ndim_max} dimensions, got shape {k.shape}")
    if k.size == 0:
        raise ValueError("kernel is empty")
    k = k.astype(np.float64)
    if not np.all(np.isfinite(k)):
        raise ValueError("kernel contains NaN or inf values")
    total = k.sum()
    if not total > 0:
        raise ValueError(f"kernel must have a positive sum, got {total:g}")
    return k / total


def centre_of_mass(k: np.ndarray) -> np.ndarray:
    grids = np.indices(k.shape, dtype=np.float64)
    total = k.sum()
    return np.array([(g * k).sum() / total for g in grids])


def shift_kernel(k: np.ndarray, phase) -> np.ndarray:
    """Resample a kernel so that its centre of mass sits at ``n // 2 + phase`` on every axis.

    Correlating with the result and reading pixel ``p`` then gives the image blurred by the
    kernel centred (by mass) on ``p + phase``. ``n // 2`` is integer division on purpose: the
    kernel's origin under correlation is its middle sample, for odd and even sizes alike.
    """
    from scipy import ndimage

    phase = np.broadcast_to(np.asarray(phase, dtype=np.float64), (k.ndim,))
    c = centre_of_mass(k)
    pad = int(np.ceil(np.max(np.abs(c - np.array(k.shape) // 2) + np.abs(phase)))) + 1
    kp = np.pad(k, pad)
    wanted = np.array(kp.shape) // 2 + phase
    shift = wanted - (c + pad)
    if np.allclose(shift, np.round(shift)):
        out = ndimage.shift(kp, np.round(shift), order=0, mode="constant")
    else:
        out = ndimage.shift(kp, shift, order=1, mode="constant")
    return out / out.sum()


def gaussian_kernel(sigma, size=None) -> np.ndarray:
    """A sampled, normalised Gaussian; one sigma per axis (pixels)."""
    sig = np.atleast_1d(np.asarray(sigma, dtype=np.float64))
    if not np.all(np.isfinite(sig)) or np.any(sig < 0):
        raise ValueError(f"Gaussian sigma must be finite and >= 0, got {sigma}")
    axes = []
    for i, s in enumerate(sig):
        n = size[i] if size is not None else 2 * int(np.ceil(4 * s)) + 1
        x = np.arange(n) - (n - 1) / 2
        g = np.exp(-0.5 * (x / s) ** 2) if s > 0 else (x == 0).astype(float)
        axes.append(g / g.sum())
    out = axes[0]
    for g in axes[1:]:
        out = np.multiply.outer(out, g)
    return out / out.sum()


def gaussian_psf(na: float, wavelength: float, refractive_index: float, voxel_size, shape=None) -> np.ndarray:
    """A 3-D Gaussian approximation (z, y, x) of a widefield PSF from the optics.

    sigma_xy = 0.21 lambda / NA and sigma_z = 0.66 lambda n / NA^2 (Zhang, Zerubia and
    Olivo-Marin, Applied Optics 46(10), 2007); ``wavelength`` and ``voxel_size`` in the same unit.
    """
    for name, v in (("na", na), ("wavelength", wavelength), ("refractive_index", refractive_index)):
        if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    if na >= refractive_index:
        raise ValueError(f"the numerical aperture ({na}) must be below the refractive index ({refractive_index})")
    vs = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
    if not np.all(np.isfinite(vs)) or np.any(vs <= 0):
        raise ValueError(f"voxel_size must be three positive sizes (z, y, x), got {voxel_size!r}")
    sig_z, sig_xy = widefield_sigmas(na, wavelength, refractive_index)
    return gaussian_kernel(np.array([sig_z, sig_xy, sig_xy]) / vs, size=shape)


def widefield_sigmas(na: float, wavelength: float, refractive_index: float) -> tuple:
    """(sigma_z, sigma_xy) of the Gaussian approximation of a widefield PSF, in the wavelength's unit:
    0.66 lambda n / NA^2 and 0.21 lambda / NA (Zhang, Zerubia and Olivo-Marin 2007)."""
    return 0.66 * wavelength * refractive_index / na**2, 0.21 * wavelength / na


def _psf_array(psf, voxel_size, name: str, size_name: str) -> tuple:
    """A 2-D/3-D float64 array of finite numbers and its voxel size per axis, or a ValueError that
    says which of them is wrong."""
    p = np.asarray(psf)
    check_numeric(p, name)
    if p.ndim not in (2, 3):
        raise ValueError(f"a {name} must be 2-D (z, x) or 3-D (z, y, x), got shape {p.shape}")
    p = p.astype(np.float64)
    if not np.all(np.isfinite(p)):
        raise ValueError(f"the {name} contains NaN or inf values")
    vs = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (p.ndim,))
    if not np.all(np.isfinite(vs)) or np.any(vs <= 0):
        raise ValueError(f"{size_name} must be {p.ndim} positive sizes, got {voxel_size!r}")
    return p, vs


def psf_sigmas(psf, voxel_size) -> tuple:
    """Standard deviations (axial, lateral) of a 2-D (z, x) or 3-D (z, y, x) PSF, in voxel_size units."""
    p, vs = _psf_array(psf, voxel_size, "PSF", "psf_voxel_size")
    if np.any(p < 0):
        raise ValueError(f"the PSF has negative values (min {p.min():g}); subtract its background and clip at 0")
    if not p.sum() > 0:
        raise ValueError("the PSF is all zeros")

    def sd(profile, step):
        x = np.arange(profile.size) * step
        w = profile / profile.sum()
        mu = (w * x).sum()
        return float(np.sqrt((w * (x - mu) ** 2).sum()))

    axial = sd(p.sum(axis=tuple(range(1, p.ndim))), vs[0])
    lateral = sd(p.sum(axis=tuple(range(p.ndim - 1))), vs[-1])
    return axial, lateral


def bead_sigmas(bead, voxel_size) -> tuple:
    """Standard deviations (axial, lateral) of the PSF in an image of one bead, 2-D (z, x) or 3-D
    (z, y, x), in voxel_size units: a Gaussian plus a constant fitted to each axis's projection, so
    the camera's offset and the noise do not widen it (second moments would weigh them by x^2).
    An axis shorter than 7 samples falls back to the moments of ``psf_sigmas``."""
    from scipy.optimize import curve_fit

    p, vs = _psf_array(bead, voxel_size, "bead image", "the bead's voxel size")

    def gauss(x, a, mu, s, c):
        return a * np.exp(-0.5 * ((x - mu) / s) ** 2) + c

    sds, moments = [], None
    for ax in range(p.ndim):
        prof = p.sum(axis=tuple(i for i in range(p.ndim) if i != ax))
        n = prof.size
        if n < 7:
            moments = psf_sigmas(p, vs) if moments is None else moments
            sds.append(moments[0] if ax == 0 else moments[1])
            continue
        x = np.arange(n, dtype=np.float64)
        c0 = float(np.median(np.concatenate([prof[:2], prof[-2:]])))
        a0 = float(prof.max() - c0)
        if not a0 > 0:
            raise ValueError(f"no bead stands above the background along axis {ax} of the bead image")
        above = np.clip(prof - c0, 0, None)
        s0 = max(1.0, float(np.sqrt((above * (x - x[np.argmax(prof)]) ** 2).sum() / above.sum())))
        try:
            (a, mu, s, c), _ = curve_fit(gauss, x, prof, p0=[a0, float(np.argmax(prof)), min(s0, n / 4), c0],
                                         maxfev=5000)
        except RuntimeError:
            raise ValueError(f"the bead's profile along axis {ax} is not bell-shaped: no Gaussian fits it") from None
        if not (a > 0 and 0.1 < abs(s) < n and -0.5 <= mu <= n - 0.5):
            raise ValueError(f"the bead's profile along axis {ax} is not bell-shaped (fit: width {abs(s):.3g} "
                             f"samples, centre {mu:.3g} of {n}); crop the image around one bead")
        sds.append(float(abs(s) * vs[ax]))
    return float(sds[0]), float(np.mean(sds[1:]))
