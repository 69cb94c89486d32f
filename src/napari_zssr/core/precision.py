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
from dataclasses import dataclass

from . import probe_cache
from .config import ZSSRConfig
from .device import describe_device, resolve_device

PROBE_STEPS = 4          # timed steps per candidate, after one warm-up step
PROBE_MARGIN = 0.9       # a lower precision must take at most this share of float32's step time
LOSS_TOLERANCE = 0.05    # relative difference of the probe's losses from float32's

_probes: dict = {}


@dataclass(frozen=True)
class Precision:
    """How the network runs on a device: ``name`` is "float32", "bfloat16" or "float16" (never "auto": that
    is resolved first, by :func:`resolve_precision`). Settled once at the top of a loop, as nanoGPT settles
    its dtype, autocast context and scaler, so the loop only says ``with precision.autocast():``."""

    name: str
    device_type: str

    def __post_init__(self):
        if self.name not in RUNNABLE:
            raise ValueError(f"precision must be one of {', '.join(RUNNABLE)} once resolved, got {self.name!r}")

    @classmethod
    def of(cls, name: str, device) -> Precision:
        return cls(name, getattr(device, "type", str(device)))

    @property
    def reduced(self) -> bool:
        """The convolutions run below float32."""
        return self.name != "float32"

    @property
    def dtype(self):
        import torch

        return getattr(torch, self.name)

    def autocast(self):
        """The context the network's forward runs in: autocast to the precision, or nothing for float32."""
        import torch

        if not self.reduced:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def layout(self, training: bool):
        """The network's memory format: channels-last for the lower precisions always (oneDNN's bfloat16
        kernels and the tensor cores want it); in float32, for CUDA training and CPU inference, where it was
        measured faster."""
        import torch

        fast = self.reduced or (training if self.device_type == "cuda" else not training)
        return torch.channels_last if fast else torch.contiguous_format

    def scaler(self):
        """Loss scaling for float16 (its range is narrow); None otherwise (bfloat16 has float32's range)."""
        import torch

        return torch.amp.GradScaler(self.device_type) if self.name == "float16" else None


RUNNABLE = ("float32", "bfloat16", "float16")


def l1_step(net, opt, scaler, net_in, target, precision: Precision):
    """One training step: the forward under ``precision`` autocast, the L1 loss in float32, backward
    (scaled for float16) and the optimiser's step. Returns the loss tensor."""
    import torch

    with precision.autocast():
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


def _step_fn(net, x, precision: Precision):
    import torch

    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    scaler = precision.scaler()
    return lambda: float(l1_step(net, opt, scaler, x, x, precision).detach())


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_candidate(precision, device, channels, width, depth, crop, batch, seed=0):
    """(seconds per step, losses) of a few training steps of a fresh network at ``precision``: the fastest
    step, since other work on a shared machine only ever slows a step down, and the figure is kept."""
    import torch

    from .network import ZSSRNet  # imports torch at its top too

    prec = Precision.of(precision, device)
    net = ZSSRNet(channels, width, depth)
    net.reset(0.1, torch.Generator().manual_seed(seed))
    net = net.to(device).to(memory_format=prec.layout(training=True))
    x = torch.rand((batch, channels, crop, crop), generator=torch.Generator().manual_seed(seed)).to(device)
    x = x.contiguous(memory_format=prec.layout(training=True))
    step = _step_fn(net, x, prec)
    losses = [step()]  # warm-up: kernels chosen, caches filled
    times = []
    for _ in range(PROBE_STEPS):
        _sync(device)
        t0 = time.perf_counter()
        losses.append(step())  # the loss is read back, so the step has finished on any device
        times.append(time.perf_counter() - t0)
    return min(times), losses


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
    the reason for each one left out; measured once per machine and shape (kept in the user's cache
    folder, core.probe_cache), so that every process on a machine picks the same precision."""
    key = (str(device), channels, width, depth, crop, batch)
    if key not in _probes:
        where = f"{probe_cache.machine(device)}|{channels}x{width}x{depth}|crop {crop}|batch {batch}"
        kept = probe_cache.kept("precision", where)
        if kept is not None and not kept["stale"] and isinstance(kept.get("times"), dict):
            _probes[key] = {"times": kept["times"], "skipped": kept.get("skipped", {})}
        else:
            _probes[key] = _measure(device, channels, width, depth, crop, batch)
            probe_cache.keep("precision", where, _probes[key])
    return _probes[key]


def _measure(device, channels, width, depth, crop, batch) -> dict:
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
    return {"times": times, "skipped": skipped}


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
PRESET_MARGIN = 1.5      # a kept default changes only when a new measurement lands this far past the line


def auto_preset(dev) -> tuple:
    """(preset, why in words) that config=None means: "paper" on a CUDA GPU, and on a CPU whose training
    step of the paper's network, at the precision "auto" picks there, makes a paper run take about two
    minutes or less; "fast" elsewhere. Decided once per machine (core.probe_cache), so it does not
    flip from one process to the next when the measurement lands near the line."""
    if dev.type == "cuda":
        return "paper", "the paper's preset on a CUDA GPU"
    if dev.type != "cpu":
        return "fast", f"the fast preset on {dev.type} (its speed is not measured)"
    key = probe_cache.machine(dev)
    old = probe_cache.kept("preset", key)
    if old is not None and not old["stale"] and old.get("preset") in ("paper", "fast"):
        return old["preset"], _preset_words(old["preset"], float(old["paper_seconds"]), "as measured on this machine")

    paper = ZSSRConfig.preset("paper")
    measured = probe(dev, 1, paper.width, paper.depth, paper.crop_size, paper.batch_size)
    seconds = measured["times"][choose(measured)] * PAPER_STEPS
    name = decide_preset(seconds, old.get("preset") if old else None)
    probe_cache.keep("preset", key, {"preset": name, "paper_seconds": seconds})
    return name, _preset_words(name, seconds, "measured now")


def decide_preset(paper_seconds: float, before: str | None = None) -> str:
    """"paper" where a paper run takes about PAPER_BUDGET_S or less. A decision kept from before changes
    only when the measurement is PRESET_MARGIN past the line on the other side (hysteresis)."""
    line = PAPER_BUDGET_S * {"paper": PRESET_MARGIN, "fast": 1 / PRESET_MARGIN}.get(before, 1.0)
    return "paper" if paper_seconds <= line else "fast"


def _preset_words(name: str, seconds: float, how: str) -> str:
    side = "within" if name == "paper" else "over"
    return (f"the {name} preset: the paper's training would take about {seconds:.0f} s on this CPU ({how}), "
            f"{side} the {PAPER_BUDGET_S:.0f} s the paper's preset is the default for")


def resolve_config(config, device_type=None):
    """The config to run (config=None: the "auto" preset for the device) and its torch device.

    ``device_type`` is the kind of device the run will use when that is decided elsewhere (the
    workers of a cluster); then this machine's devices are not consulted.
    """
    import torch

    if config is not None and not isinstance(config, ZSSRConfig):
        raise TypeError(f"config must be a ZSSRConfig or None, got {type(config).__name__}")
    if device_type is not None:
        dev = torch.device(device_type)
    else:
        dev = resolve_device(config.device if config is not None else "auto")
    if config is None:
        name, why = auto_preset(dev)
        config = ZSSRConfig.preset(name, chosen_because=why)
    return config, dev
