"""io/images.py: broken PNG inputs and full disks (with io/files.py): each gets one clear error naming the
file, raised before anything big is allocated; a 1-bit PNG reads as 0/1 data; writes that refuse to replace
a file; vendor files through bioio (the optional ``formats`` extra), the same path the CLI uses."""

from __future__ import annotations

import os
import re
import resource
import signal
import struct
import sys
import tempfile
import zlib

import numpy as np
import pytest
from PIL import Image

from napari_zssr.io import ImageData, read_image, write_image

from ..cases import CLIError, check_case, cli_case, small_peak

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


def png_taller_than_its_rows(folder):
    """A 12 x 12 gray PNG whose IHDR says height 16 (its CRC fixed): Pillow pads the 4 missing rows."""
    path = os.path.join(folder, "tall.png")
    Image.fromarray(NOISE[:12, :12]).save(path)
    with open(path, "r+b") as f:
        raw = bytearray(f.read())
        raw[20:24] = struct.pack(">I", 16)  # IHDR's height: signature 8, length 4, type 4, width 4
        raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
        f.seek(0)
        f.write(raw)
    return path


def png_huge_idat_length(folder):
    """A 12 x 12 PNG whose IDAT length field says 2**31-1: Pillow allocates 2 GB to read it."""
    path = os.path.join(folder, "idat.png")
    Image.fromarray(NOISE[:12, :12]).save(path)
    with open(path, "r+b") as f:
        raw = f.read()
        f.seek(raw.index(b"IDAT") - 4)
        f.write(struct.pack(">I", 2**31 - 1))
    return path


def adam7_png(folder, arr, cut=0, name="adam7.png"):
    """An interlaced (Adam7) 8-bit gray PNG of ``arr``, the last ``cut`` bytes of its scanlines left out
    (Pillow writes no interlaced PNG, so it is written here: each pass's rows, filter byte 0)."""
    rows = []
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                           (0, 1, 1, 2)):
        sub = arr[y0::dy, x0::dx]
        rows += [b"\0" + r.tobytes() for r in sub] if sub.size else []
    data = b"".join(rows)
    ihdr = struct.pack(">IIBBBBB", arr.shape[1], arr.shape[0], 8, 0, 0, 0, 1)
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(data[:len(data) - cut]))
                + _chunk(b"IEND", b""))
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
    ("png-taller-than-its-rows", "a 12 x 12 PNG whose IHDR says 16 rows, its CRC fixed (Pillow pads with zeros)",
     lambda: cli_case(png_taller_than_its_rows, ["--scale", "2"]), CLIError,
     "tall.png is not a readable PNG: image file is truncated (its IHDR declares 208 bytes of scanlines; its "
     "image data holds 156)"),
    ("png-huge-idat-length", "a PNG whose IDAT length says 2**31-1 (Pillow allocates 2 GB)",
     small_peak(lambda: in_tmp(png_huge_idat_length, read_image)), ValueError,
     "idat.png is not a readable PNG: image file is truncated or damaged (its 'IDAT' chunk at byte 33 claims "
     "2147483647 bytes; only"),
    ("png-interlaced-short", "an interlaced (Adam7) PNG one byte short of its seven passes",
     lambda: in_tmp(lambda d: adam7_png(d, NOISE[:13, :17], cut=1), read_image), ValueError,
     "adam7.png is not a readable PNG: image file is truncated (its IHDR declares 247 bytes of scanlines; its "
     "image data holds 246)"),
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
    # tifffile writes in blocks and reports the short one in words; the cause keeps them
    assert re.fullmatch(r"\d+ requested and \d+ written", str(info.value.__cause__))
    with pytest.raises(OSError) as info:
        write_on_a_full_disk("x.png")
    assert info.value.errno == errno.ENOSPC
    assert info.value.__cause__.errno == errno.EFBIG  # Pillow's write meets the file-size limit itself


def test_interlaced_pngs_of_odd_sizes_read_whole(tmp_path):
    for h, w in ((13, 17), (1, 1), (3, 2), (8, 8), (9, 1)):
        arr = NOISE[:h, :w]
        np.testing.assert_array_equal(read_image(adam7_png(str(tmp_path), arr, name=f"i{h}x{w}.png")).data, arr)


def test_pngs_of_every_colour_type_and_depth_read(tmp_path):
    """The scanline count each IHDR declares matches what Pillow writes: no valid PNG is refused as short."""
    rng = np.random.default_rng(2)
    images = [Image.fromarray(NOISE[:13, :17]), Image.fromarray(NOISE[:7, :9] > 99),
              Image.fromarray((NOISE[:5, :11].astype(np.uint16) * 257)),
              Image.fromarray(rng.integers(0, 255, (7, 5, 3), dtype=np.uint8)),
              Image.fromarray(rng.integers(0, 255, (3, 6, 4), dtype=np.uint8)),
              Image.fromarray(rng.integers(0, 255, (7, 3, 2), dtype=np.uint8), "LA")]
    for bits in (1, 2, 4, 8):
        images.append((Image.fromarray(rng.integers(0, 2**bits, (9, 13), dtype=np.uint8)).convert("P"), bits))
    for i, im in enumerate(images):
        im, bits = im if isinstance(im, tuple) else (im, None)
        path = str(tmp_path / f"{i}.png")
        im.save(path, **({"bits": bits} if bits else {}))
        with Image.open(path) as ref:
            want = np.array(ref.convert("RGB") if ref.mode == "P" else ref)
        np.testing.assert_array_equal(read_image(path).data, want.astype(read_image(path).data.dtype))


def test_good_pngs_still_read(tmp_path):
    np.testing.assert_array_equal(read_image(noise_png(str(tmp_path))).data, NOISE)
    deep = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    img = read_image(str(tmp_path / "d.png"))
    assert img.data.dtype == np.uint16
    np.testing.assert_array_equal(img.data, deep)


def test_a_file_no_reader_knows_gets_an_error_that_says_what_to_install(tmp_path, monkeypatch):
    path = tmp_path / "scan.czi"
    path.write_bytes(b"not a CZI file")
    monkeypatch.setitem(sys.modules, "bioio", None)  # the formats extra not installed: importing bioio fails
    want = (rf"^unsupported file type '\.czi' for {re.escape(str(path))}; use PNG, TIFF or a \.zarr store, or install "
            r"napari-zssr\[formats\] \(bioio and its CZI, ND2 and LIF readers\) for vendor files$")
    with pytest.raises(ValueError, match=want):
        read_image(path)


def test_a_file_bioio_cannot_read_says_which_reader_to_install(tmp_path):
    pytest.importorskip("bioio")
    path = tmp_path / "scan.czi"
    path.write_bytes(b"not a CZI file")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: bioio could not read it \(.+\); install the "
                                         r"bioio reader for this format \(bioio-czi, bioio-nd2"):
        read_image(path)


def test_bioio_gives_the_axes_voxel_sizes_and_channel_names_lazily(tmp_path):
    pytest.importorskip("bioio")
    ome_tiff = pytest.importorskip("bioio_ome_tiff")
    import tifffile

    from napari_zssr.io.images import read_bioio

    data = (np.random.default_rng(9).random((2, 3, 16, 16)) * 1000).astype(np.uint16)
    path = str(tmp_path / "two.ome.tif")
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "CZYX", "PhysicalSizeX": 0.3, "PhysicalSizeY": 0.3,
                                                     "PhysicalSizeZ": 1.2, "Channel": {"Name": ["DAPI", "GFP"]}})
    img = read_bioio(path, reader=ome_tiff.Reader)
    assert img.axes == "CZYX" and not isinstance(img.data, np.ndarray)  # T of length 1 dropped; lazy
    assert img.pixel_size == pytest.approx({"Z": 1.2, "Y": 0.3, "X": 0.3}) and img.unit == "um"
    assert img.metadata["channel_names"] == ["DAPI", "GFP"]
    np.testing.assert_array_equal(np.asarray(img.data), data)


def test_existing_file_is_kept_and_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "o.tif"
    path.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match=r"o\.tif exists; pass overwrite=True \(--overwrite\) to replace it"):
        write_image(path, ImageData(np.zeros((4, 4), np.uint8), "YX"))
    assert path.read_bytes() == b"keep"
    with pytest.raises(ValueError, match=r"PNG holds one 2-D image, not axes ZYX \(3, 4, 4\); write a TIFF"):
        write_image(tmp_path / "s.png", ImageData(np.zeros((3, 4, 4), np.uint8), "ZYX"))
    assert sorted(os.listdir(tmp_path)) == ["o.tif"]
