"""What a stack run reads: the channels' intensity statistics and training planes, blocks in the units the
networks see, and one pass over the whole input (digests, decoding, finiteness) before any training."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from ..core.checks import check_finite
from .blocks import Blocks

MAX_SOURCES = 16  # planes a shared network draws its fathers from (evenly spaced through the stack)


@dataclass
class ChannelStats:
    lo: float
    span: float
    constant: bool
    sample: list   # the (t, z) planes read for the statistics; they are also the training sources


def channel_stats(src: Blocks, c: int) -> ChannelStats:
    """The channel's intensity range from evenly spaced planes, as the networks see them."""
    _, T, Z = src.shape5[:3]
    where = _sources([(t, z) for t in range(T) for z in range(Z)])
    planes = []
    for t, z in where:
        p = src.plane(c, t, z)
        check_finite(p, f"data (channel {c}, time {t}, plane {z})")
        planes.append(p)
    lo, span, constant = channel_range(np.stack(planes))
    return ChannelStats(lo, span, constant, where)


def _sources(planes, n=MAX_SOURCES):
    idx = np.unique(np.linspace(0, len(planes) - 1, min(n, len(planes))).round().astype(int))
    return [planes[i] for i in idx]


def read_block(src: Blocks, stats, c, t, zs=slice(None), ys=slice(None), xs=slice(None), joint=False) -> np.ndarray:
    """A block in the units the networks see: (value - lo) / span per channel, float32; (Z, Y, X) of
    channel ``c``, or (C, Z, Y, X) of every channel for a ``joint`` (RGB) plan."""
    block = src.read(slice(None) if joint else c, t, zs, ys, xs)
    if not isinstance(src.array, np.ndarray) and np.issubdtype(block.dtype, np.floating):
        check_finite(block, f"data (channel {c}, time {t})")
    x = block.astype(np.float32)
    for i, st in (enumerate(stats) if joint else [(None, stats[c])]):
        if (st.lo, st.span) != (0.0, 1.0):
            part = x if i is None else x[i]
            part -= np.float32(st.lo)
            part /= np.float32(st.span)
    return x


def one_plane(x: np.ndarray) -> np.ndarray:
    """The one plane of a (Z=1, Y, X) or (C, Z=1, Y, X) block: (Y, X) or (C, Y, X)."""
    return x[..., 0, :, :]


SCAN_BYTES = 64 << 20  # the input is read for its digests in blocks of about this many bytes


def scan_input(src: Blocks, source=None) -> dict:
    """A digest of every (channel, time) volume of the input, read block by block; the blocks are also
    checked to decode and to be finite, so a damaged file fails before any training."""
    C, T, Z, Y, X = src.shape5
    step = _z_step(src, SCAN_BYTES // max(1, Y * X * np.dtype(src.array.dtype).itemsize))
    volumes = {}
    for c in range(C):
        for t in range(T):
            h = hashlib.blake2b(digest_size=16)
            for z in range(0, Z, step):
                block = _read_raw(src, c, t, z, min(Z, z + step), source)
                h.update(np.ascontiguousarray(block).tobytes())
            volumes[f"channel {c}, time {t}"] = h.hexdigest()
    return {"shape": list(src.array.shape), "dtype": str(np.dtype(src.array.dtype)), "volumes": volumes}


def _z_step(src: Blocks, most: int) -> int:
    """Planes per read: the array's own chunk depth along Z (each chunk is decoded once), at most ``most``."""
    Z = src.shape5[2]
    chunks = getattr(src.array, "chunks", None)
    if "Z" in src.axes and chunks is not None:
        along = chunks[src.axes.index("Z")]
        depth = max(along) if isinstance(along, tuple) else int(along)  # dask: a tuple of chunk lengths
        return max(1, min(Z, depth, most))
    return max(1, min(Z, most)) if isinstance(src.array, np.ndarray) else 1  # unknown chunking: plane by plane


def _read_raw(src: Blocks, c, t, z0, z1, source) -> np.ndarray:
    where = f"channel {c}, time {t}, planes {z0}-{z1 - 1}"
    try:
        block = src.read(c, t, slice(z0, z1))
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - decoders raise many kinds for a damaged chunk or page
        raise ValueError(f"cannot read {source or 'the input'} at {where}: {type(exc).__name__}: {exc}") from None
    if np.issubdtype(block.dtype, np.floating):
        check_finite(block, f"data ({where})")
    return block


def source_of(arr):
    """The local path a zarr array was opened from (None for other arrays and remote stores)."""
    store = getattr(arr, "store", None)
    root = getattr(store, "root", None)
    if root is None:
        return None
    return os.path.join(os.fspath(root), *[p for p in str(getattr(arr, "path", "")).split("/") if p])


def channel_range(values):
    """(lo, span, constant) of one channel: its 0.1 / 99.9 percentiles, min/max for sparse data.

    Reads at most about 4 million values (evenly strided) and makes no float copy of the data.
    """
    flat = np.asarray(values).reshape(-1)
    if flat.size > 4_000_000:
        flat = flat[:: flat.size // 4_000_000 + 1]
    lo, hi = (float(v) for v in np.percentile(flat, (0.1, 99.9)))
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        lo, hi = float(flat.min()), float(flat.max())
    constant = hi - lo <= 1e-12 * max(1.0, abs(hi))
    return lo, (1.0 if constant else hi - lo), constant
