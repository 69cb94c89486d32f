"""What a stack run reads from its data besides the image: the axial profile and the 2-D kernel per channel
(kernel="estimate" and the isotropic default), and the axial spectrum check of an isotropic result."""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np

from .inputs import one_plane, read_block


def check_axial_spectrum(report, dest, channels, f, stats) -> None:
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


def estimate_axial(job, src, fine_step, progress, asked=True):
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
            why = (f"channel {c}: the axial profile could not be estimated ({exc}); "
                   "using the cubic stretched to the factor instead")
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


def report_axial(report, job, estimated) -> None:
    report.kernel = "; ".join(k.name for k in job.ax_kernels)
    report.estimated_kernel = [e["profile"] for e in estimated]
    report.estimated_sigma = [e["sigma"] for e in estimated]
    report.estimated_fwhm = [e["fwhm"] for e in estimated]
    report.estimated_fwhm_physical = [e.get("fwhm_physical") for e in estimated]
    report.estimate_seconds += estimated[0].get("seconds", 0.0)
    report.notes += [e["note"] for e in estimated if "note" in e]


def estimate_lateral(job, src, stats, report, vs, progress):
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
        planes = [one_plane(read_block(src, stats, c, t, slice(z, z + 1), joint=plan.joint))
                  for t, z in stats[c].sample]
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
