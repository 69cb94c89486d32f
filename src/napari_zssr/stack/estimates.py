"""What a stack run reads from its data besides the image: the axial profile and the 2-D kernel per channel
(kernel="estimate" and the isotropic default), and the axial spectrum check of an isotropic result."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ..core.axial import AxialKernel
from ..core.estimate import estimate_kernel, estimate_noise
from ..core.estimate import estimate_lateral as estimate
from ..core.estimate_lateral import gaussian_2d
from ..core.estimate_psf import MIN_DARK_SHARE, dark_share, estimate_psf
from ..core.progress import AXIAL_EXCESS_DB, KernelEstimate, QualityWarning, Stage
from ..core.quality import SPECTRUM_SIDE, axial_excess_db, axial_excess_words, central
from ..core.resize import Kernel
from .inputs import one_plane, read_block
from .kernel_choice import Source

OVERSHARP_ADVICE = {  # by where the axial kernel came from (stack.kernel_choice.Source)
    "estimate": "the profile read from the data may be too wide here; give the PSF or a smaller sigma if you "
                "know it, or compare with kernel='cubic'",
    "saved": "the networks applied were trained with a kernel too wide for this data; train on it instead",
}


def check_axial_spectrum(report, dest, channels, f, stats, source: str = "cubic") -> None:
    """The model-independent check of an isotropic result, per channel, on a central crop of its middle
    time point (core.quality): recorded in the report, a QualityWarning where it is over-sharpened, with
    advice that fits where the axial kernel came from (``source``)."""
    C, T, Z, Y, X = dest.shape5
    ys, xs = central(Y, SPECTRUM_SIDE), central(X, SPECTRUM_SIDE)
    report.axial_excess_db = [float("nan")] * C
    for c in channels:
        if stats[c].constant:
            continue
        excess = axial_excess_db(dest.read(c, T // 2, slice(None), ys, xs), f)
        report.axial_excess_db[c] = excess
        if excess > AXIAL_EXCESS_DB:
            advice = OVERSHARP_ADVICE.get(source, "try kernel='estimate' or a smaller sigma")
            warnings.warn(axial_excess_words(c, excess, advice), QualityWarning, stacklevel=4)


ESTIMATE_SIDE = 256  # the axial profile is read from a central lateral crop of at most this many pixels


def estimate_crop(Y: int, X: int) -> tuple:
    """The central lateral crop (y, x slices) of Y x X planes that an axial profile is read from."""
    return central(Y, ESTIMATE_SIDE), central(X, ESTIMATE_SIDE)


def estimate_axial(axial, src, f: float, fine_step, seed: int, progress) -> tuple:
    """The isotropic stage's kernel (a StageKernel) with each channel's axial profile read from its own
    data (core.estimate), and a KernelEstimate per channel.

    A channel too small or too flat to read a profile from keeps the stretched cubic: with a
    QualityWarning where the user asked for the estimate, with a note where it was only the default.
    """
    C, T, Z, Y, X = src.shape5
    ys, xs = estimate_crop(Y, X)
    kernels, found = [], []
    for c in range(C):
        vol = src.read(c, T // 2, slice(None), ys, xs).astype(np.float64)
        progress(force=True, stage=Stage.ESTIMATE, channel=c)
        kernel, record = _axial_of(vol, c, axial, f, fine_step, seed,
                                   lambda c=c: progress(stage=Stage.ESTIMATE, channel=c))
        kernels.append(kernel)
        found.append(record)
    return axial.with_channels(kernels), found


def _axial_of(vol, c, axial, f, fine_step, seed, check) -> tuple:
    try:
        profile, info = estimate_kernel(vol, (f, 1, 1), seed=seed, callback=lambda _: check())
    except ValueError as exc:
        why = (f"channel {c}: the axial profile could not be estimated ({exc}); "
               "using the cubic stretched to the factor instead")
        if axial.asked:
            warnings.warn(why, QualityWarning, stacklevel=5)
        nan = float("nan")
        return axial.kernel, KernelEstimate("isotropic", c, axial.kernel.taps.tolist(), nan, nan, note=why)
    physical = info["fwhm"] * fine_step if fine_step is not None else None
    record = KernelEstimate("isotropic", c, profile.tolist(), info["sigma"], info["fwhm"], physical)
    return AxialKernel(profile, f"estimate(sigma {info['sigma']:.3g} px)"), record


def record_estimates(report, found, seconds: float) -> None:
    """What was read (KernelEstimate records) into the report, with the words of those that fell back."""
    report.kernel_estimates = [e for e in report.kernel_estimates if e.stage != found[0].stage] + list(found)
    report.estimate_seconds += seconds
    report.notes += [e.note for e in found if e.note]


def estimate_lateral(lateral, plan, src, stats, vs, progress) -> tuple:
    """The planes stage's kernel (a StageKernel) with each channel's 2-D kernel read from the planes its
    network trains on (one kernel from the mean of the colours for a joint RGB plan), and a KernelEstimate
    per channel. A channel that cannot give one keeps bicubic."""
    kernels, found = [], []
    step = None if vs is None else [vs[plan.axes.index(a)] / plan.scale[plan.axes.index(a)] for a in "YX"]
    optics = lateral.source is Source.OPTICS
    for c in [0] if plan.joint else range(len(stats)):
        if stats[c].constant and not plan.joint:  # nothing to read, and it was warned about already
            kernels.append(lateral.per_channel[c] if optics else lateral.kernel)
            found.append(_lateral_record(c, None))
            continue
        planes = [one_plane(read_block(src, stats, c, t, slice(z, z + 1), joint=plan.joint))
                  for t, z in stats[c].sample]
        planes = [p.mean(axis=0) if p.ndim == 3 else p for p in planes]
        progress(force=True, stage=Stage.ESTIMATE, channel=c)
        check = lambda c=c: progress(stage=Stage.ESTIMATE, channel=c)  # noqa: E731
        if optics:
            kernel, record = lateral.per_channel[c], compare_optics(planes, plan.lateral_scale, c,
                                                                    lateral.per_channel[c], step, check)
        else:
            kernel, record = read_lateral(planes, plan.lateral_scale, c, f"channel {c}", step, check=check)
        kernels.append(kernel)
        found.append(record)
    if plan.joint:  # the colours share the one kernel
        kernels = kernels * len(stats)
        found = [dataclasses.replace(found[0], channel=c) for c in range(len(stats))]
    return dataclasses.replace(lateral.with_channels(kernels), compare=False), found


OPTICS_SHARE = 0.1  # the Gaussian approximation of a widefield PSF is good to about this share of its sigma


def compare_optics(planes, scale, c: int, kernel, step=None, check=None) -> KernelEstimate:
    """What the planes of channel ``c`` show against the optics' ``kernel`` (a round Gaussian): the PSF read
    from them (core.estimate_psf) as a KernelEstimate, whose note says whether the two agree within their
    uncertainty (the image's halves, and OPTICS_SHARE for the optics' model). The optics' kernel stays: the
    benchmark (benchmarks/psf2d.py) shows no case where the image reads the PSF better than right optics."""
    from ..core.kernels import psf_sigmas

    optics = float(np.mean(psf_sigmas(np.asarray(kernel.array), (1.0, 1.0))))
    noise = float(np.median([estimate_noise(p) for p in planes]))
    _, record = psf_kernel(planes, scale, c, f"channel {c}", noise, step, check)
    if record.kernel is None:
        note = (f"channel {c}: the optics' PSF (sigma {optics:.3g} px) could not be checked against the image, "
                f"because {record.note}")
        return dataclasses.replace(record, note=note)
    read, unc = record.sigma[0], record.uncertainty
    apart = abs(read - optics) > 2 * unc + OPTICS_SHARE * optics
    verdict = ("they disagree by more than their uncertainty: check the NA, wavelength and pixel size in the "
               "metadata (or the system is aberrated); the optics' kernel was used" if apart else
               "they agree within their uncertainty")
    note = (f"channel {c}: the optics give a PSF of sigma {optics:.3g} px and the image reads {read:.3g} +- "
            f"{unc:.2g} px on the output grid; {verdict}")
    return dataclasses.replace(record, note=note)


def read_lateral(planes, scale, c: int, what: str, step=None, check=None) -> tuple:
    """(the 2-D kernel to run with, its KernelEstimate) read from ``planes`` (normalised, one channel):
    bicubic with a QualityWarning when they are too small or too flat to read one from, or a note when
    bicubic is what fits. ``step``: the output grid's (y, x) pixel size, for the FWHM in its unit."""
    try:
        k, info = estimate(list(planes), scale, check=check)
    except ValueError as exc:
        warnings.warn(f"{what}: the kernel could not be estimated ({exc}); using the default (bicubic) kernel "
                      "instead", QualityWarning, stacklevel=4)
        return Kernel("cubic"), _lateral_record(c, None)
    why = f"{what}: the kernel estimate kept bicubic, because {info['why_cubic']}"
    if info["fits_better"]:
        # a blur unlike bicubic: on fluorescence (emitters on a dark background) it is a PSF, round, and the
        # 2-D Gaussian's extra freedom reads the scene's shapes (elongated cells, worms) as kernel
        found = psf_kernel(planes, scale, c, what, info["noise_bound"], step, check)
        if found[1].kernel is not None:
            return found
        if dark_share(planes) >= MIN_DARK_SHARE:  # fluorescence whose PSF cannot be read: nothing is guessed
            why = (f"{what}: the kernel estimate kept bicubic, because the image looks like fluorescence and no "
                   f"PSF could be read from it: {found[1].note}")
            return Kernel("cubic"), _lateral_record(c, "cubic", why)
    if info["chosen"] == "cubic":
        return Kernel("cubic"), _lateral_record(c, "cubic", why)
    sy, sx = info["sigma"]
    physical = None if step is None else [info["fwhm"][0] * step[0], info["fwhm"][1] * step[1]]
    record = KernelEstimate("planes", c, k.tolist(), info["sigma"], info["fwhm"], physical, info["cov"])
    return Kernel(k).named(f"estimate(sigma {sy:.3g} x {sx:.3g} px)"), record


def psf_kernel(planes, scale, c: int, what: str, noise: float, step=None, check=None) -> tuple:
    """(the isotropic Gaussian of the PSF read from ``planes`` (core.estimate_psf), its KernelEstimate with a
    note on what was read); where none can be read, (bicubic, a record whose kernel is None and whose note
    says why)."""
    sy, sx = (float(v) for v in scale)
    if sy != sx or sy <= 1:  # a round PSF on the input grid is round on the output grid only for equal factors
        return Kernel("cubic"), _lateral_record(c, None, f"the PSF is read only where both lateral factors are equal "
                                                         f"and above 1 (here {sy:g} x {sx:g})")
    found = estimate_psf(list(planes), scale, noise, check)
    if found["why_not"]:
        return Kernel("cubic"), _lateral_record(c, None, found["why_not"])
    sigma, fwhm, unc = found["sigma"], found["fwhm"], found["uncertainty"]
    physical = None if step is None else [fwhm * step[0], fwhm * step[1]]
    where = "" if physical is None else f" ({physical[0]:.3g} x {physical[1]:.3g} in the voxel sizes' unit)"
    note = (f"{what}: the image looks like fluorescence and a Gaussian fits it clearly better than bicubic, so "
            f"the PSF was read as a round Gaussian: sigma {sigma:.3g} +- {unc:.2g} px, FWHM {fwhm:.3g} px{where} "
            f"on the output grid")
    k = gaussian_2d(np.eye(2) * sigma ** 2)
    record = KernelEstimate("planes", c, k.tolist(), [sigma, sigma], [fwhm, fwhm], physical,
                            [[sigma ** 2, 0.0], [0.0, sigma ** 2]], note=note, uncertainty=unc)
    return Kernel(k).named(f"PSF estimate(sigma {sigma:.3g} px)"), record


def _lateral_record(c, found, note="") -> KernelEstimate:
    nan2 = [float("nan")] * 2
    return KernelEstimate("planes", c, found, nan2, nan2, note=note)


def lateral_name(lateral, found) -> str:
    """What the report calls the planes stage's kernels: "estimate(cubic)" where bicubic was chosen."""
    names = ["estimate(cubic)" if e.kernel == "cubic" else k.name for e, k in zip(found, lateral.per_channel)]
    return "; ".join(dict.fromkeys(names))


def with_estimated_noise(cfg, planes):
    """``cfg`` with noise_std read from normalised ``planes`` (the median over them), and that value."""
    sigma = float(np.median([estimate_noise(p) for p in planes]))
    return cfg.replace(noise_std=sigma), sigma
