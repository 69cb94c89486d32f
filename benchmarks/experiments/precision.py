"""Precision (issue 16): bare loops and the engine at float32 and bfloat16, matrix-product rates, the
probe's choice, and end-to-end runs with their quality at "auto" and at float32. Not a test.

    python benchmarks/experiments/precision.py           # step times (paper and fast networks), mm rates, probe
    python benchmarks/experiments/precision.py --e2e     # + Set5 img_002 x2 "fast" and iso3d k=4 sigma 2 "fast"
    python benchmarks/experiments/precision.py --paper   # only Set5 img_002 x2 "paper" at bfloat16 and float32

Step times are (2N - N) / N as in benchmarks/speed.py, all in one run, so compare them as ratios. Each
precision's engine loop is core/train.py's ``train`` at that precision (its own layout choice).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# the product benchmarks' folder: speed.py's loops are the ones timed here
sys.path.insert(0, os.path.dirname(HERE))
from common import cpu_name  # noqa: E402
from speed import bare_run, conv_flops, engine_run, load_image, mm_flops  # noqa: E402

RESULTS = os.path.join(HERE, "results", "precision.jsonl")


def differenced(fn, n):
    fn(2)  # warm-up
    a, b = fn(n), fn(2 * n)
    return (b - a) / n


def steps_for(preset, src, dev, n):
    from napari_zssr import ZSSRConfig
    from napari_zssr.core.precision import probe

    cfg = ZSSRConfig.preset(preset, device=str(dev), precision="float32")
    crop = (min(cfg.crop_size, src.shape[-2]), min(cfg.crop_size, src.shape[-1]))
    ch = src.shape[0]
    row = {"net": {"channels": ch, "width": cfg.width, "depth": cfg.depth, "crop": list(crop), "batch": cfg.batch_size}}
    row["bare_float32_s"] = differenced(lambda k: bare_run(ch, cfg, dev, k, crop), n)
    row["bare_float32_cl_s"] = differenced(lambda k: bare_run(ch, cfg, dev, k, crop, channels_last=True), n)
    row["bare_bfloat16_cl_s"] = differenced(
        lambda k: bare_run(ch, cfg, dev, k, crop, precision="bfloat16", channels_last=True), n)
    for p in ("float32", "bfloat16"):
        row[f"engine_{p}_s"] = differenced(lambda k, p=p: engine_run(src, cfg.replace(precision=p), dev, k), n)
    row["gflop_per_step"] = conv_flops(ch, cfg, crop) / 1e9
    row["probe"] = probe(dev, ch, cfg.width, cfg.depth, cfg.crop_size, cfg.batch_size)
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--e2e", action="store_true")
    ap.add_argument("--paper", action="store_true", help="only: Set5 img_002 x2 with the 'paper' preset at bfloat16 "
                                                         "and float32 (about 11 minutes on two cores)")
    ap.add_argument("--json", default=RESULTS)
    args = ap.parse_args(argv)

    import torch

    from napari_zssr.core.device import describe_device, resolve_device
    from napari_zssr.core.precision import choose

    dev = resolve_device(args.device)
    if args.paper:
        return paper_end_to_end(dev, args.json)
    lr = load_image("img_001")
    src = torch.as_tensor(np.moveaxis(lr, -1, 0).astype(np.float32) / 255.0, device=dev)
    row = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "device": describe_device(dev),
           "cpu": cpu_name() if dev.type == "cpu" else None, "torch": torch.__version__,
           "threads": torch.get_num_threads()}
    row["mm_float32_gflops"] = mm_flops(dev, 2048) / 1e9
    row["mm_bfloat16_gflops"] = mm_flops(dev, 2048, dtype=torch.bfloat16) / 1e9
    for preset in ("paper", "fast"):
        row[preset] = steps_for(preset, src, dev, args.n)
        r = row[preset]
        r["choice"] = choose(r["probe"])
        print(f"{preset}: bare f32 {1e3 * r['bare_float32_s']:.1f} ms, "
              f"bare f32 cl {1e3 * r['bare_float32_cl_s']:.1f} ms, "
              f"bare bf16 cl {1e3 * r['bare_bfloat16_cl_s']:.1f} ms, engine f32 {1e3 * r['engine_float32_s']:.1f} ms, "
              f"engine bf16 {1e3 * r['engine_bfloat16_s']:.1f} ms; probe {r['probe']['times']} -> {r['choice']}",
              flush=True)
    if args.e2e:
        row["e2e"] = end_to_end(dev)
    print(json.dumps(row, default=str), flush=True)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "a") as f:
            f.write(json.dumps(row, default=str) + "\n")


def end_to_end(dev):
    """Set5 img_002 x2 and the nuclei stack z x4 (sigma 2, true kernel), "fast", at float32, auto and bfloat16:
    seconds and quality by the protocols of sr2d.py and iso3d.py."""
    import tifffile
    from iso3d import degrade, nuclei_path
    from iso3d import score as score3d
    from sr2d import pairs
    from sr2d import score as score2d

    from napari_zssr import ZSSRConfig, run_zssr
    from napari_zssr.stack.upscale import run_upscale

    out = {}
    hr, lr = next((h, low) for name, h, low in pairs("Set5", 2) if name == "img_002")
    lr3, truth = degrade(tifffile.imread(nuclei_path()).astype(np.float32), 4, 2.0)
    for p in ("float32", "auto", "bfloat16"):
        cfg = ZSSRConfig.preset("fast", device=str(dev), precision=p)
        t = time.perf_counter()
        sr, rep = run_zssr(lr, 2, config=cfg, channel_axis=-1)
        secs = time.perf_counter() - t
        out[f"set5_img_002_{p}"] = {"seconds": secs, "psnr_ssim": score2d(sr, hr, 2), "precision": rep.precision}
        t = time.perf_counter()
        pred, rep3 = run_upscale(lr3, (4, 1, 1), kernel=2.0, config=cfg.replace(output_flip=False))
        secs = time.perf_counter() - t
        out[f"iso_k4_s2_true_{p}"] = {"seconds": secs, "psnr_ssim": score3d(pred, truth), "precision": rep3.precision}
        print(p, out[f"set5_img_002_{p}"], out[f"iso_k4_s2_true_{p}"], flush=True)
    return out


def paper_end_to_end(dev, json_path):
    """Set5 img_002 x2, "paper" preset, at bfloat16 and float32: seconds, steps and quality (sr2d protocol)."""
    from sr2d import pairs
    from sr2d import score as score2d

    from napari_zssr import ZSSRConfig, run_zssr

    hr, lr = next((h, low) for name, h, low in pairs("Set5", 2) if name == "img_002")
    for p in ("bfloat16", "float32"):
        cfg = ZSSRConfig.preset("paper", device=str(dev), precision=p)
        t = time.perf_counter()
        sr, rep = run_zssr(lr, 2, config=cfg, channel_axis=-1)
        row = {"case": "Set5 img_002 x2 paper", "precision": rep.precision, "seconds": time.perf_counter() - t,
               "steps": rep.steps, "train_s": rep.train_seconds, "infer_s": rep.infer_seconds,
               "psnr_ssim": score2d(sr, hr, 2)}
        print(json.dumps(row, default=float), flush=True)
        if json_path:
            with open(json_path, "a") as f:
                f.write(json.dumps(row, default=float) + "\n")


if __name__ == "__main__":
    main()
