"""Peak memory of upscale() on nuclei.tif (60 x 256 x 256 uint16) made isotropic by (4, 1, 1). Not a test.

    python benchmarks/memory.py --set max_iters=50

Memory is the peak of the C heap in use (glibc mallinfo2: numpy's and torch's CPU allocations
alike) above its level right after the imports (torch included: importing it allocates ~80 MB),
sampled every 5 ms from a second thread; not
process RSS. Training steps do not change the figure, so few of them are run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PeakSampler  # noqa: E402 - the benchmarks folder is not a package


def main(argv=None):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import tifffile
    from common import parse_overrides
    from iso3d import nuclei_path

    from napari_zssr import ZSSRConfig
    from napari_zssr.stack.upscale import run_upscale

    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[])
    args = ap.parse_args(argv)
    overrides = parse_overrides(args.overrides)
    import torch

    stack = tifffile.imread(nuclei_path())
    cfg = ZSSRConfig.preset(args.preset, device="cpu", **overrides)
    torch.zeros(1).sum()  # the baseline is taken after torch's import-time allocations, as the design says
    sampler = PeakSampler()
    sampler.start()
    t = time.perf_counter()
    out, rep = run_upscale(stack, (4, 1, 1), config=cfg)
    secs = time.perf_counter() - t
    peak = sampler.stop()
    result_bytes = out.size * 4
    print(json.dumps({"input": list(stack.shape), "output": list(out.shape), "result_float32_MB": result_bytes / 2**20,
                      "peak_above_baseline_MB": peak / 2**20, "ratio_to_result": peak / result_bytes,
                      "seconds": secs, "device": rep.device, "preset": args.preset, "overrides": overrides}))


if __name__ == "__main__":
    sys.exit(main())
