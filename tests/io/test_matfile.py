"""io/matfile.py: the MATLAB v5 reader reads what scipy reads, in either byte order, and skips what a
kernel never is without reading it. (Damaged .mat files are cases of tests/io/test_kernels.py.)"""

import struct

import numpy as np
import pytest
import scipy.io

from napari_zssr.io import read_kernel

KERNEL = np.outer(np.hanning(7), np.hanning(7))[1:-1, 1:-1]
KERNEL = KERNEL / KERNEL.sum()


MAT_VALUES = {"f8": KERNEL, "f4": KERNEL.astype(np.float32), "i1": np.arange(-6, 6, dtype=np.int8).reshape(3, 4),
              "u1": np.arange(12, dtype=np.uint8).reshape(4, 3), "i2": np.arange(-3, 3, dtype=np.int16).reshape(2, 3),
              "u2": np.arange(6, dtype=np.uint16).reshape(3, 2), "i4": np.arange(-5, 5, dtype=np.int32).reshape(2, 5),
              "u4": np.arange(4, dtype=np.uint32).reshape(2, 2), "i8": np.arange(-4, 4, dtype=np.int64).reshape(4, 2),
              "u8": np.arange(9, dtype=np.uint64).reshape(9, 1), "k": np.array([[1.5]]), "row": np.arange(5.0),
              "empty": np.zeros((0, 5)), "cube": np.arange(24.0).reshape(2, 3, 4)}


@pytest.mark.parametrize("compressed", [False, True])
def test_the_mat_reader_reads_as_scipy_does(tmp_path, compressed):
    """Every numeric type, compressed or not, exactly as scipy.io.loadmat reads it (dtype, shape, values
    in MATLAB's column-major order); what a kernel never is, skipped with what it is."""
    from napari_zssr.io.matfile import read_mat

    path = str(tmp_path / "all.mat")
    others = {"text": "hello", "z": KERNEL + 1j, "cell": np.array([[1, "a"]], dtype=object), "s": {"a": 1}}
    scipy.io.savemat(path, {**MAT_VALUES, **others}, do_compression=compressed)
    arrays, skipped = read_mat(path, 1 << 20)
    want = scipy.io.loadmat(path)
    assert sorted(arrays) == sorted(MAT_VALUES)
    for name, arr in arrays.items():
        assert arr.dtype == want[name].dtype and arr.shape == want[name].shape, name
        np.testing.assert_array_equal(arr, want[name])
    assert skipped == {"text": "a char array", "z": "complex", "cell": "a cell array", "s": "a struct"}


def test_the_mat_reader_reads_big_endian_and_logical(tmp_path):
    """A big-endian file ("MI"), written here as MATLAB lays it out (scipy writes only its own order),
    with a small element (a name of up to 4 bytes inside its tag) and a logical variable (as bool)."""
    from napari_zssr.io.matfile import read_mat

    def element(kind, data):
        if len(data) <= 4:
            return struct.pack(">HH", len(data), kind) + data.ljust(4, b"\0")
        return struct.pack(">II", kind, len(data)) + data + bytes(-len(data) % 8)

    def matrix(name, mclass, flags, arr, kind, dtype):
        body = (element(6, struct.pack(">II", mclass | flags, 0)) + element(5, struct.pack(">2i", *arr.shape))
                + element(1, name) + element(kind, np.asarray(arr, dtype).tobytes(order="F")))
        return struct.pack(">II", 14, len(body)) + body

    head = b"MATLAB 5.0 MAT-file, big-endian, written by the tests".ljust(116) + bytes(8) + b"\x01\x00MI"
    path = str(tmp_path / "be.mat")
    with open(path, "wb") as f:
        f.write(head + matrix(b"psf", 6, 0, KERNEL, 9, ">f8") + matrix(b"mask", 9, 0x0200, KERNEL > 0.05, 2, "u1"))
    arrays, skipped = read_mat(path, 1 << 20)
    assert arrays["psf"].dtype == np.float64 and not skipped
    np.testing.assert_array_equal(arrays["psf"], KERNEL)
    np.testing.assert_array_equal(arrays["mask"], KERNEL > 0.05)
    np.testing.assert_array_equal(read_kernel(path), KERNEL)  # the logical one is no kernel


def test_a_mat_variable_larger_than_a_kernel_is_skipped_unread(tmp_path):
    from napari_zssr.io.matfile import read_mat

    for compressed in (False, True):
        path = str(tmp_path / f"big{compressed}.mat")
        scipy.io.savemat(path, {"image": np.ones((300, 300)), "kernel": KERNEL}, do_compression=compressed)
        arrays, skipped = read_mat(path, 10000)
        assert list(arrays) == ["kernel"]
        assert skipped == {"image": "a float64 array of shape (300, 300), more than 10000 bytes"}
