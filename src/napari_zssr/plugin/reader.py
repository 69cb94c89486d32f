"""napari reader: TIFF files open with their voxel sizes as the layer's scale."""

from __future__ import annotations


def napari_get_reader(path):
    """Return a reader for a single .tif/.tiff path, or None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    if not str(path).lower().endswith((".tif", ".tiff")):
        return None
    return read_tiff_layer


def read_tiff_layer(path):
    """[(data, kwargs, "image")] with scale, axis labels, units and the axes in metadata."""
    from ..io import read_image

    if isinstance(path, list):
        path = path[0]
    img = read_image(path)
    return [layer_data(img, name=str(path).replace("\\", "/").rsplit("/", 1)[-1].split(".")[0])]


def layer_data(img, name: str):
    """An image layer tuple from ImageData: C becomes napari's channel_axis, S an RGB image."""
    axes = img.axes
    kwargs = {"name": name, "metadata": {"axes": axes.replace("S", "C"), **img.metadata}}
    spatial = [a for a in axes if a not in "CS"]
    kwargs["scale"] = [img.pixel_size.get(a, 1.0) for a in spatial]
    kwargs["axis_labels"] = [a.lower() for a in spatial]
    if img.unit:
        kwargs["units"] = [img.unit if a in "ZYX" else "pixel" for a in spatial]
    if "S" in axes:
        kwargs["rgb"] = True
        kwargs["metadata"]["axes"] = axes.replace("S", "C")
    elif "C" in axes:
        kwargs["channel_axis"] = axes.index("C")
        kwargs["metadata"]["axes"] = axes.replace("C", "")
    return (img.data, kwargs, "image")
