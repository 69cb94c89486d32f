"""core/isotropic_group.py through a stack run: the channels' axial networks trained as one group give what
one unit per channel gives (same seeds, same fathers: equal within float tolerance)."""

import numpy as np

from napari_zssr import run_upscale
from napari_zssr.core import grouped


def test_channels_trained_together_give_the_channels_trained_apart(stack, tiny_config, monkeypatch):
    data = np.stack([stack, (stack.astype(np.float32)[:, ::-1] * 0.5 + 300).astype(np.uint16)])
    cfg = tiny_config.replace(max_iters=16, min_iters=16)
    apart, rep_apart = run_upscale(data, (1, 3, 1, 1), axes="CZYX", config=cfg)
    calls = []
    real = grouped.grouping_pays
    monkeypatch.setattr(grouped, "grouping_pays", lambda dev, width: calls.append(dev) or True)
    together, rep = run_upscale(data, (1, 3, 1, 1), axes="CZYX", config=cfg)
    assert calls and real(calls[0], cfg.width) is False  # the CPU trains apart unless forced, as here
    assert together.shape == apart.shape
    span = float(data.max() - data.min())
    assert np.abs(together - apart).max() < 2e-3 * span
    assert np.abs(apart[0] - apart[1]).max() > 0.05 * span  # the channels differ: no mix-up passes
    assert [u.steps for u in rep.units] == [u.steps for u in rep_apart.units] == [[16], [16]]
