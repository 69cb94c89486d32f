"""zssr(): super-resolve one 2-D image (with optional channels) by internal learning."""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np

from .checks import check_finite, check_image, check_output_size, check_scale, seed_for
from .config import ZSSRConfig, schedule_for
from .device import describe_device, free_memory, is_out_of_memory, resolve_device
from .precision import auto_preset_name, resolve_precision
from .progress import Progress, QualityWarning, ZSSRReport
from .resize import Kernel, ceil_size, imresize

log = logging.getLogger("napari_zssr")


def zssr(image, scale, *, kernel=None, config=None, channel_axis=None, callback=None) -> np.ndarray:
    """Super-resolve one 2-D image with a network trained on the image itself.

    Parameters
    ----------
    image : array_like
        (H, W), or (H, W, C) / (C, H, W) etc. with ``channel_axis``; channels share one network.
    scale : float or (float, float)
        Factors along (y, x), each >= 1 and at least one > 1; any positive value, not only integers.
    kernel : None, str or 2-D array
        The downscaling kernel that made the image from a finer one; default bicubic.
    config : ZSSRConfig, optional
        Default: preset "paper" on a CUDA GPU, "fast" otherwise.
    channel_axis : int, optional
    callback : callable, optional
        ``callback(progress: dict)``; return False to cancel (raises ``Cancelled``).

    Returns
    -------
    numpy.ndarray
        float32, shape ceil(H * sy), ceil(W * sx) (channels where they were), in the input's units.
    """
    return run_zssr(image, scale, kernel=kernel, config=config, channel_axis=channel_axis, callback=callback)[0]


def run_zssr(image, scale, *, kernel=None, config=None, channel_axis=None, callback=None, unit_id: int = 0):
    """As :func:`zssr`, returning ``(result, ZSSRReport)``."""
    from .progress import Cancelled

    t0 = time.perf_counter()
    arr, channel_axis = check_image(image, channel_axis)
    scale = check_scale(scale, 2, "zssr")
    spatial = [n for i, n in enumerate(arr.shape) if i != channel_axis]
    out_shape = [ceil_size(n * s) for n, s in zip(spatial, scale)]
    check_output_size(out_shape + ([arr.shape[channel_axis]] if channel_axis is not None else []))
    estimate = is_estimate(kernel)
    kern = check_kernel_2d(None if estimate else kernel)
    cfg, dev = resolve_config(config)
    schedule_for(cfg, scale)  # an explicit scale_factors list must end at the scale, before any probe
    channels = arr.shape[channel_axis] if channel_axis is not None else 1
    cfg, probe = resolve_precision(cfg, dev, channels)
    progress = Progress(callback, {})
    report = start_report(cfg, dev, scale, kern.name, progress, "zssr 2-D")
    report.precision_probe = probe

    chw = np.moveaxis(arr, channel_axis, 0) if channel_axis is not None else arr[None]
    lo, span, constant = normalisation(chw)
    if cfg.noise_std == "estimate":
        cfg, report.estimated_noise = with_estimated_noise(cfg, [(c - lo[i]) / span[i] for i, c in enumerate(chw)])
    if constant.all():
        warnings.warn("the image is constant: returning its cubic interpolation", stacklevel=2)
        out = imresize(chw.astype(np.float64), scale=(1.0,) + scale).astype(np.float32)
        return _restore_layout(out, channel_axis), report
    if constant.any():
        warnings.warn(f"channel(s) {np.flatnonzero(constant).tolist()} are constant", stacklevel=2)
    if estimate:  # one kernel for the channels the one network learns together, from their mean
        progress(force=True, stage="estimate")
        kern = estimated_lateral(np.mean([(c - lo[i]) / span[i] for i, c in enumerate(chw)], axis=0)[None], scale,
                                 report, "the image", stacklevel=3, check=lambda: progress(stage="estimate"))
        report.kernel = estimate_label(report.estimated_kernel[-1], kern)
    cancelled = None
    try:
        out = _run_network(chw, lo, span, scale, kern, cfg, dev, progress, unit_id, report)
    except Cancelled as exc:
        cancelled = exc.args  # re-raised below, once the frames that hold the network and tensors are gone
    if cancelled is not None:
        free_memory(dev)
        raise Cancelled(*cancelled)
    try:
        check_finite(out, "the result")
    except ValueError:
        raise ValueError(f"the result holds values a float32 array cannot (the input spans {float(lo.min()):.3g} to "
                         f"{float((lo + span).max()):.3g}); rescale the image") from None
    finish_report(report, t0, progress)
    return _restore_layout(out, channel_axis), report


def _run_network(chw, lo, span, scale, kern, cfg, dev, progress, unit_id, report) -> np.ndarray:
    """Train and apply the network; every tensor of the run lives (and dies) in this frame and below."""
    import torch

    x = torch.as_tensor(((chw - lo) / span).astype(np.float32), device=dev)
    model = train_zssr([x], scale, kern, cfg, dev, progress, seed_for(cfg.seed, unit_id), report)
    t1 = time.perf_counter()
    sr = predict(model, x, kern, cfg, model.device, progress)
    report.infer_seconds += time.perf_counter() - t1
    if sr.device != model.device:
        report.notes.append(f"the final pass ran out of memory on {describe_device(model.device)} and ran on the CPU")
        report.device = describe_device(sr.device)
    out = sr.to("cpu", torch.float32).numpy().astype(np.float64) * span + lo
    with np.errstate(over="ignore"):
        return out.astype(np.float32)


def with_estimated_noise(cfg, planes):
    """``cfg`` with noise_std read from normalised ``planes`` (the median over them), and that value."""
    from .estimate import estimate_noise

    sigma = float(np.median([estimate_noise(p) for p in planes]))
    return cfg.replace(noise_std=sigma), sigma


def is_estimate(kernel) -> bool:
    return isinstance(kernel, str) and kernel.lower() == "estimate"


def estimated_lateral(planes, scale, report, what: str, stacklevel: int = 2, check=None) -> Kernel:
    """The 2-D kernel read from ``planes`` (normalised, one channel), recorded in ``report``; the default
    (bicubic) with a QualityWarning when they are too small or too flat to read one from. ``check``:
    called between candidates (progress, cancel)."""
    from .estimate import estimate_lateral

    t = time.perf_counter()
    try:
        k, info = estimate_lateral(list(planes), scale, check=check)
    except ValueError as exc:
        warnings.warn(f"{what}: the kernel could not be estimated ({exc}); using the default (bicubic) kernel instead",
                      QualityWarning, stacklevel=stacklevel + 1)
        return record_estimate(report, None)
    finally:
        report.estimate_seconds += time.perf_counter() - t
    if info["chosen"] == "cubic":
        report.notes.append(f"{what}: the kernel estimate kept bicubic, because {info['why_cubic']}")
        return record_estimate(report, "cubic")
    return record_estimate(report, k, info)


def record_estimate(report, found, info=None) -> Kernel:
    """Append what the 2-D estimate of one channel gave to ``report`` and return the kernel to run with:
    ``found`` is the Gaussian (with its ``info``), "cubic" (bicubic chosen) or None (no estimate)."""
    nan2 = [float("nan")] * 2
    report.estimated_kernel.append(found.tolist() if info is not None else found)
    report.estimated_sigma.append(info["sigma"] if info is not None else nan2)
    report.estimated_fwhm.append(info["fwhm"] if info is not None else nan2)
    report.estimated_cov.append(info["cov"] if info is not None else None)
    if info is None:
        return Kernel("cubic")
    sy, sx = info["sigma"]
    return Kernel(found).named(f"estimate(sigma {sy:.3g} x {sx:.3g} px)")


def estimate_label(found, kern: Kernel) -> str:
    """What the report calls a kernel that kernel="estimate" gave: its own name, "estimate(cubic)"
    where bicubic was chosen, or the default's name where the estimate fell back."""
    return "estimate(cubic)" if isinstance(found, str) else kern.name


def check_kernel_2d(kernel) -> Kernel:
    kern = Kernel("cubic" if kernel is None else kernel, ndim_max=2)
    if kern.numeric and kern.array.ndim != 2:
        raise ValueError(f"zssr's kernel must be 2-D, got shape {kern.array.shape}")
    return kern


def resolve_config(config, device_type=None):
    """The config to run (config=None: the "auto" preset for the device) and its torch device.

    ``device_type`` is the kind of device the run will use when that is decided elsewhere (the
    workers of a cluster); then this machine's devices are not consulted.
    """
    import torch

    if config is not None and not isinstance(config, ZSSRConfig):
        raise TypeError(f"config must be a ZSSRConfig or None, got {type(config).__name__}")
    if device_type is not None:
        dev = torch.device(device_type)
    else:
        dev = resolve_device(config.device if config is not None else "auto")
    if config is None:
        config = ZSSRConfig.preset(auto_preset_name(dev))
    return config, dev


def start_report(cfg, dev, scale, kernel_name: str, progress, plan: str) -> ZSSRReport:
    schedule = schedule_for(cfg, scale)
    report = ZSSRReport(preset=cfg.preset_name, device=describe_device(dev), scale=tuple(scale),
                        schedule=schedule, kernel=kernel_name, seed=cfg.seed, precision=cfg.precision)
    progress.base.update(preset=cfg.preset_name, device=report.device, plan=plan, scale=tuple(scale),
                         precision=cfg.precision)
    progress(force=True, stage="start", step=0, total=cfg.max_iters)
    log.info("%s: preset %s on %s in %s, scale %s, steps %s", plan, cfg.preset_name, report.device, cfg.precision,
             scale, schedule)
    return report


def finish_report(report: ZSSRReport, t0: float, progress) -> None:
    report.seconds = time.perf_counter() - t0
    if not report.gain_db > 0:
        from .quality import warn_no_gain

        warn_no_gain(report.gain_db, report.gain_held_out, "give the kernel if you know it", stacklevel=3)
    progress(force=True, stage="done", gain_db=report.gain_db, seconds=report.seconds, steps=report.steps)


def predict(model, x, kernel: Kernel, cfg, device, progress=None, scale=None, bp_iters=None):
    """Super-resolve a normalised (C, H, W) tensor with a lateral ``model`` (a TrainedNetwork): the
    ensemble, median and back-projection. Returns (C, H', W'), on the CPU after a fallback."""
    from .infer import default_tile_pixels, super_resolve

    scale = model.scale if scale is None else scale
    bp = model.bp_iters if bp_iters is None else bp_iters
    check = None if progress is None else (lambda: progress(stage="infer"))
    sr = super_resolve(model.on(device), x[None].to(device), scale, kernel, bp, cfg.flips_for(axial=False),
                       default_tile_pixels(cfg, device), check, precision=cfg.precision)
    return sr[0]


def train_zssr(sources, scale, kern: Kernel, cfg, dev, progress, seed: int, report: ZSSRReport):
    """Train one network on fathers drawn from ``sources`` (normalised (C, H, W) tensors).

    With gradual steps, each intermediate output of every source joins the pool of fathers.

    Out of memory (GPU or CPU): the attempt is dropped, the cache emptied, and training starts
    again from the same seed with half the batch, then half the crop size (each retry gives exactly
    what an uninterrupted run with those settings gives); once they are as small as they go, a GPU
    run falls back to the CPU with a warning, and a CPU run raises MemoryError. The report's
    ``notes`` say what happened. Returns a lateral TrainedNetwork, whose ``device`` is where it ended up.
    """
    return train_with_retries(
        lambda c, d: _train_zssr([src.to(d) for src in sources], scale, kern, c, d, progress, seed, report),
        cfg, dev, report)


def train_with_retries(attempt, cfg, dev, report):
    """``attempt(cfg, device)`` with the out-of-memory policy of :func:`train_zssr`: half the batch,
    then half the crops, then (GPU only) the CPU with a warning; a CPU run raises MemoryError."""
    import torch

    attempt_cfg = cfg
    while True:
        try:
            return attempt(attempt_cfg, dev)
        except Exception as exc:  # only out-of-memory errors are handled
            if not is_out_of_memory(exc):
                raise
            what = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
        _reset_report(report)
        free_memory(dev)
        smaller = shrink_training(attempt_cfg)
        where = describe_device(dev)
        if smaller is not None:
            note = (f"out of memory training on {where} with batch {attempt_cfg.batch_size} and crops of "
                    f"{attempt_cfg.crop_size}: retried with batch {smaller.batch_size} "
                    f"and crops of {smaller.crop_size}")
            log.warning(note)
            report.notes.append(note)
            attempt_cfg = smaller
            continue
        if dev.type == "cpu":
            raise MemoryError(f"out of memory training on {where} even with batch {attempt_cfg.batch_size} and crops "
                              f"of {attempt_cfg.crop_size} pixels ({what})")
        note = (f"out of memory training on {where} ({what}) even with batch {attempt_cfg.batch_size} and crops of "
                f"{attempt_cfg.crop_size}: falling back to the CPU (slower)")
        warnings.warn(note, RuntimeWarning, stacklevel=3)
        report.notes.append(note)
        dev = torch.device("cpu")
        report.device = describe_device(dev)
        attempt_cfg = cfg


def shrink_training(cfg):
    """The next smaller training setting after an out-of-memory error: half the batch, then half the crops."""
    if cfg.batch_size > 1:
        return cfg.replace(batch_size=cfg.batch_size // 2)
    if cfg.crop_size > 16:
        crop = max(16, cfg.crop_size // 2)
        return cfg.replace(crop_size=crop, test_max_size=max(crop, cfg.test_max_size // 2))
    return None


def _reset_report(report: ZSSRReport) -> None:
    report.steps.clear()
    report.history.clear()
    report.gain_db = float("nan")
    report.gain_held_out = False
    report.train_seconds = report.infer_seconds = 0.0


def _train_zssr(sources, scale, kern: Kernel, cfg, dev, progress, seed: int, report: ZSSRReport):
    """One attempt of :func:`train_zssr` with the given config and device."""
    import torch

    from .augment import FatherSampler
    from .network import TrainedNetwork, ZSSRNet
    from .train import SRPairs, train

    clip = (min(float(s.min()) for s in sources), max(float(s.max()) for s in sources))
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    rng = np.random.default_rng(seed)
    from .quality import holdout_split, record_held_out

    net = ZSSRNet(sources[0].shape[0], cfg.width, cfg.depth, cfg.learn_residual).to(dev)
    net.reset(cfg.init_variance, torch.Generator().manual_seed(seed))
    sources, band = holdout_split(sources, cfg.crop_size, scale[1])  # no father comes from the band
    sampler = FatherSampler(sources, cfg.crop_size, cfg, rng)
    schedule = report.schedule
    test_image = sources[len(sources) // 2][None]
    for i, st in enumerate(schedule):
        t1 = time.perf_counter()
        stats = train(net, sampler, SRPairs(st, kern, cfg.noise_std, clip, gen), cfg, test_image, progress,
                      i, len(schedule))
        report.train_seconds += time.perf_counter() - t1
        report.steps.append(stats.steps)
        report.history.extend(stats.history)
        report.gain_db = stats.gain_db
        if i == len(schedule) - 1:
            record_held_out(report, net, SRPairs(st, kern, 0.0, clip, gen), band, cfg.precision)
        progress(force=True, stage="infer", scale_step=i + 1, scale_steps=len(schedule), step=stats.steps,
                 total=stats.steps, rec_error=stats.rec_error, gain_db=report.gain_db)
        if i < len(schedule) - 1:
            t2 = time.perf_counter()
            step = TrainedNetwork("lateral", net, st, cfg.back_projection_for(i))
            for src in list(sampler.sources[: len(sources)]):
                sampler.add_source(predict(step, src, kern, cfg, dev, progress).to(src.device), weight=st[0] * st[1])
            report.infer_seconds += time.perf_counter() - t2
    return TrainedNetwork("lateral", net, scale, cfg.back_projection_for(len(schedule) - 1))


def channel_range(values):
    """(lo, span, constant) of one channel: its 0.1 / 99.9 percentiles, min/max for sparse data.

    Reads at most about 4 million values (evenly strided) and makes no float copy of the data.
    """
    flat = np.asarray(values).reshape(-1)
    if flat.size > 4_000_000:
        flat = flat[:: flat.size // 4_000_000 + 1]
    lo, hi = (float(v) for v in np.percentile(flat, (0.1, 99.9)))
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        lo, hi = float(flat.min()), float(flat.max())
    constant = hi - lo <= 1e-12 * max(1.0, abs(hi))
    return lo, (1.0 if constant else hi - lo), constant


def normalisation(chw):
    """Per-channel (lo, span, constant) arrays, shaped to broadcast over (C, H, W)."""
    ranges = [channel_range(c) for c in chw]
    lo = np.array([r[0] for r in ranges])[:, None, None]
    span = np.array([r[1] for r in ranges])[:, None, None]
    return lo, span, np.array([r[2] for r in ranges])


def _restore_layout(chw, channel_axis):
    return chw[0] if channel_axis is None else np.moveaxis(chw, 0, channel_axis)
