"""What the benchmark scripts share."""

import ctypes
import json
import platform
import threading
import time


def parse_overrides(items):
    """ZSSRConfig overrides from ``key=value`` strings, values read as JSON (numbers, true/false, lists)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set takes key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key] = json.loads(value)
    return out


def append_row(path, row: dict) -> None:
    """Append ``row`` as one JSON line to ``path`` (its folder made if need be); nothing for no path."""
    import os

    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


_libc = ctypes.CDLL("libc.so.6")
_libc.mallinfo2.restype = _MallInfo2


def heap_in_use() -> int:
    m = _libc.mallinfo2()
    return m.uordblks + m.hblkhd


class PeakSampler(threading.Thread):
    """Heap peak above the level at construction; optionally RSS peaks of some processes (by pid)."""

    def __init__(self, pids=()):
        super().__init__(daemon=True)
        self.base = heap_in_use()
        self.peak = 0
        self.pids = list(pids)
        self.rss = {pid: 0 for pid in self.pids}
        self.running = True

    def run(self):
        procs = {}
        if self.pids:
            import psutil

            procs = {pid: psutil.Process(pid) for pid in self.pids}
        while self.running:
            self.peak = max(self.peak, heap_in_use() - self.base)
            for pid, p in procs.items():
                try:
                    self.rss[pid] = max(self.rss[pid], p.memory_info().rss)
                except Exception:  # noqa: BLE001 - a worker that went away keeps its last peak
                    pass
            time.sleep(0.005)

    def stop(self):
        self.running = False
        self.join()
        self.peak = max(self.peak, heap_in_use() - self.base)
        return self.peak


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
