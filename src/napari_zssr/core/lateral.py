"""The lateral (2-D) network of ZSSR: trained on fathers drawn from one image or a channel's planes, and
applied with the ensemble and back-projection (the planes units and zssr() call these)."""

from __future__ import annotations

import logging
import time

from .config import schedule_for
from .device import describe_device
from .precision import Precision
from .progress import Stage, ZSSRReport
from .quality import holdout_split, record_held_out
from .resize import Kernel
from .retries import train_with_retries

log = logging.getLogger("napari_zssr")


def start_report(cfg, dev, scale, kernel_name: str, progress, plan: str) -> ZSSRReport:
    schedule = schedule_for(cfg, scale)
    report = ZSSRReport(preset=cfg.preset_name, device=describe_device(dev), scale=tuple(scale),
                        schedule=schedule, kernel=kernel_name, seed=cfg.seed, precision=cfg.precision)
    progress.base.update(preset=cfg.preset_name, device=report.device, plan=plan, scale=tuple(scale),
                         precision=cfg.precision)
    progress(force=True, stage=Stage.START, step=0, total=cfg.max_iters)
    log.info("%s: preset %s on %s in %s, scale %s, steps %s", plan, cfg.preset_name, report.device, cfg.precision,
             scale, schedule)
    return report


def predict(model, x, kernel: Kernel, cfg, device, progress=None, scale=None, bp_iters=None):
    """Super-resolve a normalised (C, H, W) tensor with a lateral ``model`` (a TrainedNetwork): the
    ensemble, median and back-projection. Returns (C, H', W'), on the CPU after a fallback."""
    # imports torch at its top: here, so that importing this module does not
    from .infer import default_tile_pixels, super_resolve

    scale = model.scale if scale is None else scale
    bp = model.bp_iters if bp_iters is None else bp_iters
    check = None if progress is None else (lambda: progress(stage=Stage.INFER))
    sr = super_resolve(model.on(device), x[None].to(device), scale, kernel, bp, cfg.flips_for(axial=False),
                       default_tile_pixels(cfg, device), check, precision=Precision.of(cfg.precision, device))
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


def _train_zssr(sources, scale, kern: Kernel, cfg, dev, progress, seed: int, report: ZSSRReport):
    """One attempt of :func:`train_zssr` with the given config and device."""
    # these import torch at their top: here, so that importing this module does not
    from .network import TrainedNetwork
    from .sampling import father_sampler
    from .train import SRPairs, fresh_network, train_into

    net, clip, gen = fresh_network(sources, cfg, dev, seed)
    sources, band = holdout_split(sources, cfg.crop_size, scale[1])  # no father comes from the band
    schedule = report.schedule
    # on the device where that pays; gradual SR's pool grows with its outputs
    sampler = father_sampler(sources, cfg.crop_size, cfg, seed, grows=len(schedule) > 1)
    test_image = sources[len(sources) // 2][None]
    for i, st in enumerate(schedule):
        stats = train_into(report, net, sampler, SRPairs(st, kern, cfg.noise_std, clip, gen), cfg, test_image,
                           progress, i, len(schedule))
        if i == len(schedule) - 1:
            record_held_out(report, net, SRPairs(st, kern, 0.0, clip, gen), band, cfg.precision,
                            whole=test_image)
        progress(force=True, stage=Stage.INFER, scale_step=i + 1, scale_steps=len(schedule), step=stats.steps,
                 total=stats.steps, rec_error=stats.rec_error, gain_db=report.gain_db)
        if i < len(schedule) - 1:
            t2 = time.perf_counter()
            step = TrainedNetwork("lateral", net, st, cfg.back_projection_for(i))
            for src in list(sampler.sources[: len(sources)]):
                sampler.add_source(predict(step, src, kern, cfg, dev, progress).to(src.device), weight=st[0] * st[1])
            report.infer_seconds += time.perf_counter() - t2
    return TrainedNetwork("lateral", net, scale, cfg.back_projection_for(len(schedule) - 1))
