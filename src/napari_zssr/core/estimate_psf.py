"""The lateral PSF of a fluorescence image, as an isotropic Gaussian read from the image itself.

The 2-D kernel estimate (estimate_lateral.py) leans on straight edges to check what the spectrum
reads, and fluorescence has few: there it keeps bicubic. A microscope's kernel is simpler than a
photograph's: a PSF, close to a Gaussian at these scales and the same in every direction for a
well-aligned objective. So one number is read, not three, by the same cross-scale recurrence (the
image against a copy of itself shrunk once more, compared by the shape of their spectra): the blur
sigma that makes the shrunk copy look like the image is sigma_in sqrt(r^2 - 1) at a factor r, for
a scene that looks alike at every scale.

What makes a reading trustworthy, checked before one is returned:
- emitters on a dark background: most pixels near the background level. That is what fluorescence
  looks like, and it is where a Gaussian PSF is the model; a photograph (a scene lit all over)
  is left to the 2-D estimate, so bicubic-made photographs keep bicubic;
- the image's two halves, read on their own, agree within a share of the sigma: the spread of the
  three readings (whole, top, bottom) is the reading's uncertainty (a scene whose softness varies,
  or too little structure, shows as halves that disagree), and the narrowest of them is taken,
  since a kernel too wide makes ZSSR over-sharpen while one too narrow only sharpens less;
- the reading is inside the range searched (not pinned at either end).
Point-like emitters (bright, isolated, round spots) bound the PSF from above, as straight edges do
for photographs: no spot is sharper than the PSF, so the sharpest spots cap the sigma.

Where a check fails, nothing is returned but the reason, in words: the caller keeps its default.
"""

from __future__ import annotations

import math

import numpy as np

from .estimate_lateral import SpectrumFit, downscale_bicubic, downscale_gaussian, read_at

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
MAX_COARSE_SIGMA = 2.5     # coarse-grid pixels: the widest blur searched on the shrunk copy
GRID = 26                  # candidate sigmas from 0 to MAX_COARSE_SIGMA
DARK_LEVEL = 0.2           # a pixel is background below this share of the way from the 0.5 to the 99.5 percentile
MIN_DARK_SHARE = 0.4       # fewer background pixels than this share: not emitters on a dark background
MAX_REL_SPREAD = 0.2       # the halves may disagree by this share of the sigma (plus MIN_SPREAD) at most
MIN_SPREAD = 0.1           # input pixels: disagreement below this is the grid's resolution, not the image's
SPOT_WIN = 7               # window side (pixels) a spot is fitted in
MIN_SPOTS = 10             # fewer clean spots than this: no bound from them
SPOT_QUANTILE = 0.2        # the bound is this quantile of the spots' widths: the sharpest, not the one sharpest
MAX_SPOTS = 400            # spots fitted in all, brightest first


def dark_share(planes) -> float:
    """The share of pixels near the background: below DARK_LEVEL of the way from the 0.5 to the 99.5
    percentile of all the planes' pixels."""
    values = np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in planes])
    lo, hi = np.percentile(values, [0.5, 99.5])
    if not hi > lo:
        return 0.0
    return float(np.mean(values < lo + DARK_LEVEL * (hi - lo)))


def _iso_sigma(fit, read) -> tuple:
    """(coarse-grid sigma of the best isotropic blur, its misfit, every candidate's misfit): a grid, then a
    parabola through the best point's neighbours."""
    grid = np.linspace(0.0, MAX_COARSE_SIGMA, GRID)
    curve = [fit.misfit(lambda ps, v=v: downscale_gaussian(ps, np.eye(2) * v * v, read), ("iso", round(v, 9)))
             for v in grid]
    b = int(np.argmin(curve))
    best = float(grid[b])
    if 0 < b < GRID - 1:
        c0, c1, c2 = curve[b - 1], curve[b], curve[b + 1]
        den = c0 - 2 * c1 + c2
        if den > 0:
            best += float(np.clip(0.5 * (c0 - c2) / den, -1, 1)) * (grid[1] - grid[0])
    return best, float(curve[b]), b


def _on_input(coarse_sigma: float, read) -> float:
    """The input grid's sigma from the coarse one: c = sigma_in^2 (r^2 - 1) (module docstring); for two
    factors, their mean r^2."""
    r2 = float(np.mean(np.asarray(read, dtype=np.float64) ** 2))
    return math.sqrt(coarse_sigma ** 2 / (r2 - 1.0))


def _read_sigma(planes, s, noise, check) -> dict:
    """The isotropic reading on ``planes``: input-grid sigma, misfits, whether it hit the grid's end."""
    read, tile = read_at(planes, s)
    fit = SpectrumFit(planes, tile, noise, check)
    coarse, misfit, b = _iso_sigma(fit, read)
    cubic = fit.misfit(lambda ps: downscale_bicubic(ps, read), "cubic")
    return {"sigma": _on_input(coarse, read), "misfit": misfit, "misfit_cubic": cubic, "pinned": b == GRID - 1,
            "unblurred": b == 0, "read_scale": tuple(float(v) for v in read)}


def _halves(planes, s, noise, check) -> list:
    """The input-grid sigma of the planes' top and bottom halves, read on their own; [] where a half is
    too small to read."""
    out = []
    for half in ([p[: p.shape[0] // 2] for p in planes], [p[p.shape[0] // 2:] for p in planes]):
        try:
            out.append(_read_sigma(half, s, noise, check)["sigma"])
        except ValueError:
            return []
    return out


def spot_widths(img, noise: float = 0.0, n_max: int = MAX_SPOTS) -> np.ndarray:
    """The Gaussian sigma (pixels) of each bright, isolated, round spot of ``img`` whose fit is clean."""
    from scipy import ndimage
    from scipy.optimize import least_squares

    img = np.asarray(img, dtype=np.float64)
    h = SPOT_WIN // 2
    if min(img.shape) < 4 * SPOT_WIN:
        return np.zeros(0)
    lo, hi = np.percentile(img, [0.5, 99.5])
    rise = img - ndimage.minimum_filter(img, 2 * SPOT_WIN + 1)
    peak = (img == ndimage.maximum_filter(img, SPOT_WIN)) & (rise > max(8 * noise, 0.1 * (hi - lo)))
    peak[:h], peak[-h:], peak[:, :h], peak[:, -h:] = False, False, False, False
    ys, xs = np.nonzero(peak)
    order = np.argsort(-img[ys, xs], kind="stable")[:n_max]
    yy, xx = np.mgrid[-h:h + 1, -h:h + 1].astype(np.float64)
    widths = []
    for y, x in zip(ys[order], xs[order]):
        w = img[y - h:y + h + 1, x - h:x + h + 1]
        a0, b0 = float(w.min()), float(w.max() - w.min())

        def resid(p, w=w):
            a, b, cy, cx, ls = p
            return (a + b * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * math.exp(2 * ls))) - w).ravel()

        res = least_squares(resid, [a0, b0, 0.0, 0.0, 0.0], method="lm", max_nfev=200)
        a, b, cy, cx, ls = res.x
        rms = math.sqrt(float(np.mean(res.fun ** 2)))
        # a clean spot: centred, inside the window, bright, and the round Gaussian explains it
        if b > 0 and abs(cy) < 1 and abs(cx) < 1 and 0.3 < math.exp(ls) < h / 1.5 and rms < 0.05 * b:
            widths.append(math.exp(ls))
    return np.array(widths)


def spot_bound(planes, noise: float = 0.0, check=None):
    """(the input-grid sigma no PSF of these planes can exceed, from their sharpest point-like spots, or None
    where fewer than MIN_SPOTS clean spots are found; the number of spots)."""
    widths, n = [], 0
    for p in planes:
        if check is not None:
            check()
        found = spot_widths(p, noise, MAX_SPOTS - n)
        widths.append(found)
        n += len(found)
        if n >= MAX_SPOTS:
            break
    w = np.concatenate(widths) if widths else np.zeros(0)
    return (float(np.quantile(w, SPOT_QUANTILE)) if len(w) >= MIN_SPOTS else None), int(len(w))


def estimate_psf(planes, scale, noise: float = 0.0, check=None) -> dict:
    """The lateral PSF of ``planes`` (2-D arrays of one channel, or one image) that are to be enlarged by
    ``scale`` (sy, sx), as an isotropic Gaussian on the output grid.

    Returns a dict: ``sigma`` and ``fwhm`` (output-grid pixels; nan where nothing could be read),
    ``uncertainty`` (output-grid pixels: half the spread of the readings of the whole and of its two halves;
    the narrowest of the three is ``sigma``),
    ``halves``, ``spot_bound`` (output-grid pixels, or None) and ``spots``, ``dark_share``, the
    ``misfit`` of the Gaussian and ``misfit_cubic`` of bicubic, ``read_scale``, and ``why_not``: why
    no sigma was read, in words (empty where one was). ``noise``: an upper bound on the planes' white
    noise (their units). ``check`` is called between candidates (progress, cancel).
    """
    planes = [np.asarray(p, dtype=np.float64) for p in ([planes] if np.ndim(planes) == 2 else planes)]
    s = np.array([float(v) for v in np.broadcast_to(np.asarray(scale, dtype=float), (2,))])
    if np.any(s <= 1):
        raise ValueError(f"estimating a PSF needs both factors > 1, got {tuple(float(v) for v in s)}")
    nan = float("nan")
    out = {"sigma": nan, "fwhm": nan, "uncertainty": nan, "halves": [], "spot_bound": None, "spots": 0,
           "dark_share": dark_share(planes), "misfit": nan, "misfit_cubic": nan, "read_scale": None, "why_not": ""}
    if all(np.ptp(p) == 0 for p in planes):
        out["why_not"] = "the image is flat: there is nothing to read a PSF from"
        return out
    if out["dark_share"] < MIN_DARK_SHARE:
        out["why_not"] = (f"only {out['dark_share']:.0%} of its pixels are background, so it does not look like "
                          f"emitters on a dark background (fluorescence), where a Gaussian PSF is the model")
        return out
    try:
        found = _read_sigma(planes, s, noise, check)
    except ValueError as exc:
        out["why_not"] = str(exc)
        return out
    grid = float(np.sqrt(s[0] * s[1]))  # input pixels -> output pixels
    out.update(misfit=found["misfit"], misfit_cubic=found["misfit_cubic"], read_scale=found["read_scale"])
    halves = _halves(planes, s, noise, check)
    out["halves"] = [h * grid for h in halves]
    bound, out["spots"] = spot_bound(planes, noise, check)
    out["spot_bound"] = None if bound is None else bound * grid
    reason = _why_not(found, halves, found["sigma"] if bound is None else min(found["sigma"], bound))
    if reason:
        out["why_not"] = reason
        return out
    # the narrowest of the three readings (whole, top, bottom): a kernel too wide makes ZSSR over-sharpen and
    # costs dB, one too narrow only sharpens less
    readings = [found["sigma"], *halves]
    sigma = min(readings) if bound is None else min(*readings, bound)
    spread = (max(readings) - min(readings)) / 2
    out.update(sigma=sigma * grid, fwhm=FWHM_PER_SIGMA * sigma * grid, uncertainty=spread * grid)
    return out


def _why_not(found, halves, sigma) -> str:
    """Why the reading cannot be trusted, in words; empty where it can."""
    if found["pinned"]:
        return "the blur read is at the widest searched, so it measured the scene rather than the PSF"
    if found["unblurred"] or (halves and min(halves) <= 0):
        return ("it reads as unblurred point samples, which cannot be told from a scene sharper than its pixels: "
                "there is no PSF to read")
    if not halves:
        return "the image is too small to read its two halves on their own, so the reading cannot be checked"
    tolerance = MAX_REL_SPREAD * sigma + MIN_SPREAD
    if abs(halves[0] - halves[1]) > tolerance or not min(halves) - tolerance <= sigma <= max(halves) + tolerance:
        return (f"its two halves give different PSFs (sigma {halves[0]:.2f} and {halves[1]:.2f} input pixels, the "
                f"whole {sigma:.2f}), so the reading depends on the scene rather than on the PSF")
    return ""
