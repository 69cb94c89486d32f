"""Point-sampled axes: degrading and interpolating along one axis whose samples are optical sections.

A z plane is a point sample of the axially blurred volume, so input plane i sits at output
position i * f: plane 0 stays, output planes are s / f apart and there are floor((n - 1) f) + 1
of them. Boundaries mirror about the end samples.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .kernels import cubic, shift_kernel, validate_numeric_kernel


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


def axial_kernel(spec, f: float, fine_step=None, psf_voxel_size=None) -> AxialKernel:
    """The axial kernel on the fine grid from what the user gave.

    None: the cubic stretched to f; a float: a Gaussian sigma in fine-grid pixels; a 1-D array:
    the profile on the fine grid; a 2-D/3-D PSF (z first) with ``psf_voxel_size``: a Gaussian with
    the PSF's anisotropic part, sqrt(sigma_z^2 - sigma_xy^2), expressed in fine-grid pixels of
    size ``fine_step`` (the lateral planes are already blurred by the lateral PSF).
    """
    import warnings

    from .kernels import psf_sigmas

    if spec is None or (isinstance(spec, str) and spec.lower() in ("cubic", "bicubic", "default")):
        return AxialKernel.default(f)
    if isinstance(spec, AxialKernel):
        return spec
    if isinstance(spec, str):
        raise ValueError(f"unknown axial kernel {spec!r}: give None/'cubic', a sigma, a 1-D profile or a PSF array")
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return AxialKernel.gaussian(float(spec))
    arr = np.asarray(spec)
    if arr.ndim == 1:
        return AxialKernel.profile(arr)
    if arr.ndim in (2, 3):
        if psf_voxel_size is None or fine_step is None:
            raise ValueError("a PSF array needs psf_voxel_size=(z, y, x) and the data's voxel_size to be placed "
                             "on the output grid")
        sz, sxy = psf_sigmas(arr, psf_voxel_size)
        aniso2 = sz**2 - sxy**2
        if aniso2 <= 0:
            warnings.warn("the PSF is no longer along z than across: using no axial blur", stacklevel=3)
            return AxialKernel(np.ones(1), "psf(delta)")
        k = AxialKernel.gaussian(float(np.sqrt(aniso2) / fine_step))
        return AxialKernel(k.taps, f"psf(sigma {np.sqrt(aniso2) / fine_step:.3g} px)")
    raise ValueError(f"an axial kernel must be a sigma, a 1-D profile or a 2-D/3-D PSF, got shape {arr.shape}")
