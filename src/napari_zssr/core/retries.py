"""What a run does when the device runs out of memory, in one place for training and inference: first
smaller work on the same device (half the batch, then half the crops; inference halves its tiles in
core.infer.forward_tiled), then, on an accelerator, the CPU with a warning; on the CPU a MemoryError
that says what was tried."""

from __future__ import annotations

import logging
import warnings

from .device import describe_device, free_memory, is_out_of_memory
from .progress import ZSSRReport

log = logging.getLogger("napari_zssr")


class Exhausted(MemoryError):
    """Out of memory with the work as small as it goes; ``tried`` says how small, in words."""

    def __init__(self, tried: str, cause: str):
        super().__init__(f"{tried} ({cause})")
        self.tried, self.cause = tried, cause


def oom_text(exc) -> str:
    """The first line of an out-of-memory error, with its type: what the user is told."""
    if isinstance(exc, Exhausted):
        return exc.cause
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}"


def on_cpu_after_oom(attempt, dev, what: str, notes=None, stacklevel: int = 3, tried: str = ""):
    """``attempt(device)`` on ``dev``; out of memory there (after the attempt's own retries): on an
    accelerator a RuntimeWarning (also put in ``notes``) and ``attempt`` again on the CPU; on the CPU a
    MemoryError naming ``what`` was being done and how small it was ``tried``."""
    import torch

    try:
        return attempt(dev)
    except Exception as exc:  # only out-of-memory errors are handled
        if not is_out_of_memory(exc):
            raise
        tried = f" {exc.tried}" if isinstance(exc, Exhausted) else f" {tried}" if tried else ""
        cause = oom_text(exc)
    free_memory(dev)
    where = describe_device(dev)
    if dev.type == "cpu":
        raise MemoryError(f"out of memory {what} on {where}{tried} ({cause})")
    note = f"out of memory {what} on {where}{tried} ({cause}): falling back to the CPU (slower)"
    warnings.warn(note, RuntimeWarning, stacklevel=stacklevel)
    if notes is not None:
        notes.append(note)
    return attempt(torch.device("cpu"))


def train_with_retries(attempt, cfg, dev, report: ZSSRReport):
    """``attempt(cfg, device)`` with the out-of-memory policy: half the batch, then half the crops (each
    retry gives exactly what an uninterrupted run with those settings gives), then (GPU only) the CPU
    with the original settings; the report's ``notes`` and ``device`` say what happened."""

    def on(device):
        if device != dev:
            report.device = describe_device(device)
        return _smaller_until_it_fits(attempt, cfg, device, report)

    return on_cpu_after_oom(on, dev, "training", report.notes, stacklevel=4)


def _smaller_until_it_fits(attempt, cfg, dev, report):
    while True:
        try:
            return attempt(cfg, dev)
        except Exception as exc:  # only out-of-memory errors are handled
            if not is_out_of_memory(exc):
                raise
            cause = oom_text(exc)
        _reset_report(report)
        free_memory(dev)
        smaller = shrink_training(cfg)
        if smaller is None:
            raise Exhausted(f"even with batch {cfg.batch_size} and crops of {cfg.crop_size} pixels", cause)
        note = (f"out of memory training on {describe_device(dev)} with batch {cfg.batch_size} and crops of "
                f"{cfg.crop_size}: retried with batch {smaller.batch_size} and crops of {smaller.crop_size}")
        log.warning(note)
        report.notes.append(note)
        cfg = smaller


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
