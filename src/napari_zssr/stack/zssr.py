"""zssr(): one 2-D image, its colours or channels learnt by one network, as the paper trains RGB. It is
``upscale`` over YX (YXS with channels) in planes mode: one pipeline for images and stacks."""

from __future__ import annotations

import numpy as np

from ..core.checks import check_image, check_scale
from ..core.progress import ZSSRReport
from .upscale import run_upscale


def zssr(image, scale, *, kernel=None, config=None, channel_axis=None, callback=None) -> np.ndarray:
    """Super-resolve one 2-D image with a network trained on the image itself.

    Parameters
    ----------
    image : array_like
        (H, W), or (H, W, C) / (C, H, W) etc. with ``channel_axis``; channels share one network.
    scale : float or (float, float)
        Factors along (y, x), each >= 1 and at least one > 1; any positive value, not only integers.
    kernel : None, str or 2-D array
        The downscaling kernel that made the image from a finer one; default bicubic; "estimate":
        read from the image itself (reported).
    config : ZSSRConfig, optional
        Default: preset "paper" on a CUDA GPU, "fast" otherwise.
    channel_axis : int, optional
    callback : callable, optional
        ``callback(progress: dict)``; return False to cancel (raises ``Cancelled``).

    Returns
    -------
    numpy.ndarray
        float32, shape ceil(H * sy), ceil(W * sx) (channels where they were), in the input's units.
    """
    return run_zssr(image, scale, kernel=kernel, config=config, channel_axis=channel_axis, callback=callback)[0]


def run_zssr(image, scale, *, kernel=None, config=None, channel_axis=None, callback=None):
    """As :func:`zssr`, returning ``(result, ZSSRReport)``: the report of its one network, with what the run
    chose and read from the data (kernel, estimates, noise level, notes)."""
    arr, channel_axis = check_image(image, channel_axis)
    factors = check_scale(scale, 2, "zssr")
    axes, full = "YX", list(factors)
    if channel_axis is not None:
        axes = axes[:channel_axis] + "S" + axes[channel_axis:]
        full.insert(channel_axis, 1.0)
    result, run = run_upscale(arr, full, axes=axes, mode="planes", kernel=kernel, config=config, callback=callback)
    return result, _image_report(run, factors)


def _image_report(run, factors) -> ZSSRReport:
    """The one network's report with the run's own findings (a constant image trains none)."""
    rep = run.units[0] if run.units else ZSSRReport(preset=run.preset, device=run.device, scale=tuple(factors),
                                                    schedule=[], kernel=run.kernel, seed=run.config.get("seed", 0))
    rep.kernel = run.kernel
    rep.notes = list(dict.fromkeys(run.notes + rep.notes))
    rep.kernel_estimates = list(run.kernel_estimates)
    rep.estimated_noise = run.estimated_noise
    rep.estimate_seconds = run.estimate_seconds
    rep.precision_probe = run.precision_probe
    rep.seconds = run.seconds
    return rep
