"""File names by kind, and writes that never leave a half-written file."""

from __future__ import annotations

import errno
import os
import re
import shutil
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
    except BaseException as exc:
        if os.path.exists(tmp):
            os.remove(tmp)
        if is_disk_full(exc):
            msg = (f"could not write {path}: the disk is full (or a file-size limit was reached; {folder} has "
                   f"{_free(folder)} bytes free); nothing was written")
            raise OSError(errno.ENOSPC, msg) from exc
        raise


def is_disk_full(exc) -> bool:
    """A write that failed for want of space: ENOSPC, a quota (EDQUOT), a file-size limit (EFBIG), or
    the short write tifffile reports as "N requested and M written"."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG):
        return True
    return isinstance(exc, (OSError, ValueError)) and bool(re.search(r"\d+ requested and \d+ written", str(exc)))


def _free(folder) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0
