"""Zarr output stores that fill as units finish, resume after a crash and are never half-finished.

A run takes a lock (``<out>.lock``), writes into ``<out>.partial`` and renames it to ``<out>``
only when every unit is written. The store records which job it belongs to (a fingerprint of plan
and settings), a digest of every plane of the input, and per unit a checksum of what was written,
so a rerun of the same job on the same input skips finished units whose chunks still read back,
a changed input is never answered with an old result, and a store of another job is never touched
without ``overwrite``. Only what a run created is ever removed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
import zlib

import numpy as np

ATTR = "napari_zssr"


def _zarr():
    try:
        import zarr
    except ImportError as exc:  # pragma: no cover - zarr is a dependency
        raise ImportError("writing to a zarr store needs the zarr package: pip install zarr") from exc
    return zarr


def _info_of(path) -> dict | None:
    """The bookkeeping a store of ours records at ``path`` (None if it is not one of ours)."""
    zarr = _zarr()
    try:
        group = zarr.open_group(path, mode="r")
        info = dict(group.attrs).get(ATTR)
    except Exception:  # noqa: BLE001 - whatever zarr raises, the path is not a store of ours
        return None
    return info if isinstance(info, dict) and "job" in info else None


def fs_error(exc: OSError, path) -> OSError:
    """The same kind of error, saying which store could not be written and why."""
    reason = exc.strerror or str(exc)
    return type(exc)(exc.errno, f"could not write the result to {path}: {reason}; units finished so far are kept "
                                f"and a rerun resumes from them")


def check_not_input(out, source) -> None:
    """Refuse an output that is the input, lies inside it or holds it: replacing it would destroy the input."""
    if out is None or source is None:
        return
    o, s = os.path.realpath(os.fspath(out)), os.path.realpath(os.fspath(source))
    if o == s or o.startswith(s.rstrip(os.sep) + os.sep) or s.startswith(o.rstrip(os.sep) + os.sep):
        raise ValueError(f"the output {out} is the input {source}, or one holds the other: choose another output "
                         f"path (the input is never overwritten)")


def unit_checksum(block: np.ndarray, *more) -> int:
    """What a done flag holds for a unit whose written block is ``block`` (and its uncertainty's, ``more``):
    never 0, which means 'not done'."""
    crc = 0
    for b in (block, *more):
        crc = zlib.crc32(np.ascontiguousarray(b).tobytes(), crc)
    return crc + 1


def input_changes(was: dict, now: dict) -> str:
    """Which (channel, time) volumes of the input differ between two digest records, in words ("" if none)."""
    if was.get("shape") != now.get("shape") or was.get("dtype") != now.get("dtype"):
        return (f"the input was {was.get('dtype')} {tuple(was.get('shape') or ())}, "
                f"now {now['dtype']} {tuple(now['shape'])}")
    changed = [k for k, v in now["volumes"].items() if was.get("volumes", {}).get(k) != v]
    if not changed:
        return ""
    return "the input changed since (" + ", ".join(changed[:4]) + (", ..." if len(changed) > 4 else "") + ")"


class RunLock:
    """``<out>.lock``: one run at a time writes an output. A lock whose holder is gone (same host, no such
    process) is taken over; one held elsewhere, or unreadable, is refused with how to recover."""

    def __init__(self, out_path: str):
        self.path = out_path.rstrip("/\\") + ".lock"
        self.held = False

    def acquire(self) -> None:
        out = self.path[: -len(".lock")]
        _check_folder(out)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_if_stale()
                continue
            except OSError as exc:
                raise fs_error(exc, self.path[: -len(".lock")]) from exc
            with os.fdopen(fd, "w") as fh:
                json.dump({"napari_zssr": True, "pid": os.getpid(), "host": socket.gethostname(),
                           "started": time.strftime("%Y-%m-%d %H:%M:%S")}, fh)
            self.held = True
            return
        raise FileExistsError(f"could not take the lock {self.path}; remove it if no run is writing the output")

    def _take_over_if_stale(self) -> None:
        try:
            with open(self.path) as fh:
                holder = json.load(fh)
        except (OSError, ValueError):
            holder = None
        out = self.path[: -len(".lock")]
        if not isinstance(holder, dict) or not holder.get("napari_zssr"):
            raise FileExistsError(f"{self.path} exists and is not a lock napari-zssr can read: if no run is "
                                  f"writing {out}, remove it and run again")
        pid, host = holder.get("pid"), holder.get("host")
        if host == socket.gethostname() and pid != os.getpid() and not _alive(pid):
            os.remove(self.path)  # its holder is gone: the lock (a file of ours) is released for it
            return
        who = "this process" if pid == os.getpid() and host == socket.gethostname() else f"pid {pid} on {host}"
        raise FileExistsError(f"another napari-zssr run ({who}, started {holder.get('started')}) is writing {out}; "
                              f"wait for it to finish, or if it is no longer running remove {self.path}")

    def release(self) -> None:
        if self.held:
            self.held = False
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class OutputStore:
    """The zarr group a run writes: array ``0`` (the result), plus per-stage ``done`` flags."""

    def __init__(self, path, job_id: str, overwrite: bool = False, inputs: dict | None = None):
        self.path = os.path.abspath(os.fspath(path))
        self.partial = self.path.rstrip("/\\") + ".partial"
        self.job_id = job_id
        self.inputs = inputs or {}
        self.overwrite = overwrite
        self.group = None
        self.lock = RunLock(self.path)
        self.reused = None  # the finished result found by existing_result(), where one was

    def existing_result(self):
        """The finished array if ``path`` already holds this job's complete result for this very input,
        else None; asked once the run holds the lock (:meth:`acquire`).

        Raises FileExistsError when ``path`` holds anything else and ``overwrite`` is off.
        """
        if not os.path.exists(self.path):
            return None
        info = _info_of(self.path)
        if info is not None and info["job"] == self.job_id and info.get("complete"):
            changed = input_changes(info.get("input") or {}, self.inputs)
            if not changed:
                return _zarr().open_array(os.path.join(self.path, "0"), mode="r")
            what = f"the result of this job for another input: {changed}"
        else:
            what = ("the result of another run (other input or settings)" if info else
                    "data not written by napari-zssr")
        if not self.overwrite:
            raise FileExistsError(f"{self.path} exists and holds {what}; pass overwrite=True (--overwrite) to "
                                  f"replace it")
        return None

    def acquire(self) -> None:
        """This run's lock on the output, taken before anything of it is read or written."""
        self.lock.acquire()

    def release(self) -> None:
        self.lock.release()

    def open(self, shape, chunks, dtype, axes: str, attrs: dict, ome: dict | None = None):
        """Create ``<path>.partial`` (or reopen it when it belongs to this job and input) with the result array."""
        try:
            if os.path.exists(self.partial):
                arr = self._reopen()
                if arr is not None:
                    return arr
            _check_folder(self.path)
            meta = {**attrs, "job": self.job_id, "input": self.inputs, "complete": False, "axes": axes}
            self._create(shape, chunks, dtype, meta, ome)
            self.group = _zarr().open_group(self.partial, mode="r+")
            return _complete_chunks(self.group["0"])
        except OSError as exc:
            if isinstance(exc, (FileExistsError, FileNotFoundError)):
                raise
            raise fs_error(exc, self.path) from exc

    def _reopen(self):
        """The result array of ``<path>.partial`` when it is this job's on this input; None after discarding
        an unfinished run of ours that may not be resumed (``overwrite``) or whose bookkeeping is broken."""
        info = _info_of(self.partial)
        if info is None:
            raise FileExistsError(f"{self.partial} exists and was not written by napari-zssr (or its bookkeeping is "
                                  f"unreadable); nothing was changed: move or remove it, then run again")
        changed = input_changes(info.get("input") or {}, self.inputs) if info["job"] == self.job_id else "other job"
        if not changed:
            try:
                self.group = _zarr().open_group(self.partial, mode="r+")
                return _complete_chunks(self.group["0"])
            except Exception:  # noqa: BLE001 - a store of ours, half-written: restarted from nothing
                changed = "its bookkeeping is half-written"
        if changed != "its bookkeeping is half-written" and not self.overwrite:
            what = "another job" if changed == "other job" else f"this job on another input ({changed})"
            raise FileExistsError(f"{self.partial} holds an unfinished run of {what}; pass overwrite=True "
                                  f"(--overwrite) to discard it, or remove it")
        shutil.rmtree(self.partial)  # ours (its bookkeeping says so), and this run holds the lock
        return None

    def _create(self, shape, chunks, dtype, meta: dict, ome) -> None:
        """Build the store beside ``<path>.partial`` and rename it there, so a ``.partial`` always has its
        bookkeeping: an interrupted creation leaves only the uniquely named folder this run made."""
        zarr = _zarr()
        tmp = f"{self.partial}.new-{uuid.uuid4().hex[:8]}"
        try:
            group = zarr.open_group(tmp, mode="w-", zarr_format=2)
            group.attrs[ATTR] = meta
            if ome is not None:
                group.attrs["multiscales"] = [ome]
            # every chunk is written, even one that is all zeros: a missing chunk then always means damage
            group.create_array("0", shape=tuple(shape), chunks=tuple(chunks), dtype=np.dtype(dtype), fill_value=0)
            os.rename(tmp, self.partial)
        finally:
            if os.path.exists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)

    def done_flags(self, name: str, shape):
        """Per unit, 0 (to do) or the checksum of what it wrote (``unit_checksum``), one chunk each, so units
        on many workers never share one."""
        if name in self.group:
            return self.group[name]
        return self.group.create_array(name, shape=tuple(shape), chunks=(1,) * len(shape), dtype=np.uint64,
                                       fill_value=0)

    def scratch(self, name: str, shape, chunks):
        """An intermediate float32 array (planes before the isotropic pass), kept until the run ends."""
        if name not in self.group:
            self.group.create_array(name, shape=tuple(shape), chunks=tuple(chunks), dtype=np.float32, fill_value=0)
        return _complete_chunks(self.group[name])

    def extra(self, name: str, shape, chunks):
        """A float32 array kept beside the result (the uncertainty: one of ``KEPT``)."""
        return self.scratch(name, shape, chunks)

    def kept(self, name: str):
        """The finished store's ``name`` array (one of ``KEPT``), read-only, or None where it has none."""
        path = os.path.join(self.path, name)
        return _zarr().open_array(path, mode="r") if os.path.isdir(path) else None

    def finish(self, attrs: dict):
        """Drop the bookkeeping, mark complete and move ``<path>.partial`` to ``<path>``."""
        zarr = _zarr()
        try:
            for name in list(self.group.array_keys()):
                if not name.isdigit() and name not in KEPT:  # the result's levels are 0, 1, ...
                    shutil.rmtree(os.path.join(self.partial, name), ignore_errors=True)
            meta = dict(self.group.attrs[ATTR])
            meta.update(attrs, complete=True)
            self.group.attrs[ATTR] = meta
            if os.path.exists(self.path):  # only reached with overwrite (checked before the run)
                _swap_in(self.partial, self.path)
            else:
                os.replace(self.partial, self.path)
        except OSError as exc:
            raise fs_error(exc, self.path) from exc
        return zarr.open_array(os.path.join(self.path, "0"), mode="r")


KEPT = ("uncertainty",)  # arrays that stay beside the result's levels when the store is finished


def _complete_chunks(array):
    """``array`` writing every chunk, even one all zeros (zarr skips those by default): in a store of ours
    a missing chunk then always means damage, and the result reads back complete as an input."""
    return array.with_config({"write_empty_chunks": True})


def _swap_in(new: str, path: str) -> None:
    """Replace ``path`` by ``new``; the old content goes to a name this run made up, and only that is removed."""
    old = f"{path.rstrip('/')}.replaced-{uuid.uuid4().hex[:8]}"
    os.replace(path, old)
    try:
        os.replace(new, path)
    except OSError:
        os.replace(old, path)
        raise
    if os.path.isdir(old):
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.remove(old)


def _check_folder(out: str) -> None:
    """The folder ``out`` goes into must be one: a file in its place is named as a file."""
    parent = os.path.dirname(os.path.abspath(out))
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise NotADirectoryError(f"cannot create {out}: {parent} is a file, not a folder")
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"cannot create {out}: the folder {parent} does not exist")
