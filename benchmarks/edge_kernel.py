"""Prototype: the blur kernel read from the image's sharpest straight edges (slanted-edge fits).

Each straight step edge of the scene, blurred by a Gaussian of covariance C (LR pixels^2) and read
at the pixel centres, is a + b Phi((n . x - d) / sqrt(n' C n)) in the window around it: fitting that
model to the pixels (no interpolation, so the fit sees every sampling phase, as ISO 12233's
slanted-edge method does) gives the blur across the edge. A scene's edges can be soft but never
sharper than a step, so the sharpest edges of each orientation bound the kernel from above.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

import os
WIN = int(os.environ.get("WIN", 7))


def _phi(z):
    return 0.5 * (1 + erf(z / math.sqrt(2)))


def edge_fits(img: np.ndarray, noise: float = 0.0, n_max: int = 4000, iters: int = 20):
    """(angle of the normal, variance across, contrast, relative rms residual) for each fitted edge."""
    img = np.asarray(img, dtype=np.float64)
    gy, gx = np.gradient(img)
    mag = np.hypot(gy, gx)
    h = WIN // 2
    H, W = img.shape
    # non-maximum suppression along the gradient, to one pixel per edge crossing
    ang = np.arctan2(gy, gx)
    oy = np.rint(np.sin(ang)).astype(int)
    ox = np.rint(np.cos(ang)).astype(int)
    yy, xx = np.mgrid[0:H, 0:W]
    inner = (yy >= h + 1) & (yy < H - h - 1) & (xx >= h + 1) & (xx < W - h - 1)
    y1, x1 = np.clip(yy + oy, 0, H - 1), np.clip(xx + ox, 0, W - 1)
    y2, x2 = np.clip(yy - oy, 0, H - 1), np.clip(xx - ox, 0, W - 1)
    peak = inner & (mag >= mag[y1, x1]) & (mag >= mag[y2, x2])
    thr = max(np.quantile(mag[inner], 0.8), 6 * noise + 1e-6)
    cand = np.flatnonzero(peak & (mag > thr))
    if cand.size == 0:
        return np.zeros((0, 4))
    cand = cand[np.argsort(-mag.ravel()[cand])][:n_max]
    cy, cx = np.unravel_index(cand, img.shape)
    oyw, oxw = np.mgrid[-h:h + 1, -h:h + 1].astype(np.float64)
    oyw, oxw = oyw.ravel(), oxw.ravel()
    P = img[cy[:, None] + oyw.astype(int)[None], cx[:, None] + oxw.astype(int)[None]]  # (N, WIN*WIN)
    th = ang.ravel()[cand]
    lo, hi = P.min(1), P.max(1)
    # parameters: a, b, d, log sigma, theta (normal = (sin th, cos th) in (y, x))
    p = np.stack([lo, hi - lo, np.zeros_like(lo), np.log(np.full_like(lo, 0.7)), th], 1)
    lam = np.full(len(p), 1e-2)

    def model(p):
        a, b, d, ls, t = p.T
        u = (np.sin(t)[:, None] * oyw + np.cos(t)[:, None] * oxw - d[:, None]) / np.exp(ls)[:, None]
        return a[:, None] + b[:, None] * _phi(u), u

    def resid(p):
        return model(p)[0] - P

    r = resid(p)
    cost = (r * r).sum(1)
    for _ in range(iters):
        a, b, d, ls, t = p.T
        f, u = model(p)
        g = np.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)  # dPhi/du
        s = np.exp(ls)[:, None]
        du_dt = (np.cos(t)[:, None] * oyw - np.sin(t)[:, None] * oxw) / s
        J = np.stack([np.ones_like(f), _phi(u), -b[:, None] * g / s, -b[:, None] * g * u,
                      b[:, None] * g * du_dt], -1)  # (N, M, 5)
        JTJ = np.einsum("nmi,nmj->nij", J, J)
        JTr = np.einsum("nmi,nm->ni", J, r)
        A = JTJ + lam[:, None, None] * (np.eye(5)[None] * (np.einsum("nii->ni", JTJ)[:, :, None] + 1e-9))
        step = np.linalg.solve(A, -JTr[..., None])[..., 0]
        q = p + step
        q[:, 3] = np.clip(q[:, 3], math.log(0.05), math.log(5.0))
        rq = resid(q)
        cq = (rq * rq).sum(1)
        better = cq < cost
        p[better], r[better], cost[better] = q[better], rq[better], cq[better]
        lam = np.where(better, lam * 0.3, lam * 10)
    a, b, d, ls, t = p.T
    rel_rms = np.sqrt(cost / P.shape[1]) / np.maximum(np.abs(b), 1e-12)
    # a fit pinned at a bound of the width, or whose edge left the centre pixel, measured nothing
    keep = ((np.abs(d) < 1.0) & (np.abs(b) > 4 * max(noise, 1 / 255))
            & (ls > math.log(0.05) + 1e-6) & (ls < math.log(5.0) - 1e-6))
    return np.stack([np.mod(t, math.pi), np.exp(2 * ls), np.abs(b), rel_rms], 1)[keep]


def edge_cov(img, noise=0.0, q=0.2, bins=6, max_rms=0.06, min_per_bin=8):
    """The covariance (LR pixels^2) that the sharpest edges of each orientation allow, or None."""
    f = edge_fits(img, noise)
    f = f[f[:, 3] < max_rms]
    if len(f) < min_per_bin * 3:
        return None, len(f)
    rows, vals = [], []
    edges = np.linspace(0, math.pi, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = f[(f[:, 0] >= lo) & (f[:, 0] < hi)]
        if len(sel) < min_per_bin:
            continue
        v = np.quantile(sel[:, 1], q)
        t = 0.5 * (lo + hi)
        ny, nx = math.sin(t), math.cos(t)
        rows.append([ny * ny, 2 * ny * nx, nx * nx])
        vals.append(v)
    if len(rows) < 3:
        return None, len(f)
    c, *_ = np.linalg.lstsq(np.array(rows), np.array(vals), rcond=None)
    C = np.array([[c[0], c[1]], [c[1], c[2]]])
    w, V = np.linalg.eigh(C)
    return V @ np.diag(np.clip(w, 0.0, None)) @ V.T, len(f)


def edge_bounds(img, noise=0.0, q=0.2, bins=6, max_rms=0.06, min_per_bin=10):
    """[(normal (y, x), largest variance across it)] that the sharpest edges of each orientation allow."""
    f = edge_fits(img, noise)
    f = f[f[:, 3] < max_rms]
    out = []
    for lo in np.linspace(0, math.pi, bins + 1)[:-1]:
        sel = f[(f[:, 0] >= lo) & (f[:, 0] < lo + math.pi / bins)]
        if len(sel) >= min_per_bin:
            t = np.angle(np.exp(2j * sel[:, 0]).mean()) / 2  # the bin's mean orientation (axial)
            out.append((np.array([math.sin(t), math.cos(t)]), float(np.quantile(sel[:, 1], q))))
    return out, len(f)


def clip_cov(spec, bounds):
    """The covariance nearest ``spec`` (Frobenius) with n' C n <= v for every bound (n, v), C >= 0."""
    from scipy.optimize import minimize

    if not bounds or all(n @ spec @ n <= v for n, v in bounds):
        return spec
    vec = lambda C: np.array([C[0, 0], C[0, 1], C[1, 1]])
    mat = lambda c: np.array([[c[0], c[1]], [c[1], c[2]]])
    cons = [{"type": "ineq", "fun": (lambda c, n=n, v=v: v - n @ mat(c) @ n)} for n, v in bounds]
    cons += [{"type": "ineq", "fun": lambda c: c[0]}, {"type": "ineq", "fun": lambda c: c[2]},
             {"type": "ineq", "fun": lambda c: c[0] * c[2] - c[1] ** 2}]
    w = np.array([1.0, 2.0, 1.0])
    res = minimize(lambda c: float((w * (c - vec(spec)) ** 2).sum()), vec(spec), constraints=cons, method="SLSQP")
    C = mat(res.x)
    ev, V = np.linalg.eigh(C)
    return V @ np.diag(np.clip(ev, 0.0, None)) @ V.T


def main(argv=None):
    import argparse
    import os
    import sys
    import time

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from div2krk import degrade, random_kernel
    from lateral_alternatives import grey, rel
    from sr2d import pairs, quantise

    from napari_zssr.core.estimate import estimate_noise
    from napari_zssr.core.estimate_lateral import estimate_lateral_cov

    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="+", default=["Set5"])
    ap.add_argument("--scales", nargs="+", type=int, default=[2])
    ap.add_argument("--q", type=float, default=0.2)
    args = ap.parse_args(argv)
    tot = {"spec": [], "edge": [], "clip": []}
    for name in args.sets:
        for s in args.scales:
            for i, (img_id, hr, _) in enumerate(pairs(name, s)):
                k, cov = random_kernel(s, np.random.default_rng(1000 * s + i))
                lr = grey(quantise(degrade(hr.astype(np.float64), k, s)))
                noise = estimate_noise(lr)
                try:
                    est = estimate_lateral_cov([lr], (s, s), noise)
                except ValueError:
                    continue
                spec = est["cov"]
                t = time.perf_counter()
                c, n = edge_cov(lr, noise, q=args.q)
                bounds, _ = edge_bounds(lr, noise, q=args.q)
                dt = time.perf_counter() - t
                edge = c * s * s if c is not None else spec
                clip = clip_cov(spec, [(b, v * s * s) for b, v in bounds])
                e = {"spec": rel(spec, cov), "edge": rel(edge, cov), "clip": rel(clip, cov)}
                for key in tot:
                    tot[key].append(e[key])
                ev = lambda m: "/".join(f"{v:.2f}" for v in np.linalg.eigvalsh(m))
                print(f"{name} x{s} {img_id}: true {ev(cov)} spec {ev(spec)} edge {ev(edge)} clip {ev(clip)} ({n} edges, {len(bounds)} bins, {dt:.1f}s) "
                      f"err spec {e['spec']:.2f} edge {e['edge']:.2f} clip {e['clip']:.2f} cubic={est['cubic']}", flush=True)
    print({k: round(float(np.mean(v)), 3) for k, v in tot.items()})


if __name__ == "__main__":
    main()
