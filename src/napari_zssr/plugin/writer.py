"""napari writer: an image layer to TIFF with its scale as voxel sizes (ImageJ, or OME for .ome.tif)."""

from __future__ import annotations

import numpy as np


def write_single_image(path: str, data, meta: dict):
    from ..io import ImageData, write_image

    if isinstance(data, np.ndarray):
        arr = data
    else:  # a dask or zarr layer stays lazy: the TIFF is written plane by plane
        import dask.array as da

        arr = da.asarray(data)
    axes = (meta.get("metadata") or {}).get("axes")
    rgb = bool(meta.get("rgb"))
    if not isinstance(axes, str) or len(axes) != arr.ndim:
        spatial = {2: "YX", 3: "ZYX", 4: "TZYX", 5: "TCZYX"}[arr.ndim - rgb]
        axes = spatial + ("C" if rgb else "")
    if rgb:
        axes = axes.replace("C", "S")
    spatial_axes = [a for a in axes if a not in "CS"]
    scale = meta.get("scale")
    scale = [1.0] * len(spatial_axes) if scale is None else [float(v) for v in scale]
    sizes = {a: float(s) for a, s in zip(spatial_axes, scale) if a in "ZYX"}
    from ..io.units import length_unit

    units = meta.get("units")
    unit = length_unit(str(units[-1])) if units is not None and len(units) else None
    write_image(path, ImageData(arr, axes, sizes, unit), overwrite=True,
                provenance=(meta.get("metadata") or {}).get("zssr"))
    return [path]
