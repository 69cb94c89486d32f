"""Broken kernel files (io/kernels.py read_kernel): MATLAB v7.3, empty and damaged .mat files, object, truncated
and huge-claiming .npy files, damaged TIFFs, kernels that are empty, not finite or too large. Each gets one
ValueError naming the file, raised before a claimed size is allocated. Estimated kernels are written one file
per channel (kernel_paths, write_kernels)."""

from __future__ import annotations

import os
import struct
import tempfile

import numpy as np
import pytest
import scipy.io
import tifffile
from PIL import Image

from napari_zssr.io import read_kernel

from ..cases import CLIError, check_case, cli_case, small_peak

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


def set_bytes(path, at, value: bytes):
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(value)
    return path


def mat_9x9(folder, name="k.mat", **kw):
    """``savemat(path, {"kernel": np.ones((9, 9)) / 81})``: byte 128 is the variable's type (miMATRIX),
    184 the type of its values (miDOUBLE) and 188-191 their byte count (648)."""
    path = os.path.join(folder, name)
    scipy.io.savemat(path, {"kernel": np.ones((9, 9)) / 81}, **kw)
    return path


def cut_to(path, size: int):
    os.truncate(path, size)
    return path


def tiff_too_short(folder):
    return cut_to(tif(folder, KERNEL.astype(np.float32)), 3)


def npy_header(folder, edit):
    """``np.save`` of a 7 x 7 float64 kernel, its first bytes then changed by ``edit(raw)``."""
    path = npy(folder, np.ones((7, 7)) / 49)
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    with open(path, "wb") as f:
        f.write(edit(raw))
    return path


def v2_huge_header(raw):
    """Format 2.0, whose header length takes 4 bytes: 2**31 (numpy allocates 2 GB to read it)."""
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + raw[10:]


def version_9(raw):
    raw[6] = 9  # numpy reads an unknown version as 2.0: the 4-byte length then reads as 632 MB
    return raw


def shape_bracket(raw):
    assert raw[60:61] == b"("  # the '(' of the shape: numpy's header parser raises tokenize.TokenError
    raw[60:61] = b"]"
    return raw


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
    ("kernel-tif-shorter-than-header", "a TIFF kernel cut to 3 bytes (tifffile: struct.error)",
     lambda: with_kernel(tiff_too_short), CLIError,
     "k.tif is not a readable TIFF kernel (struct.error: unpack requires a buffer of 2 bytes)"),
    ("kernel-mat-cut-in-header", "a .mat kernel cut to 100 bytes, inside its 128-byte header (scipy: IndexError)",
     lambda: with_kernel(lambda d: cut_to(mat_9x9(d), 100)), CLIError,
     "k.mat is not a readable MATLAB .mat file: it holds 100 bytes, less than the 128-byte header"),
    ("kernel-mat-cut-in-tag", "a .mat kernel cut 3 bytes into its first data element's tag",
     lambda: in_tmp(lambda d: cut_to(mat_9x9(d), 131)), ValueError,
     "k.mat is not a readable MATLAB .mat file: it ends 3 bytes into the 8-byte tag of the data element at byte 128"),
    ("kernel-mat-type-compressed", "a .mat kernel whose variable's type is changed to miCOMPRESSED (scipy: "
     "zlib.error)", lambda: with_kernel(lambda d: set_bytes(mat_9x9(d), 128, b"\x0f")), CLIError,
     "k.mat is not a readable MATLAB .mat file: the variable at byte 128: its compressed data does not inflate "
     "(zlib.error"),
    ("kernel-mat-values-type-200", "a .mat kernel whose values' type byte is 0xC8 (scipy 1.17: a segmentation "
     "fault)", lambda: with_kernel(lambda d: set_bytes(mat_9x9(d), 184, b"\xc8")), CLIError,
     "k.mat is not a readable MATLAB .mat file: the variable at byte 128: its values are of data type 200, not a "
     "numeric one"),
    ("kernel-mat-huge-count", "a .mat kernel whose values' byte count reads 687866504 (scipy allocates 656 MB)",
     small_peak(lambda: in_tmp(lambda d: set_bytes(mat_9x9(d), 191, b"\x29"))), ValueError,
     "k.mat is not a readable MATLAB .mat file: the variable at byte 128: the element of its values claims "
     "687866504 bytes; 648 follow"),
    ("kernel-mat-compressed-flipped", "a compressed .mat kernel with a byte of its zlib data flipped",
     lambda: in_tmp(lambda d: set_bytes(mat_9x9(d, do_compression=True), 150, b"\x5a")), ValueError,
     "its compressed data does not inflate (zlib.error"),
    ("kernel-mat-complex", "a .mat file whose only variable is complex",
     lambda: in_tmp(lambda d: mat(d, {"kernel": KERNEL + 1j})), ValueError,
     "k.mat holds no 2-D numeric variable to use as a kernel (found 'kernel': complex)"),
    ("kernel-npy-v2-huge-header", "a .npy of format 2.0 whose header length reads 2**31 (numpy allocates 2 GB)",
     small_peak(lambda: in_tmp(lambda d: npy_header(d, v2_huge_header))), ValueError,
     "k.npy is not a readable .npy file (its header claims 2147483648 bytes, the file holds 522 in all)"),
    ("kernel-npy-version-9", "a .npy whose version byte is 9 (numpy reads it as 2.0 and allocates 632 MB)",
     small_peak(lambda: with_kernel(lambda d: npy_header(d, version_9))), CLIError,
     "k.npy is not a readable .npy file (format version 9.0; numpy writes 1.0, 2.0 and 3.0)"),
    ("kernel-npy-token-error", "a .npy whose shape's '(' is ']' (numpy: tokenize.TokenError)",
     lambda: with_kernel(lambda d: npy_header(d, shape_bracket)), CLIError,
     "k.npy is not a readable .npy file: its header is damaged (TokenError"),
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


def test_an_unforeseen_error_in_a_kernel_reader_names_the_kernel_file(tmp_path, monkeypatch):
    """The command line's last resort names the input image; a kernel file's error never reaches it."""
    from napari_zssr.io import kernels

    def broken(path):
        raise KeyError("something no reader foresaw")

    monkeypatch.setattr(kernels, "_read_npy", broken)
    path = npy(str(tmp_path), KERNEL)
    with pytest.raises(ValueError, match=r"k\.npy could not be read as a kernel \(KeyError"):
        read_kernel(path)


def test_kernel_files_are_one_per_channel_and_whole(tmp_path):
    from napari_zssr.io.kernels import kernel_paths, read_kernel, write_kernels

    assert kernel_paths(tmp_path / "k.tif", 2) == [str(tmp_path / "k.c0.tif"), str(tmp_path / "k.c1.tif")]
    with pytest.raises(ValueError, match=r"^a kernel is saved as \.npy or \.tif, got '.*k\.png'$"):
        kernel_paths(tmp_path / "k.png", 1)
    written = write_kernels(tmp_path / "k.tif", [np.ones((3, 3)) / 9, None])  # channel 1 fell back: no file
    assert written == [str(tmp_path / "k.c0.tif")] and not (tmp_path / "k.c1.tif").exists()
    np.testing.assert_allclose(read_kernel(written[0]), np.ones((3, 3)) / 9, rtol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["k.c0.tif"]  # no temporary file left behind
    with pytest.raises(FileExistsError, match=r"k\.c0\.tif exists; pass overwrite=True \(--overwrite\) to replace it"):
        write_kernels(tmp_path / "k.tif", [np.ones(3), np.ones(3)])  # refused before channel 1 is written
    assert [p.name for p in tmp_path.iterdir()] == ["k.c0.tif"]
