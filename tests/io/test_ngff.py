"""Broken zarr and OME-Zarr inputs (io/ngff.py): missing chunks, malformed multiscales metadata, metadata
claiming a huge array. Each gets one clear error naming the store, read from metadata and chunk names only."""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import pytest
import zarr

from napari_zssr.io import read_image

from ..cases import CLIError, check_case, cli_case, read_warning_once

DATA = (np.arange(2 * 16 * 16).reshape(2, 16, 16) % 250 + 1).astype(np.uint8)  # no chunk is all fill value


def with_hole(folder, zarr_format=2, separator=".", meant=False, name="hole.zarr"):
    """A 32 x 32 array in 4 chunks, one of them all zeros: zarr-python does not write that one."""
    path = os.path.join(folder, name)
    encoding = {"name": "v2" if zarr_format == 2 else "default", "separator": separator}
    arr = zarr.create_array(path, shape=(32, 32), chunks=(16, 16), dtype="u1", fill_value=0, zarr_format=zarr_format,
                            chunk_key_encoding=encoding)
    arr[:] = 7
    arr[16:, :16] = 0
    if meant:
        arr.attrs["fill_value_meant"] = True
    return path


def claiming(folder, meant=False):
    """A few hundred bytes of zarr metadata claiming a 20000 x 20000 array, no chunk stored."""
    path = os.path.join(folder, "claim.zarr")
    arr = zarr.create_array(path, shape=(20000, 20000), chunks=(1000, 1000), dtype="u1", fill_value=0, zarr_format=2)
    if meant:
        arr.attrs["fill_value_meant"] = True
    return path


def damaged_zarray(folder, field: str, value):
    """A complete 2 x 17 x 12 zarr v2 array whose .zarray then says ``field[0]`` is ``value``."""
    import json

    path = os.path.join(folder, "in.zarr")
    z = zarr.open_array(path, mode="w", shape=(2, 17, 12), chunks=(1, 17, 12), dtype="u1", zarr_format=2)
    z[:] = 1
    with open(os.path.join(path, ".zarray")) as fh:
        meta = json.load(fh)
    meta[field][0] = value
    with open(os.path.join(path, ".zarray"), "w") as fh:
        json.dump(meta, fh)
    return path


def ome_zarr(folder, edit=None, omero=None):
    """An OME-Zarr image (array "0", ZYX, scale 2 x 0.5 x 0.5 um); ``edit(multiscale)`` spoils its metadata."""
    path = os.path.join(folder, "img.zarr")
    group = zarr.open_group(path, mode="w", zarr_format=2)
    group.create_array("0", data=DATA, chunks=(1, 16, 16))
    ms = {"version": "0.4", "axes": [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"],
          "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [2.0, 0.5, 0.5]}]}]}
    multiscales = [ms]
    if edit is not None:
        multiscales = edit(ms)
    group.attrs["multiscales"] = multiscales
    if omero is not None:
        group.attrs["omero"] = omero
    return path


def edited(change):
    """An ``edit`` that applies ``change(ms)`` and keeps the list (``change`` may return a whole new list)."""
    def edit(ms):
        out = change(ms)
        return [ms] if out is None else out
    return edit


def null_axis(folder, zarr_format):
    """An OME-Zarr (NGFF 0.4 in .zattrs, or 0.5 in zarr.json) whose third axis entry is JSON null, written
    into the metadata file as a damaged file holds it."""
    path = os.path.join(folder, f"null{zarr_format}.zarr")
    group = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    group.create_array("0", data=DATA, chunks=(1, 16, 16))
    ms = {"axes": [{"name": a, "type": "space"} for a in "zyx"], "datasets": [{"path": "0"}]}
    if zarr_format == 2:
        group.attrs["multiscales"] = [{"version": "0.4", **ms}]
    else:
        group.attrs["ome"] = {"version": "0.5", "multiscales": [ms]}
    meta = os.path.join(path, ".zattrs" if zarr_format == 2 else "zarr.json")
    with open(meta) as f:
        doc = json.load(f)
    attrs = doc if zarr_format == 2 else doc["attributes"]["ome"]
    attrs["multiscales"][0]["axes"][2] = None
    with open(meta, "w") as f:
        json.dump(doc, f)
    return path


def in_tmp(make, fn):
    with tempfile.TemporaryDirectory() as tmp:
        return fn(make(tmp))


def read_lazily(path):
    img = read_image(path)
    assert not isinstance(img.data, np.ndarray)
    return img.data


def read_warning(text):
    """The store reads; one UserWarning containing ``text`` names it; the data comes back."""
    def fn(path):
        img = read_warning_once(path, text)
        assert "channel_names" not in img.metadata
        return np.asarray(img.data)
    return fn


def spoil(key, value):
    return edited(lambda ms: ms.__setitem__(key, value))


def spoil_dataset(key, value):
    return edited(lambda ms: ms["datasets"][0].__setitem__(key, value))


def spoil_scale(scale):
    return spoil_dataset("coordinateTransformations", [{"type": "scale", "scale": scale}])


def bad(edit, text, cli=False):
    """A case: an OME-Zarr spoilt by ``edit`` is refused with ``text`` (through the command line with ``cli``)."""
    if cli:
        return lambda: cli_case(lambda d: ome_zarr(d, edit), ["--scale", "2"]), CLIError, text
    return lambda: in_tmp(lambda d: ome_zarr(d, edit), read_image), ValueError, text


CASES = [
    ("zarr-chunks-zero", "a zarr array whose metadata gives a chunk side of 0",
     lambda: cli_case(lambda f: damaged_zarray(f, "chunks", 0), ["--scale", "1", "2", "2"]), CLIError,
     "in.zarr: its array's chunk shape (0, 17, 12) is not valid"),
    ("zarr-shape-huge", "a 2-plane zarr array whose metadata claims 10**12 planes (no chunk grid laid out)",
     lambda: cli_case(lambda f: damaged_zarray(f, "shape", 10**12), ["--scale", "1", "2", "2"]), CLIError,
     "in.zarr: 999999999998 of the 1000000000000 chunks of its array are missing (first: (2, 0, 0)"),
    ("zarr-missing-chunk-v2", "a zarr v2 array with a chunk missing",
     lambda: cli_case(with_hole, ["--scale", "2"]), CLIError,
     "hole.zarr: 1 of the 4 chunks of its array are missing (first: (1, 0)); they would read as the fill value 0"),
    ("zarr-missing-chunk-v2-nested", "the same, '/' separated chunk keys",
     lambda: in_tmp(lambda d: with_hole(d, 2, "/"), read_image), ValueError, "1 of the 4 chunks"),
    ("zarr-missing-chunk-v3", "a zarr v3 array (c/0/0 keys) with a chunk missing",
     lambda: in_tmp(lambda d: with_hole(d, 3), read_image), ValueError,
     "If the missing chunks are meant to read as the fill value 0, set the array attribute fill_value_meant to true"),
    ("zarr-missing-chunk-v3-dots", "the same, v3 with '.' separated keys",
     lambda: in_tmp(lambda d: with_hole(d, 3, "."), read_image), ValueError, "1 of the 4 chunks"),
    ("zarr-missing-chunk-meant", "a missing chunk, the attribute fill_value_meant true: reads",
     lambda: in_tmp(lambda d: with_hole(d, 3, meant=True), read_lazily), None, "Array"),
    ("zarr-claims-20000-squared", "zarr metadata claiming 20000 x 20000, no chunks",
     lambda: cli_case(claiming, ["--scale", "2"]), CLIError, "400 of the 400 chunks of its array are missing"),
    ("zarr-claims-20000-squared-meant", "the same with fill_value_meant, --scale 2",
     lambda: cli_case(lambda d: claiming(d, True), ["--scale", "2"]), CLIError, "more than the limit of"),
    ("ome-zarr-empty-multiscales", "OME-Zarr whose multiscales list is empty",
     *bad(edited(lambda ms: []), "img.zarr: its OME-Zarr 'multiscales' is an empty list", cli=True)),
    ("ome-zarr-no-datasets", "a multiscale without datasets",
     *bad(edited(lambda ms: ms.pop("datasets") and None), "its OME-Zarr multiscale has no 'datasets' list")),
    ("ome-zarr-empty-datasets", "a multiscale with an empty datasets list",
     *bad(spoil("datasets", []), "its OME-Zarr multiscale has an empty 'datasets' list")),
    ("ome-zarr-dataset-without-path", "a dataset without a path",
     *bad(edited(lambda ms: ms["datasets"][0].pop("path") and None),
          "dataset 0 of its OME-Zarr multiscale has no 'path'")),
    ("ome-zarr-absolute-path", "a dataset path '/0'",
     *bad(spoil_dataset("path", "/0"), "has the path '/0', which points outside the store", cli=True)),
    ("ome-zarr-dotdot-path", "a dataset path '../img.zarr/0'",
     *bad(spoil_dataset("path", "../img.zarr/0"), "which points outside the store")),
    ("ome-zarr-missing-path", "a dataset path that is not in the store",
     *bad(spoil_dataset("path", "1"), "has the path '1', which does not exist in the store")),
    ("ome-zarr-axes-unnamed", "an axes entry without a name",
     *bad(spoil("axes", [{"type": "space"}, "y", "x"]), "its OME-Zarr 'axes' are malformed (the entry")),
    ("ome-zarr-axes-repeat", "axes z, y, y", *bad(spoil("axes", ["z", "y", "y"]), "repeat")),
    ("ome-zarr-axis-null-v2", "NGFF 0.4 (.zattrs): an axes entry that is null, through the command line",
     lambda: cli_case(lambda d: null_axis(d, 2), ["--scale", "2"]), CLIError,
     "null2.zarr: its OME-Zarr 'axes' are malformed (the entry None is neither a name nor an object with a 'name')"),
    ("ome-zarr-axis-null-v3", "NGFF 0.5 (zarr.json): an axes entry that is null",
     lambda: in_tmp(lambda d: null_axis(d, 3), read_image), ValueError,
     "null3.zarr: its OME-Zarr 'axes' are malformed (the entry None is neither"),
    ("ome-zarr-axis-name-number", "an axes entry whose name is a number",
     *bad(spoil("axes", ["z", {"name": 5}, "x"]), "the entry {'name': 5} is neither a name nor an object")),
    ("ome-zarr-axes-count", "two axes for a 3-D array",
     *bad(spoil("axes", ["y", "x"]), "does not list the array's 3 axes")),
    ("ome-zarr-scale-length", "a scale of 2 values for 3 axes",
     *bad(spoil_scale([0.5, 0.5]), "has the scale [0.5, 0.5], which is not 3 positive numbers", cli=True)),
    ("ome-zarr-scale-zero", "a scale with a 0",
     *bad(spoil_scale([0, 0.5, 0.5]), "which is not 3 positive numbers (one voxel size per axis)")),
    ("ome-zarr-scale-negative", "a scale with a negative value", *bad(spoil_scale([2, -0.5, 0.5]), "not 3 positive")),
    ("ome-zarr-omero-channels-not-a-list", "an omero block whose channels is a dict: read, names ignored",
     lambda: in_tmp(lambda d: ome_zarr(d, omero={"channels": {"label": "a"}}),
                    read_warning("its OME-Zarr 'omero' block is malformed ('channels' is not a list)")), None, ""),
    ("ome-zarr-omero-channel-not-a-dict", "an omero channel that is a string",
     lambda: in_tmp(lambda d: ome_zarr(d, omero={"channels": ["red"]}), read_warning("channel 0 is not an object")),
     None, ""),
    ("ome-zarr-omero-colour-not-a-string", "an omero colour that is a number",
     lambda: in_tmp(lambda d: ome_zarr(d, omero={"channels": [{"label": "a", "color": 255}]}),
                    read_warning("channel 0's color 255 is not a string")), None, ""),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_case_gets_its_documented_outcome(case):
    check_case(case)


def test_a_good_ome_zarr_reads_with_its_axes_and_scale(tmp_path):
    img = read_image(ome_zarr(str(tmp_path)))
    assert img.axes == "ZYX" and img.pixel_size == {"Z": 2.0, "Y": 0.5, "X": 0.5} and img.unit == "um"
    np.testing.assert_array_equal(np.asarray(img.data), DATA)


def test_a_complete_store_of_every_format_reads(tmp_path):
    for fmt, sep in ((2, "."), (2, "/"), (3, "/"), (3, ".")):
        path = with_hole(str(tmp_path), fmt, sep, name=f"f{fmt}{sep == '/'}.zarr")
        arr = zarr.open_array(path, mode="r+")
        arr[16:, :16] = 5  # the hole filled
        np.testing.assert_array_equal(np.asarray(read_image(path).data)[16:, :16], 5)


def test_chunks_are_counted_from_names_not_read(tmp_path):
    """A chunk file present but unreadable still counts as present: the check lists, it does not read."""
    path = with_hole(str(tmp_path), 2)
    with open(os.path.join(path, "1.0"), "wb") as f:
        f.write(b"")
    img = read_image(path)
    assert img.data.shape == (32, 32)


def test_the_pyramid_levels_are_checked_too(tmp_path):
    from napari_zssr.io.ngff import pyramid_levels

    path = ome_zarr(str(tmp_path))
    with open(os.path.join(path, ".zattrs")) as f:
        attrs = json.load(f)
    attrs["multiscales"][0]["datasets"].append({"path": "../x"})
    with open(os.path.join(path, ".zattrs"), "w") as f:
        json.dump(attrs, f)
    with pytest.raises(ValueError, match="dataset 1 of its OME-Zarr multiscale has the path '../x'"):
        pyramid_levels(path)
