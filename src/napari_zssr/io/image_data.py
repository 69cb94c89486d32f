"""ImageData: an array with its axes, voxel sizes and unit, as every reader returns it."""

from __future__ import annotations

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
