"""Where a result goes: in memory when it fits comfortably, else a zarr store on disk read back lazily."""

from __future__ import annotations

import math
import os
import shutil
import tempfile

from ..core.memory import free_bytes
from .blocks import result_shape

RAM_FRACTION = 0.25  # results bigger than this share of the free RAM go to a zarr store on disk
TEMP_PREFIX = "napari-zssr-"  # the temporary folders store_for makes, and only those, may be removed


def result_fits_in_ram(shape, plan, fraction: float = RAM_FRACTION, free: int | None = None) -> bool:
    """True when the float32 result of a run over ``shape`` takes at most ``fraction`` of ``free``
    bytes (the host's available memory when None)."""
    if free is None:
        import torch

        free = free_bytes(torch.device("cpu"))
    return 4 * math.prod(result_shape(shape, plan)) <= fraction * free


def store_for(name: str, folder: str | None = None) -> str:
    """A new zarr store path for a result called ``name``: in a new temporary folder by default, else in
    ``folder`` under a name no store there has yet (an earlier result is never reused or replaced)."""
    folder = tempfile.mkdtemp(prefix=TEMP_PREFIX) if folder is None else os.fspath(folder)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name) or "result"
    path, n = os.path.join(folder, f"{safe}.zarr"), 1
    while os.path.exists(path) or os.path.exists(path + ".partial"):
        n += 1
        path = os.path.join(folder, f"{safe}-{n}.zarr")
    return path


def remove_temp_folder(folder) -> None:
    """Remove a temporary folder that store_for made; any other folder is left alone."""
    if folder is not None and os.path.basename(os.fspath(folder)).startswith(TEMP_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
