"""Broken PNG inputs and full disks (io/images.py, io/files.py): each gets one clear error naming the file,
raised before anything big is allocated; a 1-bit PNG reads as 0/1 data."""

from __future__ import annotations

import os
import resource
import signal
import struct
import tempfile
import zlib

import numpy as np
import pytest
from PIL import Image

from napari_zssr.io import ImageData, read_image, write_image

from .cases import CLIError, check_case, cli_case

NOISE = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(folder, w=20000, h=20000, name="bomb.png"):
    """A 70-byte PNG whose header claims w x h 8-bit gray pixels (its data is a few zero rows)."""
    path = os.path.join(folder, name)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(bytes(1000)))
                + _chunk(b"IEND", b""))
    return path


def noise_png(folder, name="n.png"):
    path = os.path.join(folder, name)
    Image.fromarray(NOISE).save(path)
    return path


def truncated_png(folder):
    path = noise_png(folder, "cut.png")
    os.truncate(path, os.path.getsize(path) // 2)
    return path


def broken_header_png(folder):
    """The PNG signature, then garbage where the IHDR chunk belongs."""
    path = os.path.join(folder, "head.png")
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + b"garbage!" * 20)
    return path


def bad_crc_png(folder):
    path = noise_png(folder, "crc.png")
    with open(path, "r+b") as f:
        f.seek(30)  # inside the IHDR chunk's CRC
        byte = f.read(1)
        f.seek(30)
        f.write(bytes([byte[0] ^ 0xFF]))
    return path


def one_bit_png(folder):
    path = os.path.join(folder, "bits.png")
    Image.fromarray(NOISE > 127).save(path)  # Pillow writes mode "1" as a 1-bit PNG
    return path


def in_tmp(make, fn):
    with tempfile.TemporaryDirectory() as tmp:
        return fn(make(tmp))


def read_one_bit(path):
    with Image.open(path) as im:
        assert im.mode == "1"
    img = read_image(path)
    assert img.data.dtype == np.uint8 and img.axes == "YX", img.data.dtype
    np.testing.assert_array_equal(img.data, (NOISE > 127).astype(np.uint8))
    return img.data


def write_on_a_full_disk(name):
    """write_image with a 2 kB file-size limit (what a full disk does to a write, for real), SIGXFSZ ignored
    so that the write fails rather than the process; the limit is restored at once. Nothing may be left."""
    data = ImageData((np.random.default_rng(1).random((64, 64)) * 60000).astype(np.uint16), "YX")
    with tempfile.TemporaryDirectory() as tmp:
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, hard))
        try:
            write_image(os.path.join(tmp, name), data)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, handler)
            assert os.listdir(tmp) == [], os.listdir(tmp)  # neither the result nor its temporary file


CASES = [
    ("png-bomb", "a 70-byte PNG claiming 20000 x 20000 pixels (Pillow: DecompressionBombError)",
     lambda: cli_case(png_claiming, ["--scale", "2"]), CLIError,
     f"bomb.png claims 20000 x 20000 pixels (400000000), more than the limit of {2 * Image.MAX_IMAGE_PIXELS} pixels"),
    ("png-truncated", "a PNG cut in half", lambda: cli_case(truncated_png, ["--scale", "2"]), CLIError,
     "cut.png is not a readable PNG: image file is truncated"),
    ("png-broken-header", "a PNG signature followed by garbage",
     lambda: cli_case(broken_header_png, ["--scale", "2"]), CLIError, "head.png is not a readable PNG"),
    ("png-bad-crc", "a PNG whose header chunk fails its CRC", lambda: in_tmp(bad_crc_png, read_image), ValueError,
     "crc.png is not a readable PNG"),
    ("png-claims-more-than-it-holds", "a small PNG header over far less data",
     lambda: in_tmp(lambda d: png_claiming(d, 64, 64, "short.png"), read_image), ValueError,
     "short.png is not a readable PNG: image file is truncated"),
    ("png-1-bit", "a 1-bit PNG: read as 0/1 uint8", lambda: in_tmp(one_bit_png, read_one_bit), None, ""),
    ("write-tiff-disk-full", "writing a TIFF onto a full disk (a 2 kB file-size limit)",
     lambda: write_on_a_full_disk("out.tif"), OSError, "out.tif: the disk is full"),
    ("write-ome-tiff-disk-full", "the same, OME-TIFF", lambda: write_on_a_full_disk("out.ome.tif"), OSError,
     "nothing was written"),
    ("write-png-disk-full", "the same, PNG", lambda: write_on_a_full_disk("out.png"), OSError,
     "out.png: the disk is full"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_case_gets_its_documented_outcome(case):
    check_case(case)


def test_a_full_disk_error_says_errno_enospc_and_keeps_the_cause(tmp_path):
    import errno

    with pytest.raises(OSError) as info:
        write_on_a_full_disk("x.tif")
    assert info.value.errno == errno.ENOSPC
    assert "requested and" in str(info.value.__cause__) or "File too large" in str(info.value.__cause__)


def test_other_write_errors_pass_unchanged(tmp_path):
    def fail(tmp):
        raise ValueError("not a disk problem")

    from napari_zssr.io import atomic_write

    with pytest.raises(ValueError, match="not a disk problem"):
        atomic_write(str(tmp_path / "a.tif"), fail)
    assert os.listdir(tmp_path) == []


def test_good_pngs_still_read(tmp_path):
    np.testing.assert_array_equal(read_image(noise_png(str(tmp_path))).data, NOISE)
    deep = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    img = read_image(str(tmp_path / "d.png"))
    assert img.data.dtype == np.uint16
    np.testing.assert_array_equal(img.data, deep)
