"""TIFF files: ImageJ hyperstacks and OME-TIFF, read and written with axes and voxel sizes."""

from __future__ import annotations

import numpy as np

from .image_data import ImageData

IMAGEJ_ORDER = "TZCYXS"


def read_tiff(path, lazy: bool = False) -> ImageData:
    """A TIFF's first series (lazily as a zarr view with ``lazy``), with axes and voxel sizes."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        if lazy:
            import zarr

            arr = zarr.open(tifffile.imread(path, aszarr=True, series=0), mode="r")
        else:
            arr = series.asarray()
        axes = series.axes
        if tif.is_ome and tif.ome_metadata:
            pixel_size, unit = _ome_sizes(tif.ome_metadata)
            meta = {"ome": True, **_ome_channels(tif.ome_metadata)}
        else:
            pixel_size, unit, meta = _imagej_sizes(tif)
    axes = normalise_axes(axes, arr.shape)
    return ImageData(arr, axes, pixel_size, unit, meta)


def normalise_axes(axes: str, shape) -> str:
    """tifffile's axis codes mapped onto T, C, Z, Y, X (S, RGB samples, stays S; Q/I become Z)."""
    out = []
    for a, n in zip(axes, shape):
        a = {"I": "Z", "Q": "Z"}.get(a, a)
        if a in out or a not in "TCZYXS":
            a = "T" if "T" not in out and a not in out else "Z" if "Z" not in out else "C"
        out.append(a)
    return "".join(out)


def _imagej_sizes(tif):
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
        pixel_size["Z"] = float(ij["spacing"])
    if isinstance(unit, str):
        from .units import length_unit

        unit = length_unit(unit) or unit
    meta = {"imagej": {k: v for k, v in ij.items() if isinstance(v, (str, int, float))}} if ij else {}
    return pixel_size, unit, meta


def _ome_sizes(xml: str):
    """Voxel sizes per axis from OME-XML, each axis read in its own unit (OME's default is µm) and
    all expressed in the unit of X (or of the first axis that has a size)."""
    import xml.etree.ElementTree as ET

    from .units import length_unit, to_unit

    root = ET.fromstring(xml)
    pixels = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
    raw = {}
    if pixels is not None:
        for a in "XYZ":
            v = pixels.get(f"PhysicalSize{a}")
            if v is not None:
                raw[a] = (float(v), pixels.get(f"PhysicalSize{a}Unit", "\u00b5m"))
    if not raw:
        return {}, None
    unit = raw.get("X", next(iter(raw.values())))[1]
    sizes = {}
    for a, (v, u) in raw.items():
        if length_unit(u) is None or length_unit(unit) is None:
            if u != unit:
                raise ValueError(f"the OME metadata gives {a} in {u!r} and X in {unit!r}, which do not convert")
            sizes[a] = v
        else:
            sizes[a] = to_unit(v, u, unit)
    return sizes, length_unit(unit) or unit


def _ome_channels(xml: str) -> dict:
    """``channel_names`` and ``channel_colors`` ("#rrggbb") of the first image's channels, where the
    OME-XML gives them (OME packs a colour as one signed 32-bit RGBA integer)."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
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
    import json

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
    from .image_data import hex_colors

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
    import json

    from .units import ome_symbol

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
