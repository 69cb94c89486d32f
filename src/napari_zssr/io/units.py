"""Length units of voxel sizes, in one place: parsed and converted with pint, written as each format wants.

ImageJ writes "micron" or "um", OME-TIFF "µm", OME-Zarr (NGFF) "micrometer", napari pint units:
all of them are read here into one short ASCII symbol ("um", "nm", ...) and written back in
the form the format expects.
"""

from __future__ import annotations

# the symbols we keep, with their size in meters
_METERS = {"pm": 1e-12, "A": 1e-10, "nm": 1e-9, "um": 1e-6, "mm": 1e-3, "cm": 1e-2, "m": 1.0}
_NGFF = {"pm": "picometer", "A": "angstrom", "nm": "nanometer", "um": "micrometer", "mm": "millimeter",
         "cm": "centimeter", "m": "meter"}


def _registry():
    import pint

    return pint.get_application_registry()


def _parse(unit):
    ureg = _registry()
    text = str(unit).strip()
    if text.lower() in ("micron", "microns"):
        text = "micrometer"
    try:
        u = ureg.Unit(text)
    except Exception:  # noqa: BLE001 - pint raises several kinds for names it does not know
        return None
    return u if u.dimensionality == ureg.Unit("m").dimensionality else None


def length_unit(unit) -> str | None:
    """The short ASCII symbol ("um", "nm", ...) of a length unit in any spelling, or None when ``unit``
    is empty or not a length (pixel, second, an unknown word)."""
    if unit is None or str(unit).strip() == "":
        return None
    u = _parse(unit)
    if u is None:
        return None
    meters = float((1 * u).to("m").magnitude)
    for sym, size in _METERS.items():
        if abs(meters - size) <= 1e-9 * size:
            return sym
    return f"{u:~}"


def to_unit(value: float, unit, target) -> float:
    """``value`` in ``unit`` expressed in ``target`` (both length units); a ValueError names what failed."""
    src, dst = _parse(unit), _parse(target)
    if src is None or dst is None:
        bad = unit if src is None else target
        raise ValueError(f"{bad!r} is not a length unit")
    return float((float(value) * src).to(dst).magnitude)


def ome_symbol(unit) -> str:
    """OME's UnitsLength symbol (µm, nm, Å, ...); µm when the unit is unknown, as OME's default."""
    sym = length_unit(unit) or "um"
    return {"um": "\u00b5m", "A": "\u00c5"}.get(sym, sym)


def ngff_name(unit) -> str | None:
    """The OME-Zarr (NGFF) name of a length unit ("micrometer"), or None when it is not one."""
    sym = length_unit(unit)
    return _NGFF.get(sym) if sym else None
