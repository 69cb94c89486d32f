"""Resolving a stack run once: everything ``run_upscale`` was given checked and turned into one frozen
specification (plan, configuration with its device, preset and precision, the kernels of each stage,
the input's digests, the output), so that every error of the user's settings is raised before any work,
and the stages read one object instead of loose keyword arguments."""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from dataclasses import dataclass

import numpy as np

from ..core.checks import check_finite, check_output_size
from ..core.config import schedule_for
from ..core.precision import Precision, resolve_config, resolve_precision
from ..core.progress import QualityWarning, Stage
from . import networks as nets
from .blocks import Blocks, as_array, check_dtype, out_shape
from .inputs import ChannelStats, channel_stats, scan_input, source_of
from .kernel_choice import saved_kernels, stage_kernels, with_optics
from .plan import Plan, make_plan
from .runners import worker_device, worker_precision
from .store import check_not_input
from .units import Job


@dataclass(frozen=True)
class OutputSpec:
    """Where the result goes: a zarr store at ``path``, or an array in memory (``path`` None)."""

    path: str | None
    axes: str              # the result's axis order (TCZYX for OME-Zarr)
    dtype: np.dtype
    ome: bool
    overwrite: bool
    unit: str | None = None
    channel_meta: dict | None = None


@dataclass(frozen=True)
class RunSpec:
    """One resolved stack run. ``job`` holds the configuration and the kernel of each stage
    (``stack.kernel_choice.StageKernel``); those still to be read from the data are ``pending``."""

    plan: Plan
    src: Blocks
    final5: tuple
    job: Job
    device: str             # where the units run (a cluster's workers' kind of device)
    probe: dict             # what the precision probe measured ("auto" only)
    inputs: dict            # scan_input's digests ({} for an array in memory without a store)
    stats: tuple            # each channel's intensity mapping (a networks file's own, when one is applied)
    voxel_size: list | None
    fine_step: float | None  # the output grid's z step, in the voxel sizes' unit
    saved: dict | None      # a loaded networks file
    networks_digest: str
    output: OutputSpec
    save_networks: str | None

    @property
    def precision(self):
        """The network's precision on the run's device (dtype, autocast, scaler, layout)."""
        return Precision.of(self.job.cfg.precision, self.device)


def resolve_run(data, scale, *, axes=None, mode="auto", channel_axis=None, kernel=None, config=None,
                planes="shared", dtype=None, voxel_size=None, psf_voxel_size=None, out=None, overwrite=False,
                ome=None, unit=None, client=None, networks=None, save_networks=None, channel_meta=None,
                source=None, progress=None, uncertainty=False, optics=None) -> RunSpec:
    """Check and resolve ``run_upscale``'s arguments; the probes (preset, precision) come last, once
    everything else, the whole input included, is known good. ``progress`` hears what is being done
    (``doing``: checking, reading, probing) before any training starts."""
    say = progress or (lambda **_: None)
    say(force=True, stage=Stage.START, doing="checking")
    arr, plan, src, final5 = _checked_data(data, scale, axes, mode, channel_axis, planes)
    out_dtype = np.dtype(np.float32 if dtype is None else dtype)
    check_dtype(np.empty(0, out_dtype), "dtype")
    vs = voxel_sizes(voxel_size, len(arr.shape))
    if out is not None:
        check_not_input(out, source if source is not None else source_of(arr))
    if uncertainty:
        _check_uncertainty(networks, src.shape5)
    kernel = with_optics(kernel, optics)
    lateral, axial, fine_step = stage_kernels(kernel, plan, vs, psf_voxel_size, src.shape5[2], unit=unit,
                                              channels=src.shape5[0])
    # every plane is read once before any probe or training: a file that cannot be decoded fails now,
    # not hours in, and a store is resumed only for the very input it was begun with
    say(force=True, stage=Stage.START, doing="reading")
    inputs = scan_input(src, source) if out is not None or not isinstance(arr, np.ndarray) else {}
    stats = [channel_stats(src, c) for c in range(src.shape5[0])]
    say(force=True, stage=Stage.START, doing="probing")
    if callable(config):  # a config whose making may probe the device: only once the input is known good
        config = config()
    saved, config = _networks(plan, src, networks, save_networks, overwrite, config)
    cfg, probe, device = _device_config(config, client, plan, src)
    job, digest = _job(plan, cfg, lateral, axial, saved, networks, kernel, vs, unit)
    job = dataclasses.replace(job, uncertainty=bool(uncertainty))
    output = _output(out, plan, out_dtype, ome, overwrite, unit, channel_meta)
    return RunSpec(plan, src, final5, job, device, probe, inputs, _intensities(stats, saved), vs, fine_step, saved,
                   digest, output, save_networks)


def _check_uncertainty(networks, shape5) -> None:
    """What a model of the error needs, refused before any work: networks trained in this run, and planes
    big enough to fit it on."""
    from ..core.uncertainty import BLOCK, MIN_BLOCKS

    if networks is not None:
        raise ValueError("return_uncertainty needs networks trained in this run: a networks file holds no model of "
                         "their error (it is fitted on held-out pixels after training)")
    Y, X = shape5[3:]
    if min(Y, X) < 2 * BLOCK or Y * X < MIN_BLOCKS * BLOCK * BLOCK:
        raise ValueError(f"return_uncertainty needs planes of at least {2 * BLOCK} x {2 * BLOCK} and "
                         f"{MIN_BLOCKS * BLOCK * BLOCK} pixels to fit a model of the error on; these are {Y} x {X}")


def _intensities(stats, saved) -> tuple:
    """Each channel's mapping to the networks' units: a networks file's own, so time points stay comparable."""
    if saved is not None:
        stats = [ChannelStats(lo, span, st.constant, st.sample) for st, (lo, span) in zip(stats, saved["ranges"])]
    for c, st in enumerate(stats):
        if st.constant:
            warnings.warn(f"channel {c} is constant: it comes back interpolated", stacklevel=6)
    return tuple(stats)


def _checked_data(data, scale, axes, mode, channel_axis, planes) -> tuple:
    arr = as_array(data)
    check_dtype(arr)
    if len(arr.shape) < 2:
        raise ValueError(f"data must have at least 2 axes, got shape {arr.shape}")
    plan = make_plan(arr.shape, scale, axes, mode, channel_axis, planes)
    src = Blocks(arr, plan.axes)
    final5 = out_shape(src.shape5, plan)
    check_output_size(final5, "upscale")
    if math.prod(arr.shape) == 0 or min(arr.shape[plan.axes.index(a)] for a in "YX") < 2:
        raise ValueError(f"data is too small: shape {arr.shape} (Y and X need >= 2 pixels)")
    if isinstance(arr, np.ndarray):
        check_finite(arr, "data")
    return arr, plan, src, final5


def _networks(plan, src, networks, save_networks, overwrite, config) -> tuple:
    """The networks file to apply (loaded and checked against the plan) and the config it brings."""
    if networks is None and save_networks is None:
        return None, config

    if plan.planes != "shared":
        raise ValueError("saving or applying networks needs planes='shared' (one network per channel)")
    if save_networks is not None and os.path.exists(save_networks) and not overwrite:
        raise FileExistsError(f"{save_networks} exists; pass overwrite=True (--overwrite) to replace it")
    if networks is None:
        return None, config
    saved = nets.load_networks(networks)
    nets.check_fits(saved, plan, src.shape5[0], networks)
    return saved, nets.config_of(saved, config.device if config is not None else "auto")


def _device_config(config, client, plan, src) -> tuple:
    """The config with its preset and precision settled for the device the units run on: this machine's,
    or the cluster workers' (then chosen once, and every worker uses it)."""
    channels = src.shape5[0] if plan.joint else 1  # the network's input channels
    if client is not None:
        cfg, dev = resolve_config(config, worker_device(client, config.device if config is not None else "auto"))
    else:
        cfg, dev = resolve_config(config)
    if plan.mode in ("planes", "both"):
        schedule_for(cfg, plan.lateral_scale)  # an explicit scale_factors list is checked here, not on a worker
    if client is not None:
        return (*worker_precision(client, cfg, channels), dev.type)

    return (*resolve_precision(cfg, dev, channels), str(dev))


def _job(plan, cfg, lateral, axial, saved, networks, kernel, vs, unit) -> tuple:
    """The units' Job, with a networks file's own kernels where one is applied (back-projection must use
    what the networks learnt with), and the file's digest for the store's fingerprint."""
    if saved is None:
        return Job(plan, cfg, lateral, axial), ""

    if kernel is not None:
        warnings.warn("kernel is ignored when applying saved networks: their own kernel (as saved, estimated "
                      "or given) is used", stacklevel=5)
    note = nets.voxel_size_note(saved, vs, unit)
    if note:
        warnings.warn(note, QualityWarning, stacklevel=5)
    return Job(plan, cfg, *saved_kernels(saved, lateral, axial)), nets.digest(networks)


def _output(out, plan, dtype, ome, overwrite, unit, channel_meta) -> OutputSpec:
    if out is None:
        return OutputSpec(None, plan.axes, dtype, False, overwrite, unit, channel_meta)
    ome = str(out).rstrip("/").endswith(".ome.zarr") if ome is None else bool(ome)
    axes = "".join(a for a in "TCZYX" if a in plan.axes) if ome else plan.axes
    return OutputSpec(os.fspath(out), axes, dtype, ome, overwrite, unit, channel_meta)


def voxel_sizes(voxel_size, ndim):
    if voxel_size is None:
        return None
    vs = [float(v) for v in voxel_size]
    if len(vs) != ndim:
        raise ValueError(f"voxel_size needs one size per axis ({ndim}), got {len(vs)}")
    if not all(math.isfinite(v) and v > 0 for v in vs):
        raise ValueError(f"voxel sizes must be positive and finite, got {vs}")
    return vs
