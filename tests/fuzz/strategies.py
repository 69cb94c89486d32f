"""The fuzzer's hypothesis strategies: which damage each kind of input may get."""

from __future__ import annotations

from hypothesis import strategies as st

from .damage import (
    CHUNK_OPS,
    IJ_KEYS,
    JSON_VALUES,
    MS_OPS,
    NET_VALUES,
    NPY_FIELDS,
    OME_ATTRS,
    OME_OPS,
    OME_VALUES,
    PNG_FIELDS,
    PNG_OPS,
    PNG_VALUES,
    TAG_VALUES,
    TAGS,
    TEXT_VALUES,
    ZARR_FIELDS,
)
from .valid import TIFF_KINDS, ZARR_KINDS, Case

DTYPES = st.sampled_from(["uint8", "uint16", "float32"])


SIDE = st.integers(12, 24)


PIXEL = st.sampled_from([0.1, 0.25, 1.0])


SPACING = st.sampled_from([0.5, 1.0, 2.5])


SEED = st.integers(0, 3)


SOURCES = {
    "imagej": st.fixed_dictionaries({"axes": st.sampled_from(["ZYX", "YX", "ZCYX"]), "dtype": DTYPES,
                                     "z": st.integers(2, 4), "c": st.integers(2, 3), "y": SIDE, "x": SIDE,
                                     "spacing": SPACING, "pixel": PIXEL, "seed": SEED}),
    "ome-tiff": st.fixed_dictionaries({"axes": st.sampled_from(["ZYX", "YX", "CZYX"]), "dtype": DTYPES,
                                       "z": st.integers(2, 4), "c": st.integers(2, 3), "y": SIDE, "x": SIDE,
                                       "spacing": SPACING, "pixel": PIXEL, "seed": SEED}),
    "tiff": st.fixed_dictionaries({"axes": st.sampled_from(["YX", "ZYX", "YXS"]),
                                   "dtype": st.sampled_from(["uint8", "uint16", "int16", "float32", "float64"]),
                                   "z": st.integers(2, 4), "y": SIDE, "x": SIDE, "seed": SEED,
                                   "compression": st.sampled_from([None, "zlib"]), "tile": st.booleans()}),
    "png": st.fixed_dictionaries({"mode": st.sampled_from(["L", "I;16", "RGB"]), "y": SIDE, "x": SIDE,
                                  "seed": SEED}),
    "zarr": st.fixed_dictionaries({"format": st.sampled_from([2, 3]), "ndim": st.sampled_from([2, 3]),
                                   "dtype": DTYPES, "z": st.integers(2, 4), "y": SIDE, "x": SIDE,
                                   "split": st.sampled_from([1, 2]), "seed": SEED}),
    "ome-zarr": st.fixed_dictionaries({"format": st.sampled_from([2, 3]), "axes": st.sampled_from(["ZYX", "CZYX"]),
                                       "dtype": DTYPES, "z": st.integers(2, 3), "c": st.just(2), "y": SIDE,
                                       "x": SIDE, "levels": st.sampled_from([1, 2]), "omero": st.booleans(),
                                       "spacing": SPACING, "pixel": PIXEL, "seed": SEED}),
    "networks": st.just({}),
}


for _k in ("kernel-npy", "kernel-tif", "kernel-mat"):
    SOURCES[_k] = st.fixed_dictionaries({"size": st.sampled_from([3, 5, 7, 9]), "sigma": st.sampled_from([0.8, 1.5]),
                                         "dtype": st.sampled_from(["float32", "float64"])})


def selectors(kind):
    """Which file of a store is damaged (metadata more often than chunks); None for a one-file input."""
    if kind not in ZARR_KINDS:
        return st.none()
    return st.tuples(st.sampled_from(["meta", "meta", "chunk"]), st.integers(0, 20))


def truncations(kind):
    anchors = st.one_of(
        st.tuples(st.just("fraction"), st.integers(0, 999)),
        st.tuples(st.just("head"), st.integers(0, 511)),
        st.tuples(st.sampled_from(["data_start", "data_end"]), st.integers(-16, 16)),
    )
    return st.tuples(st.just("truncate"), selectors(kind), anchors).map(lambda t: (t[0], t[1], *t[2]))


def overwrites(kind):
    edits = st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["xor", "set"]), st.integers(1, 255)),
                     min_size=1, max_size=4).map(tuple)
    regions = st.sampled_from(["head", "head", "any", "data"])
    return st.tuples(st.just("overwrite"), selectors(kind), regions, edits)


def specific(kind) -> list:
    """The corruptions that know the format: metadata that disagrees with the data."""
    out = []
    if kind in TIFF_KINDS:
        out.append(st.tuples(st.just("tag"), st.integers(0, 5), st.sampled_from(TAGS), st.sampled_from(TAG_VALUES)))
    if kind == "imagej":
        out.append(st.tuples(st.just("imagej"), st.sampled_from(IJ_KEYS), st.sampled_from(TEXT_VALUES)))
        out.append(st.tuples(st.just("imagej"), st.sampled_from(["images", "slices"]),
                             st.sampled_from(["n+1", "2n", "n-1", "half", 0, 2**31, 10**12])))
    if kind == "ome-tiff":
        out.append(st.tuples(st.just("ome-attr"), st.sampled_from(OME_ATTRS), st.sampled_from(OME_VALUES)))
        out.append(st.tuples(st.just("ome-attr"), st.sampled_from(["SizeZ", "SizeC", "SizeT", "PhysicalSizeX"]),
                             st.sampled_from(["n+1", "2n", 0, "nan", 10**6, 2**31])))
        out.append(st.tuples(st.just("ome-op"), st.sampled_from(OME_OPS)))
    if kind == "png":
        out.append(st.tuples(st.just("png-field"), st.sampled_from(sorted(PNG_FIELDS)), st.sampled_from(PNG_VALUES),
                             st.booleans()))
        out.append(st.tuples(st.just("png-op"), st.sampled_from(PNG_OPS)))
    if kind in ZARR_KINDS:
        fields = st.sampled_from(sorted(ZARR_FIELDS)).flatmap(
            lambda f: st.tuples(st.just("zarr-field"), st.just(f), st.integers(0, 1), st.sampled_from(ZARR_FIELDS[f])))
        out.append(fields)
        out.append(st.tuples(st.just("json"), st.integers(0, 10), st.integers(0, 200), st.sampled_from(JSON_VALUES)))
        out.append(st.tuples(st.just("chunk"), st.sampled_from(CHUNK_OPS), st.integers(0, 50)))
    if kind == "ome-zarr":
        out.append(st.tuples(st.just("multiscales"), st.sampled_from(MS_OPS)))
    if kind.startswith("kernel-"):
        contents = sorted(set(["nan", "inf", "zeros", "negative", "one", "row", "1d", "3d", "empty", "huge", "int"]
                              + {"kernel-npy": ["complex", "bool", "object", "text"],
                                 "kernel-mat": ["complex", "bool", "text"],
                                 "kernel-tif": ["complex"]}[kind]))
        if kind == "kernel-tif":
            contents.remove("empty")  # tifffile writes no empty image
        out.append(st.tuples(st.just("kernel-content"), st.sampled_from(contents)))
    if kind == "kernel-npy":
        out.append(st.sampled_from(sorted(NPY_FIELDS)).flatmap(
            lambda f: st.tuples(st.just("npy"), st.just(f), st.sampled_from(NPY_FIELDS[f]))))
    if kind == "networks":
        out.append(st.tuples(st.just("net-field"), st.sampled_from(NET_VALUES), st.integers(0, 400)))
    return out


def corruptions(kind):
    return st.one_of(st.just(("none",)), truncations(kind), overwrites(kind), *specific(kind))


def cases(kind):
    """Cases of one input kind: a valid file's parameters and one corruption of it."""
    return st.builds(Case, st.just(kind), SOURCES[kind], corruptions(kind))
