"""zssr(): super-resolve one 2-D image (with optional channels) by internal learning."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .checks import check_image, check_scale, seed_for
from .config import ZSSRConfig, gradual_schedule
from .device import auto_preset_name, describe_device, resolve_device
from .resize import Kernel, imresize

log = logging.getLogger("napari_zssr")


@dataclass
class ZSSRReport:
    """What a run did: the settings it resolved and how well it reconstructs its own image."""

    preset: str
    device: str
    scale: tuple
    schedule: list
    kernel: str
    seed: int
    seconds: float = 0.0
    steps: list = field(default_factory=list)
    gain_db: float = float("nan")
    train_seconds: float = 0.0
    infer_seconds: float = 0.0
    history: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "history"}


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
    import torch

    from .train import Progress

    t0 = time.perf_counter()
    arr, channel_axis = check_image(image, channel_axis)
    scale = check_scale(scale, 2, "zssr")
    kern = check_kernel_2d(kernel)
    cfg, dev = resolve_config(config)
    progress = Progress(callback, {})
    report = start_report(cfg, dev, scale, kern.name, progress, "zssr 2-D")

    chw = np.moveaxis(arr, channel_axis, 0) if channel_axis is not None else arr[None]
    lo, span, constant = normalisation(chw)
    if constant.all():
        warnings.warn("the image is constant: returning its cubic interpolation", stacklevel=2)
        out = imresize(chw.astype(np.float64), scale=(1.0,) + scale).astype(np.float32)
        return _restore_layout(out, channel_axis), report
    if constant.any():
        warnings.warn(f"channel(s) {np.flatnonzero(constant).tolist()} are constant", stacklevel=2)
    x = torch.as_tensor(((chw - lo) / span).astype(np.float32), device=dev)
    model = train_zssr([x], scale, kern, cfg, dev, progress, seed_for(cfg.seed, unit_id), report)
    t1 = time.perf_counter()
    sr = model.predict(x)
    report.infer_seconds += time.perf_counter() - t1
    out = sr.to("cpu", torch.float32).numpy().astype(np.float64) * span + lo
    finish_report(report, t0, progress)
    return _restore_layout(out.astype(np.float32), channel_axis), report


def check_kernel_2d(kernel) -> Kernel:
    kern = Kernel("cubic" if kernel is None else kernel, ndim_max=2)
    if kern.numeric and kern.array.ndim != 2:
        raise ValueError(f"zssr's kernel must be 2-D, got shape {kern.array.shape}")
    return kern


def resolve_config(config):
    """The config to run (config=None: the "auto" preset for the device) and its torch device."""
    if config is not None and not isinstance(config, ZSSRConfig):
        raise TypeError(f"config must be a ZSSRConfig or None, got {type(config).__name__}")
    dev = resolve_device(config.device if config is not None else "auto")
    if config is None:
        config = ZSSRConfig.preset(auto_preset_name(dev))
    return config, dev


def start_report(cfg, dev, scale, kernel_name: str, progress, plan: str) -> ZSSRReport:
    schedule = ([tuple(s) for s in cfg.scale_factors] if cfg.scale_factors
                else gradual_schedule(scale, cfg.gradual_steps))
    report = ZSSRReport(preset=cfg.preset_name, device=describe_device(dev), scale=tuple(scale),
                        schedule=schedule, kernel=kernel_name, seed=cfg.seed)
    progress.base.update(preset=cfg.preset_name, device=report.device, plan=plan, scale=tuple(scale))
    progress(force=True, stage="start", step=0, total=cfg.max_iters)
    log.info("%s: preset %s on %s, scale %s, steps %s", plan, cfg.preset_name, report.device, scale, schedule)
    return report


def finish_report(report: ZSSRReport, t0: float, progress) -> None:
    report.seconds = time.perf_counter() - t0
    if not report.gain_db > 0:
        warnings.warn(
            f"ZSSR did not beat cubic interpolation on the image's own LR->HR pair "
            f"(gain {report.gain_db:.2f} dB): the result may be no better than interpolation", stacklevel=3)
    progress(force=True, stage="done", gain_db=report.gain_db, seconds=report.seconds, steps=report.steps)


class TrainedZSSR:
    """A network trained for one scale on one image (or one channel of a stack), ready to apply."""

    def __init__(self, net, scale, kernel: Kernel, cfg, device, progress, bp_iters: int):
        self.net, self.scale, self.kernel, self.cfg, self.device = net, tuple(scale), kernel, cfg, device
        self.progress, self.bp_iters = progress, bp_iters
        from .infer import default_tile_pixels

        self.tile = default_tile_pixels(cfg, device)

    def predict(self, x, scale=None, bp_iters=None):
        """Super-resolve a normalised (C, H, W) tensor; returns (C, H', W')."""
        from .infer import super_resolve

        scale = self.scale if scale is None else scale
        bp = self.bp_iters if bp_iters is None else bp_iters
        sr = super_resolve(self.net, x[None], scale, self.kernel, bp, self.cfg.output_flip, self.tile,
                           check=lambda: self.progress(stage="infer"))
        return sr[0]


def train_zssr(sources, scale, kern: Kernel, cfg, dev, progress, seed: int, report: ZSSRReport) -> TrainedZSSR:
    """Train one network on fathers drawn from ``sources`` (normalised (C, H, W) tensors).

    With gradual steps, each intermediate output of every source joins the pool of fathers.
    """
    import torch

    from .augment import FatherSampler
    from .network import ZSSRNet
    from .train import SRPairs, train

    clip = (min(float(s.min()) for s in sources), max(float(s.max()) for s in sources))
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = ZSSRNet(sources[0].shape[0], cfg.width, cfg.depth, cfg.learn_residual).to(dev)
    net.reset(cfg.init_variance, torch.Generator().manual_seed(seed))
    sampler = FatherSampler(sources, cfg.crop_size, cfg, rng)
    schedule = report.schedule
    model = TrainedZSSR(net, scale, kern, cfg, dev, progress, cfg.back_projection_for(len(schedule) - 1))
    test_image = sources[len(sources) // 2][None]
    for i, st in enumerate(schedule):
        t1 = time.perf_counter()
        stats = train(net, sampler, SRPairs(st, kern, cfg.noise_std, clip, gen), cfg, test_image, progress,
                      i, len(schedule))
        report.train_seconds += time.perf_counter() - t1
        report.steps.append(stats.steps)
        report.history.extend(stats.history)
        report.gain_db = stats.gain_db
        progress(force=True, stage="infer", scale_step=i + 1, scale_steps=len(schedule), step=stats.steps,
                 total=stats.steps, rec_error=stats.rec_error, gain_db=stats.gain_db)
        if i < len(schedule) - 1:
            t2 = time.perf_counter()
            for src in list(sampler.sources[: len(sources)]):
                sampler.add_source(model.predict(src, st, cfg.back_projection_for(i)), weight=st[0] * st[1])
            report.infer_seconds += time.perf_counter() - t2
    return model


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
