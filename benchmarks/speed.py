"""Speed of the training engine against a bare loop of the same network (issue 6). Not a test.

    python benchmarks/speed.py                      # step ratio and FLOP/s (5-6 minutes on 2 cores)
    python benchmarks/speed.py --e2e                # + one Set5 image, "fast" preset, end to end
    python benchmarks/speed.py --e2e --paper --iso  # + "paper" preset and the 60x256x256 z x4 case

Step time (design notes): the engine's own training loop (core/train.py ``train``, with
min_iters = max_iters so the policy cannot stop it early, the preset's run_test_every) is timed
for N and for 2N steps and the difference is divided by N, so the set-up and the final pass drop
out; with N a multiple of run_test_every the difference holds the reconstruction-error passes
the learning-rate policy needs, at their true rate. The bare loop is the same network (crop, batch,
width, depth, channels of the preset and
image) on random tensors already on the device: forward, L1, backward, Adam step, timed the same
way. FLOPs count the convolutions only (2 k^2 cin cout H W per conv forward, x3 with the
backward); they are compared with torch.mm of two n x n float32 matrices timed in the same run.
The two loops are interleaved (engine N, bare N, engine 2N, bare 2N per round) so that load from
other work on a shared machine falls on both; compare ratios, not seconds, across runs.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "speed.jsonl")

sys.path.insert(0, HERE)
from common import cpu_name  # noqa: E402 - the benchmarks folder is not a package


def sync(dev):
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def load_image(img_id: str, scale: int = 2):
    """A Set5 LR image (H, W, 3) uint8, as sr2d.py reads it."""
    from sr2d import pairs

    for name, _, lr in pairs("Set5", scale):
        if name == img_id:
            return lr
    raise SystemExit(f"Set5 {img_id} x{scale} not found under {os.path.abspath(__import__('sr2d').DATA)}")


def engine_run(src, cfg, dev, steps: int, seed: int = 0) -> float:
    """Seconds for ``steps`` steps of the engine's training loop on ``src`` (C, H, W), set-up included."""
    import torch

    from napari_zssr.core.augment import FatherSampler
    from napari_zssr.core.network import ZSSRNet
    from napari_zssr.core.progress import Progress
    from napari_zssr.core.resize import Kernel
    from napari_zssr.core.train import SRPairs, train

    cfg = cfg.replace(max_iters=steps, min_iters=steps)
    sync(dev)
    t = time.perf_counter()
    # what core/lateral.py train_zssr does for one scale step
    clip = (float(src.min()), float(src.max()))
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    net = ZSSRNet(src.shape[0], cfg.width, cfg.depth, cfg.learn_residual).to(dev)
    net.reset(cfg.init_variance, torch.Generator().manual_seed(seed))
    sampler = FatherSampler([src], cfg.crop_size, cfg, np.random.default_rng(seed))
    pairs = SRPairs((2.0, 2.0), Kernel("cubic"), cfg.noise_std, clip, gen)
    # a callback that does nothing, so that the progress path (and its host reads) runs as in the shells
    stats = train(net, sampler, pairs, cfg, src[None], Progress(lambda p: None, {}))
    sync(dev)
    assert stats.steps == steps, stats.steps
    return time.perf_counter() - t


def bare_run(channels, cfg, dev, steps: int, crop, seed: int = 0, precision: str = "float32",
             channels_last: bool = False) -> float:
    """Seconds for ``steps`` forward / L1 / backward / Adam steps on fixed random tensors, the forward
    under ``precision`` autocast, optionally in channels-last layout."""
    import torch

    from napari_zssr.core.network import ZSSRNet
    from napari_zssr.core.precision import Precision

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    sync(dev)
    t = time.perf_counter()
    torch.manual_seed(seed)
    net = ZSSRNet(channels, cfg.width, cfg.depth, cfg.learn_residual).to(dev).to(memory_format=fmt)
    net.reset(cfg.init_variance, torch.Generator().manual_seed(seed))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    x = torch.rand((cfg.batch_size, channels) + tuple(crop), device=dev).contiguous(memory_format=fmt)
    y = torch.rand((cfg.batch_size, channels) + tuple(crop), device=dev).contiguous(memory_format=fmt)
    for _ in range(steps):
        with Precision.of(precision, dev).autocast():
            out = net(x)
        loss = torch.mean(torch.abs(out.float() - y))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(dev)
    return time.perf_counter() - t


def conv_flops(channels, cfg, crop) -> float:
    """FLOPs of one training step: convolutions only, forward x3 for forward + backward."""
    chans = [channels] + [cfg.width] * (cfg.depth - 1) + [channels]
    h, w = crop
    fwd = sum(2 * 3 * 3 * a * b * h * w for a, b in itertools.pairwise(chans)) * cfg.batch_size
    return 3.0 * fwd


def mm_flops(dev, n: int, seconds: float = 3.0, dtype=None) -> float:
    """Best FLOP/s of torch.mm on two n x n matrices (float32 unless ``dtype``) over about ``seconds``."""
    import torch

    a = torch.rand(n, n, device=dev, dtype=dtype or torch.float32)
    b = torch.rand(n, n, device=dev, dtype=dtype or torch.float32)
    torch.mm(a, b)
    sync(dev)
    best, t_end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t = time.perf_counter()
        torch.mm(a, b)
        sync(dev)
        best = min(best, time.perf_counter() - t)
    return 2.0 * n**3 / best


def step_times(src, cfg, dev, n: int, rounds: int, crop):
    """Per-step seconds of the engine and of the bare loop, per round, from (2N - N) / N."""
    channels = src.shape[0]
    engine_run(src, cfg, dev, 2)  # warm-up: oneDNN / cuDNN plans, resize matrices
    bare_run(channels, cfg, dev, 2, crop)
    out = []
    for _ in range(rounds):
        e1 = engine_run(src, cfg, dev, n)
        b1 = bare_run(channels, cfg, dev, n, crop)
        e2 = engine_run(src, cfg, dev, 2 * n)
        b2 = bare_run(channels, cfg, dev, 2 * n, crop)
        out.append(((e2 - e1) / n, (b2 - b1) / n, {"engine_n": e1, "engine_2n": e2, "bare_n": b1, "bare_2n": b2}))
    return out


def end_to_end_2d(lr, preset, dev_name, overrides):
    from napari_zssr import ZSSRConfig, run_zssr

    cfg = ZSSRConfig.preset(preset, device=dev_name, **overrides)
    t = time.perf_counter()
    _, rep = run_zssr(lr, (2, 2), config=cfg, channel_axis=-1 if lr.ndim == 3 else None)
    secs = time.perf_counter() - t
    return {"seconds": secs, "train_s": rep.train_seconds, "infer_s": rep.infer_seconds, "steps": rep.steps,
                "gain_db": rep.gain_db}


def end_to_end_iso(preset, dev_name, overrides):
    """The 60x256x256 nuclei stack made isotropic by (4, 1, 1), as benchmarks/memory.py runs it."""
    import tifffile
    from iso3d import nuclei_path

    from napari_zssr import ZSSRConfig
    from napari_zssr.stack.upscale import run_upscale

    stack = tifffile.imread(nuclei_path())
    cfg = ZSSRConfig.preset(preset, device=dev_name, **overrides)
    t = time.perf_counter()
    out, rep = run_upscale(stack, (4, 1, 1), config=cfg)
    secs = time.perf_counter() - t
    # an UpscaleReport holds one ZSSRReport per trained network (one here: one channel)
    return {"seconds": secs, "train_s": sum(u.train_seconds for u in rep.units),
            "infer_s": sum(u.infer_seconds for u in rep.units), "steps": [s for u in rep.units for s in u.steps],
            "input": list(stack.shape), "output": list(out.shape)}


def main(argv=None):
    sys.path.insert(0, HERE)
    from common import append_row, parse_overrides

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None,
                    help="N: steps timed as (2N - N); default the preset's run_test_every (50 for 'paper'), so "
                         "that the difference holds the test passes at their true rate (a multiple of it also "
                         "does; N below it leaves them out)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the (engine, bare) x (N, 2N) timings")
    ap.add_argument("--preset", default="paper", help="preset of the network and loop timed (default: the paper's)")
    ap.add_argument("--image", default="img_001", help="Set5 image whose x2 LR file feeds the engine")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[], help="config overrides key=value")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    ap.add_argument("--mm", type=int, default=2048, help="side of the matrices of the reference product")
    ap.add_argument("--e2e", action="store_true", help="also time one Set5 image end to end with the 'fast' preset")
    ap.add_argument("--paper", action="store_true", help="with --e2e: also the 'paper' preset (10-40 min on a CPU)")
    ap.add_argument("--iso", action="store_true", help="also the 60x256x256 z x4 isotropic run ('fast' preset)")
    ap.add_argument("--label", default="", help="a note stored with the row")
    ap.add_argument("--json", default=RESULTS, help="append the row to this JSON-lines file ('' for none)")
    args = ap.parse_args(argv)
    overrides = parse_overrides(args.overrides)

    import torch

    from napari_zssr import ZSSRConfig
    from napari_zssr.core.device import describe_device, resolve_device

    torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    device = describe_device(dev)
    cfg = ZSSRConfig.preset(args.preset, device=str(dev), **overrides)
    lr = load_image(args.image)
    src = torch.as_tensor(np.moveaxis(lr, -1, 0).astype(np.float32) / 255.0, device=dev)
    crop = (min(cfg.crop_size, src.shape[-2]), min(cfg.crop_size, src.shape[-1]))
    if args.n is None:
        args.n = cfg.run_test_every

    rounds = step_times(src, cfg, dev, args.n, args.rounds, crop)
    eng = float(np.median([r[0] for r in rounds]))
    bare = float(np.median([r[1] for r in rounds]))
    flops = conv_flops(src.shape[0], cfg, crop)
    mm = mm_flops(dev, args.mm)
    row = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "device": device, "cpu": cpu_name() if dev.type == "cpu" else None, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "preset": args.preset, "overrides": overrides,
        "net": {"channels": int(src.shape[0]), "width": cfg.width, "depth": cfg.depth, "crop": list(crop),
                    "batch": cfg.batch_size, "run_test_every": cfg.run_test_every},
        "n": args.n, "rounds": [dict(engine_step_s=e, bare_step_s=b, **raw) for e, b, raw in rounds],
        "engine_step_s": eng, "bare_step_s": bare, "ratio": eng / bare,
        "step_gflop": flops / 1e9, "bare_gflops": flops / bare / 1e9, "engine_gflops": flops / eng / 1e9,
        "mm_n": args.mm, "mm_gflops": mm / 1e9, "bare_vs_mm": flops / bare / mm, "label": args.label,
    }
    table = [
        ("engine step (s)", f"{eng:.4f}"),
        ("bare step (s)", f"{bare:.4f}"),
        ("engine / bare", f"{eng / bare:.3f}"),
        ("conv GFLOP per step", f"{flops / 1e9:.2f}"),
        ("bare GFLOP/s", f"{flops / bare / 1e9:.1f}"),
        (f"torch.mm {args.mm}^2 GFLOP/s", f"{mm / 1e9:.1f}"),
        ("bare / mm", f"{flops / bare / mm:.2f}"),
    ]
    if args.e2e:
        row["e2e_fast"] = end_to_end_2d(lr, "fast", str(dev), {})
        table.append((f"Set5 {args.image} x2 'fast' end to end (s)", f"{row['e2e_fast']['seconds']:.1f}"))
        if args.paper:
            row["e2e_paper"] = end_to_end_2d(lr, "paper", str(dev), {})
            table.append((f"Set5 {args.image} x2 'paper' end to end (s)", f"{row['e2e_paper']['seconds']:.1f}"))
    if args.iso:
        row["e2e_iso"] = end_to_end_iso("fast", str(dev), {})
        table.append(("60x256x256 z x4 isotropic 'fast' (s)", f"{row['e2e_iso']['seconds']:.1f}"))

    print(f"\n{device}, torch {torch.__version__}; preset {args.preset!r}, net {row['net']}, N = {args.n}\n")
    print("| measure | value |\n|---|---|")
    for k, v in table:
        print(f"| {k} | {v} |")
    print(json.dumps(row), flush=True)
    append_row(args.json, row)


if __name__ == "__main__":
    sys.exit(main())
