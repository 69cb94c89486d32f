"""ImageData: an array with its axes, voxel sizes and unit, as every reader returns it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass
class ImageData:
    """An array with what is known about it: axes (e.g. "YX", "YXS" for RGB), pixel size, unit."""

    data: np.ndarray
    axes: str
    pixel_size: dict = field(default_factory=dict)  # axis letter -> size in `unit`
    unit: Optional[str] = None
    metadata: dict = field(default_factory=dict)

    def close(self) -> None:
        """Close the file a lazy array reads from (a TIFF opened as zarr keeps it open once read);
        nothing for data in memory. The data is not readable afterwards."""
        for arr in self.data if isinstance(self.data, list) else [self.data]:
            store = getattr(arr, "store", None)
            if store is not None and callable(getattr(store, "close", None)):
                store.close()

    def __enter__(self) -> "ImageData":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def hex_colors(colors, n: int):
    """``colors`` as n "RRGGBB" strings (from "#rrggbb" or "rrggbb"), or None when there are not n of
    them or one is not a 6-digit hex colour: a metadata colour is never guessed."""
    if not colors or len(colors) != n:
        return None
    out = [str(c).strip().lstrip("#").upper() for c in colors]
    return out if all(re.fullmatch(r"[0-9A-F]{6}", c) for c in out) else None
