"""Kernel files: a numeric kernel or PSF from .npy, .tif or MATLAB .mat; an estimated kernel to .npy or .tif."""

from __future__ import annotations

import os
import struct

import numpy as np
from numpy.lib import format as npformat

from .files import TIFF_EXT, atomic_write, file_ext
from .matfile import read_mat
from .tiff import checked_ome_root
from .tiff_checks import check_complete, open_tiff, tiff_errors, tifffile_log

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
        read = _read_npy
    elif ext in TIFF_EXT:
        read = _read_tiff_kernel
    elif ext == ".mat":
        read = _read_mat
    else:
        raise ValueError(f"unsupported kernel file {path}: its type {ext or '(none)'!r} is not one of .npy, .tif "
                         f"or .mat")
    try:
        return _checked(read(path), path)
    except (ValueError, OSError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - the last guard: the command line would blame the input image
        raise ValueError(f"{path} could not be read as a kernel ({type(exc).__name__}: {exc}); the file is "
                         f"damaged") from None


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


NPY_MAX_HEADER = 1 << 16  # numpy reads no header above 10000 characters (its max_header_size)


def _npy_header(path) -> tuple:
    """(shape, dtype, first data byte) of a .npy file. Its version and header length are checked against
    the file before numpy's header reader runs: numpy reads an unknown version as 2.0 and allocates the
    header length it is given (2 GB for a 4-byte length of 2**31) before finding the file shorter."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        magic = f.read(8)
        if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
            raise ValueError(f"{path} is not a readable .npy file (it does not start with the .npy magic string)")
        if magic[6] not in (1, 2, 3) or magic[7] != 0:
            raise ValueError(f"{path} is not a readable .npy file (format version {magic[6]}.{magic[7]}; numpy "
                             f"writes 1.0, 2.0 and 3.0): the file is damaged")
        field = "<H" if magic[6] == 1 else "<I"
        raw = f.read(struct.calcsize(field))
        n = struct.unpack(field, raw)[0] if len(raw) == struct.calcsize(field) else None
        if n is None or n > NPY_MAX_HEADER or 8 + len(raw) + n > size:
            raise ValueError(f"{path} is not a readable .npy file (its header claims {n} bytes, the file holds "
                             f"{size} in all): the file is truncated or damaged")
        f.seek(8)
        # 3.0 differs from 2.0 only in its header's encoding (UTF-8), the same as latin-1 for numeric dtypes
        read_header = npformat.read_array_header_1_0 if magic[6] == 1 else npformat.read_array_header_2_0
        try:
            shape, _, dtype = read_header(f)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - numpy's parser raises tokenize.TokenError, SyntaxError, ...
            raise ValueError(f"{path} is not a readable .npy file: its header is damaged ({type(exc).__name__}: "
                             f"{_first_line(exc)})") from None
        return shape, dtype, f.tell()


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _read_npy(path) -> np.ndarray:
    """The header first: a file claiming a huge or object array, or more data than it holds, is
    refused before anything is allocated."""
    try:
        shape, dtype, start = _npy_header(path)
    except (OSError, EOFError) as exc:
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
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - the header was read above; whatever else numpy meets is damage
        raise ValueError(f"{path} is not a readable .npy file ({type(exc).__name__}: {_first_line(exc)})") from None


def _read_tiff_kernel(path) -> np.ndarray:
    """The first series; anything tifffile or a codec raises on a damaged file (struct.error, zlib.error,
    ZeroDivisionError while building the series) becomes a ValueError naming the file."""
    what = "a readable TIFF kernel"
    with tifffile_log(path):
        tif = open_tiff(path, what)
        with tif, tiff_errors(path, what):
            checked_ome_root(tif, path)  # before tif.series, which builds a list of every declared plane
            if not tif.series:
                raise ValueError(f"{path} holds no image to use as a kernel")
            series = tif.series[0]
            _check_shape(series.shape, path)
            check_complete(tif, series, path)
            return series.asarray()


MAT_MAX_BYTES = MAX_KERNEL_VALUES * 8 + 4096  # the largest kernel as doubles, with its tags and name


def _read_mat(path) -> np.ndarray:
    """The first 2-D numeric variable (one named "kernel" first). Read by io/matfile.py, not by
    scipy.io.loadmat, which crashes the process on some damaged files and allocates what others claim."""
    arrays, skipped = read_mat(path, MAT_MAX_BYTES)
    if not arrays and not skipped:
        raise ValueError(f"{path} holds no variables; save the kernel in it as a 2-D numeric variable (e.g. 'kernel')")
    names = sorted(arrays, key=lambda k: k.lower() != "kernel")
    name = next((n for n in names if arrays[n].ndim == 2 and arrays[n].size > 1
                 and np.issubdtype(arrays[n].dtype, np.number)), None)
    if name is None:
        found = [f"{n!r}: {a.dtype} {a.shape}" for n, a in arrays.items()] + [f"{n!r}: {w}" for n, w in skipped.items()]
        raise ValueError(f"{path} holds no 2-D numeric variable to use as a kernel (found {'; '.join(found)})")
    return arrays[name]


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
