"""A preview before the full run: which small region to enlarge, and what the whole run will cost."""

from __future__ import annotations

import math

import numpy as np

from .blocks import result_shape

PREVIEW_SIDE = 256   # planes mode: at most this many pixels per lateral side
PREVIEW_ROWS = 32    # isotropic mode: a band of this many rows through every plane


def preview_region(shape, plan, position=None) -> tuple:
    """Slices of a small region of an array of ``shape``: the plane (and time point) at ``position``
    (one index per axis, e.g. where the viewer is; the middle where None) and all channels; in planes
    mode up to 256 x 256 pixels of it, in isotropic mode a band of 32 rows of Y through every plane."""
    region = []
    for i, (a, n) in enumerate(zip(plan.axes, shape)):
        here = n // 2 if position is None or i >= len(position) else int(np.clip(round(position[i]), 0, n - 1))
        if a == "T" or (a == "Z" and plan.mode == "planes"):
            region.append(slice(here, here + 1))
        elif a in "YX":
            half = PREVIEW_ROWS // 2 if (a == "Y" and plan.mode != "planes") else PREVIEW_SIDE // 2
            lo = int(np.clip(n // 2 - half, 0, max(0, n - 2 * half)))
            region.append(slice(lo, min(n, lo + 2 * half)))
        else:
            region.append(slice(0, n))
    return tuple(region)


def estimate_run(full_shape, full_plan, report, preview_values: int) -> dict:
    """The whole run from a preview's report: the same training, inference in proportion to the output.

    Returns ``seconds``, the result's ``shape`` and its ``megabytes`` as float32.
    """
    out = result_shape(full_shape, full_plan)
    n_full = math.prod(out)
    train = sum(u.train_seconds for u in report.units)
    infer = sum(u.infer_seconds for u in report.units)
    return {"seconds": train + infer * n_full / max(1, preview_values), "shape": tuple(out),
            "megabytes": 4 * n_full / 2**20}
