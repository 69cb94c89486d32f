"""Reading and writing images with their pixel sizes; files are written atomically."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .core.checks import cast_result  # noqa: F401 - the CLI and upscale() cast through io

PNG_EXT = (".png",)
TIFF_EXT = (".tif", ".tiff")


@dataclass
class ImageData:
    """An array with what is known about it: axes (e.g. "YX", "YXS" for RGB), pixel size, unit."""

    data: np.ndarray
    axes: str
    pixel_size: dict = field(default_factory=dict)  # axis letter -> size in `unit`
    unit: Optional[str] = None
    metadata: dict = field(default_factory=dict)


def _ext(path) -> str:
    return os.path.splitext(str(path))[1].lower()


def is_zarr_path(path) -> bool:
    return os.fspath(path).rstrip("/\\").lower().endswith(".zarr")


def read_image(path, lazy: bool = False) -> ImageData:
    """Read a PNG, a TIFF (gray or RGB, 8 or 16 bit, float; ImageJ or OME stacks) or a zarr / OME-Zarr store.

    With ``lazy`` a TIFF's data is a zarr view of the file, read plane by plane when used; zarr
    stores are always read lazily.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    if is_zarr_path(path):
        return read_zarr(path)
    ext = _ext(path)
    if ext in PNG_EXT:
        from PIL import Image

        with Image.open(path) as im:
            if im.mode == "P":
                im = im.convert("RGB")
            arr = np.array(im)
        if arr.dtype == np.int32 and arr.min() >= 0 and arr.max() < 65536:
            arr = arr.astype(np.uint16)  # Pillow reads 16-bit PNGs as mode "I"
        return ImageData(arr, "YX" if arr.ndim == 2 else "YXS")
    if ext in TIFF_EXT:
        return _read_tiff(path, lazy)
    raise ValueError(f"unsupported file type {ext!r} for {path}; use PNG, TIFF or a .zarr store")


def read_zarr(path) -> ImageData:
    """A zarr array or OME-Zarr image (level 0), lazily, with axes and voxel sizes where recorded."""
    import zarr

    try:
        node = zarr.open(path, mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises several kinds for "not a store"
        raise ValueError(f"{path} is not a readable zarr store ({exc})") from None
    axes, sizes, unit = None, {}, None
    if isinstance(node, zarr.Group):
        attrs = dict(node.attrs)
        ms = (attrs.get("multiscales") or (attrs.get("ome") or {}).get("multiscales") or [None])[0]
        if ms:
            level = ms["datasets"][0]
            arr = node[level["path"]]
            axes = "".join(a if isinstance(a, str) else a["name"] for a in ms.get("axes", [])).upper() or None
            for t in level.get("coordinateTransformations", []):
                if t.get("type") == "scale" and axes:
                    sizes = {a: float(v) for a, v in zip(axes, t["scale"]) if a in "ZYX"}
            unit = next((a.get("unit") for a in ms.get("axes", []) if isinstance(a, dict) and a.get("unit")), None)
        elif "0" in node:
            arr = node["0"]
            axes = (attrs.get("napari_zssr") or {}).get("axes")
        else:
            raise ValueError(f"{path} is a zarr group with no image (no OME multiscales, no array '0')")
    else:
        arr = node
    if unit is not None:
        from .lengths import length_unit

        unit = length_unit(unit) or unit
    if axes is None or len(axes) != arr.ndim or set(axes) - set("TCZYX"):
        axes = {2: "YX", 3: "ZYX"}.get(arr.ndim, "")
    return ImageData(arr, axes, sizes, unit, {"zarr": True})


def _read_tiff(path, lazy: bool = False) -> ImageData:
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
            meta = {"ome": True}
        else:
            pixel_size, unit, meta = _imagej_sizes(tif)
    axes = _normalise_axes(axes, arr.shape)
    return ImageData(arr, axes, pixel_size, unit, meta)


def _normalise_axes(axes: str, shape) -> str:
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
        from .lengths import length_unit

        unit = length_unit(unit) or unit
    meta = {"imagej": {k: v for k, v in ij.items() if isinstance(v, (str, int, float))}} if ij else {}
    return pixel_size, unit, meta


def _ome_sizes(xml: str):
    """Voxel sizes per axis from OME-XML, each axis read in its own unit (OME's default is µm) and
    all expressed in the unit of X (or of the first axis that has a size)."""
    import xml.etree.ElementTree as ET

    from .lengths import length_unit, to_unit

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


def read_kernel(path) -> np.ndarray:
    """A numeric kernel from .npy, .tif/.tiff or MATLAB .mat (the first 2-D numeric variable)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such kernel file: {path}")
    ext = _ext(path)
    if ext == ".npy":
        return np.load(path, allow_pickle=False)
    if ext in TIFF_EXT:
        import tifffile

        return tifffile.imread(path)
    if ext == ".mat":
        from scipy.io import loadmat

        mat = loadmat(path)
        names = [k for k in mat if not k.startswith("__")]
        names.sort(key=lambda k: k.lower() != "kernel")
        for k in names:
            v = np.asarray(mat[k])
            if v.ndim == 2 and np.issubdtype(v.dtype, np.number) and v.size > 1:
                return v
        raise ValueError(f"{path} holds no 2-D numeric variable to use as a kernel (found {names})")
    raise ValueError(f"unsupported kernel file {ext!r}; use .npy, .tif or .mat")


def atomic_write(path, write_fn, overwrite: bool = False) -> None:
    """Call ``write_fn(tmp_path)`` and move the result onto ``path`` only when it completed."""
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"output folder does not exist: {folder}")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".part" + _ext(path), dir=folder)
    os.close(fd)
    try:
        write_fn(tmp)
        # mkstemp makes the file private; give it the permissions a plain open() would have
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


IMAGEJ_ORDER = "TZCYXS"


def write_image(path, img: ImageData, overwrite: bool = False, provenance: dict | None = None) -> None:
    """Write PNG (8/16-bit gray, 8-bit RGB) or TIFF with axes and voxel sizes, atomically.

    ``.ome.tif`` writes OME-TIFF (physical sizes per axis); other TIFFs are ImageJ hyperstacks
    (axes reordered to ImageJ's T, Z, C, Y, X order; voxel sizes as resolution and spacing).
    """
    ext = _ext(path)
    arr = img.data
    if ext in PNG_EXT:
        if arr.ndim > 2 and img.axes != "YXS":
            raise ValueError(f"PNG holds one 2-D image, not axes {img.axes} {arr.shape}; write a TIFF")
        if arr.dtype not in (np.uint8, np.uint16) or (arr.dtype == np.uint16 and arr.ndim == 3):
            raise ValueError(f"PNG holds 8-bit gray/RGB or 16-bit gray, not {arr.dtype} {arr.shape}; write a TIFF")

        def write(tmp):
            from PIL import Image

            Image.fromarray(arr).save(tmp, format="PNG")
    elif ext in TIFF_EXT:
        if str(path).lower().endswith((".ome.tif", ".ome.tiff")):
            write = _ome_writer(img, provenance)
        else:
            write = _imagej_writer(img, provenance)
    else:
        raise ValueError(f"unsupported output type {ext!r} for {path}; use .png, .tif or .ome.tif")
    atomic_write(path, write, overwrite)


def _imagej_writer(img: ImageData, provenance):
    import json

    import tifffile

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
        tifffile.imwrite(tmp, arr, imagej=True, metadata=md, photometric="rgb" if rgb else "minisblack", **kw)

    return write


def _ome_writer(img: ImageData, provenance):
    import json

    import tifffile

    from .lengths import ome_symbol

    md = {"axes": img.axes}
    for a in "XYZ":
        if a in img.pixel_size:
            md[f"PhysicalSize{a}"] = img.pixel_size[a]
            md[f"PhysicalSize{a}Unit"] = ome_symbol(img.unit)
    if provenance:
        md["Description"] = json.dumps(provenance, default=str)

    def write(tmp):
        tifffile.imwrite(tmp, img.data, ome=True, metadata=md, photometric="minisblack")

    return write
