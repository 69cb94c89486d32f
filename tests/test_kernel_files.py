"""Broken kernel files (io/kernels.py read_kernel): MATLAB v7.3, empty and damaged .mat files, object, truncated
and huge-claiming .npy files, damaged TIFFs, kernels that are empty, not finite or too large. Each gets one
ValueError naming the file, raised before a claimed size is allocated."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
import scipy.io
import tifffile
from PIL import Image

from napari_zssr.io import read_kernel

from .cases import CLIError, check_case, cli_case

KERNEL = np.outer(np.hanning(7), np.hanning(7))[1:-1, 1:-1]
KERNEL = KERNEL / KERNEL.sum()


def image(folder):
    path = os.path.join(folder, "in.png")
    Image.fromarray((np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8)).save(path)
    return path


def with_kernel(make_kernel):
    """The command line with ``--kernel`` naming the file ``make_kernel(folder)`` writes."""
    with tempfile.TemporaryDirectory() as kdir:
        return cli_case(image, ["--scale", "2", "--kernel", make_kernel(kdir)])


def in_tmp(make, fn=read_kernel):
    with tempfile.TemporaryDirectory() as tmp:
        return fn(make(tmp))


def mat_v73(folder):
    """A MATLAB v7.3 file's header (HDF5 follows at byte 512), as scipy meets it."""
    path = os.path.join(folder, "k73.mat")
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "wb") as f:
        f.write(text.ljust(116, b" ") + bytes(8) + b"\x00\x02IM" + bytes(512 - 128) + b"\x89HDF\r\n\x1a\n" + bytes(96))
    return path


def mat(folder, variables, name="k.mat"):
    path = os.path.join(folder, name)
    scipy.io.savemat(path, variables)
    return path


def cut(path, keep=0.5):
    os.truncate(path, int(os.path.getsize(path) * keep))
    return path


def random_file(folder, name):
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(np.random.default_rng(3).integers(0, 256, 400, dtype=np.uint8).tobytes())
    return path


def npy(folder, arr, name="k.npy", allow_pickle=False):
    path = os.path.join(folder, name)
    np.save(path, arr, allow_pickle=allow_pickle)
    return path


def npy_claiming(folder, shape=(4096, 4096)):
    """A .npy header claiming ``shape`` float64 (134 MB) over 16 bytes of data."""
    from numpy.lib import format as npformat

    path = os.path.join(folder, "claim.npy")
    with open(path, "wb") as f:
        npformat.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": shape})
        f.write(bytes(16))
    return path


def tif(folder, arr, name="k.tif"):
    path = os.path.join(folder, name)
    tifffile.imwrite(path, arr)
    return path


NAN_KERNEL = np.where(KERNEL > KERNEL.max() / 2, np.nan, KERNEL)

CASES = [
    ("kernel-mat-v73", "a MATLAB v7.3 (HDF5) .mat kernel, through the command line", lambda: with_kernel(mat_v73),
     CLIError, "k73.mat is a MATLAB v7.3 (HDF5) file, which is not read; save it with save(..., '-v7') or as .npy"),
    ("kernel-mat-empty", "a .mat file with no variables", lambda: in_tmp(lambda d: mat(d, {})), ValueError,
     "k.mat holds no variables"),
    ("kernel-mat-truncated", "a .mat file cut in half", lambda: in_tmp(lambda d: cut(mat(d, {"kernel": KERNEL}))),
     ValueError, "k.mat is not a readable MATLAB .mat file"),
    ("kernel-mat-random", "400 random bytes named .mat", lambda: with_kernel(lambda d: random_file(d, "r.mat")),
     CLIError, "r.mat is not a readable MATLAB .mat file"),
    ("kernel-mat-text-only", "a .mat file holding only a string",
     lambda: in_tmp(lambda d: mat(d, {"note": "hello"})), ValueError, "holds no 2-D numeric variable"),
    ("kernel-mat-nan", "a .mat kernel with NaN", lambda: in_tmp(lambda d: mat(d, {"kernel": NAN_KERNEL})),
     ValueError, "k.mat holds a kernel with NaN or infinite values"),
    ("kernel-npy-object", "a .npy of Python objects", lambda: with_kernel(
        lambda d: npy(d, np.array([{"a": 1}], dtype=object), allow_pickle=True)), CLIError,
     "k.npy holds Python objects (dtype object), which are not loaded"),
    ("kernel-npy-truncated", "a .npy cut in half", lambda: in_tmp(lambda d: cut(npy(d, KERNEL))), ValueError,
     "k.npy is truncated: its header claims shape (5, 5) float64 (200 bytes)"),
    ("kernel-npy-claims-huge", "a .npy header claiming 4096 x 4096 float64 over 16 bytes",
     lambda: in_tmp(npy_claiming), ValueError,
     "claim.npy holds an array of shape (4096, 4096), too large for a kernel"),
    ("kernel-npy-random", "400 random bytes named .npy", lambda: in_tmp(lambda d: random_file(d, "r.npy")),
     ValueError, "r.npy is not a readable .npy file"),
    ("kernel-npy-empty", "a .npy kernel of shape (0, 3)", lambda: in_tmp(lambda d: npy(d, np.zeros((0, 3)))),
     ValueError, "k.npy holds an empty kernel"),
    ("kernel-npy-inf", "a .npy kernel with inf",
     lambda: in_tmp(lambda d: npy(d, np.where(KERNEL > 0.05, np.inf, KERNEL))),
     ValueError, "k.npy holds a kernel with NaN or infinite values"),
    ("kernel-npy-too-wide", "a .npy kernel 3 x 1100", lambda: in_tmp(lambda d: npy(d, np.ones((3, 1100)))),
     ValueError, "k.npy holds an array of shape (3, 1100), too large for a kernel (at most 1025 per side"),
    ("kernel-npy-bool", "a .npy kernel of bools", lambda: in_tmp(lambda d: npy(d, KERNEL > 0.05)), ValueError,
     "k.npy holds a bool array; a kernel is real numbers"),
    ("kernel-tif-truncated", "a TIFF kernel cut short",
     lambda: in_tmp(lambda d: cut(tif(d, np.tile(KERNEL, (8, 8)).astype(np.float32)), 0.6)), ValueError,
     "k.tif is truncated"),
    ("kernel-tif-random", "400 random bytes named .tif", lambda: with_kernel(lambda d: random_file(d, "r.tif")),
     CLIError, "r.tif is not a readable TIFF kernel"),
    ("kernel-tif-nan", "a TIFF kernel with NaN", lambda: in_tmp(lambda d: tif(d, NAN_KERNEL.astype(np.float32))),
     ValueError, "k.tif holds a kernel with NaN or infinite values"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_case_gets_its_documented_outcome(case):
    check_case(case)


def test_good_kernel_files_read_as_written(tmp_path):
    folder = str(tmp_path)
    np.testing.assert_array_equal(read_kernel(npy(folder, KERNEL)), KERNEL)
    np.testing.assert_array_equal(read_kernel(tif(folder, KERNEL.astype(np.float32))), KERNEL.astype(np.float32))
    # the variable named "kernel" first, then the first 2-D numeric one; strings and scalars skipped
    np.testing.assert_array_equal(read_kernel(mat(folder, {"a": "text", "b": 3.0, "kernel": KERNEL})), KERNEL)
    np.testing.assert_array_equal(read_kernel(mat(folder, {"a": "text", "psf": KERNEL}, "p.mat")), KERNEL)
    profile = np.array([0.25, 0.5, 0.25])
    np.testing.assert_array_equal(read_kernel(npy(folder, profile, "p.npy")), profile)  # a 1-D axial profile
