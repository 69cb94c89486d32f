"""napari reader: TIFF files and zarr / OME-Zarr stores open with their voxel sizes as the layer's scale;
stores (and TIFFs too big to read whole) lazily, an OME-Zarr pyramid as a multiscale layer."""

from __future__ import annotations

import os

import numpy as np

LAZY_BYTES = 1 << 30  # a TIFF bigger than this opens lazily: read plane by plane as napari shows it


def napari_get_reader(path):
    """Return a reader for a single .tif/.tiff file or .zarr store, or None."""
    from ..io import is_zarr_path

    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    path = str(path)
    if is_zarr_path(path) and os.path.isdir(path):
        return read_layers
    if path.lower().endswith((".tif", ".tiff")):
        return read_layers
    return None


def read_layers(path):
    """[(data, kwargs, "image")] with scale, axis labels, units and the axes in metadata."""
    import dask.array as da

    from ..io import is_zarr_path, read_image

    if isinstance(path, list):
        path = path[0]
    path = os.fspath(path)
    name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].split(".")[0]
    if is_zarr_path(path):
        from ..io.ngff import pyramid_levels

        img = read_image(path)
        levels = [da.from_zarr(a) for a in (pyramid_levels(path) or [img.data])]
        img.data = levels if len(levels) > 1 else levels[0]
        return [layer_data(img, name)]
    img = read_image(path, lazy=os.path.getsize(path) > LAZY_BYTES)
    if not isinstance(img.data, np.ndarray):
        img.data = da.from_zarr(img.data)
    return [layer_data(img, name)]


def layer_data(img, name: str):
    """An image layer tuple from ImageData: C becomes napari's channel_axis, S an RGB image."""
    axes = img.axes
    kwargs = {"name": name, "metadata": {"axes": axes.replace("S", "C"), **img.metadata}}
    spatial = [a for a in axes if a not in "CS"]
    kwargs["scale"] = [img.pixel_size.get(a, 1.0) for a in spatial]
    kwargs["axis_labels"] = [a.lower() for a in spatial]
    if img.unit:
        kwargs["units"] = [img.unit if a in "ZYX" else "pixel" for a in spatial]
    if isinstance(img.data, list):
        kwargs["multiscale"] = True
    if "S" in axes:
        kwargs["rgb"] = True
        kwargs["metadata"]["axes"] = axes.replace("S", "C")
    elif "C" in axes:
        kwargs["channel_axis"] = axes.index("C")
        kwargs["metadata"]["axes"] = axes.replace("C", "")
        n = np.shape(img.data[0] if isinstance(img.data, list) else img.data)[axes.index("C")]
        names, colors = (kwargs["metadata"].pop(k, None) for k in ("channel_names", "channel_colors"))
        if names is not None and len(names) == n:  # the file's own channel names and colours
            kwargs["name"] = list(names)
        if colors is not None and len(colors) == n:
            kwargs["colormap"] = list(colors)
    return (img.data, kwargs, "image")
