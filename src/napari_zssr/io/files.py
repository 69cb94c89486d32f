"""File names by kind, and writes that never leave a half-written file."""

from __future__ import annotations

import os
import tempfile

PNG_EXT = (".png",)
TIFF_EXT = (".tif", ".tiff")


def file_ext(path) -> str:
    return os.path.splitext(str(path))[1].lower()


def is_zarr_path(path) -> bool:
    return os.fspath(path).rstrip("/\\").lower().endswith(".zarr")


def atomic_write(path, write_fn, overwrite: bool = False) -> None:
    """Call ``write_fn(tmp_path)`` and move the result onto ``path`` only when it completed."""
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"output folder does not exist: {folder}")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".part" + file_ext(path), dir=folder)
    os.close(fd)
    try:
        write_fn(tmp)
        # mkstemp makes the file private; give it the permissions a plain open() would have
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
