"""How well kernel="estimate" reads the axial blur where the truth is known exactly. Not a test.

    python benchmarks/experiments/axial_estimate.py --json bench_out/axial_estimate.jsonl

Isotropic synthetic volumes (nothing tells z from x/y in them but the blur we add): blind.py's
random-phase power-law volumes (1/|f|^3 power) and Gaussian blobs, 128^3, blurred along z by a
Gaussian of sigma (fine-grid pixels), cropped to 96^3 (so that the stack's ends are not periodic),
and kept every k-th plane. Only the estimate runs (no training): the estimated sigma against the true one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# the product benchmarks' folder: common.py, and blind.py's volumes
BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    from scipy.ndimage import gaussian_filter1d

    sys.path.insert(0, BENCHMARKS)
    from blind import blobs, power_law
    from common import append_row

    from napari_zssr import estimate_kernel

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", nargs="+", type=int, default=[2, 4])
    ap.add_argument("--fractions", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75], help="sigma_z / k")
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    for kind, make in (("power-law", power_law), ("blobs", blobs)):
        for seed in args.seeds:
            vol = make(128, seed)
            for k in args.k:
                for frac in args.fractions:
                    sigma = frac * k
                    blurred = gaussian_filter1d(vol, sigma, axis=0, mode="wrap") if sigma > 0 else vol
                    lr = blurred[:96, :96, :96][::k]
                    t = time.perf_counter()
                    _, info = estimate_kernel(lr, (k, 1, 1))
                    row = {"volume": kind, "seed": seed, "k": k, "sigma": sigma, "estimated_sigma": info["sigma"],
                           "seconds": time.perf_counter() - t}
                    append_row(args.json, row)
                    print(f"{kind} seed {seed} k={k} sigma {sigma:g}: estimated {info['sigma']:.3f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
