"""Set5 / Set14 under the ZSSR paper's protocol (../shared/data/sr/README.md). Not a test.

    python benchmarks/sr2d.py --preset fast --sets Set5 --scales 2
    python benchmarks/sr2d.py --preset paper --sets Set5 --scales 2 --json out.json

PSNR on Y (BT.601, from the 8-bit quantised output), ``s`` pixels cropped at every border;
SSIM on the same Y (Gaussian window, sigma 1.5). Bicubic is MATLAB-compatible imresize.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

import numpy as np
from PIL import Image

DATA = os.environ.get("ZSSR_SR_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "sr"))


def to_y(rgb_u8: np.ndarray) -> np.ndarray:
    if rgb_u8.ndim == 2:
        rgb_u8 = np.stack([rgb_u8] * 3, axis=-1)
    r, g, b = (rgb_u8[..., i].astype(np.float64) for i in range(3))
    return np.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0)


def quantise(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def psnr(a, b):
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ssim(a, b):
    from skimage.metrics import structural_similarity

    return structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False)


def score(sr, hr, s):
    ys, yh = to_y(quantise(sr)), to_y(hr)
    ys, yh = ys[s:-s, s:-s], yh[s:-s, s:-s]
    return psnr(ys, yh), ssim(ys, yh)


def pairs(name, s):
    for hr in sorted(glob.glob(os.path.join(DATA, name, f"image_SRF_{s}", "*_HR.png"))):
        yield (os.path.basename(hr).split("_SRF")[0], np.array(Image.open(hr)),
               np.array(Image.open(hr.replace("_HR", "_LR"))))


def main(argv=None):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import parse_overrides

    from napari_zssr import ZSSRConfig, imresize, run_zssr

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="fast", help="ZSSR preset, or 'none' for bicubic only")
    ap.add_argument("--sets", nargs="+", default=["Set5"])
    ap.add_argument("--scales", nargs="+", type=int, default=[2])
    ap.add_argument("--images", nargs="*", help="only these image ids (img_001 ...)")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[], help="config overrides key=value")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--kernel", nargs="+", default=["default"], choices=["default", "estimate"],
                    help="ZSSR's kernel: the default (bicubic) and/or 'estimate', each run per image")
    ap.add_argument("--json", help="append per-image rows to this JSON-lines file")
    args = ap.parse_args(argv)
    overrides = parse_overrides(args.overrides)
    for name in args.sets:
        for s in args.scales:
            rows = []
            for img_id, hr, lr in pairs(name, s):
                if args.images and img_id not in args.images:
                    continue
                bic = imresize(lr.astype(np.float64), s)
                row = {"set": name, "scale": s, "image": img_id}
                row["bicubic_psnr"], row["bicubic_ssim"] = score(bic, hr, s)
                if args.preset != "none":
                    cfg = ZSSRConfig.preset(args.preset, device=args.device, **overrides)
                    for kname in args.kernel:
                        t = time.perf_counter()
                        sr, rep = run_zssr(lr, (s, s), config=cfg, channel_axis=-1 if lr.ndim == 3 else None,
                                           kernel=None if kname == "default" else kname)
                        tag = "" if kname == "default" else f"{kname}_"
                        row[tag + "seconds"] = time.perf_counter() - t
                        row[tag + "zssr_psnr"], row[tag + "zssr_ssim"] = score(sr, hr, s)
                        if kname == "estimate":
                            row["estimated_cov"] = rep.estimated_cov[0] if rep.estimated_cov else None
                        row.update(device=rep.device, preset=args.preset, steps=rep.steps, gain_db=rep.gain_db,
                                   train_s=rep.train_seconds, infer_s=rep.infer_seconds, overrides=overrides)
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(row) + "\n")
            if rows:
                mean = {k: float(np.mean([r[k] for r in rows]))
                        for k in rows[0] if k.endswith(("psnr", "ssim", "seconds"))}
                print(f"MEAN {name} x{s} ({len(rows)} images): " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items()),
                      flush=True)


if __name__ == "__main__":
    sys.exit(main())
