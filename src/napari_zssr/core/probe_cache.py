"""What the device probes measured on this machine, kept in the user's cache folder: the default preset
and precision are decided once per machine (CPU model, threads, torch), not anew by every process, so
two runs of one command on one machine use the same settings."""

from __future__ import annotations

import json
import os
import platform
import sys
import time

CACHE_ENV = "NAPARI_ZSSR_CACHE_DIR"  # where the file lives (tests, read-only homes); default: the OS's cache folder
FILE = "probes.json"
MAX_AGE_DAYS = 90                    # a kept measurement is taken again after this long (drivers, BIOS change)


def cache_dir() -> str:
    if os.environ.get(CACHE_ENV):
        return os.environ[CACHE_ENV]
    home = os.path.expanduser("~")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
    elif sys.platform == "darwin":
        base = os.path.join(home, "Library", "Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return os.path.join(base, "napari-zssr")


def machine(device) -> str:
    """This machine as the probes see it: processor, threads torch uses, torch's version, the device."""
    import torch

    return f"{_cpu_model()}|threads {torch.get_num_threads()}|torch {torch.__version__}|{device}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _read() -> dict:
    try:
        with open(os.path.join(cache_dir(), FILE), encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):  # none yet, unreadable or damaged: measure again
        return {}


def kept(kind: str, key: str) -> dict | None:
    """The kept entry of ``kind`` ("preset", "precision") for ``key``, or None; ``stale`` is set on an
    entry past its age, which the caller measures again (and may keep, see core.precision)."""
    entry = _read().get(kind, {}).get(key)
    if not isinstance(entry, dict):
        return None
    entry = dict(entry)
    entry["stale"] = time.time() - float(entry.get("when", 0)) > MAX_AGE_DAYS * 86400
    return entry


def keep(kind: str, key: str, entry: dict) -> None:
    """Keep ``entry``; a cache that cannot be written only costs a probe next time."""
    data = _read()
    data.setdefault(kind, {})[key] = {**entry, "when": time.time()}
    folder = cache_dir()
    tmp = os.path.join(folder, f".{FILE}.{os.getpid()}.tmp")
    try:
        os.makedirs(folder, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp, os.path.join(folder, FILE))  # whole or not at all, also with two processes at once
    except OSError:
        try:
            os.remove(tmp)
        except OSError:
            pass
