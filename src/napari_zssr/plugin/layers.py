"""What the widget reads from a napari layer: its axes, geometry and voxel sizes. Reading never changes a
layer; ``give_sizes`` is the one function here that does, and says so."""

from __future__ import annotations

import numpy as np

from ..stack.choices import Sizes


def guess_axes(layer) -> str:
    """Axis letters for a layer: from our own metadata, from axis labels, or from its shape."""
    nd = layer.data.ndim
    md = (layer.metadata or {}).get("axes")
    if isinstance(md, str) and len(md) == nd:
        return md
    labels = [str(a).upper() for a in getattr(layer, "axis_labels", ())]
    if layer.rgb:
        spatial = labels if all(a in "TZYX" and len(a) == 1 for a in labels) and len(set(labels)) == len(labels) \
            else list("TZYX"[-(nd - 1):])
        return "".join(spatial) + "S"  # RGB colour samples: one network over the colours, as the API and CLI
    if len(labels) == nd and all(len(a) == 1 and a in "TCZYX" for a in labels) and len(set(labels)) == nd:
        return "".join(labels)
    return {2: "YX", 3: "ZYX", 4: "TZYX", 5: "TCZYX"}.get(nd, "")


def axes_from_shape_only(layer) -> bool:
    """True where ``guess_axes`` had nothing but the shape to go by (no axes in the metadata, no letter
    labels): then ZYX may really be TYX, and the user should say."""
    md = (layer.metadata or {}).get("axes")
    if isinstance(md, str) and len(md) == layer.data.ndim:
        return False
    labels = [str(a).upper() for a in getattr(layer, "axis_labels", ())]
    return not (labels and all(len(a) == 1 and a in "TCZYXS" for a in labels))


def layer_geometry(layer) -> tuple:
    """(scale, translate) per array axis; an RGB layer's colour axis gets 1 and 0."""
    scale, translate = list(layer.scale), list(layer.translate)
    if layer.rgb:
        scale, translate = scale + [1.0], translate + [0.0]
    return scale, translate


def layer_sizes(layer, axes: str) -> Sizes:
    """The layer's voxel sizes on Z, Y and X in one unit (io.units.spatial_sizes), or why it has none."""
    from ..io.units import spatial_sizes

    scale, _ = layer_geometry(layer)
    units = list(getattr(layer, "units", None) or [None] * layer.ndim) + ([None] if layer.rgb else [])
    try:
        sizes, unit = spatial_sizes(axes, scale, units if len(units) == len(axes) else None)
    except ValueError as exc:
        return Sizes.none(str(exc))
    return Sizes(sizes, unit)


def layer_data(layer):
    """The layer's full-resolution array (level 0 of a multiscale layer), as it is: nothing is read."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def read_psf(psf_layer, image_layer, mode: str) -> tuple:
    """The PSF (an image of one bead) held by ``psf_layer`` and its own voxel sizes, read without changing
    either layer: (array, Sizes)."""
    from ..stack.choices import psf_axes

    if psf_layer is None:
        raise ValueError("choose the layer that holds the PSF (an image of one bead)")
    if psf_layer is image_layer:
        raise ValueError(f"the PSF layer is the image itself ({image_layer.name!r}); choose an image of one bead")
    if psf_layer.rgb:
        raise ValueError(f"the PSF layer {psf_layer.name!r} must be a grey image, got an RGB image")
    data = layer_data(psf_layer)
    return data, layer_sizes(psf_layer, psf_axes(np.ndim(data), mode))


def give_sizes(layer, axes: str, sizes: Sizes) -> None:
    """Make ``sizes`` (typed by the user for a layer that had none) the layer's scale and units, so that a
    result, scaled from them, overlays it; the data is not touched."""
    scale, _ = layer_geometry(layer)
    scale = [sizes.sizes.get(a, v) for a, v in zip(axes, scale)]
    layer.scale = scale[:-1] if layer.rgb else scale
    units = list(getattr(layer, "units", None) or ["pixel"] * layer.ndim)
    spatial = [a for a in axes if a != "S"]
    layer.units = [(sizes.unit if a in sizes.sizes else u) for a, u in zip(spatial, units)]
