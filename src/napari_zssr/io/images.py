"""Reading and writing images with their pixel sizes (PNG, TIFF, zarr); files are written atomically."""

from __future__ import annotations

import os
import zlib

import numpy as np

from .files import PNG_EXT, TIFF_EXT, atomic_write, file_ext, is_zarr_path
from .image_data import ImageData
from .ngff import read_zarr
from .png_checks import check_png_chunks, png_size
from .tiff import imagej_writer, ome_writer, read_tiff


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
    ext = file_ext(path)
    if ext in PNG_EXT:
        arr = read_png(path)
        return ImageData(arr, "YX" if arr.ndim == 2 else "YXS")
    if ext in TIFF_EXT:
        return read_tiff(path, lazy)
    return read_bioio(path, ext)


def read_png(path) -> np.ndarray:
    """A PNG's pixels; a file Pillow cannot read, or one claiming more pixels than Pillow's bound
    (a decompression bomb), is a ValueError naming it, raised before the pixels are allocated."""
    from PIL import Image

    check_png_chunks(path)  # before Pillow, which trusts the chunk lengths and pads missing rows
    try:
        with Image.open(path) as im:
            if im.mode == "P":
                im = im.convert("RGB")
            arr = np.array(im)
    except Image.DecompressionBombError:
        size = png_size(path)
        claims = f"{size[0]} x {size[1]} pixels ({size[0] * size[1]})" if size else "more pixels"
        raise ValueError(f"{path} claims {claims}, more than the limit of "
                         f"{2 * Image.MAX_IMAGE_PIXELS} pixels for a PNG (a decompression bomb, or an image to crop "
                         f"or save as a TIFF)") from None
    except PermissionError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as exc:  # Pillow's kinds for a broken file
        raise ValueError(f"{path} is not a readable PNG: {exc}") from None
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)  # a 1-bit PNG: 0 and 1
    if arr.dtype == np.int32 and arr.min() >= 0 and arr.max() < 65536:
        arr = arr.astype(np.uint16)  # Pillow reads 16-bit PNGs as mode "I"
    return arr


def read_bioio(path, ext: str = "", reader=None) -> ImageData:
    """A vendor file (CZI, ND2, LIF, ...) through bioio (the ``formats`` extra), lazily, with its voxel
    sizes in micrometres and channel names; axes of length 1 other than Y and X are dropped."""
    try:
        from bioio import BioImage
    except ImportError:
        raise ValueError(f"unsupported file type {ext!r} for {path}; use PNG, TIFF or a .zarr store, or install "
                         f"napari-zssr[formats] (bioio and its CZI, ND2 and LIF readers) for vendor files") from None
    try:
        img = BioImage(path, reader=reader) if reader is not None else BioImage(path)
    except Exception as exc:  # noqa: BLE001 - bioio raises its own kinds for "no reader for this file"
        raise ValueError(f"{path}: bioio could not read it ({type(exc).__name__}: {exc}); install the bioio reader "
                         f"for this format (bioio-czi, bioio-nd2, bioio-lif, ...)") from None
    order = img.dims.order
    data = img.dask_data
    keep = [i for i, a in enumerate(order) if a in "YX" or data.shape[i] > 1]
    data = data[tuple(slice(None) if i in keep else 0 for i in range(len(order)))]
    axes = "".join(order[i] for i in keep)
    pps = img.physical_pixel_sizes
    sizes = {a: float(v) for a, v in zip("ZYX", (pps.Z, pps.Y, pps.X)) if v is not None and a in axes}
    meta = {"bioio": True}
    names = [str(n) for n in (img.channel_names or [])]
    if "C" in axes and len(names) == data.shape[axes.index("C")]:
        meta["channel_names"] = names
    return ImageData(data, axes, sizes, "um" if sizes else None, meta)


def check_png(axes: str, dtype, shape) -> None:
    """What a PNG holds: one 2-D image, 8-bit gray or RGB(A), or 16-bit gray; a ValueError otherwise (the
    CLI asks before a run, the writer again when it writes)."""
    dtype, shape = np.dtype(dtype), tuple(shape)
    if len(shape) > 2 and axes != "YXS":
        raise ValueError(f"PNG holds one 2-D image, not axes {axes} {shape}; write a TIFF")
    if dtype not in (np.uint8, np.uint16) or (dtype == np.uint16 and len(shape) == 3):
        raise ValueError(f"PNG holds 8-bit gray/RGB or 16-bit gray, not {dtype} {shape}; write a TIFF")


def write_image(path, img: ImageData, overwrite: bool = False, provenance: dict | None = None) -> None:
    """Write PNG (8/16-bit gray, 8-bit RGB) or TIFF with axes and voxel sizes, atomically.

    ``.ome.tif`` writes OME-TIFF (physical sizes per axis); other TIFFs are ImageJ hyperstacks
    (axes reordered to ImageJ's T, Z, C, Y, X order; voxel sizes as resolution and spacing).
    """
    ext = file_ext(path)
    arr = img.data
    if ext in PNG_EXT:
        check_png(img.axes, arr.dtype, arr.shape)

        def write(tmp):
            from PIL import Image

            Image.fromarray(arr).save(tmp, format="PNG")
    elif ext in TIFF_EXT:
        if str(path).lower().endswith((".ome.tif", ".ome.tiff")):
            write = ome_writer(img, provenance)
        else:
            write = imagej_writer(img, provenance)
    else:
        raise ValueError(f"unsupported output type {ext!r} for {path}; use .png, .tif or .ome.tif")
    atomic_write(path, write, overwrite)
