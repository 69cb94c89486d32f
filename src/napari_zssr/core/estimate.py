"""The degradation read from the data itself: the 2-D kernel of an image (estimate_lateral.py), the
axial blur of a stack, and the noise level.

Axial profile (isotropic mode): the lateral planes show what the sample looks like at the fine
grid's resolution. A z line is a lateral-like line blurred by the axial profile and point-sampled
every f fine pixels. So the profile is the one that, applied along lateral lines and followed by
the same point sampling, gives lateral lines the power spectrum of the z lines (ESPRESO and ECLARE
read the MRI slice profile from the in-plane data in this spirit). The profile is modelled as a
Gaussian of sigma >= 0 fine pixels; sigma 0 is pure point sampling (no axial blur).

Noise: the robust spread (median absolute value / 0.6745) of the finest diagonal Haar detail,
as Donoho's estimator and scikit-image's ``estimate_sigma`` read it.
"""

from __future__ import annotations

import math

import numpy as np

from .axial import AxialKernel
from .estimate_lateral import estimate_lateral_cov, gaussian_2d
from .progress import Progress

MAX_LINES = 20000          # z lines (and lateral segments) read for a spectrum
MIN_PLANES = 5             # fewer planes than this: no spectrum to read along z
SIGMA_STEPS = 61           # candidate sigmas from 0 to SIGMA_MAX_F * f
SIGMA_MAX_F = 1.5


def estimate_noise(image) -> float:
    """The standard deviation of white noise in ``image`` (2-D, or n-D read as planes of its last two
    axes), in the image's units; 0 for a constant image."""
    x = np.asarray(image, dtype=np.float64)
    if x.ndim < 2 or min(x.shape[-2:]) < 2:
        raise ValueError(f"estimate_noise needs planes of at least 2 x 2 pixels, got shape {x.shape}")
    h, w = (x.shape[-2] // 2) * 2, (x.shape[-1] // 2) * 2
    x = x[..., :h, :w]
    hh = (x[..., 0::2, 0::2] - x[..., 0::2, 1::2] - x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) / 2.0
    return float(np.median(np.abs(hh)) / 0.6745)


def line_spectrum(lines: np.ndarray) -> np.ndarray:
    """Mean power spectrum of the rows of ``lines`` (n, L), each detrended and Hann-windowed."""
    n = lines.shape[1]
    t = np.arange(n)
    # remove each line's mean and slope: z lines cross whole objects, and a ramp leaks power everywhere
    a = np.vstack([np.ones(n), t - t.mean()]).T
    coef, *_ = np.linalg.lstsq(a, lines.T, rcond=None)
    resid = lines - (a @ coef).T
    win = np.hanning(n + 2)[1:-1]
    return np.mean(np.abs(np.fft.rfft(resid * win, axis=1)) ** 2, axis=0)


def _z_lines(stack: np.ndarray, length: int, rng) -> np.ndarray:
    """Segments of ``length`` planes of every z line (n, length)."""
    Z, Y, X = stack.shape
    lines = stack.reshape(Z, Y * X).T
    k = Z // length
    lines = lines[:, : k * length].reshape(-1, length)
    if lines.shape[0] > MAX_LINES:
        lines = lines[rng.choice(lines.shape[0], MAX_LINES, replace=False)]
    return lines


def _lateral_lines(planes, f: float, length: int, rng) -> np.ndarray:
    """Rows and columns of the lateral planes (n, W), at most as many as give MAX_LINES segments: one
    fixed set, so every candidate sigma is measured on the same lines."""
    n = min(planes[0].shape)  # rows along X and columns along Y, cut to one length
    stacked = np.stack(planes)
    lines = np.concatenate([stacked[:, :, :n].reshape(-1, n), np.swapaxes(stacked, 1, 2)[:, :, :n].reshape(-1, n)])
    per_line = max(1, (int(math.floor((lines.shape[1] - 1) / f)) + 1) // length)
    keep = MAX_LINES // per_line
    if lines.shape[0] > keep:
        lines = lines[np.sort(rng.choice(lines.shape[0], keep, replace=False))]
    return lines


def _sampled_segments(lines: np.ndarray, f: float, sigma: float, length: int) -> np.ndarray:
    """``lines`` blurred by a Gaussian of ``sigma``, point-sampled every f pixels, cut into segments of
    ``length`` samples."""
    from scipy.ndimage import gaussian_filter1d

    b = gaussian_filter1d(lines, sigma, axis=-1, mode="reflect") if sigma > 0 else lines
    W = b.shape[-1]
    m = int(math.floor((W - 1) / f)) + 1
    pos = np.arange(m) * f
    lo = np.floor(pos).astype(int)
    frac = pos - lo
    hi = np.minimum(lo + 1, W - 1)
    s = b[:, lo] * (1 - frac) + b[:, hi] * frac
    k = m // length
    return s[:, : k * length].reshape(-1, length)


def estimate_axial_sigma(stack, f: float, seed: int = 0, check=None) -> dict:
    """The axial blur of a (Z, Y, X) stack as a Gaussian sigma in fine-grid (lateral) pixels.

    Returns ``sigma``, the ``misfit`` of the chosen profile and of every candidate (``curve``), and
    ``frequencies`` used. A ValueError when the stack is too small to read a spectrum along z.
    """
    vol = np.asarray(stack, dtype=np.float64)
    if vol.ndim != 3:
        raise ValueError(f"estimating the axial profile needs a (Z, Y, X) stack, got shape {vol.shape}")
    Z, Y, X = vol.shape
    if Z < MIN_PLANES:
        raise ValueError(f"estimating the axial profile needs at least {MIN_PLANES} planes, the stack has {Z}")
    # segments as long as the stack is deep, or as a lateral line holds samples f apart if that is fewer
    length = min(Z, int(math.floor((min(Y, X) - 1) / f)) + 1)
    if length < MIN_PLANES:
        raise ValueError(f"lateral planes of {Y} x {X} are too small to compare with z lines at a factor of {f:g}")
    rng = np.random.default_rng(seed)
    pz = line_spectrum(_z_lines(vol, length, rng))
    planes = [vol[i] for i in np.unique(np.linspace(0, Z - 1, min(Z, 16)).round().astype(int))]
    rows = _lateral_lines(planes, f, length, rng)
    k = np.arange(1, len(pz))  # leave out the mean
    if pz[k].max() <= 0:
        raise ValueError("the stack is flat along z: there is no axial structure to read a profile from")
    sigmas = np.linspace(0.0, SIGMA_MAX_F * f, SIGMA_STEPS)
    curve = []
    for s in sigmas:
        if check is not None:
            check()
        px = line_spectrum(_sampled_segments(rows, f, float(s), length))
        d = np.log(pz[k] + 1e-30) - np.log(px[k] + 1e-30)
        curve.append(float(np.mean((d - d.mean()) ** 2)))  # the shape of the spectrum, not its level
    best = int(np.argmin(curve))
    if 0 < best < len(sigmas) - 1:  # a parabola through the neighbours refines between grid points
        c0, c1, c2 = curve[best - 1], curve[best], curve[best + 1]
        den = c0 - 2 * c1 + c2
        shift = 0.5 * (c0 - c2) / den if den > 0 else 0.0
        sigma = float(sigmas[best] + np.clip(shift, -1, 1) * (sigmas[1] - sigmas[0]))
    else:
        sigma = float(sigmas[best])
    return {"sigma": max(0.0, sigma), "misfit": curve[best], "curve": curve, "sigmas": sigmas.tolist()}


def estimate_lateral(planes, scale, noise=None, check=None) -> tuple:
    """The 2-D downscaling kernel of ``planes`` (2-D arrays of one channel, or one image) enlarged by
    ``scale`` (sy, sx): an anisotropic Gaussian on the output grid, or "cubic" where the Gaussian
    does not fit the data clearly better than bicubic or the image's edges cannot check it
    (core.estimate_lateral).

    Returns ``(kernel, info)``: ``info["chosen"]`` ("gaussian" or "cubic") and ``info["why_cubic"]``
    (why bicubic was kept, in words; empty for a Gaussian), ``info["fits_better"]`` (the Gaussian fits
    clearly better than bicubic, whether or not the edges could check it); the Gaussian fit in
    either case: ``info["cov"]`` (output-grid pixels^2, (y, x)), ``info["sigma"]`` and
    ``info["fwhm"]`` per axis (y, x), ``info["angle"]`` of the major axis (radians from y); the
    misfits of the Gaussian, of bicubic and between the image's halves; ``info["cov_spectrum"]``, the
    Gaussian before the image's sharpest edges capped it, and ``info["edge_bounds"]``, how many
    orientations did (core.estimate_edges); ``info["read_scale"]``, the factors the kernel was read
    at (the scale itself, or at most 2 where the image is too small to read it at its own factor).
    ``noise``: the planes'
    noise level (default: read from them). ``check`` is called between candidates (progress, cancel).
    """
    if isinstance(planes, np.ndarray) and planes.ndim == 2:
        planes = [planes]
    planes = [np.asarray(p, dtype=np.float64) for p in planes]
    if noise is None:
        noise = float(np.median([estimate_noise(p) for p in planes]))
    found = estimate_lateral_cov(planes, scale, noise, check)
    cov = found["cov"]
    _, evecs = np.linalg.eigh(cov)
    sigma = np.sqrt(np.clip(np.diag(cov), 0, None))
    info = {"cov": cov.tolist(), "sigma": sigma.tolist(), "fwhm": (FWHM_PER_SIGMA * sigma).tolist(),
            "angle": float(math.atan2(evecs[1, -1], evecs[0, -1]) % math.pi), "misfit": found["misfit"],
            "misfit_cubic": found["misfit_cubic"], "misfit_split": found["misfit_split"],
            "noise": found["noise"], "chosen": "cubic" if found["cubic"] else "gaussian",
            "why_cubic": found["why_cubic"], "fits_better": found["fits_better"],
            "cov_spectrum": found["cov_spectrum"].tolist(), "edge_bounds": found["edge_bounds"],
            "read_scale": list(found["read_scale"]), "noise_bound": float(noise)}
    return ("cubic" if found["cubic"] else gaussian_2d(cov)), info


FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def estimate_kernel(data, scale, *, seed: int = 0, callback=None):
    """The degradation kernel read from ``data`` itself.

    - A 2-D image (or a (Z, Y, X) stack of planes with ``scale`` (1, sy, sx)) to be enlarged by
      ``scale`` (sy, sx): the 2-D downscaling kernel on the output grid, an anisotropic Gaussian
      fitted by cross-scale recurrence; pass it on as ``zssr(..., kernel=...)``.
    - A (Z, Y, X) stack enlarged along z (``scale`` (f, 1, 1)): the axial profile on the fine grid as
      a 1-D array (a Gaussian; a single tap for pure point sampling).

    Returns ``(kernel, info)``: ``info["sigma"]`` and ``info["fwhm"]`` in output-grid pixels (per
    axis (y, x) for a 2-D kernel, which also has ``info["cov"]`` and ``info["angle"]``).
    A ValueError when the data are too small or too flat to read a kernel from. ``callback`` is
    called with a dict ({"stage": "estimate"}) about twice a second; returning False cancels the
    estimate (``Cancelled``), as for ``zssr``.
    """
    check = None
    if callback is not None:
        progress = Progress(callback, {"stage": "estimate"})
        check = progress.__call__

    vol = np.asarray(data, dtype=np.float64)
    sc = [float(v) for v in np.atleast_1d(scale)]
    if vol.ndim == 2:
        sc = sc * 2 if len(sc) == 1 else sc
        if len(sc) != 2:
            raise ValueError(f"a 2-D image takes a scale (sy, sx), got {tuple(sc)}")
        return estimate_lateral([vol], sc, check=check)
    if vol.ndim == 3 and len(sc) == 3 and sc[0] == 1.0 and sc[1] > 1 and sc[2] > 1:
        return estimate_lateral(list(vol), sc[1:], check=check)
    if vol.ndim != 3 or len(sc) != 3 or sc[1:] != [1.0, 1.0] or not sc[0] > 1:
        raise ValueError("estimate_kernel reads the 2-D kernel of an image (scale (sy, sx)) or of a stack's planes "
                         "(scale (1, sy, sx)), or the axial profile of a (Z, Y, X) stack enlarged along z only "
                         f"(scale (f, 1, 1)); got shape {vol.shape} and scale {tuple(sc)}")
    info = estimate_axial_sigma(vol, sc[0], seed, check)
    info["fwhm"] = FWHM_PER_SIGMA * info["sigma"]
    return AxialKernel.gaussian(round(info["sigma"], 6)).taps.copy(), info
