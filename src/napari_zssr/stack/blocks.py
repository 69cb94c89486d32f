"""Reading and writing blocks of n-D arrays by axis letter, so no step needs the whole array in memory.

Numpy, dask and zarr arrays (and anything with ``shape``, ``dtype`` and slicing) are read one
plane or slab at a time; results are written the same way into a numpy array or a zarr array.
"""

from __future__ import annotations

import numpy as np

from ..core.axial import fine_length
from ..core.checks import check_numeric
from ..core.resize import ceil_size


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
    """Integer or float intensities only. numpy counts timedelta64 as a signed integer, so a check for
    numbers alone lets it through to fail after training, at the cast (datetime64 too, in other words)."""
    dt = np.dtype(data.dtype)
    if dt.kind not in "iuf":
        name = f"dtype {dt}" if what == "dtype" else f"{what} has dtype {dt}, which"
        raise TypeError(f"{name} is not a numeric image type; use an integer or float type")
    check_numeric(np.empty(0, dtype=dt), what)


class Blocks:
    """Blocks of an array with axes ``axes`` (letters of TCZYX, or S in place of C) addressed as (c, t, z, y, x).

    A block is returned and accepted as (Z, Y, X), with Z of length 1 where the array has no Z
    axis; T selects one index (0 where the array has no such axis), and so does C (or S) when
    ``c`` is an int. With ``c=slice(None)`` (all channels, as the colours of an RGB image are
    used together) a block is (C, Z, Y, X).
    """

    def __init__(self, array, axes: str):
        self.array, self.axes = array, axes
        self.shape5 = shape5_of(array.shape, axes)

    def _index(self, c, t, zs, ys, xs):
        pick = {"C": c, "S": c, "T": t, "Z": zs, "Y": ys, "X": xs}
        return tuple(pick[a] for a in self.axes)

    def _layout(self, c):
        """The axes of an indexed block, and the order that makes them (C,) Z, Y, X."""
        kept = [a for a in self.axes if a in "ZYX" or (a in "CS" and not isinstance(c, (int, np.integer)))]
        want = ([a for a in kept if a in "CS"]) + [a for a in "ZYX" if a in kept]
        return kept, [kept.index(a) for a in want]

    def read(self, c, t, zs=slice(None), ys=slice(None), xs=slice(None)) -> np.ndarray:
        block = np.asarray(self.array[self._index(c, t, zs, ys, xs)])
        _, order = self._layout(c)
        block = np.transpose(block, order)
        return block if "Z" in self.axes else np.expand_dims(block, -3)

    def write(self, c, t, zs, ys, xs, block: np.ndarray) -> None:
        block = block if "Z" in self.axes else np.squeeze(block, -3)
        _, order = self._layout(c)
        self.array[self._index(c, t, zs, ys, xs)] = np.transpose(block, np.argsort(order))

    def plane(self, c, t, z) -> np.ndarray:
        return self.read(c, t, slice(z, z + 1))[..., 0, :, :]


def shape5_of(shape, axes: str) -> tuple:
    """(C, T, Z, Y, X) of an array of ``shape`` with ``axes`` (S counts as C), 1 where it has no such axis."""
    axes = axes.replace("S", "C")
    return tuple(shape[axes.index(a)] if a in axes else 1 for a in "CTZYX")


def result_shape(shape, plan) -> tuple:
    """The shape of the enlarged array, in the input's axis order."""
    return shape_for(plan.axes, out_shape(shape5_of(shape, plan.axes), plan))


def out_shape(blocks_shape5, plan) -> tuple:
    """(C, T, Z, Y, X) of the result for an input of (C, T, Z, Y, X)."""
    C, T, Z, Y, X = blocks_shape5
    sy, sx = plan.lateral_scale
    if plan.mode in ("planes", "both"):
        Y, X = ceil_size(Y * sy), ceil_size(X * sx)
    if plan.mode in ("isotropic", "both"):
        Z = fine_length(Z, plan.z_factor)
    return (C, T, Z, Y, X)


def shape_for(axes: str, shape5) -> tuple:
    """The shape in ``axes`` order of a (C, T, Z, Y, X) shape (S counts as C)."""
    return tuple(shape5["CTZYX".index(a)] for a in axes.replace("S", "C"))
