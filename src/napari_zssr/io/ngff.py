"""zarr and OME-Zarr (NGFF) inputs: read lazily with their axes and voxel sizes; malformed metadata and
missing chunks refused with a message naming the store."""

from __future__ import annotations

import itertools
import math
import os
import re
import warnings

from .image_data import ImageData, hex_colors
from .ome_optics import ngff_optics
from .units import length_unit


def read_zarr(path) -> ImageData:
    """A zarr array or OME-Zarr image (level 0), lazily, with axes and voxel sizes where recorded.
    Malformed OME metadata and missing chunks are a ValueError naming the store; nothing is read
    but metadata and the names of the stored chunks."""
    import zarr

    try:
        node = zarr.open(path, mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises several kinds for "not a store"
        raise ValueError(f"{path} is not a readable zarr store ({exc})") from None
    axes, sizes, unit = None, {}, None
    meta = {"zarr": True}
    if isinstance(node, zarr.Group):
        ms = _ngff(node, "multiscales")
        if ms is not None:
            arr = _datasets(path, node, ms)[0]
            ms = ms[0]
            axes, unit = _axes(path, ms, arr.ndim)
            scale = _scales(path, ms, arr.ndim)[0]
            if scale is not None and axes:
                sizes = {a: float(v) for a, v in zip(axes, scale) if a in "ZYX"}
        elif "0" in node and isinstance(node["0"], zarr.Array):
            arr = node["0"]
            axes = (dict(node.attrs).get("napari_zssr") or {}).get("axes")
        else:
            raise ValueError(f"{path} is a zarr group with no image (no OME multiscales, no array '0')")
        meta.update(_omero_channels(path, node))
        meta.update(ngff_optics(path))
    else:
        arr = node
    check_chunks(path, arr)
    if unit is not None:
        unit = length_unit(unit) or unit
    if not isinstance(axes, str) or len(axes) != arr.ndim or set(axes) - set("TCZYX"):
        axes = {2: "YX", 3: "ZYX"}.get(arr.ndim, "")
    return ImageData(arr, axes, sizes, unit, meta)


def pyramid_levels(path) -> list:
    """The arrays of an OME-Zarr image's multiscale pyramid, finest first; empty where the store has no
    OME multiscales (a plain zarr array, or our own non-OME store)."""
    import zarr

    node = zarr.open(path, mode="r")
    ms = _ngff(node, "multiscales") if isinstance(node, zarr.Group) else None
    return _datasets(path, node, ms) if ms is not None else []


def _ngff(group, key: str):
    """An NGFF entry of a group's attributes: top level (0.4) or under "ome" (0.5); None if absent
    (an empty entry is returned as it is, to be refused)."""
    attrs = dict(group.attrs)
    if key in attrs:
        return attrs[key]
    ome = attrs.get("ome")
    return ome.get(key) if isinstance(ome, dict) else None


def _datasets(path, group, ms) -> list:
    """The arrays of the first multiscale's datasets, finest first, after checking what locates them."""
    if not isinstance(ms, list) or not ms or not isinstance(ms[0], dict):
        what = "an empty list" if ms == [] else "not a list of multiscale entries"
        raise ValueError(f"{path}: its OME-Zarr 'multiscales' is {what}; it needs one entry with the 'datasets' "
                         f"of the image (or no 'multiscales' at all)")
    datasets = ms[0].get("datasets")
    if not isinstance(datasets, list) or not datasets:
        what = "no" if datasets is None else "an empty" if datasets == [] else "a malformed"
        raise ValueError(f"{path}: its OME-Zarr multiscale has {what} 'datasets' list; it needs one entry per "
                         f"resolution level, each with the 'path' of its array (e.g. {{\"path\": \"0\"}})")
    return [_dataset_array(path, group, d, i) for i, d in enumerate(datasets)]


def _dataset_array(path, group, dataset, i: int):
    import zarr

    where = dataset.get("path") if isinstance(dataset, dict) else None
    if not isinstance(where, str) or not where.strip("/"):
        raise ValueError(f"{path}: dataset {i} of its OME-Zarr multiscale has no 'path'; each dataset names its "
                         f"array by a path inside the store (e.g. \"0\")")
    parts = where.replace("\\", "/").split("/")
    if where.startswith(("/", "\\")) or ":" in parts[0] or any(p in ("..", ".") for p in parts):
        raise ValueError(f"{path}: dataset {i} of its OME-Zarr multiscale has the path {where!r}, which points "
                         f"outside the store; a dataset path is relative and inside the store (e.g. \"0\")")
    try:
        arr = group[where]
    except (KeyError, FileNotFoundError):
        arr = None
    if not isinstance(arr, zarr.Array):
        what = "does not exist" if arr is None else "is a group, not an array"
        raise ValueError(f"{path}: dataset {i} of its OME-Zarr multiscale has the path {where!r}, which {what} "
                         f"in the store")
    return arr


def _axes(path, ms: dict, ndim: int):
    """(axis letters or None, unit or None) from a multiscale's ``axes``: one entry per array axis, each
    a name or {"name": ...} (NGFF 0.3 lists names)."""
    entries = ms.get("axes")
    if entries is None:
        return None, None
    if not isinstance(entries, list) or len(entries) != ndim:
        raise ValueError(f"{path}: its OME-Zarr 'axes' {entries!r} does not list the array's {ndim} axes; "
                         f"give one entry per axis, e.g. {{\"name\": \"z\", \"type\": \"space\"}}")
    names = [e if isinstance(e, str) else e.get("name") if isinstance(e, dict) else None for e in entries]
    # a list, not next(..., None): the bad entry may itself be None (JSON null)
    bad = [e for e, n in zip(entries, names) if not isinstance(n, str) or not n]
    if bad or len(set(names)) != len(names):
        what = (f"the entry {bad[0]!r} is neither a name nor an object with a 'name'" if bad
                else f"the names {names} repeat")
        raise ValueError(f"{path}: its OME-Zarr 'axes' are malformed ({what}); each axis has its own name, "
                         f"e.g. {{\"name\": \"z\", \"type\": \"space\"}}")
    unit = next((e["unit"] for e in entries if isinstance(e, dict) and isinstance(e.get("unit"), str)), None)
    return "".join(n.upper() for n in names), unit


def _scales(path, ms: dict, ndim: int) -> list:
    """Each dataset's ``scale`` transformation (None where it has none), checked: ``ndim`` positive
    finite numbers."""
    out = []
    for i, d in enumerate(ms["datasets"]):
        transforms = d.get("coordinateTransformations", [])
        if not isinstance(transforms, list) or not all(isinstance(t, dict) for t in transforms):
            raise ValueError(f"{path}: dataset {i} of its OME-Zarr multiscale has malformed "
                             f"'coordinateTransformations' {transforms!r}; give a list of transformations")
        scale = next((t.get("scale") for t in transforms if t.get("type") == "scale"), None)
        if scale is not None and not (isinstance(scale, list) and len(scale) == ndim and all(map(_positive, scale))):
            raise ValueError(f"{path}: dataset {i} of its OME-Zarr multiscale has the scale {scale!r}, which is not "
                             f"{ndim} positive numbers (one voxel size per axis)")
        out.append(scale)
    return out


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _omero_channels(path, group) -> dict:
    """Channel names and colours from OME-Zarr's ``omero`` block. It is display metadata only, so a
    malformed one is ignored with a UserWarning rather than refusing the image."""
    omero = _ngff(group, "omero")
    if omero is None:
        return {}
    channels = omero.get("channels") if isinstance(omero, dict) else None
    problem = _omero_problem(omero, channels)
    if problem:
        warnings.warn(f"{path}: its OME-Zarr 'omero' block is malformed ({problem}); its channel names and colours "
                      f"are ignored", UserWarning, stacklevel=3)
        return {}
    channels = channels or []
    meta = {}
    if channels and all(c.get("label") for c in channels):
        meta["channel_names"] = [str(c["label"]) for c in channels]
    colors = hex_colors([c.get("color") for c in channels], len(channels))
    if colors:
        meta["channel_colors"] = [f"#{c.lower()}" for c in colors]
    return meta


def _omero_problem(omero, channels):
    if not isinstance(omero, dict):
        return "it is not an object"
    if channels is not None and not isinstance(channels, list):
        return "'channels' is not a list"
    for i, c in enumerate(channels or []):
        if not isinstance(c, dict):
            return f"channel {i} is not an object"
        for key in ("label", "color"):
            if c.get(key) is not None and not isinstance(c[key], str):
                return f"channel {i}'s {key} {c[key]!r} is not a string"
    return None


def check_chunks(path, arr) -> None:
    """A ValueError naming the store when chunks of ``arr`` are missing (zarr would read them as the
    fill value), unless its attribute ``fill_value_meant`` is true. Lists file names only."""
    if dict(arr.attrs).get("fill_value_meant") is True:
        return
    folder = _array_folder(arr)
    if folder is None:  # not a folder on disk: nothing cheap to list
        return
    blocks = arr.shards or arr.chunks
    if not all(int(c) >= 1 for c in blocks):
        raise ValueError(f"{path}: its array's chunk shape {tuple(blocks)} is not valid (every side must be at least "
                         f"1): the metadata is damaged")
    grid = tuple(-(-n // c) for n, c in zip(arr.shape, blocks))
    total = math.prod(grid)
    stored = _stored_keys(folder)
    present = sum(1 for k in stored if _is_chunk_key(arr, k, grid))
    if present >= total:
        return
    missing = (i for i in _indices(grid) if arr.metadata.encode_chunk_key(i) not in stored)
    first = ", ".join(str(tuple(int(v) for v in i)) for i in itertools.islice(missing, 3))
    kind = "shards" if arr.shards else "chunks"
    name = f" {arr.path!r}" if arr.path else ""
    fill = arr.fill_value
    raise ValueError(f"{path}: {total - present} of the {total} {kind} of its array{name} are missing (first: "
                     f"{first}); they would read as the fill value {fill}: the store is incomplete or damaged. If "
                     f"the missing {kind} are meant to read as the fill value {fill}, set the array attribute "
                     f"fill_value_meant to true")


def _indices(grid):
    """Chunk indices in C order, one at a time: a grid a damaged shape makes huge is never laid out whole
    (np.ndindex builds its ranges first), and the first missing chunks come after at most the present ones."""
    if not grid:
        yield ()
        return
    for i in range(grid[0]):
        for rest in _indices(grid[1:]):
            yield (i,) + rest


def _array_folder(arr):
    root = getattr(arr.store, "root", None)
    if root is None:
        return None
    folder = os.path.join(str(root), *arr.path.split("/")) if arr.path else str(root)
    return folder if os.path.isdir(folder) else None


def _stored_keys(folder) -> set:
    """The files under an array's folder as store keys ("c/0/1", "0.1", "0/1")."""
    keys = set()
    for here, _, files in os.walk(folder):
        rel = os.path.relpath(here, folder)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        keys.update(prefix + f for f in files)
    return keys


def _is_chunk_key(arr, key: str, grid) -> bool:
    idx = tuple(int(v) for v in re.findall(r"\d+", key))
    return len(idx) == len(grid) and all(i < n for i, n in zip(idx, grid)) and arr.metadata.encode_chunk_key(idx) == key
