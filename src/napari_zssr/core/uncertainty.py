"""The per-voxel uncertainty of a result: the expected absolute error at each voxel, from a model of the error
fitted on pixels of the image the network never trained on.

The error of a restoration against what the microscope would have recorded has two parts the run can see:
detail the network had to invent, which is largest where the interpolated input changes fast (its
gradient), and the recording's own noise, which no restoration can predict and which grows with the signal
(shot noise: a variance linear in the intensity, plus a floor for the camera). The model is
``E[e^2] = a |grad|^2 + b + c I`` with a, b, c >= 0, fitted by non-negative least squares on block means of
the held-out band (core.quality) made into a pair as the fathers are, so its scale is the data's own.
Measured on nuclei (benchmarks/uncertainty.py), the disagreement of the XZ and YZ restorations added
nothing to these two terms, so it is not part of the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GAUSS_ABS = math.sqrt(2.0 / math.pi)  # E|e| / sqrt(E[e^2]) of a zero-mean Gaussian error
BLOCK = 4                             # side of the blocks whose means the model is fitted on
MIN_BLOCKS = 16                       # fewer than this and four weights cannot be told apart
NOISE_WINDOW = 5                      # side of the window the local noise is read over
FIT_ROUNDS = 4                        # rounds of reweighting in the fit
FIT_SIDE = 256                        # the pairs the model is fitted on are at most this wide and high
LOG_ABS_GAUSS = 0.6351814227307392    # -E[log |Z|] of a standard normal Z: (Euler's gamma + log 2) / 2


@dataclass(frozen=True)
class ErrorModel:
    """Weights of the squared gradient, the local noise, the constant and the intensity in the expected
    squared error (normalised units); ``held_out``: fitted on pixels no father came from, as well as on the
    middle plane it trained on."""

    gradient: float
    noise: float
    floor: float
    intensity: float
    held_out: bool = True

    def expected_abs(self, feats) -> np.ndarray:
        """The expected absolute error (float32) for the features (squared gradient, local noise, intensity)
        of the network's input."""
        g2, noise, intensity = feats
        var = self.gradient * g2 + self.noise * noise + self.floor + self.intensity * np.clip(intensity, 0.0, None)
        return (GAUSS_ABS * np.sqrt(np.clip(var, 0.0, None))).astype(np.float32)

    def of_plane(self, net_input: np.ndarray, fine=(0, 1)) -> np.ndarray:
        """The expected absolute error over a 2-D network input (H, W) whose axes ``fine`` were not interpolated."""
        return self.expected_abs(features_2d(net_input, fine))

    def of_volume(self, interpolated: np.ndarray) -> np.ndarray:
        """The expected absolute error over a volume (Z, Y, X) interpolated along z onto the output grid."""
        return self.expected_abs(features_3d(interpolated))


def features_2d(x: np.ndarray, fine=(0, 1)) -> tuple:
    """(squared gradient magnitude, local noise, intensity) of a 2-D network input; the noise is read along
    the axes ``fine`` only (isotropic mode's z, the rows, is interpolated and holds none)."""
    x = np.asarray(x, np.float32)
    gy, gx = _gradient(x, 0), _gradient(x, 1)
    return gy * gy + gx * gx, np.mean([_local_noise(x, a, (NOISE_WINDOW,) * 2) for a in fine], axis=0), x


def features_3d(vol: np.ndarray) -> tuple:
    """(squared gradient, local noise, intensity) of a volume (Z, Y, X) as the two views see it: the network
    restores XZ planes (z and x) and YZ planes (z and y) and the result is their mean, so the lateral part
    is the mean of the two lateral directions, each read in its own view's plane; on isotropic structure
    this matches the 2-D planes (z and one lateral axis) the model was fitted on."""
    vol = np.asarray(vol, np.float32)
    gz = _gradient(vol, 0)
    lateral = 0.5 * (_gradient(vol, 1) ** 2 + _gradient(vol, 2) ** 2)
    w = NOISE_WINDOW
    noise = 0.5 * (_local_noise(vol, 1, (w, w, 1)) + _local_noise(vol, 2, (w, 1, w)))
    return gz * gz + lateral, noise, vol


def _gradient(a: np.ndarray, axis: int) -> np.ndarray:
    if a.shape[axis] < 2:
        return np.zeros_like(a)
    return np.gradient(a, axis=axis)


def _local_noise(a: np.ndarray, axis: int, window) -> np.ndarray:
    """The local variance of what no smooth model predicts: from the absolute second difference along
    ``axis``, its geometric mean over ``window``, scaled so that white Gaussian noise of variance v gives v.
    A geometric mean, because an edge is structure, not noise, and the few large differences it leaves in
    the window move a mean of logarithms little (a median would do as well at ten times the cost)."""
    from scipy.ndimage import uniform_filter

    d = np.zeros_like(a)
    if a.shape[axis] >= 3:
        m, o = np.moveaxis(a, axis, 0), np.moveaxis(d, axis, 0)
        o[1:-1] = np.abs(m[1:-1] - 0.5 * (m[:-2] + m[2:]))
        o[0], o[-1] = o[1], o[-2]
    floor = max(float(np.mean(d)) * 1e-3, 1e-12)  # a run of exact zeros (flat data) reads as no noise
    log_mean = uniform_filter(np.log(d + floor), size=window, mode="nearest")
    sigma = np.exp(log_mean + LOG_ABS_GAUSS) / np.sqrt(1.5)
    return (sigma * sigma).astype(np.float32)


def fit_error_model(samples, held_out: bool = True):
    """The ErrorModel of a network from ``samples``: (output, truth, 2-D network input, its fine axes) of pairs
    it was applied to; None where they are too small to fit the weights."""
    from scipy.optimize import nnls

    cols, rows, share = [], [], []
    for pred, target, net_input, fine in samples:
        feats = features_2d(net_input, fine)
        cols.append(np.stack([_block_means(f) for f in (feats[0], feats[1], np.ones_like(feats[0]),
                                                         np.clip(feats[2], 0.0, None))], 1))
        rows.append(_block_means((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2))
        share.append(np.full(rows[-1].size, 1.0 / np.sqrt(max(rows[-1].size, 1))))
    m, e2, share = np.concatenate(cols), np.concatenate(rows), np.concatenate(share)
    if e2.size < MIN_BLOCKS or not (np.all(np.isfinite(e2)) and np.all(np.isfinite(m))):
        return None
    scale = np.maximum(np.abs(m).max(0), 1e-12)  # comparable columns for the solver
    m = m / scale
    weight = share  # each pair (the held-out band, the training plane) weighs the same, however many blocks
    for _ in range(FIT_ROUNDS):
        # a mean of squared errors spreads in proportion to its expectation: weighted by the inverse of the
        # fitted value, every block counts by its relative misfit, and the few largest do not decide the fit
        coef, _ = nnls(m * weight[:, None], e2 * weight)
        fitted = m @ coef
        weight = share / np.maximum(fitted, 1e-3 * max(float(np.mean(e2)), 1e-20))
    coef = coef / scale
    return ErrorModel(*(float(c) for c in coef), held_out=held_out)


def _block_means(a: np.ndarray) -> np.ndarray:
    h, w = (n // BLOCK * BLOCK for n in a.shape[-2:])
    if h == 0 or w == 0:  # smaller than one block: nothing to fit on (fit_error_model then gives None)
        return np.empty(0)
    a = np.asarray(a, np.float64)[..., :h, :w]
    return a.reshape(-1, h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean((2, 4)).ravel()


def calibrate(net, pairs, images, precision: str, held_out: bool = True):
    """The ErrorModel of ``net`` on ``images`` (each (1, C, H, W), or None) made into LR->HR pairs by ``pairs``,
    channel by channel; None where none is large enough for the pair or the fit."""
    samples = []
    for image in images:
        if image is not None:
            samples += _pair_samples(net, pairs, image, precision)
    return fit_error_model(samples, held_out) if samples else None


def _pair_samples(net, pairs, image, precision: str) -> list:
    import torch

    from .precision import Precision

    try:  # a central crop: one forward pass of bounded size, after training, on whatever device
        test_in, hr = pairs.test_pair(image, FIT_SIDE)
    except ValueError:
        return []
    dev = next(net.parameters()).device
    with torch.no_grad():
        net.eval()
        with Precision.of(precision, dev).autocast():
            out = net(test_in).float()
    fine = fine_axes(pairs.scale)
    as_np = [t[0].to("cpu", torch.float32).numpy() for t in (out, hr, test_in)]
    return [(o, h, i, fine) for o, h, i in zip(*as_np)]


def of_slab(model: ErrorModel, slab: np.ndarray, f: float, row0: int, rows: int, prior=None) -> np.ndarray:
    """(Z', rows, X): the expected absolute error of the rows ``row0:row0 + rows`` of a normalised slab (Z, Y, X)
    made isotropic by ``f``. ``prior`` (Z, rows, X) is the error the slab already carries (both mode's planes
    stage): interpolated along z and added in quadrature, as independent errors add."""
    from .axial import up_matrix

    reach = 1 + NOISE_WINDOW // 2  # rows either side that the y gradient and the local noise read
    lo, hi = max(0, row0 - reach), min(slab.shape[1], row0 + rows + reach)
    up = up_matrix(slab.shape[0], f)
    interp = np.tensordot(up, np.asarray(slab[:, lo:hi], np.float32), axes=(1, 0))
    u = model.of_volume(interp)[:, row0 - lo : row0 - lo + rows]
    if prior is not None:
        carried = np.tensordot(up, np.asarray(prior, np.float32) ** 2, axes=(1, 0))
        u = np.sqrt(u * u + np.clip(carried, 0.0, None)).astype(np.float32)
    return u


def of_planes(model: ErrorModel, plane: np.ndarray, scale, out_shape) -> np.ndarray:
    """(C, Y', X'): the expected absolute error of a normalised plane (C, Y, X) enlarged by ``scale`` (sy, sx)."""
    from .resize import imresize

    fine = fine_axes(scale)
    return np.stack([model.of_plane(imresize(p, scale=tuple(scale), output_shape=tuple(out_shape)), fine)
                     for p in np.asarray(plane, np.float32)])


def fine_axes(scale) -> tuple:
    """The axes of a 2-D network input that were not resampled (factor 1), where the noise is read: both
    where both were."""
    return tuple(a for a, s in enumerate(scale) if s == 1) or (0, 1)
