"""core/graph.py: the captured training step is CUDA-only; the CPU path never probes or captures."""

import numpy as np
import pytest
import torch

from napari_zssr import zssr
from napari_zssr.core import graph
from napari_zssr.core.precision import Precision


def test_the_cpu_never_probes_a_graph():
    calls = []
    graph._probes.clear()
    orig = graph._measure
    try:
        graph._measure = lambda *a: calls.append(a) or {"eager_s": 1.0, "graph_s": 0.1}
        assert not graph.graph_wanted(torch.device("cpu"), Precision.of("float32", "cpu"), 1, 64, 8, 128, 1)
        assert not graph.graph_wanted(torch.device("cpu"), Precision.of("bfloat16", "cpu"), 1, 64, 8, 128, 1)
        assert calls == []
        # float16's scaler reads gradients on the host: no capture, not even a probe
        assert not graph.graph_wanted(torch.device("cuda"), Precision.of("float16", "cuda"), 1, 64, 8, 128, 1)
        assert calls == []
    finally:
        graph._measure = orig


def test_cuda_captures_only_where_the_probe_finds_it_faster(monkeypatch, tmp_path):
    monkeypatch.setenv("NAPARI_ZSSR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("napari_zssr.core.probe_cache.machine", lambda dev: f"test|{dev}")
    prec = Precision.of("bfloat16", "cuda")
    for batch, (graph_s, wanted) in enumerate(((0.5, True), (0.95, False), (None, False)), start=1):
        graph._probes.clear()
        monkeypatch.setattr(graph, "_measure", lambda *a, g=graph_s: {"eager_s": 1.0, "graph_s": g})
        assert graph.graph_wanted(torch.device("cuda"), prec, 1, 64, 8, 128, batch) is wanted
    graph._probes.clear()


def test_training_on_the_cpu_never_builds_a_captured_step(structured_image, tiny_config, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a CUDA graph was attempted on the CPU")

    monkeypatch.setattr(graph.GraphStep, "__init__", refuse)
    monkeypatch.setattr(graph, "_measure", refuse)
    out = zssr(structured_image, 2, config=tiny_config)
    assert out.shape == (80, 96) and np.all(np.isfinite(out))


def test_a_tensor_rate_is_written_in_place():
    from napari_zssr.core.train import set_rate

    p = torch.nn.Parameter(torch.zeros(3))
    opt = graph.make_optimizer([p], 1e-3, captured=True)
    rate = opt.param_groups[0]["lr"]
    set_rate(opt, 1e-4)
    assert opt.param_groups[0]["lr"] is rate and float(rate) == pytest.approx(1e-4)
    plain = graph.make_optimizer([p], 1e-3, captured=False)
    set_rate(plain, 1e-5)
    assert plain.param_groups[0]["lr"] == 1e-5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
@pytest.mark.parametrize("name", ["float32", "bfloat16"])
def test_a_captured_step_trains_as_the_eager_step_does(name):
    from napari_zssr.core.network import ZSSRNet
    from napari_zssr.core.precision import l1_step
    from napari_zssr.core.train import set_rate

    dev = torch.device("cuda")
    prec = Precision.of(name, dev)
    nets = []
    for _ in range(2):
        net = ZSSRNet(1, 16, 4)
        net.reset(0.1, torch.Generator().manual_seed(0))
        nets.append(net.to(dev))
    gen = torch.Generator(device=dev).manual_seed(1)
    batches = [(torch.rand(2, 1, 32, 32, device=dev, generator=gen), torch.rand(2, 1, 32, 32, device=dev,
                                                                                 generator=gen)) for _ in range(12)]
    eager_opt = graph.make_optimizer(nets[0].parameters(), 1e-3, captured=False)
    cap_opt = graph.make_optimizer(nets[1].parameters(), 1e-3, captured=True)
    step = graph.GraphStep(nets[1], cap_opt, prec)
    # the capture's warm-up trains on the first batch too: the eager net takes the same steps
    for _ in range(graph.WARMUP_STEPS):
        l1_step(nets[0], eager_opt, None, *batches[0], prec)
    for i, (x, y) in enumerate(batches):
        if i == 6:
            set_rate(eager_opt, 1e-4)
            set_rate(cap_opt, 1e-4)
        a = l1_step(nets[0], eager_opt, None, x, y, prec)
        b = step(x, y)
        assert float(b) == pytest.approx(float(a), rel=2e-2)
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(p, q, rtol=5e-2, atol=5e-3)
