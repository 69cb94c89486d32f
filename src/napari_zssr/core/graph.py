"""The training step captured in a CUDA graph: forward, L1, backward and Adam replayed as one launch.

One ZSSR step is about a hundred small kernels; on a GPU issuing them costs several times what running
them does (issue 30's profile), and a captured graph removes that. Only on CUDA, only for float32 and
bfloat16 (float16's loss scaler inspects gradients on the host), and only where a probe on this machine
finds the captured step faster (kept per machine, as the precision probe's result is: core.probe_cache).
The CPU never captures: :func:`graph_wanted` answers False there before anything else is tried.
Shapes are static: the fathers of a run all have one shape; a batch of another shape runs eagerly.
"""

from __future__ import annotations

import time

from . import probe_cache

GRAPH_MARGIN = 0.9   # the captured step must take at most this share of the eager one
PROBE_STEPS = 10
WARMUP_STEPS = 3     # eager steps on a side stream before capture, as torch's CUDA-graph notes ask

_probes: dict = {}


def graph_wanted(device, precision, channels: int, width: int, depth: int, crop: int, batch: int) -> bool:
    """Whether training on ``device`` at ``precision`` (a core.precision.Precision) replays a captured step."""
    if getattr(device, "type", str(device)) != "cuda" or precision.name == "float16":
        return False
    key = (str(device), precision.name, channels, width, depth, crop, batch)
    if key not in _probes:
        where = f"{probe_cache.machine(device)}|{precision.name}|{channels}x{width}x{depth}|crop {crop}|batch {batch}"
        kept = probe_cache.kept("graph", where)
        if kept is not None and not kept["stale"] and "graph_s" in kept:
            _probes[key] = kept
        else:
            _probes[key] = _measure(device, precision, channels, width, depth, crop, batch)
            probe_cache.keep("graph", where, _probes[key])
    p = _probes[key]
    return p.get("graph_s") is not None and p["graph_s"] <= GRAPH_MARGIN * p["eager_s"]


def make_optimizer(params, lr: float, captured: bool):
    """Adam, with a tensor learning rate and device-side step counts where the step is captured (the rate
    then changes by writing into the tensor the graph reads)."""
    import torch

    params = list(params)
    if not captured:
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.Adam(params, lr=torch.tensor(lr, device=params[0].device), capturable=True)


class GraphStep:
    """``step(net_in, target) -> loss``: core.precision.l1_step captured on the first call and replayed after;
    the inputs are copied into the graph's static tensors. A batch of another shape runs eagerly."""

    def __init__(self, net, opt, precision):
        self.net, self.opt, self.precision = net, opt, precision
        self.graph = None
        self.static = None

    def __call__(self, net_in, target):
        from .precision import l1_step

        if self.graph is None:
            self._capture(net_in, target)
        elif (net_in.shape, target.shape) != (self.static[0].shape, self.static[1].shape):
            return l1_step(self.net, self.opt, None, net_in, target, self.precision)
        self.static[0].copy_(net_in)
        self.static[1].copy_(target)
        self.graph.replay()
        return self.static[2]

    def _capture(self, net_in, target):
        import torch

        from .precision import l1_step

        x, y = net_in.clone(), target.clone()
        side = torch.cuda.Stream(device=x.device)
        side.wait_stream(torch.cuda.current_stream(x.device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):  # these steps train too, as eager steps would
                l1_step(self.net, self.opt, None, x, y, self.precision)
        torch.cuda.current_stream(x.device).wait_stream(side)
        self.opt.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            loss = l1_step(self.net, self.opt, None, x, y, self.precision)
        self.graph, self.static = graph, (x, y, loss)


def _measure(device, precision, channels, width, depth, crop, batch) -> dict:
    """Seconds per step, eager and captured, of a fresh network of the run's shape; graph_s None (and the
    reason) where capture fails here."""
    import torch

    from .network import ZSSRNet
    from .precision import l1_step

    def run(captured):
        net = ZSSRNet(channels, width, depth)
        net.reset(0.1, torch.Generator().manual_seed(0))
        fmt = precision.layout(training=True)
        net = net.to(device).to(memory_format=fmt)
        x = torch.rand((batch, channels, crop, crop), device=device).contiguous(memory_format=fmt)
        opt = make_optimizer(net.parameters(), 1e-4, captured)
        step = GraphStep(net, opt, precision) if captured else (lambda a, b: l1_step(net, opt, None, a, b, precision))
        step(x, x)
        torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for _ in range(PROBE_STEPS):
            step(x, x)
        torch.cuda.synchronize(device)
        return (time.perf_counter() - t0) / PROBE_STEPS

    eager = run(False)
    try:
        return {"eager_s": eager, "graph_s": run(True)}
    except RuntimeError as exc:
        return {"eager_s": eager, "graph_s": None, "why": f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"}
