"""Checks of an output path before a run starts: its type, its folder, that it can be written, and room
for it, so that a run never fails after hours of training for a reason known at the start."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import warnings

from .files import PNG_EXT, TIFF_EXT, file_ext, is_zarr_path

OUTPUT_TYPES = ".png, .tif, .tiff, .ome.tif or a .zarr / .ome.zarr store"


def check_output_type(path) -> str:
    """'png', 'tiff' or 'zarr' for a path the project writes; a ValueError naming the path otherwise."""
    if is_zarr_path(path):
        return "zarr"
    ext = file_ext(path)
    if ext in PNG_EXT:
        return "png"
    if ext in TIFF_EXT:
        return "tiff"
    raise ValueError(f"unsupported output type {ext or '(none)'!r} for {path}; use {OUTPUT_TYPES}")


def check_writable_folder(path) -> str:
    """The folder ``path`` goes into, after checking it exists and a file can be made in it."""
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"output folder does not exist: {folder}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".napari-zssr-probe-", dir=folder)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write into {folder}: {exc.strerror or exc}") from None
    os.close(fd)
    os.remove(probe)
    return folder


def check_room(path, nbytes: int, compressed: bool) -> None:
    """Refuse an uncompressed output larger than the free space of its folder; warn for a compressed one."""
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    free = shutil.disk_usage(folder).free
    if nbytes <= free:
        return
    words = f"{path} needs about {_mb(nbytes)} and {folder} has {_mb(free)} free"
    if not compressed:
        raise OSError(errno.ENOSPC, f"{words}: free some space or write elsewhere")
    warnings.warn(f"{words} (before compression): it may not fit", UserWarning, stacklevel=3)


def check_output(path, nbytes: int) -> str:
    """What can be known of an output path before a run besides whether it exists (the caller asks that
    first, before the input is read): its kind ('png', 'tiff', 'zarr'), its folder, and room for it."""
    kind = check_output_type(path)
    check_writable_folder(path)
    check_room(path, nbytes, compressed=kind != "tiff")
    return kind


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n < 2**30 else f"{n / 2**30:.1f} GiB"
