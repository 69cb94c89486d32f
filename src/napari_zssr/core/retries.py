"""What a training does when the device runs out of memory: half the batch, then half the crops, then
(GPU only) the CPU; one policy for every kind of network."""

from __future__ import annotations

import logging
import warnings

from .device import describe_device, free_memory, is_out_of_memory
from .progress import ZSSRReport

log = logging.getLogger("napari_zssr")


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
