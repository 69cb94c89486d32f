"""Point-sampled axes: degrading and interpolating along one axis whose samples are optical sections.

A z plane is a point sample of the axially blurred volume, so input plane i sits at output
position i * f: plane 0 stays, output planes are s / f apart and there are floor((n - 1) f) + 1
of them. Boundaries mirror about the end samples.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np

from .kernels import cubic, psf_sigmas, shift_kernel, validate_numeric_kernel


def fine_length(n: int, f: float) -> int:
    """Output planes for n input planes enlarged by f as point samples."""
    return int(math.floor(round((n - 1) * f, 9))) + 1


def coarse_length(h: int, f: float) -> int:
    """Planes kept when a fine axis of h samples is subsampled by f from sample 0."""
    return int(math.floor(round((h - 1) / f, 9))) + 1


def _reflect(idx: np.ndarray, n: int) -> np.ndarray:
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    i = np.mod(idx, period)
    return np.where(i > n - 1, period - i, i)


class AxialKernel:
    """Taps of the axial degradation kernel on the fine grid, centred (by mass) on tap ``len // 2``."""

    def __init__(self, taps: np.ndarray, name: str):
        self.taps = np.asarray(taps, dtype=np.float64)
        self.taps.flags.writeable = False
        self.name = name

    @classmethod
    def default(cls, f: float) -> "AxialKernel":
        """The cubic antialiasing kernel stretched to the factor: h(x / f) / f, 4 f wide."""
        r = int(math.ceil(2 * f))
        d = np.arange(-r, r + 1, dtype=np.float64)
        w = cubic(d / f) / f
        return cls(w / w.sum(), "cubic")

    @classmethod
    def gaussian(cls, sigma: float) -> "AxialKernel":
        if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma >= 0):
            raise ValueError(f"axial sigma must be a finite number >= 0 (fine-grid pixels), got {sigma!r}")
        if sigma == 0:
            return cls(np.ones(1), "gaussian(0)")
        r = int(math.ceil(4 * sigma))
        d = np.arange(-r, r + 1, dtype=np.float64)
        w = np.exp(-0.5 * (d / sigma) ** 2)
        return cls(w / w.sum(), f"gaussian({sigma:g})")

    @classmethod
    def profile(cls, values) -> "AxialKernel":
        k = validate_numeric_kernel(values, ndim_max=1)
        if np.any(k < 0):
            raise ValueError("an axial profile must be non-negative")
        return cls(shift_kernel(k, 0.0), f"profile({k.size})")

    @property
    def key(self):
        return (self.taps.tobytes(), self.taps.size)


@lru_cache(maxsize=128)
def _down(h: int, f: float, key, m: int) -> np.ndarray:
    taps = np.frombuffer(key[0], dtype=np.float64)
    o = taps.size // 2
    blur = np.zeros((h, h))
    rows = np.arange(h)
    for j, w in enumerate(taps):
        np.add.at(blur, (rows, _reflect(rows + j - o, h)), w)
    pos = np.arange(m) * f
    lo = np.floor(pos + 1e-9).astype(int)
    frac = np.clip(pos - lo, 0, 1)
    frac[frac < 1e-9] = 0
    samp = np.zeros((m, h))
    np.add.at(samp, (np.arange(m), _reflect(lo, h)), 1 - frac)
    np.add.at(samp, (np.arange(m), _reflect(lo + 1, h)), frac)
    out = samp @ blur
    out.flags.writeable = False
    return out


def down_matrix(h: int, f: float, kernel: AxialKernel, m: int | None = None) -> np.ndarray:
    """(m, h): blur the fine axis with the kernel, keep every f-th sample (m = coarse_length(h, f)).

    A larger ``m`` reads the last samples past the end by mirroring: for a non-integer f the last
    input plane may lie up to f beyond the last output plane.
    """
    return _down(h, float(f), kernel.key, coarse_length(h, f) if m is None else int(m))


@lru_cache(maxsize=128)
def up_matrix(m: int, f: float, out_len: int | None = None) -> np.ndarray:
    """(out_len, m): Keys cubic interpolation of point samples at i * f."""
    out_len = fine_length(m, f) if out_len is None else out_len
    u = np.arange(out_len) / f
    base = np.floor(u + 1e-9)
    mat = np.zeros((out_len, m))
    rows = np.arange(out_len)
    for t in range(-1, 3):
        idx = base + t
        np.add.at(mat, (rows, _reflect(idx.astype(int), m)), cubic(u - idx))
    mat /= mat.sum(axis=1, keepdims=True)
    mat.flags.writeable = False
    return mat


@lru_cache(maxsize=128)
def linear_up_matrix(m: int, f: float, out_len: int | None = None) -> np.ndarray:
    """(out_len, m): linear interpolation of point samples at i * f (the better baseline where z is aliased)."""
    out_len = fine_length(m, f) if out_len is None else out_len
    u = np.clip(np.arange(out_len) / f, 0, m - 1)
    base = np.minimum(np.floor(u + 1e-9).astype(int), max(m - 2, 0))
    w = u - base
    mat = np.zeros((out_len, m))
    rows = np.arange(out_len)
    np.add.at(mat, (rows, base), 1 - w)
    np.add.at(mat, (rows, np.minimum(base + 1, m - 1)), w)
    mat.flags.writeable = False
    return mat


# Taps of an axial kernel where the stack's depth is not known: a Gaussian of sigma 512 fine-grid pixels,
# far wider than any optical section; blurring a fine axis costs its length times the taps.
MAX_AXIAL_TAPS = 4097


def max_axial_taps(n_planes, f: float) -> int:
    """The widest axial kernel worth building for ``n_planes`` input planes enlarged by f (None: unknown).

    Mirrored at the ends, a kernel wider than the stack only blurs it towards its mean: past the
    +-4 sigma of a Gaussian whose sigma is the output stack's depth there is nothing left to model.
    """
    if n_planes is None:
        return MAX_AXIAL_TAPS
    return min(MAX_AXIAL_TAPS, 8 * fine_length(int(n_planes), f) + 1)


def _too_wide(what: str, f: float, n_planes) -> str:
    """The start of a refusal: what was too wide, and than what."""
    if n_planes is None:
        return f"the axial kernel ({what}) is wider than any stack this tool enlarges"
    return f"the axial kernel ({what}) is wider than the stack ({fine_length(int(n_planes), f)} output planes)"


def _check_sigma(sigma: float, f: float, n_planes) -> None:
    """Before any taps are made: a Gaussian of sigma s has 2 ceil(4 s) + 1 of them. Sigma 0 stays
    allowed: it is a point-sampled z (no axial blur), as the benchmarks' true kernel at sigma 0."""
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"axial sigma must be a finite number >= 0 (fine-grid pixels), got {sigma!r}")
    limit = (max_axial_taps(n_planes, f) - 1) // 8
    if sigma > limit:
        raise ValueError(f"{_too_wide(f'sigma {sigma:g} px', f, n_planes)}: sigma must be at most {limit} "
                         "output-grid pixels")


def _check_profile(taps: int, f: float, n_planes) -> None:
    limit = max_axial_taps(n_planes, f)
    if taps > limit:
        raise ValueError(f"{_too_wide(f'a profile of {taps} taps', f, n_planes)}: give at most {limit} taps")


def _psf_z_step(psf_voxel_size, ndim: int) -> float:
    """The PSF's z step, once every one of its sizes is known to be positive and finite."""
    try:
        vs = np.asarray(psf_voxel_size, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        vs = np.array([np.nan])
    if vs.size not in (1, ndim) or not np.all(np.isfinite(vs)) or np.any(vs <= 0):
        raise ValueError(f"psf_voxel_size must be {ndim} positive finite sizes (z first), got {psf_voxel_size!r}")
    return float(vs[0])


def _check_psf_extent(psf, psf_voxel_size, fine_step, f: float, n_planes) -> None:
    """The PSF's z extent on the output grid, before its moments are taken: a PSF whose z step is far
    coarser than the output grid's (or in another unit) would make a Gaussian of millions of taps."""
    z_step = _psf_z_step(psf_voxel_size, psf.ndim)
    if not (isinstance(fine_step, (int, float, np.number)) and math.isfinite(fine_step) and fine_step > 0):
        raise ValueError(f"the output grid's z step (voxel_size z / f) must be positive and finite, got {fine_step!r}")
    extent = psf.shape[0] * z_step / fine_step
    limit = max_axial_taps(n_planes, f)
    if extent > limit:
        raise ValueError(f"{_too_wide(f'a PSF {extent:.3g} output planes deep', f, n_planes)}: its z extent, "
                         f"{psf.shape[0]} planes x psf_voxel_size z {z_step:g} / output z step {fine_step:g}, must "
                         f"be at most {limit} planes (check psf_voxel_size and voxel_size, or crop the PSF)")


def axial_kernel(spec, f: float, fine_step=None, psf_voxel_size=None, n_planes=None) -> AxialKernel:
    """The axial kernel on the fine grid from what the user gave.

    None: the cubic stretched to f; a float: a Gaussian sigma in fine-grid pixels; a 1-D array:
    the profile on the fine grid; a 2-D/3-D PSF (z first) with ``psf_voxel_size``: a Gaussian with
    the PSF's anisotropic part, sqrt(sigma_z^2 - sigma_xy^2), expressed in fine-grid pixels of
    size ``fine_step`` (the lateral planes are already blurred by the lateral PSF).

    ``n_planes``, the data's input z planes, bounds the kernel's width (``max_axial_taps``); a
    wider one is refused before anything is allocated.
    """
    if spec is None or (isinstance(spec, str) and spec.lower() in ("cubic", "bicubic", "default")):
        return AxialKernel.default(f)
    if isinstance(spec, AxialKernel):
        return spec
    if isinstance(spec, str):
        raise ValueError(f"unknown axial kernel {spec!r}: give None/'cubic', a sigma, a 1-D profile or a PSF array")
    if isinstance(spec, (int, float, np.integer, np.floating)) and not isinstance(spec, (bool, np.bool_)):
        _check_sigma(float(spec), f, n_planes)
        return AxialKernel.gaussian(float(spec))
    arr = np.asarray(spec)
    if arr.ndim == 1:
        _check_profile(arr.size, f, n_planes)
        return AxialKernel.profile(arr)
    if arr.ndim in (2, 3):
        if psf_voxel_size is None or fine_step is None:
            raise ValueError("a PSF array needs psf_voxel_size=(z, y, x) and the data's voxel_size to be placed "
                             "on the output grid")
        _check_psf_extent(arr, psf_voxel_size, fine_step, f, n_planes)
        sz, sxy = psf_sigmas(arr, psf_voxel_size)
        aniso2 = sz**2 - sxy**2
        if aniso2 <= 0:
            warnings.warn("the PSF is no longer along z than across: using no axial blur", stacklevel=3)
            return AxialKernel(np.ones(1), "psf(delta)")
        # a PSF within that extent may still be wider than a Gaussian may be (its sigma is up to half of it)
        _check_sigma(float(np.sqrt(aniso2) / fine_step), f, n_planes)
        k = AxialKernel.gaussian(float(np.sqrt(aniso2) / fine_step))
        return AxialKernel(k.taps, f"psf(sigma {np.sqrt(aniso2) / fine_step:.3g} px)")
    raise ValueError(f"an axial kernel must be a sigma, a 1-D profile or a 2-D/3-D PSF, got shape {arr.shape}")
