"""The quality report: the internal gain measured on pixels the network never trained on.

A band of columns at the right edge of every source (about a tenth of the width) is kept from the
fathers; the gain over cubic is measured on the band of the middle source, made into an LR-HR pair
the same way the fathers are. An image narrower than twice the crop has nothing to spare: it
trains on everything and its gain is not held out, which the report says.
"""

from __future__ import annotations

import math

HOLD_FRACTION = 0.1   # of the width kept from the fathers
MIN_BAND_LR = 8       # the band's LR son is at least this many pixels wide


def holdout_split(sources, crop: int, scale_x: float):
    """(training sources, held-out band (1, C, H, b) or None): every source loses the same right-hand
    band of columns, where the image is at least twice the crop wide."""
    W = min(s.shape[-1] for s in sources)
    band = max(int(math.ceil(HOLD_FRACTION * W)), int(math.ceil(MIN_BAND_LR * scale_x)))
    if W < 2 * crop or W - band < crop:
        return list(sources), None
    keep = W - band
    mid = sources[len(sources) // 2]
    return [s[..., :keep] for s in sources], mid[None, ..., keep:]


def held_out_gain(net, pairs, band, precision: str) -> float:
    """PSNR gain (dB) of ``net`` over cubic on the band made into a pair by ``pairs``; nan where the
    band is too small for the pair or either error is zero."""
    import torch

    from .precision import autocast

    try:
        test_in, hr = pairs.test_pair(band, max(band.shape[-2:]))
    except ValueError:
        return float("nan")
    dev = next(net.parameters()).device
    with torch.no_grad():
        net.eval()
        with autocast(dev, precision):
            out = net(test_in)
    cubic = float(torch.mean((test_in - hr) ** 2))
    rec = float(torch.mean((out.float() - hr) ** 2))
    if not (rec > 0 and cubic > 0):
        return float("nan")
    return 10.0 * math.log10(cubic / rec)


def record_held_out(report, net, pairs, band, precision: str) -> None:
    """Put the held-out gain in ``report`` in place of the training pair's, where there is a band to
    measure it on; ``report.gain_held_out`` says which of the two the report holds."""
    held = held_out_gain(net, pairs, band, precision) if band is not None else float("nan")
    report.gain_held_out = bool(math.isfinite(held))
    if report.gain_held_out:
        report.gain_db = held


def gain_words(held_out: bool) -> str:
    """Where the internal gain was measured, in words for the user."""
    if held_out:
        return "on held-out pixels (a band of the data no training pair came from)"
    return "on the data's own LR->HR pairs (not held out: the data is narrower than twice the crop)"
