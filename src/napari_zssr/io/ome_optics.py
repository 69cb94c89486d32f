"""The microscope's optics as OME metadata records them: the objective's numerical aperture and immersion,
the refractive index of its settings, and each channel's emission wavelength (in nm).

OME-TIFF keeps them in its OME-XML; OME-Zarr written by bioformats2raw keeps the same XML in
``OME/METADATA.ome.xml`` beside the images (NGFF itself has no place for them). Values that are
absent, or not positive numbers, are left out (None): a value is never guessed, except the
refractive index of a named immersion medium, which is the medium's own.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET

from .units import to_unit

# refractive index of OME's immersion media (Objective/@Immersion); Multi and Other name none
IMMERSION_INDEX = {"oil": 1.515, "water": 1.333, "waterdipping": 1.333, "glycerol": 1.47, "air": 1.0}


def _tag(el) -> str:
    return el.tag.rsplit("}", 1)[-1]


def _positive(text):
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def _children(el, name: str) -> list:
    return [c for c in el.iter() if _tag(c) == name]


def ome_optics(root, image: int = 0) -> dict:
    """``{"optics": {...}}`` from parsed OME-XML (``image``: which Image element), or {} where it records none
    of them. The dict holds ``na``, ``immersion``, ``refractive_index``, ``emission_nm`` (one per channel,
    None where a channel has none) and ``channel_names``."""
    images = _children(root, "Image")
    if not images:
        return {}
    img = images[min(image, len(images) - 1)]
    settings = next(iter(_children(img, "ObjectiveSettings")), None)
    objectives = _children(root, "Objective")
    # an instrument with several objectives and no settings naming one: which was used is not known
    objective = next((o for o in objectives if settings is not None and o.get("ID") == settings.get("ID")),
                     objectives[0] if len(objectives) == 1 else None)
    out = {"na": None, "immersion": None, "refractive_index": None, "emission_nm": [], "channel_names": []}
    if objective is not None:
        out["na"] = _positive(objective.get("LensNA"))
        out["immersion"] = objective.get("Immersion")
    index = _positive(settings.get("RefractiveIndex")) if settings is not None else None
    if index is None and out["immersion"]:
        index = IMMERSION_INDEX.get(out["immersion"].strip().lower())
    out["refractive_index"] = index
    for ch in _children(img, "Channel"):
        out["emission_nm"].append(_emission_nm(ch))
        out["channel_names"].append(ch.get("Name"))
    if out["na"] is None and out["refractive_index"] is None and not any(out["emission_nm"]):
        return {}
    return {"optics": out}


def _emission_nm(channel):
    """A channel's emission wavelength in nm (OME's default unit), or None."""
    v = _positive(channel.get("EmissionWavelength"))
    if v is None:
        return None
    unit = channel.get("EmissionWavelengthUnit", "nm")
    try:
        return to_unit(v, unit, "nm")
    except ValueError:
        return None


def ngff_optics(path) -> dict:
    """``{"optics": {...}}`` from the OME-XML a bioformats2raw OME-Zarr keeps in ``OME/METADATA.ome.xml``, for the
    image at ``path`` (the store's root, or one of its numbered images); {} where there is none."""
    path = os.fspath(path).rstrip("/\\")
    here = os.path.join(path, "OME", "METADATA.ome.xml")
    above = os.path.join(os.path.dirname(path), "OME", "METADATA.ome.xml")
    image = 0
    if os.path.isfile(here):
        xml = here
    elif os.path.isfile(above) and os.path.basename(path).isdigit():
        xml, image = above, int(os.path.basename(path))
    else:
        return {}
    with open(xml, "rb") as fh:
        text = fh.read()
    if b"<!DOCTYPE" in text[:4096].upper() or b"<!ENTITY" in text.upper():
        return {}  # entities are never expanded; such a file's optics are not read
    try:
        return ome_optics(ET.fromstring(text), image)
    except ET.ParseError:
        return {}
