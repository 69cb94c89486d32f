"""Validation shared by the public functions: one place that says what was wrong."""

from __future__ import annotations

import math

import numpy as np


def check_numeric(arr: np.ndarray, what: str = "image") -> None:
    if arr.dtype == object or arr.dtype == bool or np.issubdtype(arr.dtype, np.complexfloating) \
            or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{what} must be a real numeric array, got dtype {arr.dtype}")


# Results are float32: inputs beyond this magnitude would overflow to inf on the way back to input units
# (interpolation and the network overshoot the input's range a little).
MAX_ABS_VALUE = 1e36
# Values in one result (all channels): 2**30 is 4 GiB of float32 for the result alone, and the run holds
# several copies of it (ensemble members, median); beyond this a factor is almost surely a mistake.
MAX_OUTPUT_VALUES = 2**30


def check_finite(arr: np.ndarray, what: str = "image") -> None:
    """No NaN or inf, and no value a float32 result could not hold."""
    if not np.issubdtype(arr.dtype, np.floating) or arr.size == 0:
        return
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{what} contains {bad} NaN or inf value(s); replace them before upscaling")
    big = max(abs(float(arr.min())), abs(float(arr.max())))
    if big > MAX_ABS_VALUE:
        raise ValueError(f"{what} has values up to {big:.3g} in magnitude, beyond what a float32 result holds "
                         f"(limit {MAX_ABS_VALUE:.0e}); rescale the data first")


MAX_FACTOR = 100.0  # beyond this the sons of any real image are a pixel or two: nothing left to learn from


def check_factor_limit(factors, who: str) -> None:
    for v in factors:
        if v > MAX_FACTOR:
            raise ValueError(f"{who}: a factor of {v:g} is above the limit of {MAX_FACTOR:g}; ZSSR learns from the "
                             f"image's own copies shrunk by the factor, which would be a pixel or two (enlarge in "
                             f"steps, or use imresize for plain interpolation)")


def check_output_size(out_shape, what: str = "zssr") -> None:
    """A clear error before any allocation when factors would make an absurdly large result."""
    n = 1
    for v in out_shape:
        n *= int(v)
    if n > MAX_OUTPUT_VALUES:
        raise ValueError(f"{what}: the result would have shape {tuple(int(v) for v in out_shape)} ({n:.3g} values), "
                         f"more than the limit of {MAX_OUTPUT_VALUES:.3g} values in one result; use smaller factors "
                         "or crop the image")


def check_image(image, channel_axis):
    """A 2-D image, or 3-D with a channel axis; returns (array, normalised channel axis)."""
    arr = np.asarray(image)
    check_numeric(arr)
    if channel_axis is not None:
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
            raise TypeError(f"channel_axis must be an int or None, got {channel_axis!r}")
        if not -arr.ndim <= channel_axis < arr.ndim:
            raise ValueError(f"channel_axis {channel_axis} does not exist in an array of shape {arr.shape}")
        channel_axis = int(channel_axis) % arr.ndim
        if arr.ndim != 3:
            raise ValueError(f"with channel_axis, zssr expects a 3-D array (two spatial axes), got shape {arr.shape}")
    elif arr.ndim != 2:
        hint = " (pass channel_axis= for a multi-channel image, or use upscale() for stacks)" if arr.ndim == 3 else ""
        raise ValueError(f"zssr expects a 2-D image, got shape {arr.shape}{hint}")
    spatial = [n for i, n in enumerate(arr.shape) if i != channel_axis]
    if arr.size == 0 or min(spatial) < 2:
        raise ValueError(f"image is too small to learn from: shape {arr.shape} (each spatial axis needs >= 2 pixels)")
    check_finite(arr)
    return arr, channel_axis


def check_scale(scale, n: int, who: str):
    """``n`` factors >= 1 with at least one > 1 (a scalar applies to all ``n``)."""
    if isinstance(scale, (str, bytes)) or scale is None:
        raise TypeError(f"scale must be a number or a sequence of {n} numbers, got {scale!r}")
    vals = np.atleast_1d(np.asarray(scale, dtype=object)).ravel()
    try:
        vals = [float(v) for v in vals]
    except (TypeError, ValueError):
        raise TypeError(f"scale must be numbers, got {scale!r}") from None
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n:
        raise ValueError(f"{who} takes {n} scale factors, got {len(vals)}: {list(vals)}")
    for v in vals:
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"scale factors must be positive and finite, got {vals}")
        if v < 1:
            raise ValueError(f"{who} only enlarges: every factor must be >= 1, got {vals} (use imresize to shrink)")
    if max(vals) <= 1:
        raise ValueError(f"at least one scale factor must be > 1, got {vals}")
    check_factor_limit(vals, who)
    return tuple(vals)


def cast_result(result: np.ndarray, dtype) -> np.ndarray:
    """Round and clip to an integer dtype, or convert to a float dtype."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.round(result), info.min, info.max).astype(dtype)
    return result.astype(dtype)


def seed_for(seed: int, unit_id: int) -> int:
    """A per-unit seed that depends only on (seed, unit id), never on scheduling."""
    return int(np.random.SeedSequence([int(seed), int(unit_id)]).generate_state(1)[0])
