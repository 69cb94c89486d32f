"""upscale(): ZSSR on n-D stacks: channels, time points, planes and anisotropic z made isotropic.

A run is resolved once into a specification (stack/spec.py), then executed: the estimates read from
the data, the output opened (or a finished one reused), the stages run (stack/stages.py), the quality
checked and the output finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time

import numpy as np

from .. import __version__
from ..core.progress import Progress, Stage, UpscaleReport
from ..core.quality import LINEAR_MARGIN_DB, warn_below_linear, warn_no_gain
from ..io.ngff_write import add_pyramid, ome_metadata
from . import networks as nets
from .blocks import Blocks, out_shape, shape_for
from .estimates import (
    check_axial_spectrum,
    estimate_axial,
    estimate_lateral,
    lateral_name,
    record_estimates,
    with_estimated_noise,
)
from .inputs import ChannelStats, one_plane, read_block
from .kernel_choice import Source
from .plan import Plan, output_geometry
from .runners import InProcess, OnDask
from .spec import resolve_run
from .stages import fill_constant, isotropic_stage, planes_stage
from .store import OutputStore
from .units import unit_grid


def upscale(data, scale, *, axes=None, mode="auto", channel_axis=None, kernel=None, config=None, callback=None,
            planes="shared", dtype=None, voxel_size=None, psf_voxel_size=None, out=None, overwrite=False, ome=None,
            unit=None, client=None, networks=None, save_networks=None, return_uncertainty=False, optics=None):
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
        its stage. "optics": the Gaussian PSF of the microscope given by ``optics``, per channel at its
        emission wavelength (needs ``voxel_size``); ``kernel=Optics(...)`` does the same.
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
    optics : Optics, dict or a file's metadata, optional
        With ``kernel="optics"``: the numerical aperture, emission wavelength(s) in nm and immersion
        refractive index (``napari_zssr.Optics``; a dict ``na``, ``wavelength_nm``,
        ``refractive_index``; or ``read_image(path).metadata``, whose OME holds them).
    return_uncertainty : bool
        Also return, for every voxel of the result, the expected absolute error there (float32, the
        result's shape and intensity units): a model of the error fitted after training on pixels of
        the data the network never trained on (core.uncertainty). Kept beside the result in ``out``
        (its ``uncertainty`` array).

    ``data`` may be a numpy, dask or zarr array: dask and zarr arrays are read plane by plane or
    slab by slab, never whole.

    Returns
    -------
    numpy.ndarray or zarr.Array
        The enlarged stack in the input's axis order (TCZYX order for OME-Zarr) and intensity
        units; the zarr array when ``out`` is given (``dask.array.from_zarr`` makes it lazy).
        With ``return_uncertainty``, ``(result, uncertainty)``.
    """
    result, report = run_upscale(data, scale, axes=axes, mode=mode, channel_axis=channel_axis, kernel=kernel,
                                 config=config, callback=callback, planes=planes, dtype=dtype, voxel_size=voxel_size,
                                 psf_voxel_size=psf_voxel_size, out=out, overwrite=overwrite, ome=ome, unit=unit,
                                 client=client, networks=networks, save_networks=save_networks,
                                 return_uncertainty=return_uncertainty, optics=optics)
    return (result, report.uncertainty) if return_uncertainty else result


def run_upscale(data, scale, *, axes=None, mode="auto", channel_axis=None, kernel=None, config=None, callback=None,
                planes="shared", dtype=None, voxel_size=None, psf_voxel_size=None, out=None, overwrite=False,
                ome=None, unit=None, client=None, networks=None, save_networks=None, channel_meta=None, source=None,
                return_uncertainty=False, optics=None):
    """As :func:`upscale`, returning ``(result, UpscaleReport)``; ``config`` may also be a function that makes
    the ZSSRConfig (called once the input is checked, so that a probe it runs comes after every check
    of the input); ``channel_meta`` may hold the source's
    ``channel_names`` and ``channel_colors`` for an OME-Zarr result's omero block; ``source`` is the path
    the data was read from (an ``out`` that is it, or inside it, is refused). With ``return_uncertainty`` the
    report's ``uncertainty`` holds the uncertainty."""
    t0 = time.perf_counter()
    early = Progress(callback, {})
    spec = resolve_run(data, scale, axes=axes, mode=mode, channel_axis=channel_axis, kernel=kernel, config=config,
                       planes=planes, dtype=dtype, voxel_size=voxel_size, psf_voxel_size=psf_voxel_size, out=out,
                       overwrite=overwrite, ome=ome, unit=unit, client=client, networks=networks,
                       save_networks=save_networks, channel_meta=channel_meta, source=source, progress=early,
                       uncertainty=return_uncertainty, optics=optics)
    with contextlib.ExitStack() as held:  # the output's lock, released however the run ends
        return _execute(spec, client, callback, held, t0)


def _execute(spec, client, callback, held, t0) -> tuple:
    """Run a resolved specification: (result, report)."""
    report = UpscaleReport(plan=spec.plan.describe(), preset=spec.job.cfg.preset_name,
                           precision=spec.precision.name, precision_probe=spec.probe, kernel=_kernel_name(spec.job))
    progress = Progress(callback, {"plan": report.plan, "preset": spec.job.cfg.preset_name})
    if spec.job.cfg.chosen_because:  # config=None: the device's default, and why
        report.notes.append(spec.job.cfg.chosen_because)
    job, stats, given = _prepare(spec, report, progress)
    grids = _grids(spec, job.cfg)
    store, dest = _open_output(spec, job, report, grids, held)
    unc = _open_uncertainty(spec, store, grids)
    if store is not None and store.reused is not None:
        report.uncertainty = _kept_uncertainty(store) if spec.job.uncertainty else None
        report.seconds = time.perf_counter() - t0
        progress(force=True, stage=Stage.DONE, seconds=report.seconds, skipped=True)
        return store.reused, report
    job = _run_stages(spec, job, stats, given, grids, store, dest, report, progress, client, unc)
    report.seconds = time.perf_counter() - t0
    _warn_if_no_gain(report, job)
    if spec.save_networks is not None:
        nets.save_networks(spec.save_networks, report.networks, job, report.kernel, stats, spec.output.overwrite,
                           spec.voxel_size, spec.output.unit)
    result = _finish(store, dest, spec.output, report)
    if unc is not None:
        report.uncertainty = store.kept("uncertainty") if store is not None else unc.array
        if store is None:
            _check_result(report.uncertainty, "uncertainty")
        report.notes.append(_uncertainty_note(report))
    progress(force=True, stage=Stage.DONE, seconds=report.seconds, gain_db=report.gain_db)
    return result, report


def _kernel_name(job) -> str:
    return (job.axial or job.lateral).name


def _prepare(spec, report, progress) -> tuple:
    """What is read from the data before training: the axial profile (isotropic mode), the noise level
    and the 2-D kernels where asked. Returns the job with them, the channels' statistics and the loaded
    networks (or None)."""
    job, src = spec.job, spec.src
    if spec.plan.mode == "isotropic" and job.axial.pending:
        job = _read_axial(spec, job, src, report, progress)
    stats, given = list(spec.stats), None
    if spec.saved is not None:
        given = nets.models_of(spec.saved)
        report.kernel = spec.saved["kernel"]
    if job.cfg.noise_std == "estimate":  # one level for the run, from the planes the networks train on
        planes = [one_plane(read_block(src, stats, c, t, slice(z, z + 1))) for c in range(len(stats))
                  for t, z in stats[c].sample]
        cfg, report.estimated_noise = with_estimated_noise(job.cfg, planes)
        job = dataclasses.replace(job, cfg=cfg)
    if job.lateral is not None and job.lateral.pending:
        t = time.perf_counter()
        lateral, found = estimate_lateral(job.lateral, spec.plan, src, stats, spec.voxel_size, progress)
        record_estimates(report, found, time.perf_counter() - t)
        job = dataclasses.replace(job, lateral=lateral)
        if spec.plan.mode == "planes":
            report.kernel = lateral_name(lateral, found)
    report.config = job.cfg.to_dict()
    return job, stats, given


def _read_axial(spec, job, src, report, progress):
    """The job with each channel's axial profile read from ``src`` (the input, or both mode's planes)."""
    t = time.perf_counter()
    axial, found = estimate_axial(job.axial, src, spec.plan.z_factor, spec.fine_step, job.cfg.seed, progress)
    record_estimates(report, found, time.perf_counter() - t)
    report.kernel = axial.name
    return dataclasses.replace(job, axial=axial)


def _grids(spec, cfg) -> dict:
    """Each stage's grid of units; both mode's isotropic stage runs on the planes stage's result."""
    plan = spec.plan
    grids = {}
    if plan.mode in ("planes", "both"):
        grids["planes"] = unit_grid("planes", spec.src.shape5, cfg)
    if plan.mode in ("isotropic", "both"):
        mid5 = out_shape(spec.src.shape5, Plan(plan.axes, plan.scale, "planes", plan.planes)) \
            if plan.mode == "both" else spec.src.shape5
        grids["isotropic"] = unit_grid("isotropic", mid5, cfg)
        grids["mid5"] = mid5
    grids["final"] = grids["isotropic" if plan.mode != "planes" else "planes"]
    return grids


def _open_output(spec, job, report, grids, held) -> tuple:
    """(store or None, destination blocks). A store holding this job's finished result for this very
    input is reused (``store.reused``), and the report says so."""
    out, final5 = spec.output, spec.final5
    if out.path is None:
        return None, Blocks(np.empty(shape_for(out.axes, final5), out.dtype), out.axes)
    # both mode reads its axial profile after the planes stage, so the id cannot hold the profile itself:
    # it says that one will be read, so a default store is never taken for a "cubic" one or the reverse
    later = "|axial profile read after the planes stage" if job.axial is not None and job.axial.pending else ""
    store = OutputStore(out.path, job_id(job, spec.src.array, out.dtype, out.axes, spec.networks_digest + later),
                        out.overwrite, spec.inputs)
    held.callback(store.release)
    store.acquire()
    store.reused = store.existing_result()
    if store.reused is not None:
        report.reused = store.path
        report.notes.append(f"reused the finished result in {store.path}; nothing was trained (the input "
                            f"and settings are those it was made from)")
        return store, None
    meta = _ome(spec.plan, out.axes, spec.voxel_size, out.unit) if out.ome else None
    attrs = {"version": __version__, "plan": report.plan, "preset": job.cfg.preset_name, "config": job.cfg.to_dict(),
             "factors": dict(zip(spec.plan.axes, spec.plan.scale)), "kernel": report.kernel}
    array = store.open(shape_for(out.axes, final5), shape_for(out.axes, grids["final"].chunks(final5)), out.dtype,
                       out.axes, attrs, meta)
    return store, Blocks(array, out.axes)


def _open_uncertainty(spec, store, grids):
    """Blocks of the uncertainty (return_uncertainty), shaped as the result: in memory, or kept in the store."""
    if not spec.job.uncertainty or (store is not None and store.reused is not None):
        return None
    out = spec.output
    shape = shape_for(out.axes, spec.final5)
    if store is None:
        return Blocks(np.zeros(shape, np.float32), out.axes)
    return Blocks(store.extra("uncertainty", shape, shape_for(out.axes, grids["final"].chunks(spec.final5))),
                  out.axes)


def _kept_uncertainty(store):
    found = store.kept("uncertainty")
    if found is None:
        raise FileNotFoundError(f"{store.path} holds the finished result of this run but not its uncertainty array "
                                f"(damaged); pass overwrite=True (--overwrite) to compute both again")
    return found


def _uncertainty_note(report) -> str:
    models = [u.error_model for u in report.units if u.error_model is not None]
    if not models:
        return "uncertainty: zero everywhere: no channel was trained (constant channels come back interpolated)"
    where = "on held-out pixels and a plane it trained on" if all(m.held_out for m in models) else \
        "on a plane it trained on (none held out: the data is narrower than twice the crop)"
    return f"uncertainty: the expected absolute error of each voxel, from a model of the error fitted {where}"


def _run_stages(spec, job, stats, given, grids, store, dest, report, progress, client, unc=None):
    """The stages of the plan's mode, on this process or a cluster; the job as the last stage used it."""
    plan, src = spec.plan, spec.src
    runner = OnDask(client, progress) if client is not None else InProcess(progress)
    live = [c for c, st in enumerate(stats) if not st.constant]
    if plan.joint:  # one network over all colours, unit channel 0; a constant colour is learnt with the rest
        live = [0] if live else []
    try:
        fill_constant(dest, stats, spec.final5)
        progress.base.update(run_stage=plan.mode if plan.mode != "both" else "planes", run_step=1,
                             run_steps=2 if plan.mode == "both" else 1)
        if plan.mode == "planes":
            planes_stage(runner, job, grids["planes"], src, stats, dest, _flags(store, "done_planes", grids["planes"]),
                         live, report, progress, denorm=True, given=given, unc=unc)
        elif plan.mode == "isotropic":
            isotropic_stage(runner, job, grids["isotropic"], src, stats, dest,
                            _flags(store, "done_z", grids["isotropic"]), live, report, progress, given=given, unc=unc)
        else:
            job = _both(spec, job, stats, given, grids, store, dest, report, progress, runner, live, unc)
    except BaseException:
        runner.cancel()
        raise
    finally:
        runner.close()
    report.device = report.units[-1].device if report.units else ""
    if plan.mode in ("isotropic", "both"):
        check_axial_spectrum(report, dest, range(len(stats)) if plan.joint else live, plan.z_factor, stats,
                             job.axial.source.value)
    return job


def _both(spec, job, stats, given, grids, store, dest, report, progress, runner, live, unc=None):
    """Planes first (normalised float32, kept in the store to resume), then the isotropic pass over them; the
    planes' uncertainty, where asked, is carried into the isotropic stage's."""
    mid5 = grids["mid5"]
    mid = _scratch(store, "planes", mid5, grids)
    mid_unc = _scratch(store, "planes_uncertainty", mid5, grids) if unc is not None else None
    planes_stage(runner, job, grids["planes"], spec.src, stats, mid, _flags(store, "done_planes", grids["planes"]),
                 live, report, progress, denorm=False, given=given, unc=mid_unc)
    if job.axial.pending:  # the axial profile on the isotropic stage's own grid: the planes' result
        job = _read_axial(spec, job, mid, report, progress)
    unit_stats = [ChannelStats(0.0, 1.0, st.constant, st.sample) for st in stats]
    progress.base.update(run_stage="isotropic", run_step=2, run_steps=2)
    isotropic_stage(runner, job, grids["isotropic"], mid, unit_stats, dest, _flags(store, "done_z", grids["isotropic"]),
                    live, report, progress, out_stats=stats, given=given, unc=unc, prior=mid_unc)
    return job


def _scratch(store, name, mid5, grids) -> Blocks:
    """Both mode's intermediate (C, T, Z, Y, X) float32 array: in the store, to resume, or in memory."""
    return Blocks(store.scratch(name, mid5, grids["planes"].chunks(mid5)) if store is not None
                  else np.zeros(mid5, np.float32), "CTZYX")


def _warn_if_no_gain(report, job) -> None:
    if not (report.units and np.isfinite(report.gain_db)):
        return
    if report.gain_db > 0:  # it beat cubic; where z is aliased, linear is the better interpolation to beat
        if report.gain_linear_db < LINEAR_MARGIN_DB:  # nan (no band, planes mode) compares False
            warn_below_linear(report.gain_linear_db, stacklevel=5)
        return

    hint = {Source.CUBIC: "try kernel='estimate', or give the kernel or the PSF if you know it",
            Source.ESTIMATE: "give the kernel or the PSF if you know it"}.get(
        (job.axial or job.lateral).source, "check that the kernel given is the one that blurred the data")
    warn_no_gain(report.gain_db, report.gain_held_out, hint, stacklevel=5)


def _finish(store, dest, output, report):
    """The store completed (OME-Zarr: with its pyramid) and renamed into place, or the array checked."""
    if store is None:
        _check_result(dest.array)
        return dest.array
    if output.ome:  # a pyramid and display settings, so that viewers open it fast
        add_pyramid(store.group, output.axes, channels=output.channel_meta)
    return store.finish({"seconds": report.seconds, "device": report.device, "gain_db": report.gain_db,
                         "steps": [u.steps for u in report.units]})


def _check_result(result: np.ndarray, what: str = "result") -> None:
    """The last guard: a result (or its uncertainty) with NaN or inf is never handed back as if it were one."""
    if np.issubdtype(result.dtype, np.floating) and not np.all(np.isfinite(result)):
        bad = int(np.count_nonzero(~np.isfinite(result)))
        raise ValueError(f"the {what} holds {bad} NaN or inf value(s), so none is returned; the networks, kernel or "
                         f"intensity range applied were not finite")


def _flags(store, name, grid):
    return None if store is None else store.done_flags(name, grid.shape)


def _ome(plan, out_axes, vs, unit):
    sizes = vs if vs is not None else [1.0] * len(plan.axes)
    new_size, new_origin = output_geometry(plan, sizes, [0.0] * len(plan.axes))
    order = [plan.axes.index(a) for a in out_axes]
    return ome_metadata(out_axes, [new_size[i] for i in order], [new_origin[i] for i in order], unit)


def job_id(job, arr, out_dtype, out_axes, networks_digest: str = "") -> str:
    """A fingerprint of what decides the result besides the input's content (``scan_input`` digests that):
    settings, shape and the content of the networks applied (a store begun with one networks file is
    never resumed with another)."""
    h = hashlib.sha256()
    stages = [k for k in (job.lateral, job.axial) if k is not None]
    # a store with the uncertainty is another job's than one without (a finished one could not hand it back)
    digest = networks_digest + ("|uncertainty" if job.uncertainty else "")
    h.update(repr((job.plan, job.cfg.to_dict(), [(k.stage, k.name) for k in stages], arr.shape,
                   str(np.dtype(arr.dtype)), str(out_dtype), out_axes, digest)).encode())
    for k in [a for stage in stages for a in stage.arrays()]:
        if k is not None:
            h.update(np.ascontiguousarray(k).tobytes())
    return h.hexdigest()[:32]
