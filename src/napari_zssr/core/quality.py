"""The quality report: the internal gain measured on pixels the network never trained on.

A band of columns at the left or right edge of every source (about a tenth of the width) is kept
from the fathers; the gain over cubic is measured on the band of the middle source, made into an
LR-HR pair the same way the fathers are. The side is the one whose band in the middle source has
more detail: a flat band (sky, background) has no gain to show for any kernel, so a good result
would read as no better than interpolation. An image narrower than twice the crop has nothing to
spare: it trains on everything and its gain is not held out, which the report says.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .estimate import line_spectrum
from .precision import Precision
from .progress import QualityWarning

HOLD_FRACTION = 0.1   # of the width kept from the fathers
MIN_BAND_LR = 8       # the band's LR son is at least this many pixels wide


def holdout_split(sources, crop: int, scale_x: float):
    """(training sources, held-out band (1, C, H, b) or None): every source loses the same band of
    columns on the side where the middle source's band has more detail, where the image is at least
    twice the crop wide. Sources are aligned at their left edge and cut to the narrowest width."""
    W = min(s.shape[-1] for s in sources)
    band = max(int(math.ceil(HOLD_FRACTION * W)), int(math.ceil(MIN_BAND_LR * scale_x)))
    if W < 2 * crop or W - band < crop:
        return list(sources), None
    keep = W - band
    mid = sources[len(sources) // 2]
    if detail(mid[..., :band]) > detail(mid[..., W - band:W]):
        return [s[..., band:W] for s in sources], mid[None, ..., :band]
    return [s[..., :keep] for s in sources], mid[None, ..., keep:W]


def detail(a) -> float:
    """Mean absolute difference of neighbouring pixels along both axes of (..., H, W) data (arrays, or
    tensors wherever they live), in floating point so that unsigned integers cannot wrap."""
    a = a.float() if hasattr(a, "float") and not isinstance(a, np.ndarray) else np.asarray(a, dtype=np.float64)
    return float(abs(a[..., 1:] - a[..., :-1]).mean() + abs(a[..., 1:, :] - a[..., :-1, :]).mean())


def band_pass(net, pairs, band, precision):
    """(network input, truth, network output) of the band made into a pair by ``pairs``, the one forward
    pass the held-out figures share; None where there is no band or it is too small for the pair."""
    import torch

    if band is None:
        return None
    try:
        test_in, hr = pairs.test_pair(band, max(band.shape[-2:]))
    except ValueError:
        return None
    dev = next(net.parameters()).device
    with torch.no_grad():
        net.eval()
        with Precision.of(precision, dev).autocast():
            out = net(test_in)
    return test_in, hr, out.float()


def _gain_db(baseline, passed) -> float:
    """PSNR gain (dB) of the network's output over ``baseline`` against the truth; nan where either error is 0."""
    import torch

    _, hr, out = passed
    base, rec = float(torch.mean((baseline - hr) ** 2)), float(torch.mean((out - hr) ** 2))
    return 10.0 * math.log10(base / rec) if rec > 0 and base > 0 else float("nan")


def held_out_gain(passed) -> float:
    """PSNR gain (dB) of the network over cubic on the band's pair (``band_pass``); nan without one."""
    return float("nan") if passed is None else _gain_db(passed[0], passed)


def gain_over_linear(pairs, band, passed) -> float:
    """Isotropic mode: the PSNR gain (dB) of the network over linear interpolation along z on the band's pair
    (``band_pass``); nan elsewhere. Where z is aliased (sampled without blur) linear beats cubic, and a
    network that only beats cubic can still be worse than the best interpolation."""
    from .axial import AxialKernel, coarse_length, down_matrix, fine_length, linear_up_matrix
    from .resize import apply_matrix

    kernel, f = getattr(pairs, "kernel", None), getattr(pairs, "f", None)
    if passed is None or not isinstance(kernel, AxialKernel):
        return float("nan")
    h = band.shape[-2]  # the pair is made of the whole band: its son, interpolated linearly instead
    m = coarse_length(h, f)
    son = apply_matrix(band, down_matrix(h, f, kernel), -2)
    return _gain_db(apply_matrix(son, linear_up_matrix(m, f, fine_length(m, f)), -2), passed)


def record_held_out(report, net, pairs, band, precision: str, whole=None) -> None:
    """Put the held-out gain in ``report`` in place of the training pair's, where there is a band to
    measure it on; ``report.gain_held_out`` says which of the two the report holds. The network's model
    of its error (core.uncertainty) is fitted on the band and on ``whole`` (1, C, H, W), the middle image
    it trained on: the band alone is one edge of the data, and a model fitted on one kind of content
    (all background, all noise) would say nothing of the rest."""
    from .uncertainty import calibrate

    passed = band_pass(net, pairs, band, precision)
    held = held_out_gain(passed)
    report.gain_held_out = bool(math.isfinite(held))
    if report.gain_held_out:
        report.gain_db = held
    report.error_model = calibrate(net, pairs, [band, whole], precision, held_out=band is not None)
    report.gain_linear_db = gain_over_linear(pairs, band, passed)


def gain_words(held_out: bool) -> str:
    """Where the internal gain was measured, in words for the user."""
    if held_out:
        return "on held-out pixels (a band of the data no training pair came from)"
    return "on the data's own LR->HR pairs (not held out: the data is narrower than twice the crop)"


LINEAR_MARGIN_DB = 0.0  # isotropic mode: below this held-out gain over linear interpolation, a QualityWarning


def warn_below_linear(gain_db: float, stacklevel: int) -> None:
    """The QualityWarning of an isotropic run whose network did not beat linear interpolation along z on
    held-out pixels, although it beat cubic: z is sampled with little blur (aliased)."""
    warnings.warn(f"ZSSR did not beat linear interpolation along z on held-out pixels (gain {gain_db:.2f} dB), "
                  f"although it beat cubic: z looks sampled with little blur, and the result may be worse than "
                  f"linear interpolation; compare with it before measuring", QualityWarning, stacklevel=stacklevel + 1)


def warn_no_gain(gain_db: float, held_out: bool, hint: str, stacklevel: int) -> None:
    """The QualityWarning of a run whose network did not beat cubic interpolation, with advice that fits it."""
    warnings.warn(f"ZSSR did not beat cubic interpolation {gain_words(held_out)} (gain {gain_db:.2f} dB): the "
                  f"result may be no better than interpolation; {hint}", QualityWarning, stacklevel=stacklevel + 1)


SPECTRUM_SIDE = 256   # lateral crop the spectrum check reads
MAX_SEGMENT = 64      # samples per line segment: enough frequencies, many segments


def axial_excess_db(volume, f: float) -> float:
    """How far the result's detail along z rises against its lateral detail, in dB, near the
    frequencies the coarse z sampling could not resolve: the model-independent check of an
    isotropic result (ZYX on the fine grid, enlarged f times along z).

    The ratio of the axial to the lateral power spectrum at the frequencies the coarse planes
    resolved well (below half their Nyquist frequency) says how the sample and the axial PSF look
    along z; the axial PSF is the wider, so above them the ratio should not grow. Where the result
    has it grow, the network added detail along z that the lateral planes do not show at the same
    frequencies: over-sharpening, from a kernel assumed wider than the data's blur. nan where the
    volume is too small to read (fewer than 16 samples a line, or fewer than 2 f planes).
    """
    vol = np.asarray(volume, dtype=np.float64)
    Z, Y, X = vol.shape
    L = min(Z, Y, X, MAX_SEGMENT)
    if L < 16 or Z < 2 * f:
        return float("nan")
    vol = vol[:, central(Y, SPECTRUM_SIDE), central(X, SPECTRUM_SIDE)]
    rng = np.random.default_rng(0)
    z = _segments(np.moveaxis(vol, 0, -1), L, rng)
    lateral = np.concatenate([_segments(vol, L, rng), _segments(np.swapaxes(vol, 1, 2), L, rng)])
    pz, px = line_spectrum(z)[1:], line_spectrum(lateral)[1:]
    if not (np.all(px > 0) and np.all(pz > 0)):
        return float("nan")
    k = np.arange(1, len(pz) + 1) / L  # cycles per fine pixel
    ratio = 10.0 * np.log10(pz / px)
    smooth = np.convolve(np.pad(ratio, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    resolved = k <= 0.25 / f
    added = (k > 0.25 / f) & (k <= 0.75 / f)
    if not resolved.any() or not added.any():
        return float("nan")
    return float(smooth[added].max() - ratio[resolved].mean())


def central(n: int, side: int) -> slice:
    """The middle ``side`` samples of an axis of ``n`` (all of them where it is shorter)."""
    start = max(0, (n - side) // 2)
    return slice(start, start + min(n, side))


def _segments(vol: np.ndarray, L: int, rng, most: int = 20000) -> np.ndarray:
    """Segments of L samples of the lines along the last axis of ``vol``, at most ``most`` of them."""
    lines = vol.reshape(-1, vol.shape[-1])
    n = lines.shape[1] // L
    seg = lines[:, : n * L].reshape(-1, L)
    if seg.shape[0] > most:
        seg = seg[rng.choice(seg.shape[0], most, replace=False)]
    return seg


def axial_excess_words(channel: int, excess: float, advice: str = "try kernel='estimate' or a smaller sigma") -> str:
    """The QualityWarning for an over-sharpened isotropic result, with ``advice`` that fits the run's kernel."""
    return (f"channel {channel}: the result has more detail along z than its lateral planes show at the same "
            f"frequencies (the axial spectrum rises {excess:.1f} dB against the lateral one): it is over-sharpened, "
            f"so it may be worse than interpolation. The kernel assumed is probably wider than the data's axial "
            f"blur: {advice}")
