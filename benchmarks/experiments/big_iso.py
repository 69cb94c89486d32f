"""A 32 x 512 x 512 stack made isotropic by z x4: how the time splits between training and
inference, at each precision (issue 16). Not a test.

    python benchmarks/experiments/big_iso.py --json bench_out/big_iso.jsonl [--precision auto float32]

The stack is nuclei.tif (60 x 256 x 256, the iso3d protocol's volume) mirrored to 512 x 512
laterally, its first 32 planes; the "fast" preset as it stands (the CPU users' preset), back-projection
on; the flip ensemble as the preset has it ("auto": none along z) or as --output-flip asks, so that
the two can be compared in one run. The result has 125 planes. Seconds are end to end, in process.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

import numpy as np

# the product benchmarks' folder: common.py and iso3d.py's nuclei.tif
BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    sys.path.insert(0, BENCHMARKS)
    import tifffile
    from common import append_row
    from iso3d import nuclei_path

    from napari_zssr import ZSSRConfig
    from napari_zssr.core.device import describe_device, resolve_device
    from napari_zssr.stack.upscale import run_upscale

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precision", nargs="+", default=["auto", "float32"])
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--planes", type=int, default=32)
    ap.add_argument("--max-iters", type=int, default=0, help="cap on training steps (0: the preset's); smoke runs")
    ap.add_argument("--output-flip", nargs="+", default=["auto"], help="auto, true or false, each in turn")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    nuclei = tifffile.imread(nuclei_path())[: args.planes]
    stack = np.concatenate([np.concatenate([nuclei, nuclei[:, :, ::-1]], axis=2)] * 2, axis=1)
    stack = np.concatenate([stack[:, :256], stack[:, 256:][:, ::-1]], axis=1)
    first = None  # the first result: each later one is compared with it
    flips = {"auto": "auto", "true": True, "false": False}
    for p, flip in [(p, flips[f]) for p in args.precision for f in args.output_flip]:
        cfg = ZSSRConfig.preset(args.preset, precision=p, output_flip=flip)
        cfg = cfg.with_max_iters(args.max_iters) if args.max_iters else cfg
        t = time.perf_counter()
        out, rep = run_upscale(stack, (4, 1, 1), axes="ZYX", config=cfg)
        secs = time.perf_counter() - t
        row = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "preset": args.preset,
               "precision_asked": p, "precision": rep.precision, "output_flip": flip, "input": list(stack.shape),
               "output": list(out.shape), "seconds": secs, "train_s": sum(u.train_seconds for u in rep.units),
               "infer_s": sum(u.infer_seconds for u in rep.units), "steps": [u.steps for u in rep.units],
               "device": describe_device(resolve_device("auto"))}
        if first is None:
            first = out
        else:  # this result against the first, on the first one's range
            a, b = (np.asarray(v, dtype=np.float64) for v in (first, out))
            rng = float(np.percentile(a, 99.8) - np.percentile(a, 2))
            row["psnr_between_db"] = float(10 * np.log10(rng**2 / np.mean((a - b) ** 2)))
        print(json.dumps(row), flush=True)
        append_row(args.json, row)


if __name__ == "__main__":
    sys.exit(main())
