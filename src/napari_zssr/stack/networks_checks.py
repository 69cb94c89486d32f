"""Validation of a loaded networks file. A networks file may come from anywhere: every field is checked
against what save_networks writes before anything is built from it, so a damaged or hand-made file fails here,
in words, and never as a NaN result, a KeyError or an allocation sized by a number in the file."""

from __future__ import annotations

import math

from ..core.axial import MAX_AXIAL_TAPS
from ..core.checks import MAX_ABS_VALUE
from ..core.config import ZSSRConfig
from ..core.kernels import kernel_name
from .plan import MODES

MAX_WIDTH, MAX_DEPTH = 1024, 64  # the format's limits: 16x and 8x the presets' widest and deepest network
MAX_BP_ITERS = 1000  # back-projection passes of one network (the presets use at most 10)
KINDS = {"planes": ("lateral",), "isotropic": ("axial",), "both": ("lateral", "axial")}


class Invalid(Exception):
    """A field of a networks file that is not what save_networks writes (the field, then what is wrong)."""


def check_saved(saved: dict) -> None:
    """Every field of a loaded networks file, or ``Invalid`` naming the first that is wrong."""
    for key in ("version", "axes", "scale", "mode", "config", "kernel", "ranges", "networks"):
        if key not in saved:
            raise Invalid(f"it has no {key!r}")
    _check_header(saved)
    n_channels = _check_ranges(saved["ranges"])
    width, depth = _check_config(saved)
    _check_kernels(saved)
    in_channels = n_channels if "S" in saved["axes"] else 1  # colour samples share one network
    _check_networks(saved["networks"], saved["mode"], n_channels, in_channels, width, depth)
    _check_voxel_size(saved)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _numbers(field: str, values, n: int | None = None) -> list:
    """A list of ``n`` finite numbers, as floats."""
    if not isinstance(values, (list, tuple)) or (n is not None and len(values) != n):
        raise Invalid(f"{field} must be a list of {n if n is not None else 'some'} numbers, got {_short(values)}")
    for v in values:
        if not _is_number(v):
            raise Invalid(f"{field} holds {_short(v)}, not a number")
        if math.isnan(v):
            raise Invalid(f"{field} holds NaN")
        if math.isinf(v):
            raise Invalid(f"{field} holds inf")
    return [float(v) for v in values]


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_header(saved: dict) -> None:
    if not isinstance(saved["version"], str) or not saved["version"]:
        raise Invalid(f"version must be a version string, got {_short(saved['version'])}")
    axes = saved["axes"]
    if not isinstance(axes, str) or not axes or set(axes) - set("TCZYXS") or len(set(axes)) != len(axes) \
            or not {"Y", "X"} <= set(axes) or {"C", "S"} <= set(axes):
        raise Invalid(f"axes must be distinct letters of TCZYXS with Y and X, got {_short(axes)}")
    scale = _numbers("scale", saved["scale"], len(axes))
    if any(v < 1 for v in scale):
        raise Invalid(f"scale must be factors >= 1, one per axis, got {scale}")
    if saved["mode"] not in MODES:
        raise Invalid(f"mode must be one of {', '.join(MODES)}, got {_short(saved['mode'])}")
    if not isinstance(saved["kernel"], str):
        raise Invalid(f"kernel must be the kernel's name, got {_short(saved['kernel'])}")


def _check_ranges(ranges) -> int:
    """Each channel's [lo, span]: finite, span > 0, within what a float32 result holds."""
    if not isinstance(ranges, (list, tuple)) or not ranges:
        raise Invalid(f"ranges must be a list of [lo, span] pairs, one per channel, got {_short(ranges)}")
    for c, pair in enumerate(ranges):
        lo, span = _numbers(f"ranges[{c}]", pair, 2)
        if not span > 0:
            raise Invalid(f"ranges[{c}] has span {span:g}; it must be > 0")
        if max(abs(lo), span) > MAX_ABS_VALUE:
            raise Invalid(f"ranges[{c}] is [{lo:g}, {span:g}], beyond what a float32 result holds")
    return len(ranges)


def _check_config(saved: dict) -> tuple:
    """The config must be one ZSSRConfig accepts, and its network one the format allows: (width, depth)."""
    cfg = saved["config"]
    if not isinstance(cfg, dict):
        raise Invalid(f"config must be a dict of ZSSRConfig fields, got {_short(cfg)}")
    width, depth = cfg.get("width"), cfg.get("depth")
    if not _is_int(width) or not 1 <= width <= MAX_WIDTH:
        raise Invalid(f"config.width must be an int from 1 to {MAX_WIDTH}, got {_short(width)}")
    if not _is_int(depth) or not 2 <= depth <= MAX_DEPTH:
        raise Invalid(f"config.depth must be an int from 2 to {MAX_DEPTH}, got {_short(depth)}")
    if not isinstance(cfg.get("learn_residual"), bool):
        raise Invalid(f"config.learn_residual must be True or False, got {_short(cfg.get('learn_residual'))}")
    _check_config_values(cfg)
    try:
        config_from(cfg, "cpu")
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - ZSSRConfig's checks meet values of any kind a file may hold
        detail = exc if isinstance(exc, (TypeError, ValueError)) else f"{type(exc).__name__}: {exc}"
        raise Invalid(f"config is not a valid ZSSRConfig ({detail})") from None
    return width, depth


def _check_config_values(cfg: dict) -> None:
    """Every config value plain, as save_networks writes it: a bool, int, float, str or None, or a list
    of them (of pairs for scale_factors). A tensor in a field would reach ZSSRConfig's checks, where
    comparing it raises RuntimeError."""
    for key, value in cfg.items():
        if not isinstance(key, str):
            raise Invalid(f"config has the key {_short(key)}, which is not a field name")
        if not _plain_value(value, 2 if key == "scale_factors" else 1):
            raise Invalid(f"config.{key} must be a number, string, bool, None or a list of them, got "
                          f"{_describe(value)}")


def _plain_value(value, depth: int) -> bool:
    """A bool, int, float, str or None, or (``depth`` lists deep at most) a list or tuple of them."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    return depth > 0 and isinstance(value, (list, tuple)) and all(_plain_value(v, depth - 1) for v in value)


def _kernel_tensor(field: str, t, ndim: int) -> None:
    """Taps (1-D) or a 2-D kernel: float, finite, of a bounded size, with a positive sum."""
    import torch

    if not isinstance(t, torch.Tensor) or not torch.is_floating_point(t) or t.ndim != ndim:
        raise Invalid(f"{field} must be a {ndim}-D float tensor, got {_describe(t)}")
    if t.numel() == 0 or max(t.shape) > MAX_AXIAL_TAPS:
        raise Invalid(f"{field} has shape {tuple(t.shape)}; each side must have 1 to {MAX_AXIAL_TAPS} taps")
    if not bool(torch.isfinite(t).all()):
        raise Invalid(f"{field} holds NaN or inf")
    if not float(t.double().sum()) > 0:
        raise Invalid(f"{field} must have a positive sum")


def _describe(t) -> str:
    import torch

    if isinstance(t, torch.Tensor):
        return f"a {t.ndim}-D {str(t.dtype).replace('torch.', '')} tensor of shape {tuple(t.shape)}"
    return _short(t)


def _check_kernel_entry(field: str, k, lateral: bool) -> None:
    """One {"name", "array"} (lateral) or {"name", "taps"} (axial) entry, or None."""
    if k is None:
        return
    data_key = "array" if lateral else "taps"
    if not isinstance(k, dict) or not isinstance(k.get("name"), str) or data_key not in k:
        raise Invalid(f"{field} must be None or a dict with a name and {data_key}, got {_short(k)}")
    if lateral and k["array"] is None:  # a named interpolation kernel: the name selects it
        try:
            kernel_name(k["name"])
        except (TypeError, ValueError) as exc:
            raise Invalid(f"{field}.name: {exc}") from None
        return
    _kernel_tensor(f"{field}.{data_key}", k[data_key], 2 if lateral else 1)


def _check_kernels(saved: dict) -> None:
    _check_kernel_entry("lateral_kernel", saved.get("lateral_kernel"), lateral=True)
    _check_kernel_entry("axial_kernel", saved.get("axial_kernel"), lateral=False)
    for key, lateral in (("lateral_kernels", True), ("axial_kernels", False)):
        entries = saved.get(key) or []
        if not isinstance(entries, (list, tuple)):
            raise Invalid(f"{key} must be a list, got {_short(entries)}")
        for i, k in enumerate(entries):
            if k is None:
                raise Invalid(f"{key}[{i}] is None; it must be a kernel")
            _check_kernel_entry(f"{key}[{i}]", k, lateral)


def expected_state(in_channels: int, width: int, depth: int) -> dict:
    """{name: shape} of a ZSSRNet's weights (core/network.py), computed without building one."""
    chans = [in_channels] + [width] * (depth - 1) + [in_channels]
    return {f"convs.{i}.weight": (cout, cin, 3, 3) for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:]))}


def _check_state(field: str, state, in_channels: int, width: int, depth: int) -> None:
    """Exactly the weights of the network the config describes, float and finite."""
    import torch

    if not isinstance(state, dict):
        raise Invalid(f"{field} must be a dict of weights, got {_short(state)}")
    want = expected_state(in_channels, width, depth)
    if set(state) != set(want):
        missing, extra = sorted(set(want) - set(state)), sorted(set(state) - set(want), key=str)
        raise Invalid(f"{field} does not hold the weights of a depth-{depth} network: "
                      f"missing {_short(missing)}, unexpected {_short(extra)}")
    for name, shape in want.items():
        t = state[name]
        if not isinstance(t, torch.Tensor) or not torch.is_floating_point(t):
            raise Invalid(f"{field}[{name!r}] must be a float tensor, got {_describe(t)}")
        if tuple(t.shape) != shape:
            raise Invalid(f"{field}[{name!r}] has shape {tuple(t.shape)}; config width {width}, depth {depth} and "
                          f"{in_channels} input channel(s) make {shape}")
        if not bool(torch.isfinite(t).all()):
            raise Invalid(f"{field}[{name!r}] holds NaN or inf")


def _check_networks(networks, mode: str, n_channels: int, in_channels: int, width: int, depth: int) -> None:
    if not isinstance(networks, (list, tuple)) or not networks:
        raise Invalid(f"networks must be a non-empty list, got {_short(networks)}")
    seen = set()
    for i, n in enumerate(networks):
        field = f"networks[{i}]"
        if not isinstance(n, dict):
            raise Invalid(f"{field} must be a dict, got {_short(n)}")
        for key in ("kind", "channel", "state", "in_channels", "scale", "bp_iters"):
            if key not in n:
                raise Invalid(f"{field} has no {key!r}")
        if n["kind"] not in KINDS[mode]:
            raise Invalid(f"{field}.kind is {_short(n['kind'])}; a {mode} file holds {' and '.join(KINDS[mode])} "
                          "networks")
        if not _is_int(n["channel"]) or not 0 <= n["channel"] < n_channels:
            raise Invalid(f"{field}.channel is {_short(n['channel'])}; ranges has {n_channels} channel(s), "
                          f"so it must be an int from 0 to {n_channels - 1}")
        if (n["kind"], n["channel"]) in seen:
            raise Invalid(f"{field} is a second {n['kind']} network for channel {n['channel']}")
        seen.add((n["kind"], n["channel"]))
        if not _is_int(n["in_channels"]) or n["in_channels"] != in_channels:
            raise Invalid(f"{field}.in_channels is {_short(n['in_channels'])}; it must be {in_channels}")
        if any(v < 1 for v in _numbers(f"{field}.scale", n["scale"], 2)):
            raise Invalid(f"{field}.scale must be two factors >= 1, got {_short(n['scale'])}")
        if not _is_int(n["bp_iters"]) or not 0 <= n["bp_iters"] <= MAX_BP_ITERS:
            raise Invalid(f"{field}.bp_iters must be an int from 0 to {MAX_BP_ITERS}, got {_short(n['bp_iters'])}")
        _check_state(f"{field}.state", n["state"], in_channels, width, depth)


def _check_voxel_size(saved: dict) -> None:
    vs = saved.get("voxel_size")
    if vs is not None:
        values = _numbers("voxel_size", vs, len(saved["axes"]))
        if any(v <= 0 for v in values):
            raise Invalid(f"voxel_size must be positive sizes, got {values}")
    unit = saved.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise Invalid(f"unit must be None or a string, got {_short(unit)}")


def config_from(values: dict, device: str):
    """The ZSSRConfig a networks file's config describes, on ``device``."""
    values = dict(values)
    values["device"] = device
    if values.get("scale_factors") is not None:
        values["scale_factors"] = [tuple(s) for s in values["scale_factors"]]
    return ZSSRConfig(**values)
