"""Kernel files: a numeric kernel or PSF from .npy, .tif or MATLAB .mat; an estimated kernel to .npy or .tif."""

from __future__ import annotations

import os

import numpy as np

from .files import TIFF_EXT, atomic_write, file_ext


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


def kernel_paths(path, n: int) -> list:
    """Where ``n`` kernels go: ``path`` itself for one, ``<stem>.c<i><ext>`` per channel for several; a
    ValueError for a type other than .npy or .tif."""
    path = os.fspath(path)
    ext = file_ext(path)
    if ext != ".npy" and ext not in TIFF_EXT:
        raise ValueError(f"a kernel is saved as .npy or .tif, got {path!r}")
    if n == 1:
        return [path]
    stem = path[: len(path) - len(ext)]
    return [f"{stem}.c{i}{ext}" for i in range(n)]


def check_kernel_paths(path, n: int, overwrite: bool) -> None:
    """Before a run: the kernel files can be written (type, folder, no file replaced unasked)."""
    for p in kernel_paths(path, n):
        folder = os.path.dirname(os.path.abspath(p))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"output folder does not exist: {folder}")
        if os.path.exists(p) and not overwrite:
            raise FileExistsError(f"{p} exists; add --overwrite to replace it")


def write_kernels(path, kernels, overwrite: bool = False) -> list:
    """Write each kernel (a 2-D array or a 1-D profile, float32; None or a name such as "cubic":
    skipped) whole or not at all; the paths written."""
    written = []
    for p, k in zip(kernel_paths(path, len(kernels)), kernels):
        if k is None or isinstance(k, str):
            continue
        arr = np.asarray(k, dtype=np.float32)
        written.append(p)
        if file_ext(p) == ".npy":
            atomic_write(p, lambda tmp, a=arr: np.save(tmp, a), overwrite=overwrite)
        else:
            import tifffile

            atomic_write(p, lambda tmp, a=arr: tifffile.imwrite(tmp, a), overwrite=overwrite)
    return written
