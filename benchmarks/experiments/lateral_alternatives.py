"""Two questions about the 2-D kernel estimate's misses, answered on the estimates alone (no training). Not a test.

    python benchmarks/experiments/lateral_alternatives.py intrinsic --sets Set14 --scales 2 \\
        --json bench_out/lateral_intrinsic.jsonl
    python benchmarks/experiments/lateral_alternatives.py patches --sets Set5 --scales 2 \\
        --json bench_out/lateral_patches.jsonl
    python benchmarks/experiments/lateral_alternatives.py edges --sets Set5 Set14 --scales 2 4 \\
        --json bench_out/lateral_edges.jsonl
    python benchmarks/experiments/lateral_alternatives.py bicubic --sets Set5 Set14 --scales 2 4 \\
        --json bench_out/lateral_bicubic.jsonl

LR images as blind.py makes them (DIV2KRK-style kernel, seed 1000 s + image index, 8 bits), read on
their channel mean, as zssr reads a colour image's kernel.

- intrinsic: is the over-read blur the HR photograph's own softness? The same estimator run on the
  HR image reads that softness (divided by s^2: HR pixels); if it explained the misses, the LR
  estimate would match the true covariance plus it better than the true covariance alone.
- patches: a different criterion for the same Gaussian, bidirectional recurrence of small patches
  across scales (every patch of the image shrunk once more should have a near twin in the image,
  and every patch of the image one in the shrunk copy; after Michaeli and Irani, ICCV 2013, and
  Simakov et al., CVPR 2008), against the shipped spectrum-shape criterion. Patches are 5 x 5,
  mean removed and scaled to unit norm (raw distances prefer blurrier copies, whose patches have
  less contrast), and the shrunk copy gets back the noise its blur took away (taking the
  finest-detail noise estimate as the level, where the shipped criterion fits a fraction of it).
- edges: what the cap by the sharpest straight edges (core/estimate_edges.py) does to the
  spectrum's Gaussian: the covariance error before and after, and how many orientations bounded it.
- bicubic: on the sets' own MATLAB-bicubic LR files, whether the estimate keeps bicubic (it should:
  that is how they were made), and why.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

# the product benchmarks' folder: common.py, and blind.py's LR images (div2krk.py, sr2d.py)
BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATCH = 5


def grey(im) -> np.ndarray:
    """The channel mean, which is what zssr estimates a colour image's kernel from."""
    im = im.astype(np.float64) / 255
    return im if im.ndim == 2 else im.mean(axis=-1)


def _unit_patches(img, n, rng, floor):
    from numpy.lib.stride_tricks import sliding_window_view

    w = sliding_window_view(img, (PATCH, PATCH)).reshape(-1, PATCH * PATCH)
    q = w[rng.choice(len(w), min(n, len(w)), replace=False)]
    q = q - q.mean(1, keepdims=True)
    norm = np.linalg.norm(q, axis=1)
    keep = norm > floor
    return (q[keep] / norm[keep, None]).astype(np.float32)


def _nearest(a, b):
    """Squared distance from each row of ``a`` to its nearest row of ``b``."""
    best = np.full(len(a), np.inf, np.float32)
    aa = (a * a).sum(1)[:, None]
    for j in range(0, len(b), 8192):
        c = b[j:j + 8192]
        best = np.minimum(best, (aa + (c * c).sum(1)[None, :] - 2 * a @ c.T).min(1))
    return np.clip(best, 0, None)


def patch_estimate(img, s, noise, n_query=2000, n_base=12000, seed=0):
    """The Gaussian (output-grid covariance) that the bidirectional patch criterion prefers."""
    from scipy.optimize import minimize

    from napari_zssr.core.estimate_lateral import MAX_COARSE_VAR, _blur_sample, _cov

    floor = max(3 * noise * PATCH, 1e-3)
    rng = np.random.default_rng(seed)
    base = _unit_patches(img, n_base, rng, floor)
    base_q = base[rng.choice(len(base), min(n_query, len(base)), replace=False)]

    def misfit(cov):
        r = np.random.default_rng(seed + 1)
        fy, fx = np.fft.fftfreq(64)[:, None], np.fft.fftfreq(64)[None, :]
        quad = cov[0, 0] * fy * fy + 2 * cov[0, 1] * fy * fx + cov[1, 1] * fx * fx
        # the share of white-noise variance the exact blur keeps
        keeps = float(np.mean(np.exp(-4 * math.pi ** 2 * quad)))
        shrunk = [y + r.standard_normal(y.shape) * noise * math.sqrt(max(0.0, 1 - keeps))
                  for y in _blur_sample(img, cov, (s, s))]
        small = np.concatenate([_unit_patches(y, n_base // len(shrunk), r, floor) for y in shrunk])
        small_q = small[r.choice(len(small), min(n_query, len(small)), replace=False)]
        return float(_nearest(small_q, base).mean() + _nearest(base_q, small).mean())

    grid = np.linspace(0.0, math.sqrt(MAX_COARSE_VAR), 13)[1:]
    iso = [misfit(np.eye(2) * v * v) for v in grid]
    b = int(np.argmin(iso))
    start = math.log(max(grid[b], 0.05))
    res = min((minimize(lambda p: misfit(_cov(p)), x0=[start, start, a], method="Nelder-Mead",
                        options={"xatol": 0.02, "fatol": 1e-5, "maxfev": 120}) for a in (0.0, math.pi / 4)),
              key=lambda r: r.fun)
    c = _cov(res.x) if res.fun < iso[b] else np.eye(2) * grid[b] ** 2
    return c / (1 - 1 / s ** 2)


def rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main(argv=None):
    sys.path.insert(0, BENCHMARKS)
    from common import append_row
    from div2krk import degrade, random_kernel
    from sr2d import pairs, quantise

    from napari_zssr.core.estimate import estimate_noise
    from napari_zssr.core.estimate_lateral import estimate_lateral_cov

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("question", choices=["intrinsic", "patches", "edges", "bicubic"])
    ap.add_argument("--sets", nargs="+", default=["Set14"])
    ap.add_argument("--scales", nargs="+", type=int, default=[2])
    ap.add_argument("--json")
    ap.add_argument("--read-at", type=float, default=None,
                    help="read every kernel at a factor of at most this (as the shipped code does only for images "
                         "too small at their own factor): an experiment, the shipped estimator patched")
    args = ap.parse_args(argv)
    if args.read_at is not None:
        from napari_zssr.core import estimate_lateral as el

        shipped_fit = el._tiles_that_fit
        el._tiles_that_fit = lambda planes, scale: ([] if max(scale) > args.read_at else shipped_fit(planes, scale))
        el.READ_FALLBACK = args.read_at
    for name in args.sets:
        for s in args.scales:
            for i, (img_id, hr, matlab_lr) in enumerate(pairs(name, s)):
                if args.question == "bicubic":
                    lr = grey(matlab_lr)
                    try:
                        found = estimate_lateral_cov([lr], (s, s), estimate_noise(lr))
                    except ValueError as exc:
                        print(f"{name} x{s} {img_id}: {exc}", flush=True)
                        continue
                    row = {"question": "bicubic", "set": name, "scale": s, "image": img_id, "read_at": args.read_at,
                           "cubic": bool(found["cubic"]),
                           "why_cubic": found["why_cubic"], "edge_bounds": found["edge_bounds"],
                           "read_scale": list(found["read_scale"]), "cov": found["cov"].tolist()}
                    append_row(args.json, row)
                    print(f"{name} x{s} {img_id}: bicubic kept: {row['cubic']} "
                          f"({row['why_cubic'] or 'a Gaussian taken'})",
                          flush=True)
                    continue
                k, cov = random_kernel(s, np.random.default_rng(1000 * s + i))
                lr = grey(quantise(degrade(hr.astype(np.float64), k, s)))
                noise = estimate_noise(lr)
                try:
                    t = time.perf_counter()
                    found = estimate_lateral_cov([lr], (s, s), noise)
                    shipped = found["cov"]
                    t_shipped = time.perf_counter() - t
                except ValueError:
                    print(f"{name} x{s} {img_id}: too small to estimate from", flush=True)
                    continue
                row = {"question": args.question, "set": name, "scale": s, "image": img_id, "read_at": args.read_at,
                       "true_cov": cov.tolist(),
                       "shipped_cov": shipped.tolist(), "shipped_error": rel(shipped, cov),
                       "shipped_seconds": t_shipped}
                if args.question == "intrinsic":
                    own = estimate_lateral_cov([grey(hr)], (s, s), estimate_noise(grey(hr)))["cov"] / s ** 2
                    row.update(hr_own_cov=own.tolist(), error_with_own=rel(shipped, cov + own),
                               trace_ratio=float(np.trace(shipped) / np.trace(cov)),
                               trace_ratio_with_own=float(np.trace(shipped) / np.trace(cov + own)))
                    line = (f"trace read / true {row['trace_ratio']:.2f}, "
                            f"/ (true + HR's own) {row['trace_ratio_with_own']:.2f}; "
                            f"error {row['shipped_error']:.2f} vs {row['error_with_own']:.2f}")
                elif args.question == "edges":
                    before = found["cov_spectrum"]
                    row.update(spectrum_cov=before.tolist(), spectrum_error=rel(before, cov),
                               edge_bounds=found["edge_bounds"], cubic=bool(found["cubic"]),
                               why_cubic=found["why_cubic"], read_scale=list(found["read_scale"]))
                    line = (f"relative covariance error: spectrum {row['spectrum_error']:.2f}, capped by edges "
                            f"{row['shipped_error']:.2f} ({found['edge_bounds']} orientations; "
                            f"bicubic kept: {found['cubic']})")
                else:
                    t = time.perf_counter()
                    pc = patch_estimate(lr, s, noise)
                    row.update(patch_cov=pc.tolist(), patch_error=rel(pc, cov), patch_seconds=time.perf_counter() - t)
                    line = (f"relative covariance error: spectrum {row['shipped_error']:.2f}, "
                            f"patches {row['patch_error']:.2f} "
                            f"({row['shipped_seconds']:.1f} s / {row['patch_seconds']:.1f} s)")
                append_row(args.json, row)
                print(f"{name} x{s} {img_id}: {line}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
