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


def spatial_sizes(axes: str, scale, units=None) -> tuple:
    """The voxel size on each of Z, Y and X in ``axes``, all in the unit of X, and that unit's symbol.

    ``scale`` and ``units`` (names or pint units; None, or "pixel", for none) have one entry per
    letter of ``axes``. Only spatial axes are converted: a T axis in seconds or frames is left
    alone. Sizes without any length unit are returned as they are, with unit None; a ValueError
    says which axis has no length unit beside others that have one, or has no sizes at all.
    """
    spatial = [a for a in "ZYX" if a in axes]
    sizes = {a: float(scale[axes.index(a)]) for a in spatial}
    names = {a: (None if units is None or units[axes.index(a)] is None else str(units[axes.index(a)]))
             for a in spatial}
    symbols = {a: length_unit(n) if n not in (None, "pixel") else None for a, n in names.items()}
    if all(v is None for v in symbols.values()):
        if all(v == 1.0 for v in sizes.values()):
            raise ValueError("the layer has no voxel sizes (scale 1 and no unit on every spatial axis): set the "
                             "layer's scale to the z step and pixel size, or type the z factor")
        return sizes, None  # sizes in one unnamed unit
    ref = symbols["X"]
    for a in spatial:
        if symbols[a] is None or ref is None:
            raise ValueError(f"the {a} axis is in {names[a] or 'no unit'} and X in {names['X'] or 'no unit'}: these "
                             f"do not convert; give every spatial axis a length unit")
    return {a: to_unit(v, symbols[a], ref) for a, v in sizes.items()}, ref
