"""Broken and odd TIFF inputs (io/tiff.py): truncated files, series metadata that disagrees with the pages,
sizes declared far beyond the file, bad voxel sizes, OME-XML with entities, axes that cannot be named,
and the lazy reader's file handle. Each case gets one clear error naming the file, or reads. Good files:
ImageJ hyperstacks and OME-TIFF written and read back with their axes, voxel sizes and units, also through
the command line."""

from __future__ import annotations

import gc
import os
import struct
import tempfile
import warnings
import zlib

import numpy as np
import pytest
import tifffile

from napari_zssr.cli import main
from napari_zssr.io import ImageData, read_image, write_image
from napari_zssr.io.tiff import normalise_axes

from ..cases import CLIError, check_case, cli_case, read_warning_once

STACK = np.arange(16 * 64 * 64, dtype=np.uint16).reshape(16, 64, 64)


def truncated_hyperstack(folder, name="t.tif"):
    """A 16-plane ImageJ hyperstack cut in half: 8 planes are left."""
    path = os.path.join(folder, name)
    tifffile.imwrite(path, STACK, imagej=True, metadata={"axes": "ZYX"})
    os.truncate(path, os.path.getsize(path) // 2)
    return path


def truncated_ome(folder):
    """An OME-TIFF cut in half (its OME-XML, written last, is cut off too)."""
    path = os.path.join(folder, "t.ome.tif")
    tifffile.imwrite(path, STACK, ome=True, metadata={"axes": "ZYX"})
    os.truncate(path, os.path.getsize(path) // 2)
    return path


def ome_declaring_more_planes(folder):
    """An 8-plane OME-TIFF whose OME-XML declares 9 (rewritten in place, same length)."""
    path = os.path.join(folder, "nine.ome.tif")
    tifffile.imwrite(path, STACK[:8], ome=True, metadata={"axes": "ZYX"})
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(raw.replace(b'SizeZ="8"', b'SizeZ="9"').replace(b'PlaneCount="8"', b'PlaneCount="9"'))
    return path


def cut_plane_data(folder):
    """A one-page TIFF whose pixel data is cut short: the page list is intact, its strip is not."""
    path = os.path.join(folder, "cut.tif")
    tifffile.imwrite(path, STACK[0])
    os.truncate(path, os.path.getsize(path) - 100)
    return path


def cut_tiles(folder):
    """A tiled, compressed TIFF (its data not one contiguous block) whose last tile is cut short."""
    path = os.path.join(folder, "tiles.tif")
    tifffile.imwrite(path, STACK[3], compression="zlib", tile=(16, 16))
    os.truncate(path, os.path.getsize(path) - 50)
    return path


def compressed_bomb(folder, side=40000):
    """A ~200-byte deflate TIFF whose one strip claims side x side 8-bit pixels (1.6 GB decoded)."""
    path = os.path.join(folder, "bomb.tif")
    data = zlib.compress(bytes(1 << 16))
    tags = [(256, 4, side), (257, 4, side), (258, 3, 8), (259, 3, 8), (262, 3, 1), (273, 4, 0), (277, 3, 1),
            (278, 4, side), (279, 4, len(data))]
    tags[5] = (273, 4, 8 + 2 + 12 * len(tags) + 4)  # the strip follows the one IFD
    entries = b"".join(struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", v, 0) if kind == 3 else
                                                           struct.pack("<I", v)) for tag, kind, v in tags)
    with open(path, "wb") as f:
        f.write(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(tags)) + entries + b"\0\0\0\0" + data)
    return path


def ome_with_size(folder, value, name="px.ome.tif"):
    """A 3-plane OME-TIFF with PhysicalSizeX=value (as tifffile writes it), PhysicalSizeY and Z fine."""
    path = os.path.join(folder, name)
    tifffile.imwrite(path, STACK[:3, :16, :16], ome=True, metadata={"axes": "ZYX", "PhysicalSizeX": value,
                                                                     "PhysicalSizeY": 0.5, "PhysicalSizeZ": 2.0})
    return path


def imagej_with_spacing(folder, spacing):
    path = os.path.join(folder, "sp.tif")
    tifffile.imwrite(path, STACK[:3, :16, :16], imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": "ZYX", "spacing": spacing, "unit": "um"})
    return path


OME_HEAD = ('<?xml version="1.0"?>{doctype}<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
            '<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint8" SizeX="8" SizeY="8" '
            'SizeC="1" SizeZ="1" SizeT="1" PhysicalSizeX="{size}"><TiffData/></Pixels></Image>{tail}</OME>')
LAUGHS = ('<!DOCTYPE OME [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
          '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>')


def ome_xml_file(folder, xml):
    """A TIFF whose ImageDescription is ``xml`` (tifffile takes it for OME when it ends with "OME>")."""
    path = os.path.join(folder, "x.ome.tif")
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8), description=xml, metadata=None)
    return path


def set_byte(path, at, value):
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(bytes([value]))
    return path


def shorter_than_header(folder):
    """A TIFF cut to 3 bytes, shorter than its 8-byte header (tifffile: struct.error)."""
    path = os.path.join(folder, "short.tif")
    tifffile.imwrite(path, STACK[0])
    os.truncate(path, 3)
    return path


def damaged_zlib(folder):
    """A zlib-compressed TIFF whose compressed data's first byte is flipped (the codec: zlib.error)."""
    path = os.path.join(folder, "zlib.tif")
    tifffile.imwrite(path, (STACK[0, :12, :12] % 251).astype(np.uint8), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        at = tif.pages[0].dataoffsets[0]
    with open(path, "rb") as f:
        f.seek(at)
        byte = f.read(1)[0]
    return set_byte(path, at, byte ^ 0xFF)


def ome_dividing_by_zero(folder):
    """An OME-TIFF (CZYX 3 x 2 x 12 x 12) with byte 12, in its first IFD, set to 0xAA: tifffile divides
    by zero while building its series."""
    path = os.path.join(folder, "div.ome.tif")
    tifffile.imwrite(path, STACK[:6, :12, :12].reshape(3, 2, 12, 12), ome=True, metadata={"axes": "CZYX"})
    return set_byte(path, 12, 0xAA)


def float_dividing_by_zero(folder):
    """A 9 x 9 float32 TIFF with byte 23 set to 0x29: the same ZeroDivisionError in tifffile."""
    path = os.path.join(folder, "div.tif")
    tifffile.imwrite(path, np.ones((9, 9), np.float32))
    return set_byte(path, 23, 0x29)


def imagej_declaring(folder, images):
    """A 2-plane ImageJ stack (ZYX) whose description says images=``images``: tifffile still builds an
    ImageJ series from slices=2."""
    path = os.path.join(folder, "ij.tif")
    tifffile.imwrite(path, STACK[:2, :12, :12], imagej=True, metadata={"axes": "ZYX"})
    with tifffile.TiffFile(path) as tif:
        desc = tif.pages[0].description
    assert "images=2" in desc
    tifffile.tiffcomment(path, desc.replace("images=2", f"images={images}").encode("ascii"))
    return path


def ome_size_z(folder, value, attr="SizeZ"):
    """A 3-plane 12 x 12 OME-TIFF whose OME-XML says SizeZ=``value`` (PlaneCount likewise), or another
    ``attr``."""
    path = os.path.join(folder, "z.ome.tif")
    tifffile.imwrite(path, STACK[:3, :12, :12], ome=True, metadata={"axes": "ZYX"})
    with tifffile.TiffFile(path) as tif:
        xml = tif.pages[0].description
    if attr == "SizeZ":
        xml = xml.replace('SizeZ="3"', f'SizeZ="{value}"').replace('PlaneCount="3"', f'PlaneCount="{value}"')
    else:
        xml = xml.replace(f'{attr}="12"', f'{attr}="{value}"')
    tifffile.tiffcomment(path, xml.encode("utf-8"))
    return path


def tiles_for_a_taller_image(folder):
    """A 17 x 16 tiled (16 x 16) zlib TIFF whose ImageLength says 12976145: 811010 tiles needed, 2 listed
    (tifffile warns, then allocates 415 MB and fills the missing tiles with zeros)."""
    path = os.path.join(folder, "tall.tif")
    tifffile.imwrite(path, STACK[0, :17, :16].astype(np.int16), compression="zlib", tile=(16, 16))
    with tifffile.TiffFile(path) as tif:
        at = tif.pages[0].tags["ImageLength"].valueoffset
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(struct.pack("<I", 12976145))
    return path


def imagej_strip_beyond_the_end(folder):
    """A one-plane ImageJ TIFF whose StripByteCounts says 32768: its strip ends beyond the end of the file
    (the pixels its shape needs are all there, but the tag is damaged)."""
    path = os.path.join(folder, "strip.tif")
    tifffile.imwrite(path, STACK[0, :12, :12].astype(np.float32), imagej=True, metadata={"axes": "YX"})
    with tifffile.TiffFile(path) as tif:
        at = tif.pages[0].tags["StripByteCounts"].valueoffset
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(struct.pack("<I", 32768))
    return path


def quickly(fn, seconds=2.0):
    """``fn()``, which must end (in a result or an error) within ``seconds``."""
    import time

    def run():
        t = time.perf_counter()
        try:
            return fn()
        finally:
            assert time.perf_counter() - t < seconds, f"took {time.perf_counter() - t:.1f} s"
    return run


def six_d(folder):
    path = os.path.join(folder, "six.tif")
    tifffile.imwrite(path, np.zeros((2, 2, 2, 2, 8, 8), np.uint8))
    return path


def random_bytes(folder):
    path = os.path.join(folder, "noise.tif")
    with open(path, "wb") as f:
        f.write(np.random.default_rng(0).integers(0, 256, 600, dtype=np.uint8).tobytes())
    return path


def in_tmp(make, fn):
    """``fn(path)`` on the file ``make(folder)`` writes in a fresh folder."""
    with tempfile.TemporaryDirectory() as tmp:
        return fn(make(tmp))


def napari_read(path):
    from napari_zssr.plugin.reader import napari_get_reader

    return napari_get_reader(path)(path)


def read_with_warning(make, text, absent):
    """The file reads, warns ``text`` once, and its voxel sizes lack ``absent``; returns the data."""
    def fn(path):
        img = read_warning_once(path, text)
        assert absent not in img.pixel_size, img.pixel_size
        return img.data
    return lambda: in_tmp(make, fn)


def lazy_data(make):
    def fn(path):
        img = read_image(path)
        img.close()
        return img.data
    return lambda: in_tmp(make, fn)


SIZE_CASES = [(v, shown) for v, shown in ((0, "=0 "), (-1.0, "=-1.0 "), (float("nan"), "=nan "),
                                          (float("inf"), "=inf "), ("abc", "=abc "))]

CASES = [
    ("tiff-truncated-imagej", "a 16-plane ImageJ hyperstack cut in half, through the command line",
     lambda: cli_case(truncated_hyperstack, ["--scale", "2"]), CLIError,
     "t.tif declares 16 planes (ImageJ metadata, shape (16, 64, 64)) but only 8 are present: the file is truncated"),
    ("tiff-truncated-imagej-lazy", "the same, read lazily",
     lambda: in_tmp(truncated_hyperstack, lambda p: read_image(p, lazy=True)), ValueError,
     "declares 16 planes (ImageJ metadata, shape (16, 64, 64)) but only 8 are present"),
    ("tiff-truncated-napari", "the same, opened by the napari reader",
     lambda: in_tmp(truncated_hyperstack, napari_read), ValueError, "but only 8 are present"),
    ("tiff-truncated-ome", "an OME-TIFF cut in half (its OME-XML lost with it)",
     lambda: cli_case(truncated_ome, ["--scale", "2"]), CLIError,
     "t.ome.tif is truncated: the pointer to the page after its page 1 points to byte"),
    ("tiff-ome-missing-planes", "an OME-TIFF whose OME-XML declares 9 planes, 8 present",
     lambda: cli_case(ome_declaring_more_planes, ["--scale", "2"]), CLIError,
     "nine.ome.tif declares 9 planes (OME metadata, SizeC=1 SizeZ=9 SizeT=1, shape (9, 64, 64)) but only 8 are"),
    ("tiff-ome-missing-planes-lazy", "the same, read lazily",
     lambda: in_tmp(ome_declaring_more_planes, lambda p: read_image(p, lazy=True)), ValueError,
     "but only 8 are present"),
    ("tiff-data-cut", "a TIFF whose last strip lies partly beyond the end of the file",
     lambda: in_tmp(cut_plane_data, read_image), ValueError,
     "cut.tif is truncated: its image data (shape (64, 64), 8192 bytes from byte 256) ends beyond the end of the file"),
    ("tiff-tile-cut", "a tiled, compressed TIFF whose last tile lies partly beyond the end of the file",
     lambda: in_tmp(cut_tiles, lambda p: read_image(p, lazy=True)), ValueError,
     "tiles.tif is truncated: the data of its page 0 ends at byte"),
    ("tiff-not-a-tiff", "600 random bytes named .tif", lambda: cli_case(random_bytes, ["--scale", "2"]), CLIError,
     "noise.tif is not a readable TIFF"),
    ("tiff-compressed-bomb", "a 200-byte compressed TIFF claiming 40000 x 40000 pixels, --scale 2",
     lambda: cli_case(compressed_bomb, ["--scale", "2"]), CLIError, "more than the limit of"),
    ("tiff-compressed-bomb-lazy", "the same, read: a lazy view, nothing decoded", lazy_data(compressed_bomb), None,
     "Array"),
    *[(f"tiff-ome-physicalsize-{shown.strip('= ')}", f"an OME-TIFF with PhysicalSizeX={v}: read without it",
       read_with_warning(lambda d, v=v: ome_with_size(d, v), f"PhysicalSizeX{shown}is not a voxel size; it is "
                         f"ignored (give --scale, or fix the metadata)", "X"), None, "")
      for v, shown in SIZE_CASES],
    ("tiff-ome-physicalsize-0-isotropic", "PhysicalSizeX=0 with --isotropic",
     lambda: cli_case(lambda d: ome_with_size(d, 0), ["--isotropic"]), CLIError,
     "--isotropic needs the file's z step and pixel size; the file has none"),
    ("tiff-imagej-spacing-0", "an ImageJ stack with spacing=0: read without a z step",
     read_with_warning(lambda d: imagej_with_spacing(d, 0), "ImageJ spacing (Z)=0 is not a voxel size", "Z"), None,
     ""),
    ("tiff-imagej-spacing-nan", "an ImageJ stack with spacing=nan",
     read_with_warning(lambda d: imagej_with_spacing(d, float("nan")), "spacing (Z)=nan is not a voxel size", "Z"),
     None, ""),
    ("tiff-ome-entities", "OME-XML declaring entities (a billion laughs)",
     lambda: cli_case(lambda d: ome_xml_file(d, OME_HEAD.format(doctype=LAUGHS, size="&c;", tail="")),
                      ["--scale", "2"]), CLIError,
     "x.ome.tif: its OME-XML metadata declares entities, which are not read (a malformed or hostile file)"),
    ("tiff-ome-entities-lazy", "the same, read lazily",
     lambda: in_tmp(lambda d: ome_xml_file(d, OME_HEAD.format(doctype=LAUGHS, size="&c;", tail="")),
                    lambda p: read_image(p, lazy=True)), ValueError, "declares entities"),
    ("tiff-ome-malformed-xml", "OME-XML that is not well-formed",
     lambda: cli_case(lambda d: ome_xml_file(d, OME_HEAD.format(doctype="", size="1", tail="<Image>")),
                      ["--scale", "2"]), CLIError, "x.ome.tif: its OME-XML metadata is not well-formed XML"),
    ("tiff-6d", "a 6-D TIFF (tifffile: QQQQYX)", lambda: cli_case(six_d, ["--scale", "2"]), CLIError,
     "six.tif has 6 axes (tifffile reads them as QQQQYX, shape (2, 2, 2, 2, 8, 8))"),
    ("tiff-shorter-than-header", "a TIFF cut to 3 bytes (tifffile: struct.error), through the command line",
     lambda: cli_case(shorter_than_header, ["--scale", "2"]), CLIError,
     "exit 2: napari-zssr: error: <tmp>/short.tif is not a readable TIFF (struct.error: unpack requires"),
    ("tiff-zlib-damaged", "a zlib-compressed TIFF with a byte of its compressed data flipped",
     lambda: in_tmp(damaged_zlib, read_image), ValueError,
     "zlib.tif: its pixel data could not be decoded (zlib.error: Error -3 while decompressing data"),
    ("tiff-ome-series-divides-by-zero", "an OME-TIFF whose first IFD makes tifffile divide by zero building "
     "its series", lambda: cli_case(ome_dividing_by_zero, ["--scale", "2"]), CLIError,
     "div.ome.tif is not a readable TIFF (ZeroDivisionError"),
    ("tiff-series-divides-by-zero", "a float TIFF whose first IFD makes tifffile divide by zero",
     lambda: in_tmp(float_dividing_by_zero, read_image), ValueError,
     "div.tif is not a readable TIFF (ZeroDivisionError"),
    ("tiff-imagej-images-4-of-2", "a 2-plane ImageJ stack declaring images=4 (tifffile reads slices=2)",
     lambda: cli_case(lambda d: imagej_declaring(d, 4), ["--scale", "2"]), CLIError,
     "ij.tif declares 4 planes (ImageJ metadata, shape (2, 12, 12)) but only 2 are present"),
    ("tiff-imagej-images-10-12", "the same, images=10**12, read lazily",
     lambda: in_tmp(lambda d: imagej_declaring(d, 10**12), lambda p: read_image(p, lazy=True)), ValueError,
     "ij.tif declares 1000000000000 planes (ImageJ metadata, shape (2, 12, 12)) but only 2 are present"),
    ("tiff-ome-sizez-10-8", "an OME-TIFF declaring SizeZ=10**8 (tifffile: 8 s and 1.6 GB to list the planes)",
     quickly(lambda: cli_case(lambda d: ome_size_z(d, 10**8), ["--scale", "2"])), CLIError,
     "z.ome.tif declares 100000000 planes in its OME-XML, more than a file of"),
    ("tiff-ome-sizez-2-31", "the same, SizeZ=2**31 (a 17 GB list)",
     quickly(lambda: in_tmp(lambda d: ome_size_z(d, 2**31), read_image)), ValueError,
     "declares 2147483648 planes in its OME-XML, more than a file of"),
    ("tiff-ome-sizey-2-31", "an OME-TIFF declaring SizeY=2**31 (tifffile lists 2**31 * 12 / 144 pages a plane: 4 GB)",
     quickly(lambda: in_tmp(lambda d: ome_size_z(d, 2**31, "SizeY"), read_image)), ValueError,
     "z.ome.tif declares 3 planes (536870910 pages of its first page's 12 x 12 pixels) in its OME-XML, more than"),
    ("tiff-tiles-missing", "a tiled zlib TIFF whose ImageLength needs 811010 tiles, 2 listed (tifffile: 415 MB "
     "of zeros)", lambda: cli_case(tiles_for_a_taller_image, ["--scale", "2"]), CLIError,
     "tall.tif is damaged: its page 0 (shape (12976145, 16)) needs 811010 strips or tiles, and lists 2"),
    ("tiff-imagej-strip-beyond-the-end", "a one-plane ImageJ TIFF whose StripByteCounts runs past the end of "
     "the file", lambda: in_tmp(imagej_strip_beyond_the_end, read_image), ValueError,
     "strip.tif is truncated: the data of its page 0 ends at byte"),
    ("tiff-ome-sizez-negative", "an OME-TIFF declaring SizeZ=-1",
     lambda: in_tmp(lambda d: ome_size_z(d, -1), read_image), ValueError,
     "z.ome.tif: its OME-XML gives SizeZ='-1', not a whole number >= 1: the metadata is damaged"),
    ("tiff-ome-sizez-text", "an OME-TIFF declaring SizeZ=abc",
     lambda: in_tmp(lambda d: ome_size_z(d, "abc"), read_image), ValueError, "gives SizeZ='abc', not a whole"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_case_gets_its_documented_outcome(case):
    check_case(case)


def test_a_complete_file_of_each_kind_still_reads_whole(tmp_path):
    for kw in ({"imagej": True, "metadata": {"axes": "ZYX"}}, {"ome": True, "metadata": {"axes": "ZYX"}}, {}):
        path = str(tmp_path / f"ok{len(kw)}{'.ome' if 'ome' in kw else ''}.tif")
        tifffile.imwrite(path, STACK, **kw)
        img = read_image(path)
        assert isinstance(img.data, np.ndarray)
        np.testing.assert_array_equal(img.data, STACK)
        with read_image(path, lazy=True) as lazy:
            np.testing.assert_array_equal(np.asarray(lazy.data[5]), STACK[5])


def test_imagej_writes_a_big_stack_as_one_page_and_that_still_reads(tmp_path):
    path = str(tmp_path / "one_ifd.tif")
    tifffile.imwrite(path, STACK, imagej=True, truncate=True, metadata={"axes": "ZYX"})
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 1  # ImageJ's way for stacks over 4 GB: planes follow the first, unlisted
    np.testing.assert_array_equal(read_image(path).data, STACK)
    os.truncate(path, os.path.getsize(path) - 64 * 64 * 2 * 3)
    with pytest.raises(ValueError, match=r"declares 16 planes .* but only 13 are present"):
        read_image(path)


def test_axes_are_named_once_each_up_to_five():
    assert normalise_axes("QQQYX", (2, 3, 4, 8, 8)) == "ZCTYX"
    assert normalise_axes("QQYXS", (2, 3, 8, 8, 3)) == "ZTYXS"  # never C beside S
    assert normalise_axes("IQYX", (2, 3, 8, 8)) == "ZCYX"
    with pytest.raises(ValueError, match="so not even --axes can"):
        normalise_axes("QQQYXS", (2, 2, 2, 8, 8, 3), "rgb.tif")


def test_tifffiles_complaints_become_warnings_when_the_file_still_reads(tmp_path):
    path = str(tmp_path / "tag.tif")
    tifffile.imwrite(path, STACK[0], description="hello")
    # point the ImageDescription's value beyond the end of the file: tifffile logs it and reads on
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags["ImageDescription"]
    assert tag.count > 4  # stored out of line, so the entry holds a pointer
    with open(path, "r+b") as f:
        f.seek(tag.offset + 8)
        f.write(struct.pack("<I", 10 ** 8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img = read_image(path)
    np.testing.assert_array_equal(img.data, STACK[0])
    assert any(str(w.message).startswith(f"{path}: tifffile:") for w in caught), [str(w.message) for w in caught]


def test_closing_lazy_data_leaves_no_open_file(tmp_path):
    path = str(tmp_path / "s.tif")
    tifffile.imwrite(path, STACK, imagej=True, metadata={"axes": "ZYX"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img = read_image(path, lazy=True)
        np.asarray(img.data[3])  # reading opens the file
        img.close()
        del img
        gc.collect()
        with read_image(path, lazy=True) as img:
            np.asarray(img.data[3])
        del img
        gc.collect()
        ImageData(STACK, "ZYX").close()  # data in memory: nothing to close
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_unclosed_lazy_data_is_what_close_prevents(tmp_path):
    """The check above can fail: without close(), the file is left open until garbage collection."""
    path = str(tmp_path / "s.tif")
    tifffile.imwrite(path, STACK, imagej=True, metadata={"axes": "ZYX"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img = read_image(path, lazy=True)
        np.asarray(img.data[3])
        del img
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("name", ["hyper.tif", "hyper.ome.tif"])
def test_hyperstack_round_trip_keeps_axes_sizes_and_unit(tmp_path, name):
    data = np.random.default_rng(0).integers(0, 4000, (2, 3, 2, 8, 9)).astype(np.uint16)  # T Z C Y X
    path = tmp_path / name
    write_image(path, ImageData(data, "TZCYX", {"Z": 1.5, "Y": 0.25, "X": 0.2}, "um"), provenance={"seed": 3})
    back = read_image(path)
    assert back.axes == "TZCYX"
    np.testing.assert_array_equal(back.data, data)
    assert back.pixel_size == pytest.approx({"Z": 1.5, "Y": 0.25, "X": 0.2})
    assert back.unit == "um"


def test_imagej_order_is_restored_by_axes_not_lost(tmp_path):
    data = np.arange(2 * 4 * 5 * 6, dtype=np.float32).reshape(2, 4, 5, 6)  # C Z Y X
    write_image(tmp_path / "c.tif", ImageData(data, "CZYX", {"Z": 2.0, "Y": 0.5, "X": 0.5}, "um"))
    back = read_image(tmp_path / "c.tif")
    # ImageJ stores Z before C: the axes string says so, and the values follow it
    assert back.axes == "ZCYX"
    np.testing.assert_array_equal(back.data, np.moveaxis(data, 0, 1))


def test_cli_stack_isotropic_from_voxel_sizes(tmp_path, stack):
    src = tmp_path / "stack.tif"
    write_image(src, ImageData(stack, "ZYX", {"Z": 1.0, "Y": 0.25, "X": 0.25}, "um"))
    out = tmp_path / "iso.ome.tif"
    args = ["upscale", str(src), str(out), "--isotropic", "--max-iters", "6", "--preset", "fast", "--quiet",
            "--precision", "float32"]
    assert main(args) == 0
    back = read_image(out)
    assert back.data.shape == (21, 32, 36) and back.data.dtype == np.uint16 and back.axes == "ZYX"
    assert back.pixel_size == pytest.approx({"Z": 0.25, "Y": 0.25, "X": 0.25})
    with tifffile.TiffFile(out) as tif:
        assert "napari-zssr" in tif.ome_metadata


def test_cli_axes_option_and_per_spatial_axis_scale(tmp_path, stack):
    src = tmp_path / "two.tif"
    tifffile.imwrite(src, np.stack([stack, stack // 2]), photometric="minisblack")  # no axes in the file
    out = tmp_path / "two_x2.tif"
    args = ["upscale", str(src), str(out), "--axes", "CZYX", "--scale", "1", "2", "2", "--max-iters", "4",
            "--preset", "fast", "--quiet", "--precision", "float32"]
    assert main(args) == 0
    back = read_image(out)
    assert back.axes == "ZCYX" and back.data.shape == (6, 2, 64, 72)
    assert main(["upscale", str(src), str(tmp_path / "x.tif"), "--axes", "ZYX", "--scale", "2", "1", "1"]) == 2


def test_ome_tiff_units_are_read_per_axis(tmp_path):
    import tifffile

    from napari_zssr.io import read_image

    path = tmp_path / "mixed.ome.tif"
    md = {"axes": "ZYX", "PhysicalSizeZ": 1.2, "PhysicalSizeZUnit": "µm", "PhysicalSizeY": 300.0,
          "PhysicalSizeYUnit": "nm", "PhysicalSizeX": 300.0, "PhysicalSizeXUnit": "nm"}
    tifffile.imwrite(path, np.zeros((3, 8, 8), np.uint16), ome=True, metadata=md)
    img = read_image(path)
    assert img.unit == "nm"
    assert img.pixel_size == pytest.approx({"Z": 1200.0, "Y": 300.0, "X": 300.0})


@pytest.mark.parametrize("unit, symbol", [("micrometer", "µm"), ("um", "µm"), ("micron", "µm"), ("nm", "nm"),
                                          (None, "µm")])
def test_ome_tiff_is_written_with_ome_unit_symbols(tmp_path, unit, symbol):
    import tifffile

    from napari_zssr.io import ImageData, read_image, write_image

    path = tmp_path / "o.ome.tif"
    write_image(path, ImageData(np.zeros((3, 8, 8), np.uint16), "ZYX", {"Z": 1.0, "Y": 0.25, "X": 0.25}, unit))
    with tifffile.TiffFile(path) as tif:
        xml = tif.ome_metadata
    assert f'PhysicalSizeXUnit="{symbol}"' in xml and f'PhysicalSizeZUnit="{symbol}"' in xml
    back = read_image(path)
    assert back.pixel_size == pytest.approx({"Z": 1.0, "Y": 0.25, "X": 0.25})
