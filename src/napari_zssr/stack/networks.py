"""Trained networks saved to a file and applied to other files or time points of the same acquisition.

The file (``torch.save`` of plain types and tensors, loaded with ``weights_only=True``) holds, per
channel, each network's weights, the intensity range it was trained in, and the plan, config
and kernel of the run, so applying it reproduces the original run's mapping exactly.
"""

from __future__ import annotations

import hashlib
import os

from .. import __version__
from ..core.axial import AxialKernel
from ..core.resize import Kernel
from ..io import atomic_write
from ..io.units import length_unit
from .networks_checks import Invalid, check_saved, config_from

FORMAT = "napari-zssr networks 1"


def save_networks(path, models: dict, job, kernel: str, stats, overwrite: bool = False, voxel_size=None,
                  unit=None) -> None:
    """Write ``models`` ({(kind, channel): TrainedNetwork}) with what applying them needs, atomically:
    the kernels themselves too (back-projection uses them), not only their names; and the voxel sizes
    they were trained at, where known, so that applying them elsewhere can say when those differ."""
    import torch

    if not models:
        raise ValueError("no networks were trained in this run (every unit was already done or constant): "
                         "nothing to save")
    plan, cfg = job.plan, job.cfg
    lat, ax = job.lat_kernel, job.ax_kernel
    lats, axs = (() if k is None else k.per_channel for k in (job.lateral, job.axial))
    payload = {
        "format": FORMAT, "version": __version__, "axes": plan.axes, "scale": [float(v) for v in plan.scale],
        "mode": plan.mode, "config": _plain(cfg.to_dict()), "kernel": kernel,
        "lateral_kernel": None if lat is None else {
            "name": lat.name, "array": None if lat.array is None else torch.from_numpy(lat.array.copy())},
        "axial_kernel": None if ax is None else {"name": ax.name, "taps": torch.from_numpy(ax.taps.copy())},
        # kernel="estimate": each channel's own profile
        "axial_kernels": [{"name": k.name, "taps": torch.from_numpy(k.taps.copy())} for k in axs],
        "lateral_kernels": [{"name": k.name, "array": None if k.array is None else torch.from_numpy(k.array.copy())}
                            for k in lats],
        "ranges": [[float(s.lo), float(s.span)] for s in stats],
        "voxel_size": None if voxel_size is None else [float(v) for v in voxel_size],
        "unit": None if unit is None else str(unit),
        "networks": [{"kind": kind, "channel": int(c), "state": m.state, "in_channels": int(m.channels),
                      "scale": [float(v) for v in m.scale], "bp_iters": int(m.bp_iters)}
                     for (kind, c), m in sorted(models.items())],
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp), overwrite=overwrite)


def load_networks(path) -> dict:
    """The saved run, checked to be one of ours; read once while the file stays as it is (the CLI's checks
    before a run and the run itself ask for it)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such networks file: {path}")
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_mtime_ns, st.st_size)
    if _loaded.get("key") != key:
        _loaded.clear()
        _loaded.update(key=key, saved=_load(path))
    return _loaded["saved"]


_loaded: dict = {}  # the last file read: runs apply one file many times, never many at once


def _load(path) -> dict:
    import torch

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle and zip errors alike mean "not our file"
        raise ValueError(f"{path} is not a napari-zssr networks file ({type(exc).__name__}: {exc})") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"{path} is not a napari-zssr networks file (format {FORMAT!r})")

    try:
        check_saved(saved)
    except Invalid as exc:
        raise ValueError(f"{path} is not a valid napari-zssr networks file: {exc}") from None
    return saved


def check_fits(saved: dict, plan, n_channels: int, path) -> None:
    """The saved networks must have been trained for this plan: same axes, factors, mode, channels."""
    same_scale = len(saved["scale"]) == len(plan.scale) and all(
        abs(a - b) <= 1e-9 * max(1.0, abs(b)) for a, b in zip(saved["scale"], plan.scale))
    if saved["axes"] != plan.axes or not same_scale or saved["mode"] != plan.mode:
        raise ValueError(f"the networks in {path} were trained for axes {saved['axes']}, factors {saved['scale']}, "
                         f"{saved['mode']} mode; this run is axes {plan.axes}, factors {list(plan.scale)}, "
                         f"{plan.mode} mode")
    if len(saved["ranges"]) != n_channels:
        raise ValueError(f"the networks in {path} are for {len(saved['ranges'])} channel(s); the data has "
                         f"{n_channels}")


def voxel_size_note(saved: dict, voxel_size, unit) -> str:
    """Why applying ``saved`` to data of ``voxel_size`` may not reproduce its quality, or "" where the sizes
    agree (within 1 %) or either is unknown: the networks learnt the structure at their own pixel size."""
    def same_unit(a, b):
        return a == b or (a is not None and b is not None and (length_unit(a) or a) == (length_unit(b) or b))

    was = saved.get("voxel_size")
    if was is None or voxel_size is None or len(was) != len(voxel_size) or not same_unit(saved.get("unit"), unit):
        return ""
    if all(abs(a - b) <= 0.01 * max(abs(a), abs(b)) for a, b in zip(was, voxel_size)):
        return ""
    return (f"the networks were trained at voxel sizes {was} {unit or ''} and this data has {list(voxel_size)}: "
            f"the structure they learnt is at another scale, so the result may be worse than a run trained on it")


def models_of(saved: dict) -> dict:
    """{(kind, channel): TrainedNetwork} rebuilt from a loaded file."""
    # imports torch at its top: here, so that importing this module does not
    from ..core.network import TrainedNetwork

    cfg = saved["config"]
    return {(n["kind"], n["channel"]): TrainedNetwork.from_state(n["kind"], n["state"], n["scale"], n["bp_iters"],
                                                                 cfg["width"], cfg["depth"], cfg["learn_residual"])
            for n in saved["networks"]}


def kernels_of(saved: dict) -> tuple:
    """(lateral, axial, per-channel axial, per-channel lateral) kernels of the saving run, as its units
    used them (None, or an empty tuple, where a stage or an estimate was absent)."""
    lat, ax = saved.get("lateral_kernel"), saved.get("axial_kernel")

    def lateral_of(k):
        return None if k is None else (Kernel(k["name"]) if k["array"] is None else
                                       Kernel(k["array"].numpy(), ndim_max=2).named(k["name"]))

    axial = None if ax is None else AxialKernel(ax["taps"].numpy(), ax["name"])
    per_channel = tuple(AxialKernel(k["taps"].numpy(), k["name"]) for k in saved.get("axial_kernels") or [])
    per_channel_lat = tuple(lateral_of(k) for k in saved.get("lateral_kernels") or [])
    return lateral_of(lat), axial, per_channel, per_channel_lat


def digest(path) -> str:
    """A fingerprint of a networks file's content, for the job id of a store that applies it."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def config_of(saved: dict, device: str):
    return config_from(saved["config"], device)


def _plain(value):
    """Lists and dicts of numbers and strings only (what a weights-only load accepts)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
