"""Reading and writing blocks of n-D arrays by axis letter, so no step needs the whole array in memory.

Numpy, dask and zarr arrays (and anything with ``shape``, ``dtype`` and slicing) are read one
plane or slab at a time; results are written the same way into a numpy array or a zarr array.
"""

from __future__ import annotations

import numpy as np

from ..core.checks import check_numeric


def is_lazy(data) -> bool:
    """True for arrays that are read on demand (dask, zarr, ...) rather than held as numpy."""
    return not isinstance(data, np.ndarray) and hasattr(data, "shape") and hasattr(data, "dtype") \
        and hasattr(data, "__getitem__")


def as_array(data):
    """``data`` itself when it can be sliced lazily, else a numpy array (lists, scalars, ...)."""
    if isinstance(data, np.ndarray) or is_lazy(data):
        return data
    return np.asarray(data)


def check_dtype(data, what: str = "data") -> None:
    check_numeric(np.empty(0, dtype=np.dtype(data.dtype)), what)


class Blocks:
    """Blocks of an array with axes ``axes`` (letters of TCZYX) addressed as (c, t, z, y, x).

    A block is always returned and accepted as (Z, Y, X), with Z of length 1 where the array has
    no Z axis; C and T select one index (0 where the array has no such axis).
    """

    def __init__(self, array, axes: str):
        self.array, self.axes = array, axes
        self.shape5 = shape5_of(array.shape, axes)

    def _index(self, c, t, zs, ys, xs):
        pick = {"C": c, "T": t, "Z": zs, "Y": ys, "X": xs}
        return tuple(pick[a] for a in self.axes)

    def read(self, c, t, zs=slice(None), ys=slice(None), xs=slice(None)) -> np.ndarray:
        block = np.asarray(self.array[self._index(c, t, zs, ys, xs)])
        return block if "Z" in self.axes else block[None]

    def write(self, c, t, zs, ys, xs, block: np.ndarray) -> None:
        self.array[self._index(c, t, zs, ys, xs)] = block if "Z" in self.axes else block[0]

    def plane(self, c, t, z) -> np.ndarray:
        return self.read(c, t, slice(z, z + 1))[0]


def shape5_of(shape, axes: str) -> tuple:
    """(C, T, Z, Y, X) of an array of ``shape`` with ``axes``, 1 where it has no such axis."""
    return tuple(shape[axes.index(a)] if a in axes else 1 for a in "CTZYX")


def result_shape(shape, plan) -> tuple:
    """The shape of the enlarged array, in the input's axis order."""
    return shape_for(plan.axes, out_shape(shape5_of(shape, plan.axes), plan))


def out_shape(blocks_shape5, plan) -> tuple:
    """(C, T, Z, Y, X) of the result for an input of (C, T, Z, Y, X)."""
    from ..core.axial import fine_length
    from ..core.resize import ceil_size

    C, T, Z, Y, X = blocks_shape5
    sy, sx = plan.lateral_scale
    if plan.mode in ("planes", "both"):
        Y, X = ceil_size(Y * sy), ceil_size(X * sx)
    if plan.mode in ("isotropic", "both"):
        Z = fine_length(Z, plan.z_factor)
    return (C, T, Z, Y, X)


def shape_for(axes: str, shape5) -> tuple:
    return tuple(shape5["CTZYX".index(a)] for a in axes)
