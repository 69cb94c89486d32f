"""The fuzzer's valid inputs: one small file (or store) of each kind the project reads, and what a
damaged copy must be judged by (where its data lies)."""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import dataclass, field

import numpy as np

CASE_SECONDS = float(os.environ.get("ZSSR_FUZZ_CASE_SECONDS", "5"))  # one dry run, a few ms when all is well


PEAK_BYTES = int(float(os.environ.get("ZSSR_FUZZ_PEAK_MB", "256")) * 2**20)


AS_HEADROOM = int(float(os.environ.get("ZSSR_FUZZ_AS_MB", "2048")) * 2**20)  # see cap_address_space


EXAMPLES = int(os.environ.get("ZSSR_FUZZ_EXAMPLES", "30"))  # per kind in the test; the benchmark draws more


DRY = ["--dry-run", "--quiet", "--device", "cpu", "--preset", "fast", "--precision", "float32"]


ERROR = "napari-zssr: error: "


KINDS = ("imagej", "ome-tiff", "tiff", "png", "zarr", "ome-zarr", "kernel-npy", "kernel-tif", "kernel-mat",
         "networks")


TIFF_KINDS = ("imagej", "ome-tiff", "tiff", "kernel-tif")


ZARR_KINDS = ("zarr", "ome-zarr")


ZARR_META = (".zarray", ".zattrs", ".zgroup", "zarr.json")


@dataclass
class Case:
    """What to write (``source``: the valid file's parameters) and how to damage it (``corruption``: a
    tuple, its first item the kind of damage). Plain data, so that hypothesis can shrink it and its repr
    rebuilds it: ``python -m tests.test_fuzz "<repr>" DIR``."""

    kind: str
    source: dict
    corruption: tuple

    def __repr__(self) -> str:
        return f"Case({self.kind!r}, {self.source!r}, {self.corruption!r})"


@dataclass
class Made:
    """A valid input written to ``folder``: the input, the rest of the command line, the file (or store)
    that is damaged, and the byte range of its data where it is one file."""

    folder: str
    input: str
    argv: list
    target: str
    data: tuple | None = None  # (first byte, end) of the pixel / array data in target
    info: dict = field(default_factory=dict)


@dataclass
class Outcome:
    case: Case
    what: str  # the damage as done, in words
    argv: list
    rc: object = None
    stderr: str = ""
    seconds: float = 0.0
    peak: int = 0
    failure: str | None = None

    @property
    def status(self) -> str:
        return "failure" if self.failure else "accepted" if self.rc == 0 else "refused"

    @property
    def last_line(self) -> str:
        lines = [ln for ln in self.stderr.strip().splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    @property
    def label(self) -> str:
        """The corruption's family, for tallies: its name and, for targeted ones, the field."""
        c = self.case.corruption
        if c[0] == "none":
            return "none"
        if c[0] in ("truncate", "overwrite"):  # where: the anchor or region (and a store's file kind)
            return f"{c[0]}:{c[2]}" + (f":{c[1][0]}" if c[1] else "")
        if c[0] in ("tag", "json"):  # the tag's name; the JSON value set
            return f"{c[0]}:{c[2] if c[0] == 'tag' else c[3]}"
        return f"{c[0]}:{c[1]}"

    def report(self) -> str:
        tail = "\n    ".join(self.stderr.strip().splitlines()[-6:]) or "(nothing on stderr)"
        return (f"{self.failure}\n  case: {self.case!r}\n  damage: {self.what}\n"
                f"  command: napari-zssr {' '.join(self.argv)}\n  exit {self.rc}, {self.seconds:.2f} s, "
                f"peak {self.peak / 2**20:.1f} MB; stderr:\n    {tail}")


def pixels(shape, dtype, seed: int = 0) -> np.ndarray:
    """Random pixels, none 0 (no zarr chunk equals the fill value)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (1 + 100 * rng.random(shape)).astype(dtype)
    return rng.integers(1, min(np.iinfo(dtype).max, 4000), size=shape, endpoint=True).astype(dtype)


def shape_of(axes: str, s: dict) -> tuple:
    sizes = {"T": 2, "C": s.get("c", 2), "Z": s.get("z", 3), "Y": s["y"], "X": s["x"], "S": 3}
    return tuple(sizes[a] for a in axes)


def scale_argv(axes: str) -> list:
    """--scale: 2 for a 2-D image, else 1 for z and 2 for y and x (planes mode: no axial network)."""
    spatial = [a for a in axes if a in "ZYX"]
    if spatial == ["Y", "X"]:
        return ["--scale", "2"]
    return ["--scale"] + ["1" if a == "Z" else "2" for a in spatial]


def tiff_data(path) -> tuple:
    """(first, end) byte of the pixel data of every page of a TIFF."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        spans = [(o, o + n) for p in tif.pages for o, n in zip(p.dataoffsets, p.databytecounts) if n]
    return min(s for s, _ in spans), max(e for _, e in spans)


def png_chunks(raw: bytes) -> list:
    """(type, start of the length field, start of the data, data length) of each chunk of a PNG."""
    out, at = [], 8
    while at + 8 <= len(raw):
        n = struct.unpack(">I", raw[at:at + 4])[0]
        out.append((raw[at + 4:at + 8], at, at + 8, n))
        at += 12 + n
    return out


def png_data(path) -> tuple:
    """(first byte of the first IDAT's data, end of the pixel data). The last IDAT's final 4 bytes are zlib's
    checksum, not pixels: a file cut there still holds every pixel."""
    with open(path, "rb") as f:
        idat = [c for c in png_chunks(f.read()) if c[0] == b"IDAT"]
    return idat[0][2], idat[-1][2] + idat[-1][3] - 4


def write_imagej(folder, s, name="in.tif") -> Made:
    import tifffile

    axes, path = s["axes"], os.path.join(folder, name)
    arr = pixels(shape_of(axes, s), s["dtype"], s.get("seed", 0))
    md = {"axes": axes, "unit": "um"}
    if "Z" in axes:
        md["spacing"] = s.get("spacing", 1.0)
    px = s.get("pixel", 0.25)
    tifffile.imwrite(path, arr, imagej=True, metadata=md, resolution=(1 / px, 1 / px))
    return Made(folder, path, scale_argv(axes), path, tiff_data(path), {"planes": int(np.prod(arr.shape[:-2]))})


def write_ome(folder, s) -> Made:
    import tifffile

    axes, path = s["axes"], os.path.join(folder, "in.ome.tif")
    arr = pixels(shape_of(axes, s), s["dtype"], s.get("seed", 0))
    px = s.get("pixel", 0.25)
    md = {"axes": axes, "PhysicalSizeX": px, "PhysicalSizeY": px, "PhysicalSizeXUnit": "\u00b5m",
          "PhysicalSizeYUnit": "\u00b5m"}
    if "Z" in axes:
        md.update(PhysicalSizeZ=s.get("spacing", 1.0), PhysicalSizeZUnit="\u00b5m")
    tifffile.imwrite(path, arr, ome=True, photometric="minisblack", metadata=md)
    return Made(folder, path, scale_argv(axes), path, tiff_data(path))


def write_plain_tiff(folder, s) -> Made:
    import tifffile

    axes, path = s["axes"], os.path.join(folder, "in.tif")
    dtype = np.uint8 if axes == "YXS" else s["dtype"]
    arr = pixels(shape_of(axes, s), dtype, s.get("seed", 0))
    kw = {"compression": s.get("compression"), "tile": (16, 16) if s.get("tile") else None}
    tifffile.imwrite(path, arr, photometric="rgb" if axes == "YXS" else "minisblack", metadata=None, **kw)
    return Made(folder, path, scale_argv(axes), path, tiff_data(path))


def write_png(folder, s) -> Made:
    from PIL import Image

    path = os.path.join(folder, "in.png")
    mode = s["mode"]
    shape = (s["y"], s["x"], 3) if mode == "RGB" else (s["y"], s["x"])
    arr = pixels(shape, np.uint16 if mode == "I;16" else np.uint8, s.get("seed", 0))
    Image.fromarray(arr).save(path, format="PNG")
    return Made(folder, path, ["--scale", "2"], path, png_data(path), {"raw_bytes": png_raw_bytes(path)})


def write_zarr(folder, s) -> Made:
    import zarr

    path = os.path.join(folder, "in.zarr")
    axes = "ZYX" if s["ndim"] == 3 else "YX"
    shape = shape_of(axes, s)
    chunks = tuple(max(1, n // s["split"]) if i >= len(shape) - 2 else 1 for i, n in enumerate(shape))
    arr = zarr.create_array(store=path, shape=shape, chunks=chunks, dtype=s["dtype"], zarr_format=s["format"],
                            fill_value=0, config={"write_empty_chunks": True})
    arr[...] = pixels(shape, s["dtype"], s.get("seed", 0))
    return Made(folder, path, scale_argv(axes), path, None, {"levels": [path]})


def write_ome_zarr(folder, s) -> Made:
    import zarr

    path = os.path.join(folder, "in.ome.zarr")
    axes = s["axes"]
    shape = shape_of(axes, s)
    fmt = s["format"]
    group = zarr.open_group(path, mode="w", zarr_format=fmt)
    kinds = {"C": "channel", "Z": "space", "Y": "space", "X": "space"}
    datasets, data = [], pixels(shape, s["dtype"], s.get("seed", 0))
    sizes = {"Z": s.get("spacing", 1.0), "Y": s.get("pixel", 0.25), "X": s.get("pixel", 0.25), "C": 1.0}
    for level in range(s["levels"]):
        f = 2 ** level
        lshape = tuple(-(-n // f) if a in "YX" else n for a, n in zip(axes, shape))
        chunks = tuple(min(n, 16) if a in "YX" else 1 for a, n in zip(axes, lshape))
        arr = group.create_array(str(level), shape=lshape, chunks=chunks, dtype=s["dtype"], fill_value=0,
                                 config={"write_empty_chunks": True})
        arr[...] = data[tuple(slice(None, None, f) if a in "YX" else slice(None) for a in axes)]
        datasets.append({"path": str(level), "coordinateTransformations": [
            {"type": "scale", "scale": [sizes[a] * (f if a in "YX" else 1) for a in axes]}]})
    ax = [{"name": a.lower(), "type": kinds[a], **({"unit": "micrometer"} if kinds[a] == "space" else {})}
          for a in axes]
    ms = {"axes": ax, "datasets": datasets, "name": "fuzz"}
    attrs = {}
    if s.get("omero"):
        n = shape[axes.index("C")] if "C" in axes else 1
        attrs["omero"] = {"channels": [{"label": f"ch{c}", "color": "00FF00", "active": True,
                                        "window": {"start": 0, "end": 4000, "min": 0, "max": 4000}}
                                       for c in range(n)]}
    if fmt == 2:
        group.attrs.update({"multiscales": [{"version": "0.4", **ms}], **attrs})
    else:
        group.attrs.update({"ome": {"version": "0.5", "multiscales": [ms], **attrs}})
    levels = [os.path.join(path, str(i)) for i in range(s["levels"])]
    return Made(folder, path, scale_argv(axes), path, None, {"levels": levels})


KERNEL_INPUT = {"axes": "ZYX", "dtype": "uint16", "z": 3, "y": 16, "x": 16}


def good_kernel(s) -> np.ndarray:
    n = s["size"]
    r = np.arange(n) - (n - 1) / 2
    k = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * s["sigma"] ** 2))
    return (k / k.sum()).astype(s["dtype"])


def bad_kernel(what: str, s):
    """A kernel file's content that is no kernel (written well-formed: the damage is in what it holds)."""
    k = good_kernel(s)
    if what == "nan":
        k = k.copy()
        k[0, 0] = np.nan
    elif what == "inf":
        k = k.copy()
        k[-1, -1] = np.inf
    elif what == "zeros":
        k = np.zeros_like(k)
    elif what == "negative":
        k = -k
    elif what == "one":
        k = np.ones((1, 1), k.dtype)
    elif what == "row":
        k = k[:1]
    elif what == "1d":
        k = k[0]
    elif what == "3d":
        k = np.stack([k, k, k])
    elif what == "empty":
        k = np.zeros((0, 5), k.dtype)
    elif what == "huge":
        k = np.ones((1100, 8), np.float32)  # a side above MAX_KERNEL_SIDE, a small file
    elif what == "complex":
        k = k.astype(np.complex64)
    elif what == "bool":
        k = k > k.mean()
    elif what == "int":
        k = (k * 1000).astype(np.int32)
    elif what == "object":
        k = np.array([[1.0, None], [None, 1.0]], dtype=object)
    elif what == "text":
        k = np.array([["a", "b"], ["c", "d"]])
    return k


KERNEL_MUST_REFUSE = {"nan", "inf", "empty", "huge", "complex", "object", "text", "3d"}


def write_kernel(folder, s, kind: str, content=None) -> Made:
    import scipy.io
    import tifffile

    made = write_imagej(folder, KERNEL_INPUT)
    ext = {"kernel-npy": ".npy", "kernel-tif": ".tif", "kernel-mat": ".mat"}[kind]
    path = os.path.join(folder, "k" + ext)
    k = good_kernel(s) if content is None else bad_kernel(content, s)
    if ext == ".npy":
        np.save(path, k, allow_pickle=k.dtype.hasobject)
    elif ext == ".tif":
        tifffile.imwrite(path, k)
    else:
        scipy.io.savemat(path, {"kernel": k})
    data = None
    if ext == ".npy":
        data = (_npy_data_start(path), os.path.getsize(path))
    elif ext == ".tif" and content is None:
        data = tiff_data(path)
    elif ext == ".mat":
        data = (128, _mat_data_end(path))
    return Made(folder, made.input, made.argv + ["--kernel", path], path, data)


def _mat_data_end(path) -> int:
    """Where the values of a MATLAB v5 file's (one, uncompressed) variable end: the end of the last
    sub-element of its miMATRIX element, less the padding to 8 bytes that follows it."""
    with open(path, "rb") as f:
        raw = f.read()
    order = "<" if raw[126:128] == b"IM" else ">"
    _, total = struct.unpack(order + "II", raw[128:136])
    at, end, last = 136, 136 + total, 136
    while at + 8 <= end:
        kind, n = struct.unpack(order + "II", raw[at:at + 8])
        if kind >> 16:  # a small element: type, size and up to 4 bytes of data in 8 bytes
            last, at = at + 4 + (kind >> 16), at + 8
        else:
            last, at = at + 8 + n, at + 8 + n + (-n % 8)
    return last


def _npy_data_start(path) -> int:
    from numpy.lib import format as npformat

    with open(path, "rb") as f:
        version = npformat.read_magic(f)
        (npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0)(f)
        return f.tell()


def networks_file() -> str:
    """A real networks file, made once by a tiny run (tests/stack/test_networks.py makes and keeps it)."""
    from ..stack.test_networks import trained

    return trained()[0]


def write_networks(folder, s) -> Made:
    import tifffile

    src = os.path.join(folder, "in.tif")
    from ..stack.test_networks import stack

    tifffile.imwrite(src, stack(), imagej=True, metadata={"axes": "ZYX"})
    path = os.path.join(folder, "nets.pt")
    shutil.copyfile(networks_file(), path)
    return Made(folder, src, ["--scale", "1", "2", "2", "--networks", path], path, (0, os.path.getsize(path)))


def make_valid(case: Case, folder: str) -> Made:
    s, kind = case.source, case.kind
    if kind == "imagej":
        return write_imagej(folder, s)
    if kind == "ome-tiff":
        return write_ome(folder, s)
    if kind == "tiff":
        return write_plain_tiff(folder, s)
    if kind == "png":
        return write_png(folder, s)
    if kind == "zarr":
        return write_zarr(folder, s)
    if kind == "ome-zarr":
        return write_ome_zarr(folder, s)
    if kind.startswith("kernel-"):
        content = case.corruption[1] if case.corruption[0] == "kernel-content" else None
        return write_kernel(folder, s, kind, content)
    if kind == "networks":
        return write_networks(folder, s)
    raise ValueError(f"unknown kind {kind!r}")


def store_files(root) -> list:
    """The files of a zarr store, sorted: (path relative to root, is metadata)."""
    out = []
    for here, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(here, f), root)
            out.append((rel, f in ZARR_META))
    return out


def pick_file(made: Made, sel) -> str:
    """The single file damaged: the target itself, or in a store the sel = (meta|chunk, index)-th file."""
    if sel is None or not os.path.isdir(made.target):
        return made.target
    which, i = sel
    files = [rel for rel, meta in store_files(made.target) if meta == (which == "meta")]
    files = files or [rel for rel, _ in store_files(made.target)]
    return os.path.join(made.target, files[i % len(files)])


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def png_raw_bytes(path) -> int | None:
    """The bytes of filtered scanlines a non-interlaced PNG's IHDR declares (None for an invalid header)."""
    with open(path, "rb") as f:
        raw = f.read(33)
    if len(raw) < 29:
        return None
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", raw[16:29])
    if ctype not in PNG_CHANNELS or depth not in PNG_DEPTHS[ctype] or interlace:
        return None
    return h * (1 + -(-w * PNG_CHANNELS[ctype] * depth // 8))
