"""Zarr output stores that fill as units finish, resume after a crash and are never half-finished.

A run writes into ``<out>.partial`` and renames it to ``<out>`` only when every unit is written.
The store records which job it belongs to (a fingerprint of input, plan and settings) and which
units are done, so a rerun of the same job skips finished units, and a store of another job is
never touched without ``overwrite``.
"""

from __future__ import annotations

import os
import shutil

import numpy as np

ATTR = "napari_zssr"


def _zarr():
    try:
        import zarr
    except ImportError as exc:  # pragma: no cover - zarr is a dependency
        raise ImportError("writing to a zarr store needs the zarr package: pip install zarr") from exc
    return zarr


def _job_of(path):
    """The job fingerprint recorded in the store at ``path`` (None if it is not one of ours)."""
    zarr = _zarr()
    try:
        group = zarr.open_group(path, mode="r")
    except Exception:  # noqa: BLE001 - whatever zarr raises, the path is not a store of ours
        return None, False
    info = dict(group.attrs).get(ATTR) or {}
    return info.get("job"), bool(info.get("complete"))


def fs_error(exc: OSError, path) -> OSError:
    """The same kind of error, saying which store could not be written and why."""
    reason = exc.strerror or str(exc)
    return type(exc)(exc.errno, f"could not write the result to {path}: {reason}; units finished so far are kept "
                                f"and a rerun resumes from them")


class OutputStore:
    """The zarr group a run writes: array ``0`` (the result), plus per-stage ``done`` flags."""

    def __init__(self, path, job_id: str, overwrite: bool = False):
        self.path = os.path.abspath(os.fspath(path))
        self.partial = self.path.rstrip("/\\") + ".partial"
        self.job_id = job_id
        self.overwrite = overwrite
        self.group = None

    def existing_result(self):
        """The finished array if ``path`` already holds this job's complete result, else None.

        Raises FileExistsError when ``path`` holds anything else and ``overwrite`` is off.
        """
        if not os.path.exists(self.path):
            return None
        job, complete = _job_of(self.path)
        if job == self.job_id and complete:
            return _zarr().open_array(os.path.join(self.path, "0"), mode="r")
        if not self.overwrite:
            what = "the result of another run (other input or settings)" if job else "data not written by napari-zssr"
            raise FileExistsError(f"{self.path} exists and holds {what}; pass overwrite=True (--overwrite) to "
                                  f"replace it")
        return None

    def open(self, shape, chunks, dtype, axes: str, attrs: dict, ome: dict | None = None):
        """Create ``<path>.partial`` (or reopen it when it belongs to this job) with the result array."""
        zarr = _zarr()
        job, _ = _job_of(self.partial) if os.path.exists(self.partial) else (None, False)
        try:
            if os.path.exists(self.partial) and job != self.job_id:
                if not self.overwrite:
                    raise FileExistsError(f"{self.partial} holds an unfinished run of another job; pass overwrite="
                                          f"True (--overwrite) to discard it, or remove it")
                shutil.rmtree(self.partial)
            if os.path.exists(self.partial):
                self.group = zarr.open_group(self.partial, mode="r+")
                return self.group["0"]
            parent = os.path.dirname(self.partial)
            if not os.path.isdir(parent):
                raise FileNotFoundError(f"cannot create {self.path}: the folder {parent} does not exist")
            self.group = zarr.open_group(self.partial, mode="w-", zarr_format=2)
            meta = {**attrs, "job": self.job_id, "complete": False, "axes": axes}
            self.group.attrs[ATTR] = meta
            if ome is not None:
                self.group.attrs["multiscales"] = [ome]
            return self.group.create_array("0", shape=tuple(shape), chunks=tuple(chunks), dtype=np.dtype(dtype),
                                           fill_value=0)
        except OSError as exc:
            if isinstance(exc, (FileExistsError, FileNotFoundError)):
                raise
            raise fs_error(exc, self.path) from exc

    def done_flags(self, name: str, shape):
        """A uint8 array of flags, one per unit and one chunk each, so units on many workers never share one."""
        if name in self.group:
            return self.group[name]
        return self.group.create_array(name, shape=tuple(shape), chunks=(1,) * len(shape), dtype=np.uint8,
                                       fill_value=0)

    def scratch(self, name: str, shape, chunks):
        """An intermediate float32 array (planes before the isotropic pass), kept until the run ends."""
        if name in self.group:
            return self.group[name]
        return self.group.create_array(name, shape=tuple(shape), chunks=tuple(chunks), dtype=np.float32,
                                       fill_value=0)

    def finish(self, attrs: dict):
        """Drop the bookkeeping, mark complete and move ``<path>.partial`` to ``<path>``."""
        zarr = _zarr()
        try:
            for name in list(self.group.array_keys()):
                if not name.isdigit():  # the result's levels are 0, 1, ...; the rest is bookkeeping
                    shutil.rmtree(os.path.join(self.partial, name), ignore_errors=True)
            meta = dict(self.group.attrs[ATTR])
            meta.update(attrs, complete=True)
            self.group.attrs[ATTR] = meta
            if os.path.exists(self.path):  # only reached with overwrite (checked before the run)
                old = self.path.rstrip("/\\") + ".old"
                _remove(old)
                os.replace(self.path, old)
                os.replace(self.partial, self.path)
                _remove(old)
            else:
                os.replace(self.partial, self.path)
        except OSError as exc:
            raise fs_error(exc, self.path) from exc
        return zarr.open_array(os.path.join(self.path, "0"), mode="r")


def _remove(path) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.remove(path)
