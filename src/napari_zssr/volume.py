"""upscale(): ZSSR on n-D stacks: channels, time points, planes and anisotropic z made isotropic."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .core.checks import check_finite, check_numeric, seed_for
from .core.plan import Plan, make_plan

MAX_SOURCES = 16  # planes a shared network draws its fathers from (evenly spaced through the stack)


@dataclass
class UpscaleReport:
    plan: str
    preset: str = ""
    device: str = ""
    kernel: str = ""
    seconds: float = 0.0
    units: list = field(default_factory=list)  # one ZSSRReport per trained network

    @property
    def gain_db(self) -> float:
        gains = [u.gain_db for u in self.units if np.isfinite(u.gain_db)]
        return float(np.mean(gains)) if gains else float("nan")


def upscale(data, scale, *, axes=None, mode="auto", channel_axis=None, kernel=None, config=None, callback=None,
            planes="shared", dtype=None, voxel_size=None, psf_voxel_size=None) -> np.ndarray:
    """Enlarge a stack with ZSSR, one network per channel.

    Parameters
    ----------
    data : array_like
        2-D to 5-D; ``axes`` names its axes with T, C, Z, Y, X (default YX or ZYX).
    scale : sequence of float
        One factor per axis (1 = untouched; never on C or T), e.g. (4, 1, 1) for z x4.
    mode : "auto", "planes", "isotropic" or "both"
        planes: 2-D ZSSR on the YX planes; isotropic: z enlarged by a network trained on the
        lateral planes and applied to XZ and YZ planes; both: planes first, then isotropic.
        "auto" picks from the factors.
    kernel : None, str, array or float
        planes mode: the 2-D downscaling kernel (default bicubic). isotropic mode: the axial
        kernel, as a Gaussian sigma or a 1-D profile in output-grid pixels, or a 2-D/3-D PSF
        (z first) with ``psf_voxel_size`` and ``voxel_size``; default: the cubic stretched to f.
    planes : "shared" or "independent"
        planes mode: one network per channel trained on many planes, or one per plane.
    dtype : numpy dtype, optional
        Cast the result (integers are rounded and clipped); default float32.
    voxel_size : sequence of float, optional
        Physical size per axis; needed only to place a PSF on the output grid.

    Returns
    -------
    numpy.ndarray
        The enlarged stack in the input's axis order and intensity units.
    """
    return run_upscale(data, scale, axes=axes, mode=mode, channel_axis=channel_axis, kernel=kernel, config=config,
                       callback=callback, planes=planes, dtype=dtype, voxel_size=voxel_size,
                       psf_voxel_size=psf_voxel_size)[0]


def run_upscale(data, scale, *, axes=None, mode="auto", channel_axis=None, kernel=None, config=None, callback=None,
                planes="shared", dtype=None, voxel_size=None, psf_voxel_size=None):
    """As :func:`upscale`, returning ``(result, UpscaleReport)``."""
    from .core.axial import axial_kernel
    from .core.train import Progress
    from .core.zssr import check_kernel_2d, resolve_config

    t0 = time.perf_counter()
    arr = np.asarray(data)
    check_numeric(arr, "data")
    if arr.ndim < 2:
        raise ValueError(f"data must have at least 2 axes, got shape {arr.shape}")
    plan = make_plan(arr.shape, scale, axes, mode, channel_axis, planes)
    if arr.size == 0 or min(arr.shape[plan.axes.index(a)] for a in "YX") < 2:
        raise ValueError(f"data is too small: shape {arr.shape} (Y and X need >= 2 pixels)")
    check_finite(arr, "data")
    cfg, dev = resolve_config(config)
    out_dtype = np.dtype(np.float32 if dtype is None else dtype)

    lat_kernel = check_kernel_2d(kernel if plan.mode == "planes" else None)
    ax_kernel = None
    if plan.mode in ("isotropic", "both"):
        fine_step = None
        if voxel_size is not None:
            vs = [float(v) for v in voxel_size]
            if len(vs) != arr.ndim:
                raise ValueError(f"voxel_size needs one size per axis ({arr.ndim}), got {len(vs)}")
            fine_step = vs[plan.axes.index("Z")] / plan.z_factor
        ax_kernel = axial_kernel(kernel, plan.z_factor, fine_step, psf_voxel_size)

    report = UpscaleReport(plan=plan.describe(), preset=cfg.preset_name,
                           kernel=ax_kernel.name if ax_kernel is not None else lat_kernel.name)
    progress = Progress(callback, {"plan": report.plan, "preset": cfg.preset_name})
    canon, perm = _canonical(arr, plan)
    out_shape = _canonical_out_shape(canon.shape, plan)
    out = np.empty(out_shape, dtype=np.float32)
    for c in range(canon.shape[0]):
        progress.base.update(unit=c + 1, units=canon.shape[0])
        _channel(canon[c], out[c], plan, cfg, dev, lat_kernel, ax_kernel, progress, report, c)
    report.seconds = time.perf_counter() - t0
    if report.units and not report.gain_db > 0:
        warnings.warn(f"ZSSR did not beat cubic interpolation on the data's own pairs (gain {report.gain_db:.2f} dB)",
                      stacklevel=3)
    progress(force=True, stage="done", seconds=report.seconds, gain_db=report.gain_db)
    result = _restore(out, plan, perm)
    if out_dtype != np.float32:
        from .io import cast_result

        result = cast_result(result, out_dtype)
    return result, report


def _canonical(arr, plan: Plan):
    """A view (C, T, Z, Y, X) of the data with size-1 axes where the data has none."""
    order = [plan.axes.index(a) for a in "CTZYX" if a in plan.axes]
    view = np.transpose(arr, order)
    shape = list(view.shape)
    present = [a for a in "CTZYX" if a in plan.axes]
    full = [shape[present.index(a)] if a in present else 1 for a in "CTZYX"]
    return view.reshape(full), order


def _canonical_out_shape(shape, plan: Plan):
    from .core.axial import fine_length
    from .core.resize import _ceil

    C, T, Z, Y, X = shape
    sy, sx = plan.lateral_scale
    if plan.mode in ("planes", "both"):
        Y, X = _ceil(Y * sy), _ceil(X * sx)
    if plan.mode in ("isotropic", "both"):
        Z = fine_length(Z, plan.z_factor)
    return (C, T, Z, Y, X)


def _restore(out, plan: Plan, order):
    present = [a for a in "CTZYX" if a in plan.axes]
    squeezed = out.reshape([out.shape["CTZYX".index(a)] for a in present])
    return np.transpose(squeezed, np.argsort(order))


def _channel(vol, out, plan, cfg, dev, lat_kernel, ax_kernel, progress, report, c):
    """Enlarge one channel (T, Z, Y, X) into ``out`` (T, Z', Y', X')."""
    from .core.zssr import channel_range

    lo, span, constant = channel_range(vol)
    if constant:
        warnings.warn(f"channel {c} is constant: it comes back interpolated", stacklevel=4)
        out[...] = float(vol.flat[0])
        return
    T, Z, Y, X = vol.shape
    x = vol.astype(np.float32)  # the one working copy of the channel; normalised in place
    x -= np.float32(lo)
    x /= np.float32(span)
    if plan.mode in ("planes", "both"):
        x = _planes(x, plan, cfg, dev, lat_kernel, progress, report, c,
                    target=out if plan.mode == "planes" else None)
    if plan.mode in ("isotropic", "both"):
        _isotropic(x, out, plan, cfg, dev, ax_kernel, progress, report, c)
    out *= np.float32(span)
    out += np.float32(lo)


def _sources(planes, n=MAX_SOURCES):
    idx = np.unique(np.linspace(0, len(planes) - 1, min(n, len(planes))).round().astype(int))
    return [planes[i] for i in idx]


def _planes(x, plan, cfg, dev, kern, progress, report, c, target=None):
    import torch

    from .core.zssr import ZSSRReport, start_report, train_zssr

    T, Z, Y, X = x.shape
    flat = x.reshape(T * Z, Y, X)
    scale = plan.lateral_scale
    result = target if target is not None else np.empty((T, Z) + _canonical_out_shape((1, 1, 1, Y, X), plan)[3:],
                                                         np.float32)
    res_flat = result.reshape(T * Z, *result.shape[2:])
    tensors = lambda i: torch.as_tensor(flat[i][None], device=dev)  # noqa: E731
    model = None
    for i in range(T * Z):
        if model is None or plan.planes == "independent":
            rep: ZSSRReport = start_report(cfg, dev, scale, kern.name, progress, report.plan)
            srcs = [tensors(j) for j in (_sources(range(T * Z)) if plan.planes == "shared" else [i])]
            unit = c if plan.planes == "shared" else c * 1_000_003 + i
            model = train_zssr(srcs, scale, kern, cfg, dev, progress, seed_for(cfg.seed, unit), rep)
            report.units.append(rep)
            report.device = rep.device
        t1 = time.perf_counter()
        res_flat[i] = model.predict(tensors(i))[0].to("cpu", torch.float32).numpy()
        report.units[-1].infer_seconds += time.perf_counter() - t1
        progress(stage="infer", plane=i + 1, planes=T * Z)
    return result


def _isotropic(x, out, plan, cfg, dev, kern, progress, report, c):
    import torch

    from .core.infer import default_tile_pixels
    from .core.isotropic import restore_volume, train_isotropic
    from .core.zssr import start_report

    T, Z, Y, X = x.shape
    lateral = [torch.as_tensor(x[t, z][None], device=dev) for t, z in _sources([(t, z) for t in range(T)
                                                                                 for z in range(Z)])]
    rep = start_report(cfg.replace(scale_factors=None, gradual_steps=1), dev, (plan.z_factor, 1.0),
                       kern.name, progress, report.plan)
    net = train_isotropic(lateral, plan.z_factor, kern, cfg, dev, progress, seed_for(cfg.seed, 1_000_000 + c), rep)
    report.units.append(rep)
    report.device = rep.device
    tile = default_tile_pixels(cfg, dev)
    t1 = time.perf_counter()
    for t in range(T):
        restore_volume(net, x[t], plan.z_factor, kern, cfg, dev, tile, out[t],
                       check=lambda: progress(stage="infer", volume=t + 1, volumes=T))
    rep.infer_seconds += time.perf_counter() - t1
