"""The plan of a stack run: which axes are spatial, batch or channel, and which mode enlarges which."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.checks import check_factor_limit

AXIS_LETTERS = "TCZYXS"
MODES = ("planes", "isotropic", "both")  # besides "auto", which picks one of them from the factors
PLANES = ("shared", "independent")


@dataclass(frozen=True)
class Plan:
    axes: str                 # one letter per array axis
    scale: tuple              # one factor per array axis
    mode: str                 # "planes", "isotropic" or "both"
    planes: str = "shared"    # "shared" or "independent" network per channel

    @property
    def channel_axis(self):
        """The axis of fluorescence channels (C) or of colour samples (S), or None."""
        for a in "CS":
            if a in self.axes:
                return self.axes.index(a)
        return None

    @property
    def joint(self) -> bool:
        """True for an RGB(A) image: its colour samples (S) share one network, as the paper trains RGB;
        fluorescence channels (C) get one network each."""
        return "S" in self.axes

    @property
    def lateral_scale(self) -> tuple:
        return (self.scale[self.axes.index("Y")], self.scale[self.axes.index("X")])

    @property
    def z_factor(self) -> float:
        return self.scale[self.axes.index("Z")] if "Z" in self.axes else 1.0

    def describe(self) -> str:
        parts = []
        if self.mode in ("planes", "both"):
            sy, sx = self.lateral_scale
            per = "for all colours" if self.joint else "per channel"
            parts.append(f"planes mode on Y/X x{sy:g} x{sx:g} ({self.planes} network {per})")
        if self.mode in ("isotropic", "both"):
            parts.append(f"isotropic mode on Z x{self.z_factor:g} (trained on lateral planes, applied to XZ and YZ)")
        shared = ""
        if "T" in self.axes and self.planes == "shared":
            shared = "; the same network for all time points" if self.joint else \
                "; one network per channel for all time points"
        return f"axes {self.axes}: " + ", then ".join(parts) + shared


def resolve_axes(shape, axes=None, channel_axis=None) -> str:
    """Axis letters for an array of ``shape``; checks them against ``channel_axis``."""
    ndim = len(shape)
    if axes is None:
        if channel_axis is not None:
            if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
                raise TypeError(f"channel_axis must be an int or None, got {channel_axis!r}")
            if not -ndim <= channel_axis < ndim:
                raise ValueError(f"channel_axis {channel_axis} does not exist in an array of shape {tuple(shape)}")
            rest = {2: "YX", 3: "ZYX"}.get(ndim - 1)
            if rest is None:
                raise ValueError(f"a {ndim}-D array must name its axes, e.g. axes='TCZYX'")
            ca = channel_axis % ndim
            return rest[:ca] + "C" + rest[ca:]
        if ndim == 3 and shape[-1] in (3, 4) and min(shape[:2]) > 8:
            raise ValueError(
                f"an array of shape {tuple(shape)} looks like an RGB(A) image, not a z stack; pass axes='YXS' "
                f"for colour (one network over the colours), axes='YXC' for channels (one network each), or "
                f"axes='ZYX' if it really is a stack of {shape[0]} planes")
        if ndim in (2, 3):
            return {2: "YX", 3: "ZYX"}[ndim]
        raise ValueError(f"a {ndim}-D array must name its axes, e.g. axes='TCZYX' or 'CZYX'")
    if not isinstance(axes, str):
        raise TypeError(f"axes must be a string such as 'ZYX', got {axes!r}")
    axes = axes.upper()
    if len(axes) != ndim:
        raise ValueError(f"axes {axes!r} has {len(axes)} letters but the array has {ndim} axes (shape {tuple(shape)})")
    bad = set(axes) - set(AXIS_LETTERS)
    if bad:
        raise ValueError(f"axes {axes!r} uses {''.join(sorted(bad))}; use letters from T, C, Z, Y, X, S")
    if len(set(axes)) != len(axes):
        raise ValueError(f"axes {axes!r} repeats a letter; each of T, C, Z, Y, X, S may appear once")
    if "C" in axes and "S" in axes:
        raise ValueError(f"axes {axes!r} has both C (channels) and S (RGB colour samples); give one of them")
    if "Y" not in axes or "X" not in axes:
        raise ValueError(f"axes {axes!r} must contain Y and X")
    if axes.index("Y") > axes.index("X") or any(axes.index(a) > axes.index("Y") for a in "Z" if a in axes):
        raise ValueError(f"axes {axes!r}: Z, Y and X must appear in that order")
    if channel_axis is not None:
        if not -ndim <= channel_axis < ndim:
            raise ValueError(f"channel_axis {channel_axis} does not exist in an array of shape {tuple(shape)}")
        if not any(a in axes and axes.index(a) == channel_axis % ndim for a in "CS"):
            raise ValueError(f"channel_axis={channel_axis} disagrees with axes {axes!r}")
    return axes


def make_plan(shape, scale, axes=None, mode="auto", channel_axis=None, planes="shared") -> Plan:
    axes = resolve_axes(shape, axes, channel_axis)
    ndim = len(shape)
    if isinstance(scale, (str, bytes)) or scale is None:
        raise TypeError(f"scale must be one number per axis ({ndim}), got {scale!r}")
    try:
        factors = [float(v) for v in np.atleast_1d(np.asarray(scale, dtype=object)).ravel()]
    except (TypeError, ValueError):
        raise TypeError(f"scale must be numbers, got {scale!r}") from None
    if len(factors) != ndim:
        raise ValueError(f"scale needs one factor per axis ({ndim} for axes {axes}), got {len(factors)}: {factors}")
    for a, v in zip(axes, factors):
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"scale factors must be positive and finite, got {factors}")
        if v < 1:
            raise ValueError(f"upscale only enlarges: the factor on {a} is {v:g} (use imresize to shrink)")
        if a in "CTS" and v != 1:
            what = {"C": "channel", "T": "time", "S": "colour"}[a]
            raise ValueError(f"the factor on the {what} axis must be 1, got {v:g}")
    check_factor_limit(factors, "upscale")
    big = {a for a, v in zip(axes, factors) if v > 1}
    if not big:
        raise ValueError(f"at least one factor must be > 1, got {factors}")
    if planes not in PLANES:
        raise ValueError(f"planes must be 'shared' or 'independent', got {planes!r}")
    lateral = bool(big & {"Y", "X"})
    auto = ("both" if lateral else "isotropic") if "Z" in big else "planes"
    if mode == "auto":
        mode = auto
    elif mode not in MODES:
        raise ValueError(f"mode must be 'auto', 'planes', 'isotropic' or 'both', got {mode!r}")
    elif mode != auto:
        raise ValueError(
            f"mode {mode!r} does not fit factors {dict(zip(axes, factors))}: planes mode enlarges Y/X, isotropic "
            f"mode enlarges Z, both does both; this scale calls for {auto!r}")
    if mode in ("isotropic", "both") and "S" in axes:
        raise ValueError(f"axes {axes!r}: RGB colour samples (S) are enlarged in planes mode only; name the "
                         "axis C to enlarge each colour's z as a channel")
    if mode in ("isotropic", "both"):
        nz = shape[axes.index("Z")]
        if nz < 2:
            raise ValueError(f"isotropic mode needs at least 2 z planes, the stack has {nz}")
    return Plan(axes, tuple(factors), mode, planes)


def output_geometry(plan: Plan, scale, translate):
    """Voxel sizes and origins of the result, one per axis of ``plan.axes`` (C entries untouched).

    Axes enlarged as pixel areas (planes mode, MATLAB geometry) get s / f and t + (s / f - s) / 2,
    so pixel centres line up with the source in napari; the axis enlarged as point samples (Z in
    isotropic mode) gets s / f and keeps its origin: plane 0 does not move.
    """
    new_scale, new_translate = [], []
    for a, f, s, t in zip(plan.axes, plan.scale, scale, translate):
        s, t = float(s), float(t)
        if f == 1 or a in "CTS":
            new_scale.append(s)
            new_translate.append(t)
        elif a == "Z" and plan.mode in ("isotropic", "both"):
            new_scale.append(s / f)
            new_translate.append(t)
        else:
            new_scale.append(s / f)
            new_translate.append(t + (s / f - s) / 2)
    return tuple(new_scale), tuple(new_translate)
