"""The sample files shipped inside the package (see sample_data/README.md for sources and licences)."""

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
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "sample_data", SAMPLES[name])
    if not os.path.exists(path):
        raise FileNotFoundError(f"sample {name!r} is missing from the installation: {path}")
    return path
