"""Running the units of a stack run in this process or on a dask.distributed cluster.

Both runners take the same unit functions (see ``units.py``) and give the same results; the
dask runner adds what a cluster needs: a bounded number of units in flight (so the data sent out
stays bounded), retries when a worker dies, progress events from the workers, and a cancel that
reaches units already running.
"""

from __future__ import annotations

import contextlib
import os
import queue
import time
import uuid
from dataclasses import dataclass

import numpy as np

from ..core.checks import cast_result
from ..core.device import resolve_device
from ..core.precision import resolve_precision
from ..core.progress import Cancelled, Progress, Stage
from .store import fs_error, unit_checksum


@dataclass
class Target:
    """Where a unit's result goes: a region of an array (zarr, or numpy in this process)."""

    blocks: object          # blocks.Blocks over the destination array
    where: tuple            # (c, t, zs, ys, xs)
    lo: object = 0.0        # result = value * span + lo (floats, or per-channel arrays), then cast to dtype
    span: object = 1.0
    dtype: object = np.float32
    done: object = None     # (flags array, index): set to the written block's checksum once it is written
    also: object = None     # the Target of the uncertainty, for units that return (result, uncertainty)

    def write(self, block) -> None:
        also = ()
        if isinstance(block, tuple):  # the uncertainty first: the done flag then covers both
            also = (self.also.write(block[1]),)
            block = block[0]
        try:
            return self._write(block, also)
        except OSError as exc:
            store = getattr(self.blocks.array, "store", None)
            raise fs_error(exc, getattr(store, "root", store) or "the output") from exc

    def _write(self, block: np.ndarray, also=()) -> np.ndarray:
        block = block if block.ndim >= 3 else block[None]
        identity = np.all(np.asarray(self.lo) == 0) and np.all(np.asarray(self.span) == 1)
        vals = block if identity else block * np.asarray(self.span, np.float32) + np.asarray(self.lo, np.float32)
        dtype = np.dtype(self.dtype)
        vals = cast_result(vals, dtype) if np.issubdtype(dtype, np.integer) else vals.astype(dtype, copy=False)
        self.blocks.write(*self.where, vals)
        if self.done is not None:  # the checksum of what was written, so a resume can tell a damaged chunk
            flags, idx = self.done
            flags[idx] = unit_checksum(vals, *also)
        return vals


def run_unit(fn, args, target, progress, writes_here: bool):
    """Run one unit; write its result when the destination is reachable from here (zarr, or this process)."""
    t0 = time.perf_counter()
    res = fn(*args, progress=progress)
    if target is not None and writes_here:
        target.write(res)
        res = None
    return res, time.perf_counter() - t0


class InProcess:
    """Runs each unit at once, in order, with the caller's progress object."""

    window = 1

    def __init__(self, progress: Progress):
        self.progress = progress

    def submit(self, fn, *args, target=None):
        return _Done(run_unit(fn, args, target, self.progress, writes_here=target is not None))

    def wait(self, handles):
        """(handle, value) for every finished handle, at least one (blocking)."""
        return [(h, h.value) for h in handles]

    def result(self, handle):
        return handle.value

    def given(self, value):
        """A handle for a unit's result known already (a loaded network)."""
        return _Done(value)

    def model(self, handle):
        """What an apply unit takes for the network a training unit returned."""
        return _model_of(handle.value)

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Done:
    def __init__(self, value):
        self.value = value


class OnDask:
    """Runs units as dask.distributed tasks on ``client``'s cluster."""

    def __init__(self, client, progress: Progress, retries: int = 2):
        from distributed import Event

        self.client, self.progress, self.retries = client, progress, retries
        self.job = f"napari-zssr-{uuid.uuid4().hex[:12]}"
        self.cancel_event = Event(self.job, client=client)
        self.events = queue.Queue()
        self.window = max(2, 2 * sum(client.nthreads().values()))
        client.subscribe_topic(self.job, lambda event: self.events.put(event[1]))
        self.futures = []
        self.models = {}

    def submit(self, fn, *args, target=None):
        writes_here = target is not None and not isinstance(target.blocks.array, np.ndarray)
        fut = self.client.submit(_remote_unit, fn, args, target if writes_here else None, self.job,
                                 dict(self.progress.base), pure=False, retries=self.retries)
        fut.target = None if writes_here else target
        self.futures.append(fut)
        return fut

    def result(self, fut):
        return self._gather(fut)

    def given(self, value):
        """A future for a unit's result known already (a loaded network), kept on the cluster."""
        return self.client.scatter([value], hash=False)[0]

    def model(self, fut):
        """A future of the TrainedNetwork alone, made once per training task and kept on the cluster."""
        if fut.key not in self.models:
            self.models[fut.key] = self.client.submit(_model_of, fut, pure=False, retries=self.retries)
        return self.models[fut.key]

    def wait(self, futs):
        while True:
            self._relay()
            finished = [f for f in futs if f.done()]
            if finished or not futs:
                return [(f, self._gather(f)) for f in finished]
            time.sleep(0.05)

    def _gather(self, fut):
        while not fut.done():
            self._relay()
            time.sleep(0.05)
        res = fut.result()
        if fut in self.futures:
            self.futures.remove(fut)
        if getattr(fut, "target", None) is not None and res[0] is not None:
            fut.target.write(res[0])
            res = (None, res[1])
        return res

    def _relay(self) -> None:
        """Pass the workers' progress events to the caller's callback (which may cancel)."""
        forwarded = False
        while True:
            try:
                info = self.events.get_nowait()
            except queue.Empty:
                break
            if "stage" in info:  # the wire carries the stage's value
                info["stage"] = Stage(info["stage"])
            self.progress(force=True, **info)
            forwarded = True
        if not forwarded:
            self.progress()

    def cancel(self) -> None:
        self.cancel_event.set()
        if self.futures:
            self.client.cancel(self.futures)
        self.futures = []

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the client may already be closing; nothing to clean then
            self.client.unsubscribe_topic(self.job)


def worker_device(client, name: str = "auto") -> str:
    """The device type ("cuda", "mps", "cpu") that ``name`` resolves to on the cluster's workers,
    which may differ from this machine's; a ValueError when no worker can use it."""
    answers = client.run(_probe_device, name)
    if not answers:
        raise ValueError("the dask cluster has no workers")
    kinds = {k for k, _ in answers.values() if k}
    if not kinds:
        raise ValueError(f"no worker of the dask cluster can use device {name!r}: "
                         f"{next(iter(answers.values()))[1]}")
    return "cuda" if "cuda" in kinds else min(kinds)


def worker_precision(client, cfg, channels: int):
    """``cfg`` with the precision one worker resolves for it (an "auto" probe runs there, once), and what
    the probe measured; every unit of the run then uses that precision."""
    return client.submit(_resolve_precision_here, cfg, channels, pure=False).result()


def _resolve_precision_here(cfg, channels):
    return resolve_precision(cfg, resolve_device(cfg.device), channels)


def _probe_device(name):
    try:
        return resolve_device(name).type, None
    except ValueError as exc:
        return None, str(exc)


def _model_of(trained):
    return trained[0][0]


def _remote_unit(fn, args, target, job, base):
    """A unit on a worker: progress goes to the client as events; a set cancel event stops it."""
    from distributed import Event, get_worker

    worker = get_worker()
    cancel = Event(job)

    def relay(info):
        if cancel.is_set():
            return False
        # msgpack takes plain types only: a Stage goes as its value
        worker.log_event(job, {k: getattr(v, "value", v) for k, v in info.items()
                               if isinstance(v, (int, float, str, type(None)))})
        return None

    return run_unit(fn, args, target, Progress(relay, dict(base), interval=1.0), writes_here=target is not None)


def connect(scheduler=None, workers=None, timeout: float = 10.0):
    """A dask client for ``scheduler`` (an address) or a new LocalCluster of ``workers`` processes.

    Returns ``(client, close)``; ``close()`` shuts down what this call started.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError("distributed runs need dask.distributed: pip install 'napari-zssr[distributed]'") from exc
    if scheduler:
        # a scheduler file (dask-scheduler --scheduler-file, dask-jobqueue) or an address
        by_file = str(scheduler).endswith(".json") or os.path.isfile(scheduler)
        if by_file and not os.path.isfile(scheduler):
            raise FileNotFoundError(f"no such scheduler file: {scheduler}")
        try:
            client = Client(scheduler_file=scheduler, timeout=f"{timeout}s") if by_file \
                else Client(scheduler, timeout=f"{timeout}s")
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(f"no dask scheduler answered at {scheduler} within {timeout:g} s ({exc})") from None
        return client, client.close
    if workers is None or int(workers) < 1:
        raise ValueError(f"workers must be a positive number of processes, got {workers!r}")
    cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)

    def close():
        client.close()
        cluster.close()

    return client, close


__all__ = ["Cancelled", "InProcess", "OnDask", "Target", "connect", "run_unit"]
