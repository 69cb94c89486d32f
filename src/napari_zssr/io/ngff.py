"""zarr and OME-Zarr (NGFF): reading stores lazily with their axes and voxel sizes, and NGFF metadata."""

from __future__ import annotations

from .image_data import ImageData


def read_zarr(path) -> ImageData:
    """A zarr array or OME-Zarr image (level 0), lazily, with axes and voxel sizes where recorded."""
    import zarr

    try:
        node = zarr.open(path, mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises several kinds for "not a store"
        raise ValueError(f"{path} is not a readable zarr store ({exc})") from None
    axes, sizes, unit = None, {}, None
    if isinstance(node, zarr.Group):
        attrs = dict(node.attrs)
        ms = (attrs.get("multiscales") or (attrs.get("ome") or {}).get("multiscales") or [None])[0]
        if ms:
            level = ms["datasets"][0]
            arr = node[level["path"]]
            axes = "".join(a if isinstance(a, str) else a["name"] for a in ms.get("axes", [])).upper() or None
            for t in level.get("coordinateTransformations", []):
                if t.get("type") == "scale" and axes:
                    sizes = {a: float(v) for a, v in zip(axes, t["scale"]) if a in "ZYX"}
            unit = next((a.get("unit") for a in ms.get("axes", []) if isinstance(a, dict) and a.get("unit")), None)
        elif "0" in node:
            arr = node["0"]
            axes = (attrs.get("napari_zssr") or {}).get("axes")
        else:
            raise ValueError(f"{path} is a zarr group with no image (no OME multiscales, no array '0')")
    else:
        arr = node
    if unit is not None:
        from .units import length_unit

        unit = length_unit(unit) or unit
    if axes is None or len(axes) != arr.ndim or set(axes) - set("TCZYX"):
        axes = {2: "YX", 3: "ZYX"}.get(arr.ndim, "")
    meta = {"zarr": True}
    if isinstance(node, zarr.Group):  # OME-Zarr's omero block: channel labels and colours
        omero = dict(node.attrs).get("omero") or (dict(node.attrs).get("ome") or {}).get("omero") or {}
        channels = omero.get("channels") or []
        if channels and all(c.get("label") for c in channels):
            meta["channel_names"] = [str(c["label"]) for c in channels]
        if channels and all(isinstance(c.get("color"), str) and len(c["color"]) == 6 for c in channels):
            meta["channel_colors"] = [f"#{c['color'].lower()}" for c in channels]
    return ImageData(arr, axes, sizes, unit, meta)


def pyramid_levels(path) -> list:
    """The arrays of an OME-Zarr image's multiscale pyramid, finest first (one where it has no pyramid or
    is a plain zarr array)."""
    import zarr

    node = zarr.open(path, mode="r")
    if not isinstance(node, zarr.Group):
        return [node]
    attrs = dict(node.attrs)
    ms = (attrs.get("multiscales") or (attrs.get("ome") or {}).get("multiscales") or [None])[0]
    if not ms:
        return [read_zarr(path).data]
    return [node[d["path"]] for d in ms["datasets"]]


def ome_metadata(axes: str, voxel_size, translate, unit, name: str = "napari-zssr") -> dict:
    """NGFF 0.4 ``multiscales`` entry for one level at path ``0``; ``axes`` must be in TCZYX order."""
    kinds = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}
    from .units import ngff_name

    unit = ngff_name(unit) if unit else None
    ax = []
    for a in axes:
        entry = {"name": a.lower(), "type": kinds[a]}
        if kinds[a] == "space" and unit:
            entry["unit"] = unit
        ax.append(entry)
    transforms = [{"type": "scale", "scale": [float(v) for v in voxel_size]}]
    if any(float(t) != 0 for t in translate):
        transforms.append({"type": "translation", "translation": [float(t) for t in translate]})
    return {"version": "0.4", "name": name, "axes": ax,
            "datasets": [{"path": "0", "coordinateTransformations": transforms}]}
