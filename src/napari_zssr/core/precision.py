"""Training and inference precision: float32, or bfloat16 / float16 autocast where the device runs it
faster and correctly.

What decides quality stays in float32: the loss, the sons' and back-projection's resize matrices
and the output; only the network's convolutions run in the lower precision. "auto" times a few
training steps of each candidate at the run's network and crop size (once per process, device
and shape) and picks the fastest that gives the float32 loss within tolerance.
"""

from __future__ import annotations

import contextlib
import time

PROBE_STEPS = 3          # timed steps per candidate, after one warm-up step
PROBE_MARGIN = 0.9       # a lower precision must take at most this share of float32's step time
LOSS_TOLERANCE = 0.05    # relative difference of the probe's losses from float32's

_probes: dict = {}


def dtype_of(precision: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[precision]


def autocast(device, precision: str):
    """The context the network's forward runs in: autocast to ``precision``, or nothing for float32."""
    import torch

    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype_of(precision))


def channels_last(device, precision: str, training: bool) -> bool:
    """Whether the network runs in channels-last layout: for the lower precisions always (oneDNN's
    bfloat16 kernels and the tensor cores want it); in float32, for CUDA training and CPU inference,
    where it was measured faster."""
    if precision != "float32":
        return True
    return training if device.type == "cuda" else not training


def grad_scaler(device, precision: str):
    """Loss scaling for float16 (its range is narrow); None otherwise (bfloat16 has float32's range)."""
    import torch

    return torch.amp.GradScaler(device.type) if precision == "float16" else None


def l1_step(net, opt, scaler, net_in, target, device, precision: str):
    """One training step: the forward under ``precision`` autocast, the L1 loss in float32, backward
    (scaled for float16) and the optimiser's step. Returns the loss tensor."""
    import torch

    with autocast(device, precision):
        out = net(net_in)
    loss = torch.mean(torch.abs(out.float() - target))
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    return loss


def _step_fn(net, x, precision, device):
    import torch

    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    scaler = grad_scaler(device, precision)
    return lambda: float(l1_step(net, opt, scaler, x, x, device, precision).detach())


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_candidate(precision, device, channels, width, depth, crop, batch, seed=0):
    """(seconds per step, losses) of a few training steps of a fresh network at ``precision``."""
    import torch

    from .network import ZSSRNet

    net = ZSSRNet(channels, width, depth)
    net.reset(0.1, torch.Generator().manual_seed(seed))
    fmt = torch.channels_last if channels_last(device, precision, True) else torch.contiguous_format
    net = net.to(device).to(memory_format=fmt)
    x = torch.rand((batch, channels, crop, crop), generator=torch.Generator().manual_seed(seed)).to(device)
    x = x.contiguous(memory_format=fmt)
    step = _step_fn(net, x, precision, device)
    losses = [step()]  # warm-up: kernels chosen, caches filled
    _sync(device)
    t0 = time.perf_counter()
    losses += [step() for _ in range(PROBE_STEPS)]
    _sync(device)
    return (time.perf_counter() - t0) / PROBE_STEPS, losses


def candidates(device) -> list:
    """The lower precisions worth trying on ``device``."""
    import torch

    if device.type == "cuda":
        return ["bfloat16"] if torch.cuda.is_bf16_supported() else ["float16"]
    if device.type == "cpu":
        return ["bfloat16"]
    return []


def probe(device, channels: int, width: int, depth: int, crop: int, batch: int) -> dict:
    """Step seconds per precision that runs correctly here ({"float32": s, "bfloat16": s, ...}) and
    the reason for each one left out; cached per process, device and shape."""
    key = (str(device), channels, width, depth, crop, batch)
    if key not in _probes:
        t32, ref = _time_candidate("float32", device, channels, width, depth, crop, batch)
        times, skipped = {"float32": t32}, {}
        for p in candidates(device):
            try:
                t, losses = _time_candidate(p, device, channels, width, depth, crop, batch)
            except (RuntimeError, TypeError, NotImplementedError) as exc:
                skipped[p] = f"does not run here ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
                continue
            bad = [abs(a - b) > LOSS_TOLERANCE * abs(b) or a != a for a, b in zip(losses, ref)]
            if any(bad):
                skipped[p] = f"losses {losses} differ from float32's {ref}"
                continue
            times[p] = t
        _probes[key] = {"times": times, "skipped": skipped}
    return _probes[key]


def choose(probe_result: dict) -> str:
    """The fastest precision of a probe; a lower one only when clearly faster than float32."""
    times = probe_result["times"]
    best = min(times, key=times.get)
    return best if best == "float32" or times[best] <= PROBE_MARGIN * times["float32"] else "float32"


_runs: dict = {}


def check_runs(precision: str, device) -> None:
    """A ValueError naming the device when it cannot train at ``precision`` (tried once per process)."""
    if precision == "float32":
        return
    key = (precision, str(device))
    if key not in _runs:
        try:
            _time_candidate(precision, device, 1, 4, 2, 8, 1)
            _runs[key] = None
        except (RuntimeError, TypeError, NotImplementedError) as exc:
            _runs[key] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    if _runs[key] is not None:
        from .device import describe_device

        raise ValueError(f"precision {precision!r} does not run on {describe_device(device)} ({_runs[key]}); "
                         "use 'float32' or 'auto'")


def resolve_precision(cfg, device, channels: int = 1):
    """(config with a concrete precision, what was measured) for a run on ``device``.

    "auto" probes the run's network and crop; an explicit lower precision is checked to run.
    """
    if cfg.precision != "auto":
        check_runs(cfg.precision, device)
        return cfg, {}
    result = probe(device, channels, cfg.width, cfg.depth, cfg.crop_size, cfg.batch_size)
    return cfg.replace(precision=choose(result)), result


PAPER_STEPS = 1500       # a typical "paper" run: the policy stops it between 900 and 3000 steps
PAPER_BUDGET_S = 120.0   # "paper" is the default where its training takes about two minutes or less


def auto_preset_name(dev) -> str:
    """The preset config=None means: "paper" on a CUDA GPU, and on a CPU whose training step of the
    paper's network, at the precision "auto" picks there (a probe, once per process), makes a paper
    run take about two minutes or less; "fast" elsewhere."""
    if dev.type == "cuda":
        return "paper"
    if dev.type != "cpu":
        return "fast"
    from .config import ZSSRConfig

    paper = ZSSRConfig.preset("paper")
    measured = probe(dev, 1, paper.width, paper.depth, paper.crop_size, paper.batch_size)
    step = measured["times"][choose(measured)]
    return "paper" if step * PAPER_STEPS <= PAPER_BUDGET_S else "fast"
