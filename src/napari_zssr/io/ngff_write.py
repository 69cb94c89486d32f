"""Writing OME-Zarr (NGFF 0.4) metadata: the multiscales entry, the pyramid of coarser levels and the
omero block that viewers use to open big results fast."""

from __future__ import annotations

import numpy as np

from .image_data import hex_colors
from .units import ngff_name


def ome_metadata(axes: str, voxel_size, translate, unit, name: str = "napari-zssr") -> dict:
    """NGFF 0.4 ``multiscales`` entry for one level at path ``0``; ``axes`` must be in TCZYX order."""
    kinds = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}

    unit = ngff_name(unit) if unit else None
    ax = []
    for a in axes:
        entry = {"name": a.lower(), "type": kinds[a]}
        if kinds[a] == "space" and unit:
            entry["unit"] = unit
        ax.append(entry)
    transforms = [{"type": "scale", "scale": [float(v) for v in voxel_size]}]
    if any(float(t) != 0 for t in translate):
        transforms.append({"type": "translation", "translation": [float(t) for t in translate]})
    return {"version": "0.4", "name": name, "axes": ax,
            "datasets": [{"path": "0", "coordinateTransformations": transforms}]}


PYRAMID_SIDE = 256  # levels are added until the larger lateral side is at most this
CHANNEL_COLORS = ("00FF00", "FF00FF", "00FFFF", "FF0000", "0000FF", "FFFF00")


def add_pyramid(group, axes: str, smallest: int = PYRAMID_SIDE, channels: dict | None = None) -> int:
    """Levels 1, 2, ... of the multiscale pyramid of an OME-Zarr image whose level 0 is written, and
    its ``omero`` block, so that big results open fast in napari and other viewers.

    Each level is the one before halved in Y and X by 2 x 2 means (an odd side repeats its last
    row or column; integer types are rounded and clipped), written plane by plane, until the larger
    lateral side is at most ``smallest``. ``channels`` may hold the source's ``channel_names`` and
    ``channel_colors`` ("#rrggbb") for the omero block. Returns the number of levels."""
    ms = dict(group.attrs)["multiscales"]
    datasets = ms[0]["datasets"][:1]  # level 0; levels of an interrupted earlier attempt are made again
    yi, xi = axes.index("Y"), axes.index("X")
    level = group["0"]
    # every chunk is written, even one all zeros: a missing chunk then always means damage (check_chunks)
    while max(level.shape[yi], level.shape[xi]) > smallest:
        shape = list(level.shape)
        shape[yi], shape[xi] = (shape[yi] + 1) // 2, (shape[xi] + 1) // 2
        chunks = [min(c, n) for c, n in zip(level.chunks, shape)]
        nxt = group.create_array(str(len(datasets)), shape=tuple(shape), chunks=tuple(chunks), dtype=level.dtype,
                                 fill_value=0, overwrite=True, config={"write_empty_chunks": True})
        others = [range(n) if i not in (yi, xi) else [slice(None)] for i, n in enumerate(level.shape)]
        for index in np.ndindex(*[len(r) for r in others]):
            at = tuple(others[i][j] if i not in (yi, xi) else slice(None) for i, j in enumerate(index))
            nxt[at] = _halve(np.asarray(level[at]), level.dtype)
        prev = datasets[-1]["coordinateTransformations"]
        scale = list(prev[0]["scale"])
        shift = list(prev[1]["translation"]) if len(prev) > 1 else [0.0] * len(scale)
        for i in (yi, xi):
            shift[i] += scale[i] / 2  # the centre of a 2 x 2 block
            scale[i] *= 2
        datasets.append({"path": str(len(datasets)), "coordinateTransformations": [
            {"type": "scale", "scale": scale}, {"type": "translation", "translation": shift}]})
        level = nxt
    ms[0]["datasets"] = datasets
    attrs = {"multiscales": ms, "omero": _omero(level, axes, channels=channels or {})}
    group.attrs.update(attrs)
    return len(datasets)


def _halve(plane, dtype):
    p = plane.astype(np.float64)
    if p.shape[0] % 2:
        p = np.concatenate([p, p[-1:]], axis=0)
    if p.shape[1] % 2:
        p = np.concatenate([p, p[:, -1:]], axis=1)
    out = (p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2]) / 4
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(dtype)


def _omero(level, axes: str, most: int = 16, channels: dict | None = None) -> dict:
    """Channel labels and colours (the source's where ``channels`` has one per channel) and display
    windows (0.1 and 99.9 percentiles of up to ``most`` evenly spaced planes of each channel of the
    smallest level)."""
    ci = axes.index("C") if "C" in axes else None
    n = level.shape[ci] if ci is not None else 1
    names = (channels or {}).get("channel_names") or []
    names = [str(v) for v in names] if len(names) == n else [f"channel {c}" for c in range(n)]
    default = ["FFFFFF"] if n == 1 else [CHANNEL_COLORS[c % len(CHANNEL_COLORS)] for c in range(n)]
    colors = hex_colors((channels or {}).get("channel_colors"), n) or default
    others = [i for i, a in enumerate(axes) if a not in "CYX"]
    combos = list(np.ndindex(*[level.shape[i] for i in others]))
    picked = [combos[int(round(k))] for k in np.linspace(0, len(combos) - 1, min(most, len(combos)))]
    out = []
    for c in range(n):
        def at(combo, c=c):
            idx = [slice(None)] * len(axes)
            for i, j in zip(others, combo):
                idx[i] = j
            if ci is not None:
                idx[ci] = c
            return tuple(idx)

        v = np.concatenate([np.asarray(level[at(combo)]).ravel() for combo in picked])
        lo, hi = (float(x) for x in np.percentile(v, (0.1, 99.9)))
        out.append({"label": names[c], "active": True, "coefficient": 1.0, "family": "linear",
                    "inverted": False, "color": colors[c],
                    "window": {"start": lo, "end": hi if hi > lo else lo + 1, "min": float(v.min()),
                               "max": float(v.max())}})
    return {"channels": out, "rdefs": {"model": "greyscale" if n == 1 else "color"}}
