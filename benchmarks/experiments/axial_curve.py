"""Is the axial blur that kernel="estimate" reads really in the data, or the criterion's noise? Not a test.

    python benchmarks/experiments/axial_curve.py --json bench_out/axial_curve.jsonl

For each stack, the estimate's misfit curve (the shape of the z lines' spectrum against that of
lateral lines blurred by sigma and point-sampled) is read at its minimum and at sigma 0 (no axial
blur), and compared with the misfit's own sampling noise: the same measure between two random
halves of the z lines. Where the misfit at sigma 0 exceeds the minimum by many times that noise,
the stack is blurrier along z than across, whatever made it so. Each row also gives the Gaussian
sigma that the default (cubic) kernel is worth at that factor: the one with the same response at
the coarse planes' Nyquist frequency. Stacks: nuclei.tif by the iso3d
protocol (its own planes as they are, then blurred along z by sigma and kept every k-th plane),
and the isotropic synthetic volumes of blind.py, where nothing but the added blur tells z
from x/y.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

# the product benchmarks' folder: common.py, iso3d.py's protocol and blind.py's volumes
BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def split_noise(stack, f: float, seed: int = 0) -> float:
    """The spectrum-shape misfit between two random halves of the stack's z lines."""
    from napari_zssr.core.estimate import _z_lines, line_spectrum

    Z, Y, X = stack.shape
    length = min(Z, int(np.floor((min(Y, X) - 1) / f)) + 1)
    rng = np.random.default_rng(seed)
    lines = _z_lines(stack, length, rng)
    order = rng.permutation(len(lines))
    a, b = line_spectrum(lines[order[::2]]), line_spectrum(lines[order[1::2]])
    d = np.log(a[1:] + 1e-30) - np.log(b[1:] + 1e-30)
    return float(np.mean((d - d.mean()) ** 2))


def cubic_equivalent_sigma(f: float) -> float:
    """The sigma (fine pixels) of the Gaussian whose response at the coarse Nyquist frequency 1 / (2 f)
    equals the default cubic profile's."""
    from napari_zssr.core.axial import AxialKernel

    w = AxialKernel.default(f).taps
    n = np.arange(len(w)) - (len(w) - 1) / 2
    fc = 1.0 / (2 * f)
    h = abs((w * np.exp(-2j * np.pi * fc * n)).sum())
    return float(np.sqrt(-2 * np.log(h)) / (2 * np.pi * fc))


def stacks(ks, fractions):
    import tifffile
    from blind import blobs, power_law
    from iso3d import degrade, nuclei_path
    from scipy.ndimage import gaussian_filter1d

    gt = tifffile.imread(nuclei_path()).astype(np.float64)
    for k in ks:
        for frac in fractions:
            yield "nuclei", k, frac * k, degrade(gt, k, frac * k)[0]
    for kind, make in (("power-law", power_law), ("blobs", blobs)):
        vol = make(128, 1)
        for k in ks:
            for frac in fractions:
                b = gaussian_filter1d(vol, frac * k, axis=0, mode="wrap") if frac else vol
                yield kind, k, frac * k, b[:96, :96, :96][::k]


def main(argv=None):
    sys.path.insert(0, BENCHMARKS)
    from common import append_row

    from napari_zssr.core.estimate import estimate_axial_sigma

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", nargs="+", type=int, default=[2, 4])
    ap.add_argument("--fractions", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75], help="sigma_z / k")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    for kind, k, sigma, lr in stacks(args.k, args.fractions):  # synthetic volumes: seed 1
        found = estimate_axial_sigma(lr, k)
        curve = np.asarray(found["curve"])
        noise = split_noise(lr, k)
        row = {"volume": kind, "k": k, "sigma": sigma, "estimated_sigma": found["sigma"],
               "misfit_min": float(curve.min()),
               "misfit_at_0": float(curve[0]), "split_noise": noise,
               "excess_at_0_over_noise": float((curve[0] - curve.min()) / max(noise, 1e-30)),
               "cubic_equivalent_sigma": cubic_equivalent_sigma(k),
               "seed": None if kind == "nuclei" else 1, "curve": found["curve"], "sigmas": found["sigmas"]}
        append_row(args.json, row)
        print(f"{kind} k={k} sigma {sigma:g}: estimated {found['sigma']:.2f}; misfit at 0 {curve[0]:.4f}, at the "
              f"minimum {curve.min():.4f}, split-half noise {noise:.4f} ({row['excess_at_0_over_noise']:.0f}x); "
              f"the cubic default is worth sigma "
              f"{row['cubic_equivalent_sigma']:.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
