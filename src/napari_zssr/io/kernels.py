"""Kernel files: a numeric kernel or PSF from .npy, .tif or MATLAB .mat; an estimated kernel to .npy or .tif."""

from __future__ import annotations

import os

import numpy as np

from .files import TIFF_EXT, atomic_write, file_ext


MAX_KERNEL_SIDE = 1025  # a kernel or PSF larger than this per side is not one
MAX_KERNEL_VALUES = 1 << 22  # nor one of more values (a 3-D PSF of 161^3 fits)


def read_kernel(path) -> np.ndarray:
    """A numeric kernel from .npy, .tif/.tiff or MATLAB .mat (the first 2-D numeric variable). A file
    that cannot be read, or whose kernel is empty, not finite or too large, is a ValueError naming it;
    a claimed size is checked before the kernel is allocated."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such kernel file: {path}")
    ext = file_ext(path)
    if ext == ".npy":
        k = _read_npy(path)
    elif ext in TIFF_EXT:
        k = _read_tiff_kernel(path)
    elif ext == ".mat":
        k = _read_mat(path)
    else:
        raise ValueError(f"unsupported kernel file {ext!r}; use .npy, .tif or .mat")
    return _checked(k, path)


def _check_shape(shape, path) -> None:
    n = int(np.prod(shape, dtype=np.float64)) if len(shape) else 1
    if any(int(v) > MAX_KERNEL_SIDE for v in shape) or n > MAX_KERNEL_VALUES:
        raise ValueError(f"{path} holds an array of shape {tuple(int(v) for v in shape)}, too large for a kernel "
                         f"(at most {MAX_KERNEL_SIDE} per side and {MAX_KERNEL_VALUES} values)")


def _checked(k, path) -> np.ndarray:
    k = np.asarray(k)
    if k.dtype == bool or not np.issubdtype(k.dtype, np.number) or np.iscomplexobj(k):
        raise ValueError(f"{path} holds a {k.dtype} array; a kernel is real numbers")
    if k.size == 0 or k.ndim == 0:
        raise ValueError(f"{path} holds an empty kernel (shape {k.shape}); a kernel has at least one value per axis")
    _check_shape(k.shape, path)
    if not np.all(np.isfinite(k)):
        raise ValueError(f"{path} holds a kernel with NaN or infinite values; a kernel is finite numbers")
    return k


def _read_npy(path) -> np.ndarray:
    """The header first: a file claiming a huge or object array, or more data than it holds, is
    refused before anything is allocated."""
    from numpy.lib import format as npformat

    try:
        with open(path, "rb") as f:
            version = npformat.read_magic(f)
            read_header = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
            shape, _, dtype = read_header(f)
            start = f.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable .npy file ({exc})") from None
    if dtype.hasobject:
        raise ValueError(f"{path} holds Python objects (dtype {dtype}), which are not loaded (they could run code); "
                         f"save the kernel as a numeric array")
    _check_shape(shape, path)
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if start + need > os.path.getsize(path):
        raise ValueError(f"{path} is truncated: its header claims shape {shape} {dtype} ({need} bytes), the file "
                         f"holds {os.path.getsize(path) - start} bytes of data")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable .npy file ({exc})") from None


def _read_tiff_kernel(path) -> np.ndarray:
    import tifffile

    from .tiff_checks import check_complete, tifffile_log

    try:
        with tifffile_log(path), tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise ValueError(f"{path} holds no image to use as a kernel")
            series = tif.series[0]
            _check_shape(series.shape, path)
            check_complete(tif, series, path)
            return series.asarray()
    except (tifffile.TiffFileError, OSError, RuntimeError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable TIFF kernel ({type(exc).__name__}: {exc})") from None


MAT_NUMERIC = ("double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")


def _read_mat(path) -> np.ndarray:
    """The first 2-D numeric variable (one named "kernel" first), its shape checked before loading."""
    from scipy.io import loadmat, whosmat

    info = _mat_call(path, whosmat)
    names = sorted((n for n, _, _ in info if not n.startswith("__")), key=lambda k: k.lower() != "kernel")
    if not names:
        raise ValueError(f"{path} holds no variables; save the kernel in it as a 2-D numeric variable (e.g. 'kernel')")
    kinds = {n: (shape, kind) for n, shape, kind in info}
    name = next((n for n in names if len(kinds[n][0]) == 2 and np.prod(kinds[n][0]) > 1 and kinds[n][1] in MAT_NUMERIC),
                None)
    if name is None:
        raise ValueError(f"{path} holds no 2-D numeric variable to use as a kernel (found {names})")
    _check_shape(kinds[name][0], path)
    return np.asarray(_mat_call(path, lambda p: loadmat(p, variable_names=[name]))[name])


def _mat_call(path, fn):
    """``fn(path)`` with scipy's errors for an unreadable .mat file turned into one ValueError naming it."""
    try:
        return fn(path)
    except NotImplementedError:  # scipy's word for MATLAB v7.3 (HDF5)
        raise ValueError(f"{path} is a MATLAB v7.3 (HDF5) file, which is not read; save it with save(..., '-v7') "
                         f"or as .npy") from None
    except (ValueError, OSError, EOFError, TypeError, KeyError) as exc:  # scipy's kinds for a damaged file
        raise ValueError(f"{path} is not a readable MATLAB .mat file ({type(exc).__name__}: {exc})") from None


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
