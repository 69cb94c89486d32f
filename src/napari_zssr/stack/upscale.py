"""upscale(): ZSSR on n-D stacks: channels, time points, planes and anisotropic z made isotropic."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .. import __version__
from ..core.checks import check_finite, check_output_size, seed_for
from ..core.progress import Progress, UpscaleReport, ZSSRReport
from ..io.ngff_write import ome_metadata
from .blocks import Blocks, as_array, check_dtype, out_shape, shape_for
from .plan import Plan, make_plan
from .runners import InProcess, OnDask, Target
from .store import OutputStore, check_not_input

MAX_SOURCES = 16  # planes a shared network draws its fathers from (evenly spaced through the stack)


def upscale(data, scale, *, axes=None, mode="auto", channel_axis=None, kernel=None, config=None, callback=None,
            planes="shared", dtype=None, voxel_size=None, psf_voxel_size=None, out=None, overwrite=False, ome=None,
            unit=None, client=None, networks=None, save_networks=None):
    """Enlarge a stack with ZSSR, one network per channel.

    Parameters
    ----------
    data : array_like
        2-D to 5-D; ``axes`` names its axes with T, C, Z, Y, X (default YX or ZYX), or S for the
        colour samples of an RGB(A) image, which share one network (planes mode).
    scale : sequence of float
        One factor per axis (1 = untouched; never on C, S or T), e.g. (4, 1, 1) for z x4.
    mode : "auto", "planes", "isotropic" or "both"
        planes: 2-D ZSSR on the YX planes; isotropic: z enlarged by a network trained on the
        lateral planes and applied to XZ and YZ planes; both: planes first, then isotropic.
        "auto" picks from the factors.
    kernel : None, str, array or float
        planes mode: the 2-D downscaling kernel (default bicubic). isotropic mode: the axial
        kernel, as a Gaussian sigma or a 1-D profile in output-grid pixels, or a 2-D/3-D PSF
        (z first) with ``psf_voxel_size`` and ``voxel_size``; default (None): the axial profile
        read from the data, per channel, or the cubic stretched to f where it cannot be read (a
        note says so); "cubic": the cubic stretched to f, always. "estimate": read from the data,
        per channel (reported), with a QualityWarning where it cannot be: planes mode the 2-D
        kernel from the channel's planes, isotropic mode the axial profile, both mode each for
        its stage.
    planes : "shared" or "independent"
        planes mode: one network per channel trained on many planes, or one per plane.
    dtype : numpy dtype, optional
        Cast the result (integers are rounded and clipped); default float32.
    voxel_size : sequence of float, optional
        Physical size per axis; places a PSF on the output grid and goes into OME-Zarr metadata.
    out : str or path, optional
        A zarr store to write the result into as units finish (memory stays bounded whatever the
        stack size); it is built as ``<out>.partial`` and renamed when complete, and a rerun of the
        same job resumes there, skipping finished planes. The finished zarr array is returned.
    overwrite : bool
        Replace an existing ``out`` that holds something else (never done silently).
    ome : bool, optional
        Write OME-Zarr (NGFF 0.4: axes in TCZYX order, voxel sizes divided by the factors);
        default: when ``out`` ends in ``.ome.zarr``.
    unit : str, optional
        Unit of ``voxel_size`` for the OME-Zarr metadata, e.g. "micrometer".
    client : dask.distributed.Client, optional
        Run the units (one training per channel, inference per plane or slab) on its cluster.
    save_networks : str or path, optional
        Save the trained networks (one per channel and stage), their intensity ranges, config and
        kernel to this file (``overwrite`` applies).
    networks : str or path, optional
        Apply networks saved by an earlier run instead of training (same axes, factors, mode and
        channels; another file or time point of the same acquisition): their config and intensity
        ranges are used, only ``config.device`` is taken from ``config``.

    ``data`` may be a numpy, dask or zarr array: dask and zarr arrays are read plane by plane or
    slab by slab, never whole.

    Returns
    -------
    numpy.ndarray or zarr.Array
        The enlarged stack in the input's axis order (TCZYX order for OME-Zarr) and intensity
        units; the zarr array when ``out`` is given (``dask.array.from_zarr`` makes it lazy).
    """
    return run_upscale(data, scale, axes=axes, mode=mode, channel_axis=channel_axis, kernel=kernel, config=config,
                       callback=callback, planes=planes, dtype=dtype, voxel_size=voxel_size,
                       psf_voxel_size=psf_voxel_size, out=out, overwrite=overwrite, ome=ome, unit=unit,
                       client=client, networks=networks, save_networks=save_networks)[0]


def run_upscale(data, scale, *, axes=None, mode="auto", channel_axis=None, kernel=None, config=None, callback=None,
                planes="shared", dtype=None, voxel_size=None, psf_voxel_size=None, out=None, overwrite=False,
                ome=None, unit=None, client=None, networks=None, save_networks=None, channel_meta=None, source=None):
    """As :func:`upscale`, returning ``(result, UpscaleReport)``; ``config`` may also be a function that makes
    the ZSSRConfig (called once the input is checked, so that a probe it runs comes after every check
    of the input); ``channel_meta`` may hold the source's
    ``channel_names`` and ``channel_colors`` for an OME-Zarr result's omero block; ``source`` is the path
    the data was read from (an ``out`` that is it, or inside it, is refused)."""
    from ..core.axial import axial_kernel
    from ..core.config import schedule_for
    from ..core.zssr import check_kernel_2d, is_estimate, resolve_config
    from .units import Job

    t0 = time.perf_counter()
    with contextlib.ExitStack() as held:  # the output lock, released however the run ends
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
        if out is not None:
            check_not_input(out, source if source is not None else _source_of(arr))
        # every plane is read once before any probe or training: a file that cannot be decoded fails now,
        # not hours in, and a store is resumed only for the very input it was begun with
        inputs = scan_input(src, source) if out is not None or not isinstance(arr, np.ndarray) else {}
        if callable(config):  # a config whose making may probe the device: only once the input is known good
            config = config()
        saved = None
        if networks is not None or save_networks is not None:
            from . import networks as nets

            if plan.planes != "shared":
                raise ValueError("saving or applying networks needs planes='shared' (one network per channel)")
            if save_networks is not None and os.path.exists(save_networks) and not overwrite:
                raise FileExistsError(f"{save_networks} exists; pass overwrite=True (--overwrite) to replace it")
            if networks is not None:
                saved = nets.load_networks(networks)
                nets.check_fits(saved, plan, src.shape5[0], networks)
                config = nets.config_of(saved, config.device if config is not None else "auto")
        estimate = is_estimate(kernel)
        # the axial default is the profile read from the data (docs/benchmarks.md: never worse than the
        # stretched cubic in any blind 3-D cell); the 2-D default stays bicubic, the paper's
        estimate_axial = (estimate or kernel is None) and saved is None
        channels = src.shape5[0] if plan.joint else 1  # the network's input channels
        if client is not None:  # the workers' devices decide the "auto" preset and precision, not this machine's
            from .runners import worker_device, worker_precision

            cfg, _ = resolve_config(config, worker_device(client, config.device if config is not None else "auto"))
        else:
            cfg, dev = resolve_config(config)
        if plan.mode in ("planes", "both"):
            schedule_for(cfg, plan.lateral_scale)  # an explicit scale_factors list is checked here, not on a worker
        if client is not None:
            cfg, probe = worker_precision(client, cfg, channels)  # chosen once, every worker uses it
        else:
            from ..core.precision import resolve_precision

            cfg, probe = resolve_precision(cfg, dev, channels)
        out_dtype = np.dtype(np.float32 if dtype is None else dtype)
        check_dtype(np.empty(0, out_dtype), "dtype")
        vs = _voxel_size(voxel_size, len(arr.shape))

        lat_kernel = check_kernel_2d(kernel if plan.mode == "planes" and not estimate else None)
        ax_kernel = None
        if plan.mode in ("isotropic", "both"):
            fine_step = vs[plan.axes.index("Z")] / plan.z_factor if vs is not None else None
            ax_kernel = axial_kernel(None if estimate else kernel, plan.z_factor, fine_step, psf_voxel_size,
                                 n_planes=src.shape5[2])
        net_digest = ""
        if saved is not None:  # the saving run's kernels: back-projection must use what the networks learnt with
            if kernel is not None:
                warnings.warn("kernel is ignored when applying saved networks: their own kernel (as saved, estimated "
                              "or given) is used", stacklevel=3)
            saved_lat, saved_ax, saved_axs, saved_lats = nets.kernels_of(saved)
            lat_kernel = saved_lat or lat_kernel
            ax_kernel = saved_ax or ax_kernel
            net_digest = nets.digest(networks)
            note = nets.voxel_size_note(saved, vs, unit)
            if note:
                from ..core.progress import QualityWarning

                warnings.warn(note, QualityWarning, stacklevel=3)
        job = Job(plan, cfg, lat_kernel, ax_kernel, saved_axs if saved is not None else (),
                  saved_lats if saved is not None else ())
        report = UpscaleReport(plan=plan.describe(), preset=cfg.preset_name, precision=cfg.precision, precision_probe=probe,
                               kernel=ax_kernel.name if ax_kernel is not None else lat_kernel.name)
        progress = Progress(callback, {"plan": report.plan, "preset": cfg.preset_name})
        if estimate_axial and plan.mode == "isotropic":
            job, estimated = _estimate_axial(job, src, fine_step, progress, asked=estimate)
            _report_axial(report, job, estimated)
        stats = [_channel_stats(src, c) for c in range(src.shape5[0])]
        given = None
        if saved is not None:  # the networks' own intensity mapping, so time points stay comparable
            stats = [ChannelStats(lo, span, st.constant, st.sample) for st, (lo, span) in
                     zip(stats, saved["ranges"])]
            given = nets.models_of(saved)
            report.kernel = saved["kernel"]
        for c, st in enumerate(stats):
            if st.constant:
                warnings.warn(f"channel {c} is constant: it comes back interpolated", stacklevel=3)
        if cfg.noise_std == "estimate":  # one level for the run, from the planes the networks train on
            from ..core.zssr import with_estimated_noise

            planes = [_plane(_read(src, stats, c, t, slice(z, z + 1))) for c in range(len(stats)) for t, z in
                      stats[c].sample]
            cfg, report.estimated_noise = with_estimated_noise(cfg, planes)
            job = dataclasses.replace(job, cfg=cfg)
        if estimate and saved is None and plan.mode in ("planes", "both"):
            job = _estimate_lateral(job, src, stats, report, vs, progress)
        report.config = job.cfg.to_dict()

        from .units import unit_grid

        mid5 = out_shape(src.shape5, Plan(plan.axes, plan.scale, "planes", plan.planes)) if plan.mode == "both" else None
        grids = {}
        if plan.mode in ("planes", "both"):
            grids["planes"] = unit_grid("planes", src.shape5, cfg)
        if plan.mode in ("isotropic", "both"):
            grids["isotropic"] = unit_grid("isotropic", mid5 or src.shape5, cfg)
        final_grid = grids["isotropic" if plan.mode != "planes" else "planes"]
        store, result = None, None
        if out is None:
            out_axes = plan.axes
            dest = Blocks(np.empty(shape_for(out_axes, final5), out_dtype), out_axes)
        else:
            ome = str(out).rstrip("/").endswith(".ome.zarr") if ome is None else bool(ome)
            out_axes = "".join(a for a in "TCZYX" if a in plan.axes) if ome else plan.axes
            # both mode reads its axial profile after the planes stage, so the id cannot hold the profile itself:
            # it says that one will be read, so a default store is never taken for a "cubic" one or the reverse
            later = "|axial profile read after the planes stage" if estimate_axial and plan.mode == "both" else ""
            store = OutputStore(out, _job_id(job, arr, out_dtype, out_axes, net_digest + later), overwrite, inputs)
            held.callback(store.release)
            result = store.existing_result()
            if result is not None:
                report.seconds = time.perf_counter() - t0
                report.reused = store.path
                report.notes.append(f"reused the finished result in {store.path}; nothing was trained (the input "
                                    f"and settings are those it was made from)")
                progress(force=True, stage="done", seconds=report.seconds, skipped=True)
                return result, report
            meta = _ome(plan, out_axes, vs, unit) if ome else None
            dest = Blocks(store.open(shape_for(out_axes, final5), shape_for(out_axes, final_grid.chunks(final5)), out_dtype,
                                     out_axes, {"version": __version__, "plan": report.plan, "preset": cfg.preset_name,
                                                "config": cfg.to_dict(), "factors": dict(zip(plan.axes, plan.scale)),
                                                "kernel": report.kernel}, meta), out_axes)

        runner = OnDask(client, progress) if client is not None else InProcess(progress)
        try:
            _fill_constant(dest, stats, final5)
            live = [c for c, st in enumerate(stats) if not st.constant]
            if plan.joint:  # one network over all colours, unit channel 0; a constant colour is learnt with the rest
                live = [0] if live else []
            if plan.mode == "planes":
                _planes_stage(runner, job, grids["planes"], src, stats, dest, _flags(store, "done_planes", grids["planes"]),
                              live, report, progress, denorm=True, given=given)
            elif plan.mode == "isotropic":
                _isotropic_stage(runner, job, grids["isotropic"], src, stats, dest,
                                 _flags(store, "done_z", grids["isotropic"]), live, report, progress, given=given)
            else:
                mid = Blocks(store.scratch("planes", mid5, grids["planes"].chunks(mid5)) if store is not None
                             else np.empty(mid5, np.float32), "CTZYX")
                _planes_stage(runner, job, grids["planes"], src, stats, mid, _flags(store, "done_planes", grids["planes"]),
                              live, report, progress, denorm=False, given=given)
                if estimate_axial:  # the axial profile on the isotropic stage's own grid: the planes' result
                    job, estimated = _estimate_axial(job, mid, fine_step, progress, asked=estimate)
                    _report_axial(report, job, estimated)
                unit_stats = [ChannelStats(0.0, 1.0, st.constant, st.sample) for st in stats]
                _isotropic_stage(runner, job, grids["isotropic"], mid, unit_stats, dest,
                                 _flags(store, "done_z", grids["isotropic"]), live, report, progress, out_stats=stats,
                                 given=given)
        except BaseException:
            runner.cancel()
            raise
        finally:
            runner.close()
        report.device = report.units[-1].device if report.units else ""
        if plan.mode in ("isotropic", "both"):
            _check_axial_spectrum(report, dest, range(len(stats)) if plan.joint else live, plan.z_factor, stats)
        report.seconds = time.perf_counter() - t0
        if report.units and np.isfinite(report.gain_db) and not report.gain_db > 0:
            from ..core.progress import QualityWarning

            hint = ("; try kernel='estimate' or give the PSF" if job.ax_kernel is not None and not job.ax_kernels
                    else "; give the kernel or the PSF if you know it")
            from ..core.quality import gain_words

            warnings.warn(f"ZSSR did not beat cubic interpolation {gain_words(report.gain_held_out)} "
                          f"(gain {report.gain_db:.2f} dB): "
                          f"the result may be no better than interpolation{hint}", QualityWarning, stacklevel=3)
        if save_networks is not None:
            from . import networks as nets

            nets.save_networks(save_networks, report.networks, job, report.kernel, stats, overwrite, vs, unit)
        if store is not None:
            if meta is not None:  # OME-Zarr: a pyramid and display settings, so that viewers open it fast
                from ..io.ngff_write import add_pyramid

                add_pyramid(store.group, out_axes, channels=channel_meta)
            result = store.finish({"seconds": report.seconds, "device": report.device, "gain_db": report.gain_db,
                                   "steps": [u.steps for u in report.units]})
        else:
            result = dest.array
            _check_result(result)
        progress(force=True, stage="done", seconds=report.seconds, gain_db=report.gain_db)
        return result, report


@dataclass
class ChannelStats:
    lo: float
    span: float
    constant: bool
    sample: list   # the (t, z) planes read for the statistics; they are also the training sources


def _channel_stats(src: Blocks, c: int) -> ChannelStats:
    """The channel's intensity range from evenly spaced planes, as the networks see them."""
    from ..core.zssr import channel_range

    _, T, Z = src.shape5[:3]
    where = _sources([(t, z) for t in range(T) for z in range(Z)])
    planes = []
    for t, z in where:
        p = src.plane(c, t, z)
        check_finite(p, f"data (channel {c}, time {t}, plane {z})")
        planes.append(p)
    lo, span, constant = channel_range(np.stack(planes))
    return ChannelStats(lo, span, constant, where)


SCAN_BYTES = 64 << 20  # the input is read for its digests in blocks of about this many bytes


def scan_input(src: Blocks, source=None) -> dict:
    """A digest of every (channel, time) volume of the input, read block by block; the blocks are also
    checked to decode and to be finite, so a damaged file fails before any training."""
    C, T, Z, Y, X = src.shape5
    step = _z_step(src, SCAN_BYTES // max(1, Y * X * np.dtype(src.array.dtype).itemsize))
    volumes = {}
    for c in range(C):
        for t in range(T):
            h = hashlib.blake2b(digest_size=16)
            for z in range(0, Z, step):
                block = _read_raw(src, c, t, z, min(Z, z + step), source)
                h.update(np.ascontiguousarray(block).tobytes())
            volumes[f"channel {c}, time {t}"] = h.hexdigest()
    return {"shape": list(src.array.shape), "dtype": str(np.dtype(src.array.dtype)), "volumes": volumes}


def _z_step(src: Blocks, most: int) -> int:
    """Planes per read: the array's own chunk depth along Z (each chunk is decoded once), at most ``most``."""
    Z = src.shape5[2]
    chunks = getattr(src.array, "chunks", None)
    if "Z" in src.axes and chunks is not None:
        along = chunks[src.axes.index("Z")]
        depth = max(along) if isinstance(along, tuple) else int(along)  # dask: a tuple of chunk lengths
        return max(1, min(Z, depth, most))
    return max(1, min(Z, most)) if isinstance(src.array, np.ndarray) else 1  # unknown chunking: plane by plane


def _read_raw(src: Blocks, c, t, z0, z1, source) -> np.ndarray:
    where = f"channel {c}, time {t}, planes {z0}-{z1 - 1}"
    try:
        block = src.read(c, t, slice(z0, z1))
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - decoders raise many kinds for a damaged chunk or page
        raise ValueError(f"cannot read {source or 'the input'} at {where}: {type(exc).__name__}: {exc}") from None
    if np.issubdtype(block.dtype, np.floating):
        check_finite(block, f"data ({where})")
    return block


def _source_of(arr):
    """The local path a zarr array was opened from (None for other arrays and remote stores)."""
    store = getattr(arr, "store", None)
    root = getattr(store, "root", None)
    if root is None:
        return None
    return os.path.join(os.fspath(root), *[p for p in str(getattr(arr, "path", "")).split("/") if p])


def _read(src: Blocks, stats, c, t, zs=slice(None), ys=slice(None), xs=slice(None), joint=False) -> np.ndarray:
    """A block in the units the networks see: (value - lo) / span per channel, float32; (Z, Y, X) of
    channel ``c``, or (C, Z, Y, X) of every channel for a ``joint`` (RGB) plan."""
    block = src.read(slice(None) if joint else c, t, zs, ys, xs)
    if not isinstance(src.array, np.ndarray) and np.issubdtype(block.dtype, np.floating):
        check_finite(block, f"data (channel {c}, time {t})")
    x = block.astype(np.float32)
    for i, st in (enumerate(stats) if joint else [(None, stats[c])]):
        if (st.lo, st.span) != (0.0, 1.0):
            part = x if i is None else x[i]
            part -= np.float32(st.lo)
            part /= np.float32(st.span)
    return x


def _plane(x: np.ndarray) -> np.ndarray:
    """The one plane of a (Z=1, Y, X) or (C, Z=1, Y, X) block: (Y, X) or (C, Y, X)."""
    return x[..., 0, :, :]


def _range(stats, c, joint: bool, denorm: bool):
    """(lo, span) that map a unit's result back to input units: per channel for a joint plan."""
    if not denorm:
        return 0.0, 1.0
    if joint:
        return (np.array([st.lo for st in stats], np.float32)[:, None, None, None],
                np.array([st.span for st in stats], np.float32)[:, None, None, None])
    return stats[c].lo, stats[c].span


def _planes_stage(runner, job, grid, src, stats, dest, flags, channels, report, progress, denorm: bool, given=None):
    from .units import apply_plane, train_lateral

    cfg, plan = job.cfg, job.plan
    _, T, Z = src.shape5[:3]
    joint = plan.joint

    def region(c, t, z):
        return slice(None) if joint else c, t, slice(z, z + 1), slice(None), slice(None)

    todo = _todo(grid, channels, flags, dest, region, report)
    shared = plan.planes == "shared"
    trains = _train_channels(runner, job, src, stats, todo, progress, given, "lateral", train_lateral, 0) \
        if shared else {}

    def unit(c, t, z):
        plane = _plane(_read(src, stats, c, t, slice(z, z + 1), joint=joint))
        if shared:
            model = runner.model(trains[c])
        else:
            i = t * Z + z
            progress.base.update(unit=c * T * Z + i + 1, units=len(stats) * T * Z)
            trains[c, i] = runner.submit(train_lateral, job.for_channel(c), [plane],
                                         seed_for(cfg.seed, c * 1_000_003 + i))
            model = runner.model(trains[c, i])
        lo, span = _range(stats, c, joint, denorm)
        target = Target(dest, region(c, t, z), lo, span, dest.array.dtype if denorm else np.float32,
                        None if flags is None else (flags, (c, t, z)))
        return runner.submit(apply_plane, job.for_channel(c), model, plane, target=target)

    seconds = _stream(runner, todo, unit, progress, "plane")
    _collect_reports(runner, trains, report, seconds, (lambda k: k[0]) if shared else (lambda k: (k[0], k[1] * Z + k[2])),
                     "lateral" if shared else None)


def _isotropic_stage(runner, job, grid, src, stats, dest, flags, channels, report, progress, out_stats=None,
                     given=None):
    from .units import apply_slab, train_axial

    cfg = job.cfg
    out_stats = stats if out_stats is None else out_stats
    Y = src.shape5[3]

    def region(c, t, k):
        return c, t, slice(None), slice(*grid.rows_of(k)), slice(None)

    todo = _todo(grid, channels, flags, dest, region, report)
    trains = _train_channels(runner, job, src, stats, todo, progress, given, "axial", train_axial, 1_000_000)

    def unit(c, t, k):
        a, b = grid.rows_of(k)
        lo_row, hi_row = max(0, a - cfg.depth), min(Y, b + cfg.depth)
        slab = _read(src, stats, c, t, slice(None), slice(lo_row, hi_row))
        st = out_stats[c]
        target = Target(dest, region(c, t, k), st.lo, st.span, dest.array.dtype,
                        None if flags is None else (flags, (c, t, k)))
        return runner.submit(apply_slab, job.for_channel(c), runner.model(trains[c]), slab, a - lo_row, b - a,
                             target=target)

    seconds = _stream(runner, todo, unit, progress, "slab")
    _collect_reports(runner, trains, report, seconds, lambda k: k[0], "axial")


def _todo(grid, channels, flags, dest, region, report) -> list:
    """The units still to do: those not flagged done, and those flagged whose region no longer reads back
    as it was written (a damaged or lost chunk): they are computed again, and the report says so."""
    if flags is None:
        return list(grid.keys(channels))
    todo, damaged = [], 0
    for key in grid.keys(channels):
        mark = _mark(flags, key)
        if mark and _checksum_of(dest, region(*key)) == mark:
            continue
        todo.append(key)
        damaged += bool(mark)
    if damaged:
        report.notes.append(f"{damaged} finished unit(s) of the stored run no longer read back as written (a damaged "
                            f"or lost chunk): they were computed again")
    return todo


def _mark(flags, key) -> int:
    try:
        return int(flags[key])
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception:  # noqa: BLE001 - a damaged flag chunk: the unit is done again
        return 0


def _checksum_of(dest, where):
    from .store import unit_checksum

    try:
        return unit_checksum(dest.read(*where))
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception:  # noqa: BLE001 - decoders raise many kinds for a damaged chunk
        return None


def _train_channels(runner, job, src, stats, todo, progress, given, kind, train_fn, unit_base) -> dict:
    """One network per channel that still has units to do: trained on its sampled planes, or loaded."""
    trains = {}
    for c in sorted({key[0] for key in todo}):
        progress.base.update(unit=c + 1, units=len(stats))
        if given is not None:
            trains[c] = runner.given(_loaded(given, kind, c, job))
            continue
        planes = [_plane(_read(src, stats, c, t, slice(z, z + 1), joint=job.plan.joint)) for t, z in stats[c].sample]
        trains[c] = runner.submit(train_fn, job.for_channel(c), planes, seed_for(job.cfg.seed, unit_base + c))
    return trains


def _stream(runner, todo, unit, progress, what: str) -> dict:
    """Submit ``unit(*key)`` for every key with at most ``runner.window`` in flight; count them as they
    finish. Returns the seconds each unit took, by key."""
    pending, keys, seconds = [], {}, {}
    for key in todo:
        while len(pending) >= runner.window:
            _finished(runner, pending, keys, seconds, len(todo), progress, what)
        handle = unit(*key)
        keys[id(handle)] = key
        pending.append(handle)
    while pending:
        _finished(runner, pending, keys, seconds, len(todo), progress, what)
    return seconds


def _finished(runner, pending, keys, seconds, total, progress, what) -> None:
    for handle, (_, secs) in runner.wait(pending):
        pending.remove(handle)
        seconds[keys.pop(id(handle))] = secs
        done = len(seconds)
        progress(force=True, stage="infer", done=done, todo=total, **{what: done, what + "s": total})


def _collect_reports(runner, trains, report, seconds, owner, kind=None) -> None:
    """Append each training's report, with the inference seconds of the units that used its network;
    keep the networks of shared runs (``kind``) for saving."""
    spent = {}
    for key, secs in seconds.items():
        spent[owner(key)] = spent.get(owner(key), 0.0) + secs
    for key, handle in trains.items():
        (model, rep), _ = runner.result(handle)
        rep.infer_seconds += spent.get(key, 0.0)
        report.units.append(rep)
        if kind is not None:
            report.networks[kind, key] = model


def _loaded(given, kind, c, job):
    """What a training unit would have returned, for a network loaded from a file."""
    if (kind, c) not in given:
        raise ValueError(f"the networks file has no {kind} network for channel {c}")
    model = given[kind, c]
    rep = ZSSRReport(preset=job.cfg.preset_name, device="", scale=model.scale, schedule=[], kernel="loaded",
                     seed=job.cfg.seed)
    rep.notes.append("network loaded from a file; not trained in this run")
    return (model, rep), 0.0


def _check_result(result: np.ndarray) -> None:
    """The last guard: a result with NaN or inf is never handed back as if it were one."""
    if np.issubdtype(result.dtype, np.floating) and not np.all(np.isfinite(result)):
        bad = int(np.count_nonzero(~np.isfinite(result)))
        raise ValueError(f"the result holds {bad} NaN or inf value(s), so none is returned; the networks, kernel or "
                         f"intensity range applied were not finite")


def _fill_constant(dest: Blocks, stats, final5) -> None:
    _, T, Z = final5[:3]
    for c, st in enumerate(stats):
        if st.constant:
            for t in range(T):
                for z in range(Z):
                    dest.write(c, t, slice(z, z + 1), slice(None), slice(None),
                               np.full((1,) + tuple(final5[3:]), st.lo, dest.array.dtype))


def _flags(store, name, grid):
    return None if store is None else store.done_flags(name, grid.shape)


def _voxel_size(voxel_size, ndim):
    if voxel_size is None:
        return None
    vs = [float(v) for v in voxel_size]
    if len(vs) != ndim:
        raise ValueError(f"voxel_size needs one size per axis ({ndim}), got {len(vs)}")
    if not all(math.isfinite(v) and v > 0 for v in vs):
        raise ValueError(f"voxel sizes must be positive and finite, got {vs}")
    return vs


def _ome(plan, out_axes, vs, unit):
    from .plan import output_geometry

    sizes = vs if vs is not None else [1.0] * len(plan.axes)
    new_size, new_origin = output_geometry(plan, sizes, [0.0] * len(plan.axes))
    order = [plan.axes.index(a) for a in out_axes]
    return ome_metadata(out_axes, [new_size[i] for i in order], [new_origin[i] for i in order], unit)


def _job_id(job, arr, out_dtype, out_axes, networks_digest: str = "") -> str:
    """A fingerprint of what decides the result besides the input's content (``scan_input`` digests that):
    settings, shape and the content of the networks applied (a store begun with one networks file is
    never resumed with another)."""
    h = hashlib.sha256()
    lat = job.lat_kernel
    h.update(repr((job.plan, job.cfg.to_dict(), lat.name if lat else None, arr.shape, str(np.dtype(arr.dtype)),
                   str(out_dtype), out_axes, networks_digest)).encode())
    for k in ([getattr(lat, "array", None), getattr(job.ax_kernel, "taps", None)] + [a.taps for a in job.ax_kernels]
              + [a.array for a in job.lat_kernels]):
        if k is not None:
            h.update(np.ascontiguousarray(k).tobytes())
    return h.hexdigest()[:32]


def _check_axial_spectrum(report, dest, channels, f, stats) -> None:
    """The model-independent check of an isotropic result, per channel, on a central crop of its middle
    time point (core.quality): recorded in the report, a QualityWarning where it is over-sharpened."""
    from ..core.progress import QualityWarning
    from ..core.quality import AXIAL_EXCESS_DB, SPECTRUM_SIDE, axial_excess_db, axial_excess_words, central

    C, T, Z, Y, X = dest.shape5
    ys, xs = central(Y, SPECTRUM_SIDE), central(X, SPECTRUM_SIDE)
    report.axial_excess_db = [float("nan")] * C
    for c in channels:
        if stats[c].constant:
            continue
        excess = axial_excess_db(dest.read(c, T // 2, slice(None), ys, xs), f)
        report.axial_excess_db[c] = excess
        if excess > AXIAL_EXCESS_DB:
            warnings.warn(axial_excess_words(c, excess), QualityWarning, stacklevel=4)


ESTIMATE_SIDE = 256  # the axial profile is read from a central lateral crop of at most this many pixels


def estimate_crop(Y: int, X: int) -> tuple:
    """The central lateral crop (y, x slices) of Y x X planes that an axial profile is read from."""
    from ..core.quality import central

    return central(Y, ESTIMATE_SIDE), central(X, ESTIMATE_SIDE)


def _estimate_axial(job, src, fine_step, progress, asked=True):
    """The job with each channel's axial profile read from its own data (core.estimate), and what was found.

    A channel too small or too flat to read a profile from keeps the stretched cubic: with a
    QualityWarning where the user ``asked`` for the estimate, with a note (``found[c]["note"]``)
    where it was only the default.
    """
    from ..core.axial import AxialKernel
    from ..core.estimate import estimate_kernel
    from ..core.progress import QualityWarning

    C, T, Z, Y, X = src.shape5
    ys, xs = estimate_crop(Y, X)
    kernels, found = [], []
    t0 = time.perf_counter()
    for c in range(C):
        vol = src.read(c, T // 2, slice(None), ys, xs).astype(np.float64)
        progress(force=True, stage="estimate", channel=c)
        try:
            profile, info = estimate_kernel(vol, (job.plan.z_factor, 1, 1), seed=job.cfg.seed,
                                            callback=lambda _, c=c: progress(stage="estimate", channel=c))
        except ValueError as exc:
            why = f"channel {c}: the axial profile could not be estimated ({exc}); using the cubic stretched to the factor instead"
            if asked:
                warnings.warn(why, QualityWarning, stacklevel=4)
            kernels.append(job.ax_kernel)
            found.append({"profile": job.ax_kernel.taps.tolist(), "sigma": float("nan"), "fwhm": float("nan"),
                          "note": why})
            continue
        name = f"estimate(sigma {info['sigma']:.3g} px)"
        kernels.append(AxialKernel(profile, name))
        entry = {"profile": profile.tolist(), "sigma": info["sigma"], "fwhm": info["fwhm"]}
        if fine_step is not None:
            entry["fwhm_physical"] = info["fwhm"] * fine_step
        found.append(entry)
    found[0]["seconds"] = time.perf_counter() - t0
    return dataclasses.replace(job, ax_kernels=tuple(kernels)), found


def _report_axial(report, job, estimated) -> None:
    report.kernel = "; ".join(k.name for k in job.ax_kernels)
    report.estimated_kernel = [e["profile"] for e in estimated]
    report.estimated_sigma = [e["sigma"] for e in estimated]
    report.estimated_fwhm = [e["fwhm"] for e in estimated]
    report.estimated_fwhm_physical = [e.get("fwhm_physical") for e in estimated]
    report.estimate_seconds += estimated[0].get("seconds", 0.0)
    report.notes += [e["note"] for e in estimated if "note" in e]


def _estimate_lateral(job, src, stats, report, vs, progress):
    """The job with each channel's 2-D kernel read from the planes its network trains on (one kernel from
    the mean of the colours for a joint RGB plan), recorded in the report: the run's estimate in planes
    mode, ``estimated_lateral_*`` in both mode. A channel that cannot give one keeps bicubic."""
    from ..core.progress import ZSSRReport
    from ..core.zssr import estimate_label, estimated_lateral, record_estimate

    plan = job.plan
    kernels, found = [], ZSSRReport(preset="", device="", scale=(), schedule=[], kernel="", seed=0)
    channels = [0] if plan.joint else range(len(stats))
    for c in channels:
        if stats[c].constant and not plan.joint:  # nothing to read, and it was warned about already
            kernels.append(record_estimate(found, None))
            continue
        planes = [_plane(_read(src, stats, c, t, slice(z, z + 1), joint=plan.joint)) for t, z in stats[c].sample]
        planes = [p.mean(axis=0) if p.ndim == 3 else p for p in planes]
        progress(force=True, stage="estimate", channel=c)
        kernels.append(estimated_lateral(planes, plan.lateral_scale, found, f"channel {c}", stacklevel=4,
                                         check=lambda c=c: progress(stage="estimate", channel=c)))
    if plan.joint:
        kernels = kernels * len(stats)
    physical = None
    if vs is not None:
        step = [vs[plan.axes.index(a)] / plan.scale[plan.axes.index(a)] for a in "YX"]
        physical = [None if not np.isfinite(f[0]) else [f[0] * step[0], f[1] * step[1]] for f in found.estimated_fwhm]
    names = [estimate_label(f, k) for f, k in zip(found.estimated_kernel * (len(stats) if plan.joint else 1),
                                                    kernels)]
    values = (found.estimated_kernel, found.estimated_sigma, found.estimated_fwhm, physical or [None] * len(names))
    if plan.mode == "planes":
        report.kernel = "; ".join(dict.fromkeys(names))
        (report.estimated_kernel, report.estimated_sigma, report.estimated_fwhm,
         report.estimated_fwhm_physical) = (list(v) for v in values)
    else:
        (report.estimated_lateral_kernel, report.estimated_lateral_sigma, report.estimated_lateral_fwhm,
         report.estimated_lateral_fwhm_physical) = (list(v) for v in values)
    report.estimate_seconds += found.estimate_seconds
    report.notes.extend(found.notes)
    return dataclasses.replace(job, lat_kernels=tuple(kernels))


def _sources(planes, n=MAX_SOURCES):
    idx = np.unique(np.linspace(0, len(planes) - 1, min(n, len(planes))).round().astype(int))
    return [planes[i] for i in idx]
