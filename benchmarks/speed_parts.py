"""The measurements benchmarks/speed.py adds for issue 30: the bare step captured in a CUDA graph, G networks
trained at once (grouped convolutions, torch.func stacking, or one after the other), inference FLOP/s
against the matrix-product rate at the same precision, and the big z x4 stack built from nuclei.tif.
Not a test; imported by speed.py (the benchmarks folder is not a package)."""

from __future__ import annotations

import copy
import itertools
import time

import numpy as np


def sync(dev):
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _net(channels, cfg, dev, seed, fmt):
    import torch

    from napari_zssr.core.network import ZSSRNet

    net = ZSSRNet(channels, cfg.width, cfg.depth, cfg.learn_residual)
    net.reset(cfg.init_variance, torch.Generator().manual_seed(seed))
    return net.to(dev).to(memory_format=fmt)


def bare_graph_run(channels, cfg, dev, steps: int, crop, precision) -> float:
    """Seconds for ``steps`` bare steps replayed from a CUDA graph (capture and warm-up before the clock)."""
    import torch

    from napari_zssr.core.graph import GraphStep, make_optimizer

    fmt = precision.layout(training=True)
    net = _net(channels, cfg, dev, 0, fmt)
    step = GraphStep(net, make_optimizer(net.parameters(), cfg.learning_rate, True), precision)
    x = torch.rand((cfg.batch_size, channels) + tuple(crop), device=dev).contiguous(memory_format=fmt)
    y = torch.rand_like(x)
    step(x, y)
    sync(dev)
    t = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    sync(dev)
    return time.perf_counter() - t


def group_run(channels, cfg, dev, steps: int, crop, G: int, how: str, precision, graph: bool = False) -> float:
    """Seconds for ``steps`` steps of G networks: "grouped" (core.grouped.GroupedNet, one Adam per member as
    core.train_group has), "vmap" (torch.func stacking) or "separate" (one network after the other)."""
    import torch

    from napari_zssr.core.grouped import GroupedNet
    from napari_zssr.core.precision import l1_step

    fmt = precision.layout(training=True)
    nets = [_net(channels, cfg, dev, g, fmt) for g in range(G)]
    xs = [torch.rand((cfg.batch_size, channels) + tuple(crop), device=dev).contiguous(memory_format=fmt)
          for _ in range(G)]
    if how == "separate":
        opts = [torch.optim.Adam(n.parameters(), lr=cfg.learning_rate) for n in nets]

        def step():
            for n, o, x in zip(nets, opts, xs):
                l1_step(n, o, None, x, x, precision)
    elif how == "grouped":
        step = _grouped_step(GroupedNet(nets), nets, torch.cat(xs, 1).contiguous(memory_format=fmt), cfg,
                             precision, graph)
    else:
        step = _vmap_step(nets, torch.stack(xs), cfg, precision)
    step()
    sync(dev)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync(dev)
    return time.perf_counter() - t


def _grouped_step(group, nets, x, cfg, precision, graph):
    import torch

    from napari_zssr.core.graph import GraphStep, make_optimizer

    if graph:  # one Adam over all members: elementwise, so the same arithmetic as one each
        run = GraphStep(group, make_optimizer(group.parameters(), cfg.learning_rate, True), precision)
        return lambda: run(x, x)
    opts = [torch.optim.Adam(n.parameters(), lr=cfg.learning_rate) for n in nets]

    def step():
        with precision.autocast():
            out = group(x)
        diff = torch.abs(out.float() - x)
        loss = torch.stack([d.mean() for d in diff.chunk(len(nets), dim=1)]).sum()
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o in opts:
            o.step()

    return step


def _vmap_step(nets, xs, cfg, precision):
    import torch
    from torch.func import functional_call, stack_module_state, vmap

    params, _ = stack_module_state(nets)
    params = {k: v.detach().requires_grad_() for k, v in params.items()}
    opt = torch.optim.Adam(list(params.values()), lr=cfg.learning_rate)
    base = copy.deepcopy(nets[0]).to("meta")

    def one(p, x):
        with precision.autocast():
            out = functional_call(base, p, (x,))
        return torch.mean(torch.abs(out.float() - x))

    def step():
        loss = vmap(one)(params, xs).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def conv_flops_forward(channels, cfg, pixels: int) -> float:
    chans = [channels] + [cfg.width] * (cfg.depth - 1) + [channels]
    return float(sum(2 * 9 * a * b for a, b in itertools.pairwise(chans)) * pixels)


def infer_rate(dev, cfg, channels: int, side: int, batch: int, precision, repeats: int = 3) -> dict:
    """FLOP/s of core.infer.forward_tiled over (batch, C, side, side) at ``precision``, at the run's tile size."""
    import torch

    from napari_zssr.core.infer import default_tile_pixels, forward_tiled

    net = _net(channels, cfg, dev, 0, precision.layout(training=False)).eval()
    x = torch.rand((batch, channels, side, side), device=dev).contiguous(memory_format=precision.layout(False))
    tile = default_tile_pixels(cfg, dev)
    with torch.no_grad():
        forward_tiled(net, x, tile, precision=precision)
        best = float("inf")
        for _ in range(repeats):
            sync(dev)
            t = time.perf_counter()
            forward_tiled(net, x, tile, precision=precision)
            sync(dev)
            best = min(best, time.perf_counter() - t)
    flops = conv_flops_forward(channels, cfg, batch * side * side)
    return {"side": side, "batch": batch, "tile_pixels": tile, "seconds": best, "gflops": flops / best / 1e9}


def _mirror_index(n: int, length: int):
    """Indices 0..n-1 of an axis of ``length`` samples read back and forth: 0, 1, ..., L-1, L-1, ..., 0, 0, ..."""
    i = np.arange(n) % (2 * length)
    return np.where(i < length, i, 2 * length - 1 - i)


def mirrored_stack(nuclei, channels: int, planes: int, side: int, k: int):
    """(ground truth (C, (planes - 1) k + 1, side, side), input (C, planes, side, side) uint16) from nuclei.tif
    mirrored along every axis; the input is the truth blurred along z (sigma 2) with every k-th plane kept,
    the iso3d protocol's degradation. The second channel is the first turned a quarter and made brighter,
    so that the channels differ."""
    from scipy.ndimage import gaussian_filter1d

    Z, Y, X = nuclei.shape
    vol = nuclei[_mirror_index((planes - 1) * k + 1, Z)][:, _mirror_index(side, Y)][:, :, _mirror_index(side, X)]
    vol = vol.astype(np.float32)
    gt = np.stack([vol, 1.5 * np.rot90(vol, 1, axes=(1, 2)) + 50][:channels]).astype(np.float32)
    lr = gaussian_filter1d(gt, 2.0, axis=1)[:, ::k]
    return gt, np.ascontiguousarray(np.clip(np.round(lr), 0, 65535)).astype(np.uint16)


def sampler_times(dev, src, repeats: int = 30) -> dict:
    """Milliseconds per batch of the host samplers (core.augment, core.isotropic) against the device-side ones
    (core.sampling), interleaved over three rounds, median: "paper" (batch 1) and "fast" (batch 4) fathers
    from ``src`` (C, H, W), and isotropic mode's lateral crops (batch 4, crop 64) from 8 planes."""
    import statistics

    from napari_zssr import ZSSRConfig
    from napari_zssr.core.augment import FatherSampler
    from napari_zssr.core.isotropic import LateralSampler
    from napari_zssr.core.sampling import DeviceFatherSampler, DeviceLateralSampler

    def timed(fn, batch):
        sync(dev)
        t = time.perf_counter()
        for _ in range(repeats):
            fn(batch)
        sync(dev)
        return (time.perf_counter() - t) / repeats * 1e3

    cases = {}
    for name, batch in (("paper", 1), ("fast", 4)):
        cfg = ZSSRConfig.preset(name)
        cases[name] = (batch, FatherSampler([src], cfg.crop_size, cfg, np.random.default_rng(0)).sample,
                       DeviceFatherSampler([src], cfg.crop_size, cfg, 0).sample)
    planes = [src[:1].clone() for _ in range(8)]
    cases["lateral"] = (4, LateralSampler(planes, 64, np.random.default_rng(0)).sample,
                        DeviceLateralSampler(planes, 64, 0).sample)
    out = {}
    for name, (batch, host, device) in cases.items():
        runs = {"host": [], "device": []}
        for _ in range(3):
            runs["host"].append(timed(host, batch))
            runs["device"].append(timed(device, batch))
        out[name] = {k: statistics.median(v) for k, v in runs.items()}
    return out
