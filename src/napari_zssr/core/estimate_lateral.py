"""The lateral (2-D) downscaling kernel read from the image itself, by cross-scale recurrence.

KernelGAN's criterion (Bell-Kligler, Shocher and Irani, NeurIPS 2019): the right kernel is the one
that, used to downscale the image once more, gives an image that looks like the image itself. Here
"looks like" is the shape of the windowed power spectrum at the same normalised frequencies (scale
invariance of natural and microscopy images makes the spectrum's level, not its shape, depend on
scale), and the kernel is an anisotropic Gaussian, fitted by Nelder-Mead over its covariance.

For Gaussians the criterion has a closed-form relation to the kernel sought: if the image is a scene
blurred by covariance K (fine-grid pixels) and read every s pixels, the kernel c (coarse pixels) that
makes the image downscaled once more match it satisfies K_ij (1 - 1 / (s_i s_j)) = c_ij. That
correction is applied, so the kernel returned is the one that made the image, on the output grid.

Measure, then choose: the bicubic kernel (the paper's default, and what most resized images were
made with) is a candidate too, and the Gaussian replaces it only where it fits clearly better
(and where the image's edges can check it, below):
where it lowers the misfit by more than half of what the image's two halves disagree by (the
same spectra, top half against bottom half; no kernel can explain that part). A Gaussian always
fits a little better, having three free parameters; on a bicubic-made image its extra width is
the scene's own softness, and ZSSR with it over-sharpens by several dB.

An image too small to shrink by its own factor into enough tiles is read at factors of at most 2:
the blur is a property of the input grid, and scale invariance makes the criterion hold at any
factor, so the kernel on the input grid is the same; it is then put on the output grid.

The spectrum reads the scene's softness as kernel on photographs too; the image's sharpest
straight edges then cap the Gaussian from above (estimate_edges.py), since no edge of the scene
is sharper than a step. Where they cut the Gaussian but bound it in fewer than three orientations
(or, on a small image, do not bound it in three), the direction left unchecked may keep the
over-read, so bicubic stays (``checked``).
"""

from __future__ import annotations

import math

import numpy as np

from .estimate_edges import clip_to_bounds, edge_bounds
from .resize import imresize

TILES = (32, 16)           # Welch tile sides (pixels of both the image and its downscaled copy), finest first
MIN_TILES = 4              # fewer tiles of the downscaled copy than this: no spectrum to trust
MIN_BOUNDS = 3             # orientations the edges must bound where they cut the spectrum's Gaussian (checked)
READ_FALLBACK = 2.0        # the largest factor the kernel is read at when the image is too small at its own
MAX_COARSE_VAR = 6.0       # largest variance searched, coarse pixels^2 (sigma ~2.4 coarse px)
NOISE_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)  # of the finest-detail noise variance, tried for every kernel


def _window(tile: int):
    w = np.hanning(tile + 2)[1:-1]
    return np.outer(w, w)


def _n_tiles(shape, tile: int) -> int:
    return int(np.prod([max(0, (n - tile) // (tile // 2) + 1) for n in shape]))


def _tiles_that_fit(planes, scale) -> list:
    """The tile sides, finest first, for which the planes shrunk by ``scale`` hold enough tiles."""
    small = [tuple(int(n // f) for n, f in zip(p.shape, scale)) for p in planes]
    return [t for t in TILES if sum(_n_tiles(sh, t) for sh in small) >= MIN_TILES]


def _spectrum(planes, tile: int) -> np.ndarray:
    """Mean windowed power spectrum (tile, tile) of the half-overlapping tiles of every plane."""
    win = _window(tile)
    acc, n = np.zeros((tile, tile)), 0
    for p in planes:
        H, W = p.shape
        step = tile // 2
        tiles = [p[y:y + tile, x:x + tile] for y in range(0, H - tile + 1, step) for x in range(0, W - tile + 1, step)]
        if not tiles:
            continue
        t = np.stack(tiles)
        t = t - t.mean(axis=(1, 2), keepdims=True)
        acc += (np.abs(np.fft.fft2(t * win)) ** 2).sum(axis=0)
        n += len(tiles)
    return acc / max(n, 1), n


def gaussian_2d(cov, size=None) -> np.ndarray:
    """A sampled, normalised 2-D Gaussian of covariance ``cov`` (pixels^2), centred; a single tap when
    the covariance is (nearly) zero."""
    cov = np.asarray(cov, dtype=np.float64)
    ev = np.linalg.eigvalsh(cov)
    if ev.max() < 1e-6:
        return np.ones((1, 1))
    half = int(math.ceil(4 * math.sqrt(ev.max()))) if size is None else size // 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    pts = np.stack([y, x], -1)
    inv = np.linalg.pinv(cov + np.eye(2) * 1e-9)
    g = np.exp(-0.5 * np.einsum("...i,ij,...j->...", pts, inv, pts))
    return g / g.sum()


def _cov(p) -> np.ndarray:
    """Covariance from (log sd1, log sd2, angle): positive definite for every parameter vector."""
    a, b = math.exp(2 * p[0]), math.exp(2 * p[1])
    c, s = math.cos(p[2]), math.sin(p[2])
    q = np.array([[c, -s], [s, c]])
    return q @ np.diag([a, b]) @ q.T


PAD = 16  # reflected border before the Fourier-domain blur, so the periodic wrap stays out of the image


def _blur_sample(p: np.ndarray, cov, scale) -> list:
    """``p`` blurred by the exact Gaussian of ``cov`` (in the Fourier domain: cheap for every
    candidate) and read every ``scale`` pixels, from every sampling phase (each integer offset below
    the factor; for other factors offsets 0 and half the factor, read by cubic splines): the phases
    see different pixels, so together they give a smoother spectrum of the downscaled image."""
    from scipy import ndimage

    q = np.pad(p, PAD, mode="symmetric")
    fy = np.fft.fftfreq(q.shape[0])[:, None]
    fx = np.fft.rfftfreq(q.shape[1])[None, :]
    quad = cov[0, 0] * fy * fy + 2 * cov[0, 1] * fy * fx + cov[1, 1] * fx * fx
    b = np.fft.irfft2(np.fft.rfft2(q) * np.exp(-2 * math.pi ** 2 * quad), s=q.shape)[PAD:-PAD, PAD:-PAD]
    sy, sx = scale
    if float(sy).is_integer() and float(sx).is_integer():
        return [b[i::int(sy), j::int(sx)] for i in range(int(sy)) for j in range(int(sx))]
    shape = (int((b.shape[0] - 1 - sy / 2) // sy) + 1, int((b.shape[1] - 1 - sx / 2) // sx) + 1)
    return [ndimage.affine_transform(b, [sy, sx], offset=(i * sy / 2, j * sx / 2), output_shape=shape, order=3,
                                     mode="mirror") for i in (0, 1) for j in (0, 1)]


def downscale_gaussian(planes, cov, scale):
    """``planes`` blurred by the Gaussian of ``cov`` and read every ``scale`` pixels, from every phase."""
    return [q for p in planes for q in _blur_sample(p, cov, scale)]


def downscale_bicubic(planes, scale):
    """``planes`` shrunk by MATLAB's antialiased bicubic, from every integer sampling phase below the
    factor (one phase for other factors)."""
    sy, sx = scale
    phases = ([(i, j) for i in range(int(sy)) for j in range(int(sx))]
              if float(sy).is_integer() and float(sx).is_integer() else [(0, 0)])
    return [imresize(p[i:, j:], scale=(1 / sy, 1 / sx)) for p in planes for i, j in phases]


def _split_misfit(planes, tile, band) -> float:
    """How far the spectrum shapes of the planes' top and bottom halves differ (the misfit no kernel
    can remove); inf when the halves hold too few tiles to tell (then bicubic stays)."""
    tops = [p[: p.shape[0] // 2] for p in planes]
    bottoms = [p[p.shape[0] // 2:] for p in planes]
    if min(sum(_n_tiles(q.shape, tile) for q in half) for half in (tops, bottoms)) < MIN_TILES:
        return math.inf
    a, b = _spectrum(tops, tile)[0], _spectrum(bottoms, tile)[0]
    keep = band & (a > 0) & (b > 0)
    d = np.log(a[keep]) - np.log(b[keep])
    return float(np.mean((d - d.mean()) ** 2))


def estimate_lateral_cov(planes, scale, noise: float = 0.0, check=None) -> dict:
    """The covariance (output-grid pixels^2, (y, x)) of the Gaussian kernel that downscaled ``planes``
    (2-D arrays of one channel) by ``scale`` (sy, sx), with the misfit of the fit.

    ``noise`` is an upper bound on the standard deviation of white noise in the planes (their
    units): the finest-detail estimate it comes from also counts fine structure of an unblurred
    image as noise. So the noise variance is fitted too, as a fraction of that bound: its floor
    is taken out of both spectra (the image's flat, the downscaled copy's blurred by the
    candidate), and frequencies where it dominates are left out. ``check`` (no arguments) is called
    before every candidate is measured, so that a run can report progress and be cancelled.

    Returns ``cov`` (capped by the edges), ``cov_spectrum`` (before the cap), ``edge_bounds`` (how
    many orientations bounded it), ``read_scale`` (the factors it was read at), the misfits of the
    Gaussian, of bicubic and between the halves, ``cubic`` (keep bicubic) and ``why_cubic`` (why,
    in words; empty where the Gaussian is taken), ``fits_better`` (the Gaussian fits clearly better than
    bicubic, whatever the edges say).
    """
    planes = [np.asarray(p, dtype=np.float64) for p in planes]
    s = np.array([float(v) for v in scale])
    if s.shape != (2,) or np.any(s <= 1):
        raise ValueError(f"estimating a lateral kernel needs both factors > 1, got {tuple(float(v) for v in s)}")
    read, tile = read_at(planes, s)
    fit = SpectrumFit(planes, tile, noise, check)
    c, misfit = _best_cov(lambda cov: fit.misfit(lambda ps: downscale_gaussian(ps, cov, read),
                                                 tuple(np.round(cov, 9).ravel())))
    # K_ij (1 - 1 / (s_i s_j)) = c_ij (module docstring)
    noise_used = math.sqrt(fit.chosen.get(tuple(np.round(c, 9).ravel()), 0.0)) * noise
    cubic = fit.misfit(lambda ps: downscale_bicubic(ps, read), "cubic")
    split = _split_misfit(planes, tile, fit.band)
    # on the input grid, K / (r_i r_j) at the factors r it was read at; on the output grid, times (s_i s_j)
    on_input = c / (1 - 1 / np.outer(read, read)) / np.outer(read, read)
    # the image's sharpest edges cap the blur across them (on the input grid)
    bounds = edge_bounds(planes, noise, check)
    capped = clip_to_bounds(on_input, bounds)
    reason = _why_cubic(s, read, misfit, cubic, split, len(bounds), not np.allclose(capped, on_input))
    return {"cov": capped * np.outer(s, s), "cov_spectrum": on_input * np.outer(s, s), "edge_bounds": len(bounds),
            "misfit": misfit, "coarse_cov": c, "read_scale": tuple(float(v) for v in read), "noise": noise_used,
            "misfit_cubic": cubic, "misfit_split": split, "cubic": bool(reason), "why_cubic": reason,
            "fits_better": bool(math.isfinite(split) and cubic - misfit > 0.5 * split)}


def read_at(planes, s) -> tuple:
    """(factors the kernel is read at, tile side): the run's factors, or smaller ones for a small image."""
    read = s
    fits = _tiles_that_fit(planes, read)
    if not fits:
        # the blur is a property of the input grid, and the criterion holds at any factor (scale
        # invariance), so a copy shrunk less, with more tiles, reads the same kernel
        read = np.minimum(s, READ_FALLBACK)
        fits = _tiles_that_fit(planes, read) if np.any(read < s) else []
    if not fits:
        also = f" (or {read[0]:g} x {read[1]:g})" if np.any(read < s) else ""
        raise ValueError("the image is too small to read its kernel from "
                         f"at factors {s[0]:g} x {s[1]:g}{also}: it needs "
                         f"about {int(math.ceil(TILES[-1] * 1.5 * min(s.max(), READ_FALLBACK)))} pixels a side")
    return read, fits[0]


class SpectrumFit:
    """How far a downscaled copy's spectrum is from the image's, up to a blur's slope (log ratio's
    variance over the band where the image is above its noise floor), with the noise variance profiled
    out as a fraction of its bound; ``chosen`` keeps that fraction per candidate."""

    def __init__(self, planes, tile, noise, check):
        self.planes, self.tile, self.check = planes, tile, check
        self.ref, _ = _spectrum(planes, tile)
        self.floor = noise ** 2 * (_window(tile) ** 2).sum()  # white noise's windowed power, every frequency
        r = np.hypot(np.fft.fftfreq(tile)[:, None], np.fft.fftfreq(tile)[None, :])
        self.band = (r >= 2.0 / tile) & (r <= 0.5)
        if not np.any(self.band & (self.ref > 2 * self.floor)):
            raise ValueError("the image is too flat (or too noisy) to read its kernel from")
        rng = np.random.default_rng(0)
        self.white = [rng.standard_normal(p.shape) * noise for p in planes] if noise > 0 else None
        self.fractions = NOISE_FRACTIONS if noise > 0 else (0.0,)
        self.chosen = {}

    def misfit(self, shrink, key) -> float:
        if self.check is not None:
            self.check()
        low, _ = _spectrum(shrink(self.planes), self.tile)
        low_noise = _spectrum(shrink(self.white), self.tile)[0] if self.white is not None else np.zeros_like(low)
        best = (1e3, 0.0)
        for a in self.fractions:  # the noise variance profiled out: a fraction of the bound
            ref_clean, low_clean = self.ref - a * self.floor, low - a * low_noise
            keep = self.band & (ref_clean > a * self.floor) & (low_clean > np.maximum(a * low_noise, 1e-30))
            if keep.sum() < 8:
                continue
            d = np.log(low_clean[keep]) - np.log(ref_clean[keep])
            best = min(best, (float(np.mean((d - d.mean()) ** 2)), a))
        self.chosen[key] = best[1]
        return best[0]


def _best_cov(misfit) -> tuple:
    """(coarse-grid covariance, its misfit): an isotropic grid first, down to 0.2 coarse px (as good as no
    blur at all), then the full covariance from there."""
    from scipy.optimize import minimize

    grid = np.linspace(0.0, math.sqrt(MAX_COARSE_VAR), 13)[1:]
    iso = [misfit(np.eye(2) * v * v) for v in grid]
    b = int(np.argmin(iso))
    start = math.log(max(grid[b], 0.05))
    best = None
    for angle in (0.0, math.pi / 4):
        res = minimize(lambda p: misfit(_cov(p)), x0=[start, start, angle], method="Nelder-Mead",
                       options={"xatol": 0.02, "fatol": 1e-5, "maxfev": 120})
        if best is None or res.fun < best.fun:
            best = res
    if iso[b] <= best.fun:
        return np.eye(2) * grid[b] ** 2, float(iso[b])
    return _cov(best.x), float(best.fun)


def _why_cubic(s, read, fit, cubic, split, n, cut) -> str:
    """Why bicubic is kept, in words; empty where the Gaussian is taken."""
    smaller = bool(np.any(read < s))
    if not math.isfinite(split):
        return "the image is too small to compare its halves, so no Gaussian can be shown to fit better than bicubic"
    if cubic - fit <= 0.5 * split:
        return "the Gaussian does not fit the data clearly better than bicubic"
    if checked(n, cut, smaller):
        return ""
    if smaller:
        edges = ("it has no straight edges to check the Gaussian against" if n == 0 else
                 f"its straight edges bound the Gaussian in only {n} of the {MIN_BOUNDS} orientations needed")
        return (f"the image is too small to read the kernel at {_factors(s)} (it was read at {_factors(read)}), "
                f"and {edges}")
    return (f"the image's straight edges show that the spectrum read too wide a kernel, but they bound it in "
            f"only {n} of the {MIN_BOUNDS} orientations needed")


def _factors(s) -> str:
    return " x ".join(f"{v:g}" for v in s)


def checked(n_bounds: int, cut: bool, read_smaller: bool) -> bool:
    """Whether the spectrum's Gaussian, capped by the image's edges, can be taken. Three orientations
    pin the three numbers of a covariance. Where the edges cut the spectrum's reading (they show it
    read the scene's own softness as blur, as on cartoons and butterflies' wings) but bound fewer
    orientations, the over-read stays in the direction left unchecked. An image too small to read
    at its own factor has a spectrum of a few tiles, so it needs the edges' check in full."""
    return n_bounds >= MIN_BOUNDS or (not cut and not read_smaller)
