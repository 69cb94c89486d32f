"""A run's report in words and as provenance: the one formatting the CLI's summary, the widget's final
status and the metadata of a result (layer or file) share. No napari, no Qt."""

from __future__ import annotations

import numpy as np


def findings(report, saved_kernels=(), applied: bool = False, unit=None) -> list:
    """What the run found, one phrase each: the internal gain, the axial check, the estimates and the notes;
    ``unit``: the voxel sizes' unit ("um"), which physical widths are then given in."""
    return [gain_text(report, applied), *axial_check_text(report), *estimate_texts(report, saved_kernels, unit),
            *[f"note: {n}" for n in all_notes(report)]]


def gain_text(report, applied: bool = False) -> str:
    from ..core.quality import gain_words

    if np.isfinite(report.gain_db):
        return f"internal gain over cubic {gain_words(report.gain_held_out)}: {report.gain_db:+.2f} dB"
    if any(u.steps for u in report.units):
        return "internal gain over cubic: not measured (the data holds too little to measure it on)"
    why = ": the saved networks were applied" if applied else ""
    return f"internal gain over cubic: not measured (no network was trained in this run{why})"


def doubtful(report) -> bool:
    """What the run's QualityWarning said: the result may be no better than interpolation."""
    return bool((np.isfinite(report.gain_db) and not report.gain_db > 0) or report.over_sharpened())


def axial_check_text(report) -> list:
    """The isotropic result's axial spectrum against its lateral one, per channel (core.quality)."""
    from ..core.progress import AXIAL_EXCESS_DB

    excess = [e for e in report.axial_excess_db if np.isfinite(e)]
    if not excess:
        return []
    values = ", ".join(f"{e:+.1f}" for e in report.axial_excess_db)
    verdict = "over-sharpened" if max(excess) > AXIAL_EXCESS_DB else "not over-sharpened"
    return [f"axial spectrum against lateral: {values} dB ({verdict}; the bar is +{AXIAL_EXCESS_DB:g} dB)"]


def estimate_texts(report, saved=(), unit=None) -> list:
    """What the kernel estimate found, per stage and channel, and where it was saved."""
    lines = []
    for lateral in (False, True):
        prefix = "estimated_lateral_" if lateral else "estimated_"
        sigmas, fwhms, physical, kernels = (getattr(report, prefix + k) for k in
                                            ("sigma", "fwhm", "fwhm_physical", "kernel"))
        for c, (sigma, fwhm) in enumerate(zip(sigmas, fwhms)):
            what = "2-D kernel" if np.ndim(sigma) or lateral else "axial profile"
            phys = physical[c] if c < len(physical) else None
            lines.append(_estimate_text(what, c, sigma, fwhm, phys, kernels[c] if c < len(kernels) else None, unit))
    return lines + [f"estimated kernel saved to {p}" for p in saved]


def _estimate_text(what: str, c: int, sigma, fwhm, phys, kernel, unit=None) -> str:
    if isinstance(kernel, str):
        return f"estimated {what}, channel {c}: bicubic kept (a note says why; nothing to save)"
    if not np.all(np.isfinite(sigma)):
        return f"{what}, channel {c}: not estimated (the default was used)"
    in_unit = unit or "in the voxel sizes' unit"  # sizes without a named unit
    where = f" ({_pair(phys)} {in_unit})" if phys is not None else ""
    axes = " (y x)" if np.ndim(sigma) else ""
    return (f"estimated {what}, channel {c}: sigma {_pair(sigma)} px, FWHM {_pair(fwhm)} px{axes}{where} on the "
            "output grid")


def _pair(v) -> str:
    return " x ".join(f"{x:.3g}" for x in np.atleast_1d(v))


def all_notes(report) -> list:
    """The run's notes and its networks', each once."""
    return list(dict.fromkeys([*report.notes, *(n for u in report.units for n in u.notes)]))


def probe_text(report) -> str:
    times = (report.precision_probe or {}).get("times")
    if not times:
        return ""
    return " (probe: " + ", ".join(f"{p} {1000 * t:.0f} ms/step" for p, t in times.items()) + ")"


def summary(report, *, source, target, in_shape, out_shape, seconds, saved_kernels=(), applied=False,
            unit=None) -> str:
    """The CLI's report of a finished run: one line per fact; ``unit``: the voxel sizes' (the file's)."""
    units = report.units
    train_s = sum(u.train_seconds for u in units)
    infer_s = sum(u.infer_seconds for u in units)
    steps = [s for u in units for s in u.steps]
    return "\n".join([
        f"{source} {tuple(in_shape)} -> {target} {tuple(out_shape)}",
        f"  {report.plan}; preset {report.preset}, kernel {report.kernel}, precision {report.precision}"
        + probe_text(report),
        f"  device {report.device}; {seconds:.1f} s (training {train_s:.1f} s, inference {infer_s:.1f} s); "
        f"steps {steps}",
    ] + [f"  {line}" for line in findings(report, saved_kernels, applied, unit)])


def status(report, *, applied=False, store=None, extra=(), unit=None) -> str:
    """The widget's final words on a run: one line, the same facts as the CLI's summary (``unit``: the
    voxel sizes' unit, which physical widths are given in)."""
    device = f" on {report.device}" if report.device else ""
    parts = [f"done in {report.seconds:.1f} s{device} in {report.precision}",
             *findings(report, applied=applied, unit=unit)]
    if store:
        parts.append(f"kept on disk in {store}")
    parts += list(extra)
    if doubtful(report):
        parts.append("WARNING: it may be no better than interpolation (see the notification)")
    return "; ".join(parts)


def provenance(report, *, factors: dict, source=None) -> dict:
    """What a result keeps of its run (layer metadata, file description): the same keys whichever door."""
    from .. import __version__

    out = {"software": "napari-zssr", "version": __version__, "source": source, "plan": report.plan,
           "factors": {a: float(f) for a, f in factors.items()}, "preset": report.preset, "device": report.device,
           "precision": report.precision, "kernel": report.kernel, "config": report.config,
           "seed": report.config.get("seed"), "steps": [u.steps for u in report.units], "seconds": report.seconds,
           "gain_db": report.gain_db, "gain_held_out": report.gain_held_out,
           "axial_excess_db": report.axial_excess_db, **report.estimates()}
    notes = all_notes(report)
    return {**out, "notes": notes} if notes else out
