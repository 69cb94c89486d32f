"""TIFF files: ImageJ hyperstacks and OME-TIFF, read and written with axes and voxel sizes."""

from __future__ import annotations

import json
import math
import os
import warnings
import xml.etree.ElementTree as ET

import numpy as np

from .image_data import ImageData, hex_colors
from .ome_optics import ome_optics
from .tiff_checks import check_complete, error_kind, open_tiff, tiff_errors, tifffile_log
from .units import length_unit, ome_symbol, to_unit

IMAGEJ_ORDER = "TZCYXS"


def read_tiff(path, lazy: bool = False) -> ImageData:
    """A TIFF's first series (lazily as a zarr view with ``lazy``, or when it declares more than
    ``eager_limit()`` bytes), with axes and voxel sizes. A truncated or inconsistent file, or one whose
    OME-XML is malformed, is refused with a ValueError before any pixel is read."""
    with tifffile_log(path):
        return _read_tiff(path, lazy)


def _read_tiff(path, lazy: bool) -> ImageData:
    import tifffile

    tif = open_tiff(path)
    with tif, tiff_errors(path):  # tifffile builds the series from the file's metadata, which may be damaged
        root = checked_ome_root(tif, path)  # before tif.series: tifffile parses the OME-XML there
        if not tif.series:
            raise ValueError(f"{path} holds no image (no readable TIFF page): the file is truncated or damaged")
        series = tif.series[0]
        check_complete(tif, series, path)
        # a small compressed file may declare a huge image: such a one is not read whole, so that
        # the size checks downstream refuse it before any pixel is decoded
        lazy = lazy or series.nbytes > eager_limit()
        arr = None if lazy else _decode(series, path)
        axes, shape = series.axes, tuple(series.shape)
        if root is not None:
            pixel_size, unit = _ome_sizes(root, path)
            meta = {"ome": True, **_ome_channels(root), **ome_optics(root)}
        else:
            pixel_size, unit, meta = _imagej_sizes(tif, path)
    axes = normalise_axes(axes, shape, path)
    if lazy:
        import zarr

        with tiff_errors(path):
            arr = zarr.open(tifffile.imread(path, aszarr=True, series=0), mode="r")  # ImageData.close() closes it
    return ImageData(arr, axes, pixel_size, unit, meta)


EAGER_BYTES = 1 << 30  # a TIFF declaring more than this (or a quarter of the memory) is read lazily


def eager_limit() -> int:
    """The most bytes a TIFF is read whole: EAGER_BYTES or a quarter of the physical memory, the less."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not on every platform
        memory = 8 << 30
    return min(EAGER_BYTES, max(memory, 0) // 4 or EAGER_BYTES)


def _decode(series, path):
    """The series' pixels; a page whose compressed data does not decode is the file's fault, told so."""
    try:
        return series.asarray()
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - codecs raise their own kinds (zlib.error, ...) for damaged data
        raise ValueError(f"{path}: its pixel data could not be decoded ({error_kind(exc)}: {exc}); "
                         f"the file is damaged") from None


def normalise_axes(axes: str, shape, path=None) -> str:
    """tifffile's axis codes mapped onto T, C, Z, Y, X (S, RGB samples, stays S; Q/I become Z), each
    letter once; a ValueError naming the file where they cannot all be named so."""
    out = []
    for a in axes:
        a = {"I": "Z", "Q": "Z"}.get(a, a)
        if a in out or a not in "TCZYXS":
            # a repeated axis is most often a second stack axis, an unknown one time; C and S never go
            # together (S is RGB's channel axis)
            order = "ZCT" if a in out else "TZC"
            free = [b for b in order if b not in out and b not in axes[len(out):] and not (b == "C" and "S" in axes)]
            if not free:
                raise ValueError(
                    f"{path or 'the TIFF'} has {len(axes)} axes (tifffile reads them as {axes}, shape {tuple(shape)}), "
                    f"more than napari-zssr can name: at most 5, each once, from T, C, Z, Y, X (or S, RGB samples, "
                    f"in place of C), so not even --axes can; save it with at most 5 axes, e.g. one file per position")
            a = free[0]
        out.append(a)
    return "".join(out)


def _imagej_sizes(tif, path=None):
    page = tif.pages[0]
    ij = tif.imagej_metadata or {}
    pixel_size, unit = {}, None
    for letter, name in (("X", "XResolution"), ("Y", "YResolution")):
        tag = page.tags.get(name)
        if tag is not None:
            num, den = tag.value
            if num > 0 and den > 0 and not (num == den == 1):
                pixel_size[letter] = den / num
    if pixel_size:
        unit = ij.get("unit")
        if unit is None and page.tags.get("ResolutionUnit") is not None:
            unit = {2: "inch", 3: "cm"}.get(int(page.tags["ResolutionUnit"].value))
    if "spacing" in ij:
        spacing = _voxel_size(ij["spacing"], path, "ImageJ spacing (Z)")
        if spacing is not None:
            pixel_size["Z"] = spacing
    if isinstance(unit, str):
        unit = length_unit(unit) or unit
    meta = {"imagej": {k: v for k, v in ij.items() if isinstance(v, (str, int, float))}} if ij else {}
    return pixel_size, unit, meta


def _voxel_size(value, path, name: str):
    """``value`` as a voxel size, or None with a UserWarning where it is none (0, negative, NaN, inf,
    not a number): the file still reads, and --scale does without it."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if math.isfinite(v) and v > 0:
        return v
    warnings.warn(f"{path or 'the TIFF'}: {name}={value} is not a voxel size; it is ignored (give --scale, or fix "
                  f"the metadata)", UserWarning, stacklevel=3)
    return None


def checked_ome_root(tif, path):
    """The parsed OME-XML (None for another TIFF), refused where the planes it declares cannot be in the
    file: tifffile builds a list of every page the OME-XML implies with ``tif.series`` (SizeZ=10**8 takes
    seconds and gigabytes; so does a SizeY=2**31, which it counts in pages of the first page's size),
    and every page needs an IFD of a few dozen bytes at least, so a file holds fewer than its size / 16."""
    root = _ome_root(tif, path)
    if root is None:
        return None
    first = tif.pages.first
    page = int(first.imagewidth) * int(first.imagelength)  # 0 in a damaged IFD: tifffile's series refuses it
    planes = pages = 0
    for pixels in (el for el in root.iter() if el.tag.endswith("Pixels")):
        x, y, z, c, t = (_ome_size(pixels, name, path) for name in ("SizeX", "SizeY", "SizeZ", "SizeC", "SizeT"))
        planes += z * c * t
        pages += z * c * t * (max(1, x * y // page) if page else 1)
    size = tif.filehandle.size
    if pages > size // 16:
        what = f"{planes} planes" if pages == planes else \
            f"{planes} planes ({pages} pages of its first page's {first.imagewidth} x {first.imagelength} pixels)"
        raise ValueError(f"{path} declares {what} in its OME-XML, more than a file of {size} bytes can hold: the "
                         f"metadata is damaged")
    return root


def _ome_size(pixels, name: str, path) -> int:
    """One of SizeX, ..., SizeT of an OME Pixels element: a whole number >= 1 (absent: 1)."""
    text = pixels.get(name, "1").strip()
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ValueError(f"{path}: its OME-XML gives {name}={text!r}, not a whole number >= 1: the metadata is "
                         f"damaged")
    return int(text)


def _ome_root(tif, path):
    """The parsed OME-XML of an OME-TIFF, or None for another TIFF. XML declaring entities (a DOCTYPE)
    is refused unparsed: OME never needs them, and expanding them can exhaust memory."""
    if not tif.is_ome or not tif.ome_metadata:
        return None
    xml = tif.ome_metadata
    head = xml[:4096].upper() if isinstance(xml, str) else ""
    if "<!DOCTYPE" in head or "<!ENTITY" in xml.upper():
        raise ValueError(f"{path}: its OME-XML metadata declares entities, which are not read (a malformed or "
                         f"hostile file); save it again without a DOCTYPE")
    try:
        return ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"{path}: its OME-XML metadata is not well-formed XML ({exc}); fix or remove the "
                         f"ImageDescription") from None


def _ome_sizes(root, path=None):
    """Voxel sizes per axis from OME-XML (parsed), each axis read in its own unit (OME's default is
    µm) and all expressed in the unit of X (or of the first axis that has a size); a size that is
    none (0, negative, not a number) is dropped with a warning."""
    pixels = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
    raw = {}
    if pixels is not None:
        for a in "XYZ":
            v = pixels.get(f"PhysicalSize{a}")
            v = None if v is None else _voxel_size(v, path, f"PhysicalSize{a}")
            if v is not None:
                raw[a] = (v, pixels.get(f"PhysicalSize{a}Unit", "\u00b5m"))
    if not raw:
        return {}, None
    unit = raw.get("X", next(iter(raw.values())))[1]
    sizes = {}
    for a, (v, u) in raw.items():
        if length_unit(u) is None or length_unit(unit) is None:
            if u != unit:
                raise ValueError(f"{path or 'the file'}: the OME metadata gives {a} in {u!r} and X in {unit!r}, "
                                 f"which do not convert")
            sizes[a] = v
        else:
            sizes[a] = to_unit(v, u, unit)
    return sizes, length_unit(unit) or unit


def _ome_channels(root) -> dict:
    """``channel_names`` and ``channel_colors`` ("#rrggbb") of the first image's channels, where the
    OME-XML (parsed) gives them (OME packs a colour as one signed 32-bit RGBA integer)."""
    pixels = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
    channels = [el for el in pixels if el.tag.endswith("Channel")] if pixels is not None else []
    out = {}
    names = [c.get("Name") for c in channels]
    if channels and all(names):
        out["channel_names"] = names
    colors = []
    for c in channels:
        try:
            rgba = int(c.get("Color")) & 0xFFFFFFFF
        except (TypeError, ValueError):
            break
        colors.append(f"#{rgba >> 24:02x}{(rgba >> 16) & 255:02x}{(rgba >> 8) & 255:02x}")
    if channels and len(colors) == len(channels):
        out["channel_colors"] = colors
    return out


def imagej_writer(img: ImageData, provenance):
    """A function writing ``img`` as an ImageJ hyperstack to a path (axes in ImageJ's T, Z, C, Y, X order)."""
    arr, axes = img.data, img.axes
    rgb = axes.endswith("S") and arr.shape[-1] in (3, 4) and arr.dtype == np.uint8
    if not rgb:
        order = sorted(range(len(axes)), key=lambda i: IMAGEJ_ORDER.index(axes[i]))
        arr, axes = np.transpose(arr, order), "".join(axes[i] for i in order)
    if arr.dtype not in (np.uint8, np.uint16, np.float32):
        arr = arr.astype(np.float32)
    kw, md = {}, {"axes": axes}
    if "X" in img.pixel_size and "Y" in img.pixel_size:
        kw["resolution"] = (1.0 / img.pixel_size["X"], 1.0 / img.pixel_size["Y"])
    if img.unit:
        md["unit"] = img.unit
    if "Z" in img.pixel_size:
        md["spacing"] = img.pixel_size["Z"]
    if provenance:
        md["Info"] = json.dumps(provenance, default=str)

    def write(tmp):
        _imwrite(tmp, arr, imagej=True, metadata=md, photometric="rgb" if rgb else "minisblack", **kw)

    return write


def _imwrite(path, arr, **kw) -> None:
    """tifffile.imwrite of ``arr``; a lazy (dask, zarr) array goes plane by plane, so that writing it
    never holds more than one plane in memory."""
    import tifffile

    if isinstance(arr, np.ndarray) or arr.ndim < 3 or kw.get("photometric") == "rgb":
        tifffile.imwrite(path, np.asarray(arr), **kw)
        return
    dtype = np.dtype(arr.dtype)
    planes = (np.asarray(arr[idx], dtype=dtype) for idx in np.ndindex(*arr.shape[:-2]))
    tifffile.imwrite(path, data=planes, shape=tuple(arr.shape), dtype=dtype, **kw)


def _ome_channel_md(img: ImageData) -> dict:
    """tifffile's OME ``Channel`` entry from ``channel_names`` / ``channel_colors`` in the metadata, where
    there is one per channel (OME packs a colour as one signed 32-bit RGBA integer)."""
    n = img.data.shape[img.axes.index("C")] if "C" in img.axes else 1
    names = img.metadata.get("channel_names") or []
    colors = hex_colors(img.metadata.get("channel_colors"), n)
    out = {}
    if len(names) == n:
        out["Name"] = [str(v) for v in names]
    if colors:
        packed = [(int(c, 16) << 8) | 255 for c in colors]
        out["Color"] = [v - (1 << 32) if v >= 1 << 31 else v for v in packed]
    return {"Channel": out} if out else {}


def ome_writer(img: ImageData, provenance):
    """A function writing ``img`` as OME-TIFF to a path (physical sizes per axis, OME unit symbols)."""
    md = {"axes": img.axes}
    for a in "XYZ":
        if a in img.pixel_size:
            md[f"PhysicalSize{a}"] = img.pixel_size[a]
            md[f"PhysicalSize{a}Unit"] = ome_symbol(img.unit)
    if provenance:
        md["Description"] = json.dumps(provenance, default=str)
    md.update(_ome_channel_md(img))

    def write(tmp):
        _imwrite(tmp, img.data, ome=True, metadata=md, photometric="minisblack")

    return write
