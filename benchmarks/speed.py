"""Speed of the training engine against a bare loop of the same network (issues 6 and 30). Not a test.

    python benchmarks/speed.py                      # step ratio and FLOP/s (5-6 minutes on 2 cores)
    python benchmarks/speed.py --e2e                # + one Set5 image, "fast" preset, end to end
    python benchmarks/speed.py --e2e --paper --iso  # + "paper" preset and the 60x256x256 z x4 case
    python benchmarks/speed.py --groups 1 4 8 --infer --big   # + issue 30's parts (see below)

Issue 30's parts, in the same run and on whatever device it runs: the bare step captured in a CUDA
graph (CUDA only; core/graph.py), G networks at once (--groups: per network and step, as one grouped
network (core/grouped.py), stacked with torch.func.vmap, and one after the other), inference FLOP/s
of core/infer.py forward_tiled against torch.mm at the same precision (--infer), and the 2 x 48 x 1024
x 1024 z x4 stack built from nuclei.tif by mirroring, end to end with its quality (--big; --big-side
and --big-planes make it smaller, as on a CPU). Everything runs at the precision "auto" picks on the
device (--set precision=... overrides), the bare loops too, in the layout that precision trains in.

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
    """A Set5 (LR, HR) pair of (H, W, 3) uint8 images, as sr2d.py reads it."""
    from sr2d import pairs

    for name, hr, lr in pairs("Set5", scale):
        if name == img_id:
            return lr, hr
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


def step_times(src, cfg, dev, n: int, rounds: int, crop, graph: bool = False):
    """Per-step seconds of the engine, of the bare loop (and of the bare loop replayed from a CUDA graph,
    with ``graph``), per round, from (2N - N) / N; all at the config's (resolved) precision and layout."""
    import torch
    from speed_parts import bare_graph_run

    from napari_zssr.core.precision import Precision

    prec = Precision.of(cfg.precision, dev)
    last = prec.layout(training=True) == torch.channels_last
    channels = src.shape[0]

    def bare(k):
        return bare_run(channels, cfg, dev, k, crop, precision=cfg.precision, channels_last=last)

    engine_run(src, cfg, dev, 2)  # warm-up: oneDNN / cuDNN plans, resize matrices
    bare(2)
    out = []
    for _ in range(rounds):
        e1, b1 = engine_run(src, cfg, dev, n), bare(n)
        e2, b2 = engine_run(src, cfg, dev, 2 * n), bare(2 * n)
        raw = {"engine_n": e1, "engine_2n": e2, "bare_n": b1, "bare_2n": b2}
        if graph:
            g1, g2 = bare_graph_run(channels, cfg, dev, n, crop, prec), bare_graph_run(channels, cfg, dev, 2 * n, crop,
                                                                                           prec)
            raw.update(graph_n=g1, graph_2n=g2, graph_step_s=(g2 - g1) / n)
        out.append(((e2 - e1) / n, (b2 - b1) / n, raw))
    return out


def group_times(channels, cfg, dev, n: int, crop, groups, graph: bool) -> dict:
    """Seconds per network and step of G networks trained at once, for each G and way; (2N - N) / N / G, the
    ways interleaved within each G so that load falls on all."""
    from speed_parts import group_run

    from napari_zssr.core.precision import Precision

    prec = Precision.of(cfg.precision, dev)
    ways = ["separate", "grouped", "vmap"] + (["grouped_graph"] if graph else [])
    out = {}
    for G in groups:
        res = {}
        for way in ways:
            how, cap = ("grouped", True) if way == "grouped_graph" else (way, False)
            group_run(channels, cfg, dev, 1, crop, G, how, prec, cap)  # warm-up
        for way in ways:
            how, cap = ("grouped", True) if way == "grouped_graph" else (way, False)
            t1 = group_run(channels, cfg, dev, n, crop, G, how, prec, cap)
            t2 = group_run(channels, cfg, dev, 2 * n, crop, G, how, prec, cap)
            res[way] = (t2 - t1) / n / G
        out[G] = res
    return out


def end_to_end_big(dev_name, overrides, side: int, planes: int, preset: str = "auto", channels: int = 2, k: int = 4):
    """The issue's C x 48 x 1024 x 1024 stack (``side``, ``planes`` smaller on a CPU) made isotropic by z x4 with
    ``preset`` ("auto": what config=None picks on the device); PSNR / SSIM of channel 0 against its truth
    (iso3d's score) and cubic's."""
    import tifffile
    from iso3d import baseline, nuclei_path, score
    from speed_parts import mirrored_stack

    from napari_zssr import ZSSRConfig
    from napari_zssr.core.precision import resolve_config
    from napari_zssr.stack.upscale import run_upscale

    gt, lr = mirrored_stack(tifffile.imread(nuclei_path()), channels, planes, side, k)
    if preset == "auto":
        preset = resolve_config(None)[0].preset_name
    cfg = ZSSRConfig.preset(preset, device=dev_name, **overrides)
    t = time.perf_counter()
    out, rep = run_upscale(lr, (1, k, 1, 1), axes="CZYX", config=cfg)
    secs = time.perf_counter() - t
    n = min(out.shape[1], gt.shape[1])
    row = {"seconds": secs, "preset": cfg.preset_name, "precision": rep.precision, "input": list(lr.shape),
           "output": list(out.shape), "train_s": sum(u.train_seconds for u in rep.units),
           "infer_s": sum(u.infer_seconds for u in rep.units), "steps": [u.steps for u in rep.units]}
    row["psnr"], row["ssim"] = score(out[0, :n], gt[0, :n])
    row["cubic_psnr"], row["cubic_ssim"] = score(baseline(lr[0].astype(np.float64), k, n, "cubic"), gt[0, :n])
    return row


def end_to_end_2d(lr, preset, dev_name, overrides, hr=None):
    """One Set5 image x2 end to end, scored by sr2d.py's protocol (Y channel, border cropped) when ``hr``."""
    from sr2d import score

    from napari_zssr import ZSSRConfig, run_zssr

    cfg = ZSSRConfig.preset(preset, device=dev_name, **overrides)
    t = time.perf_counter()
    out, rep = run_zssr(lr, (2, 2), config=cfg, channel_axis=-1 if lr.ndim == 3 else None)
    secs = time.perf_counter() - t
    row = {"seconds": secs, "train_s": rep.train_seconds, "infer_s": rep.infer_seconds, "steps": rep.steps,
           "gain_db": rep.gain_db, "precision": rep.precision}
    if hr is not None:
        row["psnr"], row["ssim"] = score(out, hr, 2)
    return row


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


def _args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None,
                    help="N: steps timed as (2N - N); default the preset's run_test_every (50 for 'paper'), so "
                         "that the difference holds the test passes at their true rate (a multiple of it also "
                         "does; N below it leaves them out)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the (engine, bare) x (N, 2N) timings")
    ap.add_argument("--preset", default="paper", help="preset of the network and loop timed (default: the paper's)")
    ap.add_argument("--image", default="img_001", help="Set5 image whose x2 LR file feeds the engine")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[],
                    help="config overrides key=value (the timed loops and the big stack; not the Set5 runs)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    ap.add_argument("--mm", type=int, default=2048, help="side of the matrices of the reference product")
    ap.add_argument("--e2e", action="store_true", help="also time one Set5 image end to end with the 'fast' preset")
    ap.add_argument("--paper", action="store_true", help="with --e2e: also the 'paper' preset (10-40 min on a CPU)")
    ap.add_argument("--iso", action="store_true", help="also the 60x256x256 z x4 isotropic run ('fast' preset)")
    ap.add_argument("--groups", type=int, nargs="*", default=[], help="G networks at once, e.g. 1 4 8")
    ap.add_argument("--group-n", type=int, default=None, help="N of the group timings (default: --n)")
    ap.add_argument("--group-preset", nargs="*", default=None, help="presets of the group timings (default --preset)")
    ap.add_argument("--infer", action="store_true", help="inference FLOP/s against torch.mm at the same precision")
    ap.add_argument("--infer-side", type=int, default=None, help="side of the inference input (GPU 2048, CPU 512)")
    ap.add_argument("--samplers", action="store_true", help="host against device-side father sampling (ms a batch)")
    ap.add_argument("--big", action="store_true", help="the C x 48 x 1024 x 1024 z x4 stack end to end")
    ap.add_argument("--big-side", type=int, default=1024)
    ap.add_argument("--big-planes", type=int, default=48)
    ap.add_argument("--big-preset", default="auto", help="preset of the big stack ('auto': config=None's choice)")
    ap.add_argument("--skip-steps", action="store_true", help="leave out the engine / bare step timings")
    ap.add_argument("--label", default="", help="a note stored with the row")
    ap.add_argument("--json", default=RESULTS, help="append the row to this JSON-lines file ('' for none)")
    return ap.parse_args(argv)


def _steps_section(row, table, src, cfg, dev, args, crop):
    graph = dev.type == "cuda"
    rounds = step_times(src, cfg, dev, args.n, args.rounds, crop, graph)
    eng = float(np.median([r[0] for r in rounds]))
    bare = float(np.median([r[1] for r in rounds]))
    flops = conv_flops(src.shape[0], cfg, crop)
    row.update(rounds=[dict(engine_step_s=e, bare_step_s=b, **raw) for e, b, raw in rounds], engine_step_s=eng,
               bare_step_s=bare, ratio=eng / bare, step_gflop=flops / 1e9, bare_gflops=flops / bare / 1e9,
               engine_gflops=flops / eng / 1e9)
    table += [("engine step (s)", f"{eng:.5f}"), ("bare eager step (s)", f"{bare:.5f}"),
              ("engine / bare eager", f"{eng / bare:.3f}"), ("conv GFLOP per step", f"{flops / 1e9:.2f}"),
              ("bare GFLOP/s", f"{flops / bare / 1e9:.1f}")]
    if graph:
        g = float(np.median([r[2]["graph_step_s"] for r in rounds]))
        row.update(graph_step_s=g, engine_vs_graph=eng / g)
        table += [("bare graph step (s)", f"{g:.5f}"), ("engine / bare graph", f"{eng / g:.3f}")]
    else:
        table.append(("bare graph step", "not on this device (CUDA only)"))


def _groups_section(row, table, src, dev, args, overrides):
    from napari_zssr import ZSSRConfig
    from napari_zssr.core.precision import resolve_precision

    for preset in args.group_preset or [args.preset]:
        cfg, _ = resolve_precision(ZSSRConfig.preset(preset, device=str(dev), **overrides), dev, 1)
        crop = (cfg.crop_size, cfg.crop_size)
        n = args.group_n or args.n
        res = group_times(1, cfg, dev, n, crop, args.groups, dev.type == "cuda")
        row.setdefault("groups", {})[preset] = {"precision": cfg.precision, "n": n,
                                                "per_network_step_s": {str(g): v for g, v in res.items()}}
        for G, ways in res.items():
            best = min(ways, key=ways.get)
            text = ", ".join(f"{w} {v * 1e3:.2f}" for w, v in ways.items())
            table.append((f"{preset}: G={G} per network and step (ms), 1 channel", f"{text} (best: {best})"))


def _infer_section(row, table, src, cfg, dev, args, mm32):
    from speed_parts import infer_rate

    from napari_zssr.core.precision import Precision

    prec = Precision.of(cfg.precision, dev)
    side = args.infer_side or (2048 if dev.type == "cuda" else 512)
    batch = 8 if dev.type == "cuda" else 1
    inf = infer_rate(dev, cfg, 1, side, batch, prec)
    mm = mm32 if not prec.reduced else mm_flops(dev, args.mm, dtype=prec.dtype)
    inf.update(precision=prec.name, mm_gflops=mm / 1e9, vs_mm=inf["gflops"] * 1e9 / mm)
    row["infer"] = inf
    table.append((f"inference {batch} x {side}^2, {prec.name}: GFLOP/s (share of mm at {prec.name})",
                  f"{inf['gflops']:.1f} ({inf['vs_mm']:.2f} of {mm / 1e9:.1f})"))


def _samplers_section(row, table, src, dev):
    from speed_parts import sampler_times

    row["samplers_ms"] = res = sampler_times(dev, src)
    for name, t in res.items():
        table.append((f"fathers, {name}: host / device-side sampler (ms a batch)",
                      f"{t['host']:.2f} / {t['device']:.2f}"))


def _e2e_section(row, table, lr, hr, dev, args, overrides):
    if args.e2e:
        row["e2e_fast"] = r = end_to_end_2d(lr, "fast", str(dev), {}, hr)
        table.append((f"Set5 {args.image} x2 'fast' end to end (s; PSNR)", f"{r['seconds']:.1f}; {r['psnr']:.2f} dB"))
        if args.paper:
            row["e2e_paper"] = r = end_to_end_2d(lr, "paper", str(dev), {}, hr)
            table.append((f"Set5 {args.image} x2 'paper' end to end (s; PSNR)",
                          f"{r['seconds']:.1f}; {r['psnr']:.2f} dB"))
    if args.iso:
        row["e2e_iso"] = end_to_end_iso("fast", str(dev), {})
        table.append(("60x256x256 z x4 isotropic 'fast' (s)", f"{row['e2e_iso']['seconds']:.1f}"))
    if args.big:
        row["e2e_big"] = r = end_to_end_big(str(dev), overrides, args.big_side, args.big_planes, args.big_preset)
        table.append((f"{r['input']} z x4 '{r['preset']}' end to end (s; train, infer)",
                      f"{r['seconds']:.1f}; {r['train_s']:.1f}, {r['infer_s']:.1f}"))
        table.append(("  its PSNR / SSIM, channel 0 (cubic)",
                      f"{r['psnr']:.2f} / {r['ssim']:.3f} ({r['cubic_psnr']:.2f} / {r['cubic_ssim']:.3f})"))


def main(argv=None):
    sys.path.insert(0, HERE)
    from common import append_row, parse_overrides

    args = _args(argv)
    overrides = parse_overrides(args.overrides)

    import torch

    from napari_zssr import ZSSRConfig
    from napari_zssr.core.device import describe_device, resolve_device
    from napari_zssr.core.precision import resolve_precision

    torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    device = describe_device(dev)
    lr, hr = load_image(args.image)
    src = torch.as_tensor(np.moveaxis(lr, -1, 0).astype(np.float32) / 255.0, device=dev)
    cfg, _ = resolve_precision(ZSSRConfig.preset(args.preset, device=str(dev), **overrides), dev, src.shape[0])
    crop = (min(cfg.crop_size, src.shape[-2]), min(cfg.crop_size, src.shape[-1]))
    if args.n is None:
        args.n = cfg.run_test_every
    mm = mm_flops(dev, args.mm)
    row = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "device": device, "cpu": cpu_name() if dev.type == "cpu" else None, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "preset": args.preset, "overrides": overrides,
        "precision": cfg.precision,
        "net": {"channels": int(src.shape[0]), "width": cfg.width, "depth": cfg.depth, "crop": list(crop),
                "batch": cfg.batch_size, "run_test_every": cfg.run_test_every},
        "n": args.n, "mm_n": args.mm, "mm_gflops": mm / 1e9, "label": args.label,
    }
    table = [(f"torch.mm {args.mm}^2 float32 GFLOP/s", f"{mm / 1e9:.1f}")]
    sections = [("steps", not args.skip_steps, lambda: _steps_section(row, table, src, cfg, dev, args, crop)),
                ("groups", bool(args.groups), lambda: _groups_section(row, table, src, dev, args, overrides)),
                ("infer", args.infer, lambda: _infer_section(row, table, src, cfg, dev, args, mm)),
                ("samplers", args.samplers, lambda: _samplers_section(row, table, src, dev)),
                ("end to end", True, lambda: _e2e_section(row, table, lr, hr, dev, args, overrides))]
    for name, wanted, run in sections:
        if wanted:
            t = time.perf_counter()
            run()
            print(f"[{name}: {time.perf_counter() - t:.0f} s] " + "; ".join(f"{k} {v}" for k, v in table[-3:]),
                  file=sys.stderr, flush=True)

    print(f"\n{device}, torch {torch.__version__}; preset {args.preset!r} at {cfg.precision}, net {row['net']}, "
          f"N = {args.n}\n")
    print("| measure | value |\n|---|---|")
    for k, v in table:
        print(f"| {k} | {v} |")
    print(json.dumps(row), flush=True)
    append_row(args.json, row)


if __name__ == "__main__":
    sys.exit(main())
