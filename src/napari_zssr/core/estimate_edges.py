"""Upper bounds on the blur, read from the image's sharpest straight edges.

The spectrum criterion (estimate_lateral.py) reads all the softness of an image as kernel, the
scene's own included, and ZSSR given too wide a kernel over-sharpens by dB. Edges give a bound
that content cannot inflate: a straight step of the scene, blurred by a Gaussian of covariance C
and read at the pixel centres, is a + b Phi((n . x - d) / sqrt(n' C n)) around it. Fitting that
model to the pixels themselves (no interpolation, so a slanted edge shows every sampling phase, as
in ISO 12233's slanted-edge method) gives the blur across that edge. A scene's edges may be soft,
never sharper than a step, so the sharpest edges of each orientation bound n' C n from above.
The bound only ever narrows the spectrum's estimate (clip_to_bounds): where edges are few, soft
or absent, the estimate stands as it was.
"""

from __future__ import annotations

import math

import numpy as np

WIN = 5                 # window side, pixels: small, so that one straight edge fills it
MAX_EDGES = 4000        # edges fitted in all; planes taken middle first, strongest edges first in each
GRADIENT_QUANTILE = 0.8  # only pixels with a gradient above this quantile can be edges
MAX_REL_RMS = 0.06      # a fit whose residual exceeds this share of its contrast is not a clean step
BINS = 6                # orientation bins over [0, pi)
MIN_PER_BIN = 10        # fewer clean edges than this in a bin: no bound along it
QUANTILE = 0.2          # the bound is this quantile of a bin's widths: its sharpest edges, not its one sharpest
SIGMA_RANGE = (0.05, 5.0)  # pixels; a fit pinned at either end measured nothing
ITERATIONS = 20


def _phi(z):
    from scipy.special import erf

    return 0.5 * (1 + erf(z / math.sqrt(2)))


def _candidates(img: np.ndarray, noise: float):
    """Flat indices of gradient maxima (one pixel per edge crossing), strongest first, and the angle
    of the gradient everywhere."""
    if min(img.shape) < WIN + 2 or not np.all(np.isfinite(img)):
        return np.zeros(0, int), np.zeros(img.shape)
    gy, gx = np.gradient(img)
    mag = np.hypot(gy, gx)
    ang = np.arctan2(gy, gx)
    H, W = img.shape
    h = WIN // 2 + 1
    oy = np.rint(np.sin(ang)).astype(int)
    ox = np.rint(np.cos(ang)).astype(int)
    yy, xx = np.mgrid[0:H, 0:W]
    inner = (yy >= h) & (yy < H - h) & (xx >= h) & (xx < W - h)
    ahead = mag[np.clip(yy + oy, 0, H - 1), np.clip(xx + ox, 0, W - 1)]
    behind = mag[np.clip(yy - oy, 0, H - 1), np.clip(xx - ox, 0, W - 1)]
    thr = max(float(np.quantile(mag[inner], GRADIENT_QUANTILE)), 6 * noise)
    idx = np.flatnonzero(inner & (mag >= ahead) & (mag >= behind) & (mag > thr))
    return idx[np.argsort(-mag.ravel()[idx], kind="stable")], ang


def edge_fits(img, noise: float = 0.0, n_max: int = MAX_EDGES) -> np.ndarray:
    """(angle of the normal in [0, pi), variance across the edge in pixels^2, contrast, residual as
    a share of the contrast) for each edge of ``img`` whose step model fitted, one row each."""
    img = np.asarray(img, dtype=np.float64)
    cand, ang = _candidates(img, noise)
    cand = cand[:n_max]
    if cand.size == 0:
        return np.zeros((0, 4))
    cy, cx = np.unravel_index(cand, img.shape)
    h = WIN // 2
    oy, ox = (v.ravel() for v in np.mgrid[-h:h + 1, -h:h + 1])
    P = img[cy[:, None] + oy[None], cx[:, None] + ox[None]]
    oy, ox = oy.astype(np.float64), ox.astype(np.float64)
    lo_ls, hi_ls = (math.log(v) for v in SIGMA_RANGE)
    # (a, b, d, log sigma, theta), the normal (sin theta, cos theta) in (y, x): Levenberg-Marquardt for all at once
    p = np.stack([P.min(1), np.ptp(P, axis=1), np.zeros(len(P)), np.full(len(P), math.log(0.7)), ang.ravel()[cand]], 1)
    lam = np.full(len(p), 1e-2)

    def model(p):
        a, b, d, ls, t = p.T
        u = (np.sin(t)[:, None] * oy + np.cos(t)[:, None] * ox - d[:, None]) / np.exp(ls)[:, None]
        return a[:, None] + b[:, None] * _phi(u), u

    r = model(p)[0] - P
    cost = (r * r).sum(1)
    for _ in range(ITERATIONS):
        a, b, d, ls, t = p.T
        f, u = model(p)
        g = np.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)
        s = np.exp(ls)[:, None]
        bg = b[:, None] * g
        J = np.stack([np.ones_like(f), _phi(u), -bg / s, -bg * u,
                      bg * (np.cos(t)[:, None] * oy - np.sin(t)[:, None] * ox) / s], -1)
        JTJ = np.einsum("nmi,nmj->nij", J, J)
        JTr = np.einsum("nmi,nm->ni", J, r)
        diag = np.einsum("nii->ni", JTJ) + 1e-12
        A = JTJ + lam[:, None, None] * (np.eye(5)[None] * diag[:, :, None])
        q = p + np.linalg.solve(A, -JTr[..., None])[..., 0]
        q[:, 3] = np.clip(q[:, 3], lo_ls, hi_ls)
        rq = model(q)[0] - P
        cq = (rq * rq).sum(1)
        better = cq < cost
        p[better], r[better], cost[better] = q[better], rq[better], cq[better]
        lam = np.where(better, lam * 0.3, lam * 10)
    a, b, d, ls, t = p.T
    contrast = np.abs(b)
    floor = max(4 * noise, 0.015 * float(np.ptp(np.quantile(img, [0.01, 0.99]))), 1e-12)
    keep = ((np.abs(d) < 1.0) & (contrast > floor) & (ls > lo_ls + 1e-6) & (ls < hi_ls - 1e-6))
    rel = np.sqrt(cost / P.shape[1]) / np.maximum(contrast, 1e-12)
    angle = np.mod(t, math.pi) % math.pi  # mod of a tiny negative gives pi itself, in no bin
    return np.stack([angle, np.exp(2 * ls), contrast, rel], 1)[keep]


def edge_bounds(planes, noise: float = 0.0, check=None) -> list:
    """[(unit normal (y, x), largest variance across it, pixels^2)], one per orientation bin that
    holds enough clean edges, from the planes (2-D arrays of one channel), middle planes first,
    until MAX_EDGES edges were fitted (one big plane can be enough). ``check`` (no arguments) is
    called before each plane."""
    order = sorted(range(len(planes)), key=lambda i: abs(i - (len(planes) - 1) / 2))  # middle planes first
    fits, n = [], 0
    for i in order:
        if check is not None:
            check()
        f = edge_fits(planes[i], noise, MAX_EDGES - n)
        fits.append(f)
        n += len(f)
        if n >= MAX_EDGES:
            break
    f = np.concatenate(fits) if fits else np.zeros((0, 4))
    f = f[f[:, 3] < MAX_REL_RMS]
    normals = np.stack([np.sin(f[:, 0]), np.cos(f[:, 0])], 1)
    bins = [np.flatnonzero((f[:, 0] >= lo) & (f[:, 0] < lo + math.pi / BINS))
            for lo in np.linspace(0, math.pi, BINS + 1)[:-1]]
    bins = [b for b in bins if len(b) >= MIN_PER_BIN]
    # the bin's mean orientation (axial data, so on doubled angles)
    axes = [float(np.angle(np.exp(2j * f[b, 0]).mean()) / 2) for b in bins]
    axes = [np.array([math.sin(t), math.cos(t)]) for t in axes]
    # the width across an edge varies with its angle inside a bin; a first fit of C over the bins'
    # quantiles puts each edge's width at its bin's mean orientation before the bound is taken
    def quantiles(shape):
        at_axis = [f[b, 1] * (axis @ shape @ axis) / np.einsum("ni,ij,nj->n", normals[b], shape, normals[b])
                   for b, axis in zip(bins, axes)]
        return [float(np.quantile(w, QUANTILE)) for w in at_axis]

    vals = quantiles(np.eye(2))
    if len(bins) >= 3:
        rows = np.array([[a[0] ** 2, 2 * a[0] * a[1], a[1] ** 2] for a in axes])
        c = np.linalg.lstsq(rows, np.array(vals), rcond=None)[0]
        first = np.array([[c[0], c[1]], [c[1], c[2]]])
        vals = quantiles(_floor_eigenvalues(first, 0.05 * max(np.linalg.eigvalsh(first).max(), 1e-6)))
    return list(zip(axes, vals))


def _floor_eigenvalues(m, floor: float) -> np.ndarray:
    ev, V = np.linalg.eigh(m)
    return V @ np.diag(np.clip(ev, floor, None)) @ V.T


def clip_to_bounds(cov, bounds) -> np.ndarray:
    """The covariance nearest ``cov`` with n' C n <= v for every bound (n, v), C positive
    semi-definite and no wider than ``cov`` in any direction (cov - C too); ``cov`` itself where it
    already keeps to the bounds."""
    from scipy.optimize import minimize

    cov = np.asarray(cov, dtype=np.float64)
    if all(n @ cov @ n <= v for n, v in bounds):
        return cov

    def mat(c):
        return np.array([[c[0], c[1]], [c[1], c[2]]])

    def psd(m):  # both eigenvalues >= 0, as the three inequalities of a 2 x 2 symmetric matrix
        return [m[0, 0], m[1, 1], m[0, 0] * m[1, 1] - m[0, 1] ** 2]

    start = np.array([cov[0, 0], cov[0, 1], cov[1, 1]])
    cons = [{"type": "ineq", "fun": (lambda c, n=n, v=v: v - n @ mat(c) @ n)} for n, v in bounds]
    cons += [{"type": "ineq", "fun": lambda c: psd(mat(c))}, {"type": "ineq", "fun": lambda c: psd(cov - mat(c))}]
    w = np.array([1.0, 2.0, 1.0])  # the off-diagonal counts twice in the Frobenius norm
    res = minimize(lambda c: float((w * (c - start) ** 2).sum()), start * 0.5, constraints=cons, method="SLSQP")
    C = _floor_eigenvalues(mat(res.x), 0.0)
    worst = min(np.linalg.eigvalsh(cov - C).min(), min(v - n @ C @ n for n, v in bounds))
    if not res.success or worst < -1e-6 * max(np.trace(cov), 1e-12):
        # shrinking the whole kernel keeps every bound and only narrows it
        return cov * min(1.0, min(v / max(n @ cov @ n, 1e-300) for n, v in bounds))
    return C
