"""How well kernel="estimate" reads the axial blur where the truth is known exactly. Not a test.

    python benchmarks/axial_estimate.py --json bench_out/axial_estimate.jsonl

Isotropic synthetic volumes (nothing tells z from x/y in them but the blur we add): random-phase
power-law volumes (1/|f|^3 power) and Gaussian blobs, 128^3, blurred along z by a Gaussian of
sigma (fine-grid pixels), cropped to 96^3 (so that the stack's ends are not periodic), and kept
every k-th plane. Only the estimate runs (no training): the estimated sigma against the true one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def power_law(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = np.sqrt(sum(np.meshgrid(*[np.fft.fftfreq(n) ** 2] * 3, indexing="ij")))
    f[0, 0, 0] = 1.0
    spec = f ** -1.5 * np.exp(2j * np.pi * rng.random((n, n, n)))
    spec[0, 0, 0] = 0
    v = np.fft.ifftn(spec).real
    return 100 + 40 * v / v.std()


def blobs(n: int, seed: int, count: int = 400) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    vol = np.zeros((n, n, n))
    idx = rng.integers(0, n, size=(count, 3))
    vol[idx[:, 0], idx[:, 1], idx[:, 2]] = rng.uniform(0.5, 1.5, count)
    return 100 + 4000 * gaussian_filter(vol, rng.uniform(1.5, 3.0), mode="wrap")


def main(argv=None):
    from scipy.ndimage import gaussian_filter1d

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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
