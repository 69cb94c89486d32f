"""napari sample data: the bundled samples as layers with their voxel sizes."""

from __future__ import annotations


def _sample_layer(name: str, layer_name: str):
    from ..io import read_image, sample_path
    from .reader import layer_data

    img = read_image(sample_path(name))
    return [layer_data(img, layer_name)]


def nuclei_aniso_sample():
    """Nuclei, 15 x 128 x 128, z step 1.16 um and 0.26 um pixels (every 4th plane of a real stack)."""
    return _sample_layer("nuclei_aniso", "nuclei (anisotropic)")


def cell_2d_sample():
    """A cell in quantitative phase, 160 x 160, 0.107 um pixels."""
    return _sample_layer("cell_2d", "cell (2-D)")
