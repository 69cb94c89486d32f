"""Kernel files: a numeric kernel or PSF from .npy, .tif or MATLAB .mat."""

from __future__ import annotations

import os

import numpy as np

from .files import TIFF_EXT, file_ext


def read_kernel(path) -> np.ndarray:
    """A numeric kernel from .npy, .tif/.tiff or MATLAB .mat (the first 2-D numeric variable)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such kernel file: {path}")
    ext = file_ext(path)
    if ext == ".npy":
        return np.load(path, allow_pickle=False)
    if ext in TIFF_EXT:
        import tifffile

        return tifffile.imread(path)
    if ext == ".mat":
        from scipy.io import loadmat

        mat = loadmat(path)
        names = [k for k in mat if not k.startswith("__")]
        names.sort(key=lambda k: k.lower() != "kernel")
        for k in names:
            v = np.asarray(mat[k])
            if v.ndim == 2 and np.issubdtype(v.dtype, np.number) and v.size > 1:
                return v
        raise ValueError(f"{path} holds no 2-D numeric variable to use as a kernel (found {names})")
    raise ValueError(f"unsupported kernel file {ext!r}; use .npy, .tif or .mat")
