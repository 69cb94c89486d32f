"""The samples shipped inside the package (see sample_data/README.md for sources and licences)."""

from __future__ import annotations

import os

SAMPLES = {
    "cell_2d": "cell_2d.tif",
    "nuclei_aniso": "nuclei_aniso.tif",
}


def sample_path(name: str) -> str:
    """The path of a bundled sample file."""
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}")
    path = os.path.join(os.path.dirname(__file__), "sample_data", SAMPLES[name])
    if not os.path.exists(path):
        raise FileNotFoundError(f"sample {name!r} is missing from the installation: {path}")
    return path


def _sample_layer(name: str, layer_name: str):
    from ._reader import layer_data
    from .io import read_image

    img = read_image(sample_path(name))
    return [layer_data(img, layer_name)]


def nuclei_aniso_sample():
    """Nuclei, 15 x 128 x 128, z step 1.16 um and 0.26 um pixels (every 4th plane of a real stack)."""
    return _sample_layer("nuclei_aniso", "nuclei (anisotropic)")


def cell_2d_sample():
    """A cell in quantitative phase, 160 x 160, 0.107 um pixels."""
    return _sample_layer("cell_2d", "cell (2-D)")
