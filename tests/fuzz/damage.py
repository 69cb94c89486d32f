"""The fuzzer's corruptions: truncation, overwritten bytes, and metadata made to disagree with the data
(TIFF tags, ImageJ and OME descriptions, PNG chunks, zarr metadata and chunks, OME-Zarr multiscales, .npy
headers, fields of a networks file)."""

from __future__ import annotations

import json
import math
import os
import re
import struct

import numpy as np

from .valid import (
    KERNEL_MUST_REFUSE,
    ZARR_META,
    Case,
    Made,
    pick_file,
    png_chunks,
    png_raw_bytes,
    store_files,
)


def _rel(made: Made, path: str) -> str:
    return os.path.relpath(path, made.folder)


def cut_at(made: Made, path: str, anchor: str, value) -> int:
    size = os.path.getsize(path)
    if anchor == "head":
        at = value
    elif anchor in ("data_start", "data_end") and made.data is not None and path == made.target:
        at = made.data[0 if anchor == "data_start" else 1] + value
    else:  # a fraction in thousandths
        at = int(size * (value % 1000) / 1000)
    return max(0, min(at, size - 1)) if size else 0


def truncate(made: Made, sel, anchor, value):
    path = pick_file(made, sel)
    size = os.path.getsize(path)
    at = cut_at(made, path, anchor, value)
    os.truncate(path, at)
    what = f"{_rel(made, path)} ({size} bytes) truncated to {at} bytes"
    refuse = None
    if made.data is not None and path == made.target and at < made.data[1]:
        refuse = f"it was cut at byte {at}, before the end of its data (bytes {made.data[0]}-{made.data[1]})"
    return what, refuse


def overwrite(made: Made, sel, region, edits):
    path = pick_file(made, sel)
    with open(path, "r+b") as f:
        raw = bytearray(f.read())
        done = []
        for pos, op, byte in edits:
            if region == "head":
                at = pos % 512
            elif region == "data" and made.data is not None and path == made.target:
                lo, hi = made.data
                at = lo + (pos % 1000) * (hi - lo) // 1000
            else:
                at = (pos % 1000) * len(raw) // 1000
            if at >= len(raw):
                continue
            old = raw[at]
            raw[at] = old ^ byte if op == "xor" else byte
            done.append(f"byte {at}: {old:#04x} -> {raw[at]:#04x}")
        f.seek(0)
        f.write(raw)
    return f"{_rel(made, path)}: {', '.join(done) or 'nothing (offsets beyond the end)'}", None


# TIFF tags, overwritten in place (every value the tag holds)
TAGS = ("ImageWidth", "ImageLength", "BitsPerSample", "Compression", "PhotometricInterpretation", "StripOffsets",
        "SamplesPerPixel", "RowsPerStrip", "StripByteCounts", "PlanarConfiguration", "SampleFormat", "XResolution",
        "TileWidth", "TileLength", "TileOffsets", "TileByteCounts", "ResolutionUnit", "NewSubfileType")


TAG_VALUES = (0, 1, 2, 3, 5, 8, 16, 255, 2**15, 65535, 2**31 - 1, 2**32 - 1, "n+1", "n-1", "2n", "half", "size",
              "size+1000")


def int_token(tok, n: int, size: int = 0) -> int:
    if isinstance(tok, int):
        return tok
    return {"n+1": n + 1, "n-1": n - 1, "2n": 2 * n, "half": n // 2, "size": size, "size+1000": size + 1000}[tok]


def damage_tag(made: Made, page_index: int, name: str, tok):
    import tifffile

    path, size = made.target, os.path.getsize(made.target)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[page_index % len(tif.pages)]
        tag = page.tags.get(name) if isinstance(page, tifffile.TiffPage) else None
        if tag is None:
            return f"page {page.index} has no {name} tag (unchanged)", None
        fmt = tifffile.TIFF.DATA_FORMATS[tag.dtype]
        n_values, char = int(fmt[:-1] or 1) * tag.count, fmt[-1]
        old = tag.value
        first = int(old[0] if isinstance(old, tuple) else old)
        value = int_token(tok, first, size)
        lim = {"B": 255, "H": 65535, "I": 2**32 - 1, "Q": 2**64 - 1}.get(char)
        if lim is None:
            return f"{name} of page {page.index} is of type {char!r} (unchanged)", None
        value = max(0, min(value, lim))
        raw = struct.pack(tif.byteorder + f"{n_values}{char}", *([value] * n_values))
        at, offsets, counts, index = tag.valueoffset, page.dataoffsets, page.databytecounts, page.index
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(raw)
    what = f"{name} of page {index} ({old!r}) set to {value} (every value)"
    refuse = None
    # its data's place beyond the end of the file: the data claimed is not in it. An ImageJ stack is read
    # contiguously from its first page, so only that page's offsets count there.
    if made.info.get("planes") is None or index == 0:
        if name in ("StripOffsets", "TileOffsets") and value >= size and any(counts):
            refuse = f"its page {index}'s data now starts at byte {value}, beyond the end of the file ({size})"
        elif name in ("StripByteCounts", "TileByteCounts") and any(o + value > size for o in offsets):
            refuse = f"its page {index}'s data now ends beyond the end of the file ({size} bytes)"
    return what, refuse


IJ_KEYS = ("images", "slices", "channels", "frames", "spacing", "unit", "hyperstack", "mode", "finterval", "loop",
           "ImageJ", "min", "max")


TEXT_VALUES = ("n+1", "n-1", "2n", "half", 0, 1, -1, 10**6, 2**31, 10**12, "nan", "inf", "-inf", "abc", "",
               "1e400", "delete")


def text_token(tok, current: str) -> str | None:
    """The new text of a numeric field (None: delete it)."""
    if tok == "delete":
        return None
    if isinstance(tok, int):
        return str(tok)
    try:
        n = int(float(current))
    except (TypeError, ValueError, OverflowError):
        n = 1
    if tok in ("n+1", "n-1", "2n", "half"):
        return str(int_token(tok, n))
    return tok


def _n_planes(made: Made) -> int:
    import tifffile

    with tifffile.TiffFile(made.target) as tif:
        return len(tif.pages)


def damage_imagej(made: Made, key: str, tok):
    import tifffile

    planes = made.info["planes"]
    with tifffile.TiffFile(made.target) as tif:
        desc = tif.pages[0].description
    lines = desc.split("\n")
    found = next((i for i, ln in enumerate(lines) if ln.split("=")[0] == key), None)
    current = lines[found].split("=", 1)[1] if found is not None else ""
    new = text_token(tok, current)
    if new is None:
        if found is not None:
            del lines[found]
    elif found is not None:
        lines[found] = f"{key}={new}"
    else:
        lines.append(f"{key}={new}")
    tifffile.tiffcomment(made.target, comment="\n".join(lines).encode("ascii"))
    what = f"ImageJ description {key}={current or '(absent)'} -> {key}={'(removed)' if new is None else new}"
    refuse = None
    if key == "images" and new is not None and re.fullmatch(r"\d+", new) and int(new) > planes:
        refuse = f"it declares images={new} but holds {planes} planes"
    return what, refuse


OME_ATTRS = ("SizeX", "SizeY", "SizeZ", "SizeC", "SizeT", "PhysicalSizeX", "PhysicalSizeY", "PhysicalSizeZ",
             "PhysicalSizeXUnit", "PhysicalSizeZUnit", "Type", "DimensionOrder", "SignificantBits", "BigEndian",
             "Interleaved", "IFD", "PlaneCount", "SamplesPerPixel", "FirstZ")


OME_VALUES = TEXT_VALUES + ("uint8", "float", "double", "bit", "complex", "XYCZT", "XYZTC", "XYZ", "true",
                            "pm", "furlong", "\u00c5")


OME_OPS = ("drop-tiffdata", "cut-xml", "doctype", "no-pixels", "empty", "second-image", "namespace",
           "channels-x3", "not-xml")


def _ome_text(made: Made) -> str:
    import tifffile

    with tifffile.TiffFile(made.target) as tif:
        return tif.pages[0].description


def _set_ome(made: Made, xml: str) -> None:
    import tifffile

    tifffile.tiffcomment(made.target, comment=xml.encode("utf-8"))


def damage_ome_attr(made: Made, attr: str, tok):
    xml = _ome_text(made)
    m = re.search(rf'\b{attr}="([^"]*)"', xml)
    current = m.group(1) if m else ""
    new = text_token(tok, current)
    if m is None and new is not None:
        xml = re.sub(r"<Pixels\b", f'<Pixels {attr}="{new}"', xml, count=1)
    elif m is not None:
        xml = xml[:m.start()] + ("" if new is None else f'{attr}="{new}"') + xml[m.end():]
    _set_ome(made, xml)
    what = f'OME-XML {attr}="{current}" -> {"(removed)" if new is None else repr(new)}'
    refuse = None
    if attr in ("SizeZ", "SizeC", "SizeT") and new is not None and re.fullmatch(r"\d+", new) \
            and int(new) > int(current or 1):
        refuse = f"its OME-XML declares {attr}={new}, more planes than the {_n_planes(made)} it holds"
    return what, refuse


def damage_ome_op(made: Made, op: str):
    xml = _ome_text(made)
    refuse = None
    if op == "drop-tiffdata":
        xml = re.sub(r"<TiffData[^>]*/>", "", xml)
    elif op == "cut-xml":
        xml = xml[: len(xml) // 2]
    elif op == "doctype":
        xml = xml.replace("?>", '?><!DOCTYPE OME [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>', 1)
    elif op == "no-pixels":
        xml = xml.replace("<Pixels ", "<Pixel ").replace("</Pixels>", "</Pixel>")
    elif op == "empty":
        xml = " "
    elif op == "second-image":
        m = re.search(r"<Image .*</Image>", xml)
        if m:
            xml = xml[:m.end()] + m.group(0).replace('"Image:0"', '"Image:1"').replace('"Pixels:0"', '"Pixels:1"') \
                + xml[m.end():]
    elif op == "namespace":
        xml = xml.replace("OME/2016-06", "OME/1999-01")
    elif op == "channels-x3":
        m = re.search(r"<Channel .*?</Channel>", xml)
        if m:
            xml = xml[:m.end()] + m.group(0) * 2 + xml[m.end():]
    elif op == "not-xml":
        xml = "<OME><Image><Pixels SizeX='1' <<>>"
    _set_ome(made, xml)
    return f"OME-XML: {op}", refuse


PNG_FIELDS = {"width": (0, ">I"), "height": (4, ">I"), "bitdepth": (8, "B"), "colortype": (9, "B"),
              "compression": (10, "B"), "filter": (11, "B"), "interlace": (12, "B")}


PNG_VALUES = (0, 1, 2, 3, 4, 6, 7, 8, 16, 255, "n+1", "n-1", "2n", "half", 100000, 2**31 - 1, 2**32 - 1)


PNG_OPS = ("drop-idat", "drop-iend", "huge-idat-length", "empty-idat", "second-ihdr", "bad-ihdr-crc",
           "drop-ihdr", "huge-text-chunk", "palette-in-gray")






def _chunk(kind: bytes, data: bytes) -> bytes:
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def damage_png_field(made: Made, name: str, tok, fix_crc: bool):
    import zlib

    with open(made.target, "rb") as f:
        raw = bytearray(f.read())
    at, fmt = PNG_FIELDS[name]
    at += 16  # signature, IHDR's length and type
    old = struct.unpack(fmt, raw[at:at + struct.calcsize(fmt)])[0]
    lim = 255 if fmt == "B" else 2**32 - 1
    value = max(0, min(int_token(tok, old), lim))
    raw[at:at + struct.calcsize(fmt)] = struct.pack(fmt, value)
    if fix_crc:
        raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])) & 0xFFFFFFFF)
    with open(made.target, "wb") as f:
        f.write(raw)
    what = f"PNG IHDR {name} {old} -> {value} (CRC {'fixed' if fix_crc else 'left stale'})"
    refuse = None
    need, had = png_raw_bytes(made.target), made.info["raw_bytes"]
    if need is not None and had is not None and need > had:
        refuse = f"its IHDR declares {need} bytes of scanlines; its IDAT holds {had}"
    return what, refuse


def damage_png_op(made: Made, op: str):
    with open(made.target, "rb") as f:
        raw = f.read()
    chunks = png_chunks(raw)
    pieces = [raw[:8]] + [raw[start:data + n + 4] for _, start, data, n in chunks]
    kinds = [c[0] for c in chunks]
    refuse = None
    if op == "drop-idat":
        pieces = [p for p, k in zip(pieces, [None] + kinds) if k != b"IDAT"]
        refuse = "it holds no IDAT (no pixel data)"
    elif op == "drop-iend":
        pieces = [p for p, k in zip(pieces, [None] + kinds) if k != b"IEND"]
    elif op == "drop-ihdr":
        pieces = [p for p, k in zip(pieces, [None] + kinds) if k != b"IHDR"]
    elif op == "huge-idat-length":
        i = 1 + kinds.index(b"IDAT")
        pieces[i] = struct.pack(">I", 2**31 - 1) + pieces[i][4:]
        refuse = "its IDAT claims 2**31-1 bytes the file does not hold"
    elif op == "empty-idat":
        i = 1 + kinds.index(b"IDAT")
        pieces[i] = _chunk(b"IDAT", b"")
        refuse = "its IDAT is empty (no pixel data)"
    elif op == "second-ihdr":
        pieces.insert(2, pieces[1])
    elif op == "bad-ihdr-crc":
        pieces[1] = pieces[1][:-4] + bytes(4)
    elif op == "huge-text-chunk":
        pieces.insert(2, struct.pack(">I", 2**31 - 1) + b"tEXt" + b"key\x00value")
    elif op == "palette-in-gray":
        pieces.insert(2, _chunk(b"PLTE", bytes(range(6))))
    with open(made.target, "wb") as f:
        f.write(b"".join(pieces))
    return f"PNG: {op}", refuse


def _load_json(path):
    with open(path, "rb") as f:
        return json.loads(f.read())


def _save_json(path, doc) -> None:
    with open(path, "w") as f:
        json.dump(doc, f, allow_nan=True)


def json_nodes(doc, prefix=()) -> list:
    """Every path (a tuple of keys and indices) into a JSON document, the root excluded, in document order."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        out.append(prefix + (k,))
        out.extend(json_nodes(v, prefix + (k,)))
    return out


JSON_VALUES = (None, 0, -1, 1, 20000, 10**12, 2**63, 1.5, "nan", "", "x", [], {}, [20000, 20000], True, "delete")


def json_value(tok):
    if tok == "nan":
        return float("nan")
    return json.loads(json.dumps(tok))  # a fresh copy of a list or dict


def set_path(doc, path, value) -> None:
    target = doc
    for k in path[:-1]:
        target = target[k]
    if value == "delete":
        del target[path[-1]]
    else:
        target[path[-1]] = value


def damage_json(made: Made, file_index: int, node_index: int, tok):
    files = [rel for rel, meta in store_files(made.target) if meta]
    rel = files[file_index % len(files)]
    path = os.path.join(made.target, rel)
    doc = _load_json(path)
    nodes = json_nodes(doc)
    if not nodes:
        return f"{rel} is empty (unchanged)", None
    where = nodes[node_index % len(nodes)]
    set_path(doc, where, "delete" if tok == "delete" else json_value(tok))
    _save_json(path, doc)
    what = f"{_rel(made, path)}: {'/'.join(map(str, where))} {'deleted' if tok == 'delete' else f'= {tok!r}'}"
    return what, _missing_chunks(made)


ZARR_FIELDS = {
    "shape": ("grow1", "double", "huge20000", "1e12", "zero", "negative", "drop-dim", "add-dim", "float", "text",
              "null", "2**63", "half"),
    "chunks": ("grow1", "double", "huge20000", "1e12", "zero", "negative", "drop-dim", "add-dim", "float", "text",
               "null", "one", "half"),
    "dtype": ("<f8", "|u1", "<i8", "|O", "<U4", "|b1", "<c16", ">u2", "xyz", "float64", "int8", "bool", "null"),
    "fill_value": ("nan", "text", "null", "huge", "list"),
    "codecs": ("empty", "unknown", "null", "text"),
    "zarr_format": (1, 4, "null", "text"),
    "order": ("X", "F", "null"),
    "chunk_key_encoding": ("v2", "slash", "unknown"),
}


def _shape_token(tok, shape):
    if not isinstance(shape, list):
        shape = [16, 16]
    if tok == "grow1":
        return [shape[0] + 1] + shape[1:]
    if tok == "double":
        return [2 * v for v in shape]
    if tok == "half":
        return [max(1, v // 2) for v in shape]
    if tok == "huge20000":
        return shape[:-2] + [20000, 20000]
    if tok == "1e12":
        return [10**12] * len(shape)
    if tok == "2**63":
        return [2**63] * len(shape)
    if tok == "zero":
        return [0] + shape[1:]
    if tok == "negative":
        return [-1] + shape[1:]
    if tok == "drop-dim":
        return shape[1:]
    if tok == "add-dim":
        return [1] + shape
    if tok == "float":
        return [v + 0.5 for v in shape]
    if tok == "one":
        return [1] * len(shape)
    return {"text": "16x16", "null": None}[tok]


V3_DTYPES = {"<f8": "float64", "|u1": "uint8", "<i8": "int64", "|O": "object", "<U4": "string", "|b1": "bool",
             "<c16": "complex128", ">u2": "uint16"}


def damage_zarr_field(made: Made, level: int, name: str, tok):
    arrays = made.info["levels"]
    folder = arrays[level % len(arrays)]
    v3 = os.path.exists(os.path.join(folder, "zarr.json"))
    path = os.path.join(folder, "zarr.json" if v3 else ".zarray")
    doc = _load_json(path)
    if name == "shape":
        doc["shape"] = _shape_token(tok, doc["shape"])
    elif name == "chunks":
        if v3:
            conf = doc["chunk_grid"]["configuration"]
            conf["chunk_shape"] = _shape_token(tok, conf["chunk_shape"])
        else:
            doc["chunks"] = _shape_token(tok, doc["chunks"])
    elif name == "dtype":
        value = None if tok == "null" else (V3_DTYPES.get(tok, tok) if v3 else tok)
        doc["data_type" if v3 else "dtype"] = value
    elif name == "fill_value":
        doc["fill_value"] = {"nan": "NaN", "text": "abc", "null": None, "huge": 2**70, "list": [1, 2]}[tok]
    elif name == "codecs":
        key = "codecs" if v3 else "compressor"
        doc[key] = {"empty": [] if v3 else None, "unknown": [{"name": "nosuch"}] if v3 else {"id": "nosuch"},
                    "null": None, "text": "zstd"}[tok]
    elif name == "zarr_format":
        doc["zarr_format"] = {"null": None, "text": "two"}.get(tok, tok)
    elif name == "order":
        doc["order"] = None if tok == "null" else tok  # v3 has none: an unknown key
    elif name == "chunk_key_encoding":
        if v3:
            doc["chunk_key_encoding"] = {"v2": {"name": "v2", "configuration": {"separator": "."}},
                                         "slash": {"name": "default", "configuration": {"separator": "."}},
                                         "unknown": {"name": "nosuch"}}[tok]
        else:
            doc["dimension_separator"] = {"v2": ".", "slash": "/", "unknown": "|"}[tok]
    _save_json(path, doc)
    return f"{_rel(made, path)}: {name} -> {tok!r}", _missing_chunks(made)


def _missing_chunks(made: Made) -> str | None:
    """Level 0's chunk grid (from its metadata, where that can be read) against the chunk files it has: more
    chunks declared than files stored means data is missing, whatever the keys."""
    folder = made.info["levels"][0]
    try:
        if os.path.exists(os.path.join(folder, "zarr.json")):
            doc = _load_json(os.path.join(folder, "zarr.json"))
            shape, chunks = doc["shape"], doc["chunk_grid"]["configuration"]["chunk_shape"]
        else:
            doc = _load_json(os.path.join(folder, ".zarray"))
            shape, chunks = doc["shape"], doc["chunks"]
        attrs = doc.get("attributes") or (_load_json(os.path.join(folder, ".zattrs"))
                                          if os.path.exists(os.path.join(folder, ".zattrs")) else {})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    ok = (isinstance(shape, list) and isinstance(chunks, list) and len(shape) == len(chunks) and shape
          and all(type(v) is int and v > 0 for v in shape + chunks) and max(shape) < 2**62)
    if not ok or (isinstance(attrs, dict) and attrs.get("fill_value_meant") is True):
        return None
    total = math.prod(-(-n // c) for n, c in zip(shape, chunks))
    stored = sum(1 for _, _, files in os.walk(folder) for f in files if f not in ZARR_META)
    if total > stored:
        return f"its array metadata declares {total} chunks; the store holds {stored} chunk files"
    return None


CHUNK_OPS = ("delete", "truncate", "empty", "garbage", "delete-all")


def damage_chunk(made: Made, op: str, index: int):
    chunks = [rel for rel, meta in store_files(made.target) if not meta]
    rel = chunks[index % len(chunks)]
    path = os.path.join(made.target, rel)
    level0 = os.path.relpath(made.info["levels"][0], made.target)
    in_level0 = level0 == "." or rel.startswith(level0 + os.sep)
    refuse = None
    if op == "delete":
        os.remove(path)
        if in_level0:
            refuse = f"its chunk {rel} was deleted"
    elif op == "delete-all":
        folder = os.path.dirname(path)
        for f in os.listdir(folder):
            if f not in ZARR_META and os.path.isfile(os.path.join(folder, f)):
                os.remove(os.path.join(folder, f))
        rel = os.path.relpath(folder, made.target) + os.sep + "*"
        if in_level0:
            refuse = f"its chunks {rel} were deleted"
    elif op == "truncate":
        os.truncate(path, os.path.getsize(path) // 2)
    elif op == "empty":
        os.truncate(path, 0)
    elif op == "garbage":
        n = os.path.getsize(path)
        with open(path, "wb") as f:
            f.write(np.random.default_rng(index).integers(0, 256, n, dtype=np.uint8).tobytes())
    return f"chunk {rel}: {op}", refuse


MS_OPS = ("remove", "empty-list", "not-list", "no-datasets", "empty-datasets", "abs-path", "parent-path",
          "missing-path", "group-path", "int-path", "dataset-null", "axes-short", "axes-long", "axes-dup",
          "axes-int", "axes-no-name", "scale-zero", "scale-neg", "scale-nan", "scale-short", "scale-text",
          "scale-huge", "transforms-dict", "transforms-null", "version-99", "omero-bad", "omero-channels-text",
          "url-path", "unit-bad")


def damage_multiscales(made: Made, op: str):
    root = made.target
    v3 = os.path.exists(os.path.join(root, "zarr.json"))
    path = os.path.join(root, "zarr.json" if v3 else ".zattrs")
    doc = _load_json(path)
    attrs = doc["attributes"]["ome"] if v3 else doc
    ms = attrs["multiscales"]
    d0 = ms[0]["datasets"][0]
    refuse = None
    if op == "remove":
        del attrs["multiscales"]
    elif op == "empty-list":
        attrs["multiscales"] = []
    elif op == "not-list":
        attrs["multiscales"] = ms[0]
    elif op == "no-datasets":
        del ms[0]["datasets"]
    elif op == "empty-datasets":
        ms[0]["datasets"] = []
    elif op == "abs-path":
        d0["path"] = "/" + d0["path"]
    elif op == "parent-path":
        d0["path"] = "../" + os.path.basename(root) + "/0"
    elif op == "url-path":
        d0["path"] = "file:///etc/passwd"
    elif op == "missing-path":
        d0["path"] = "9"
    elif op == "group-path":
        d0["path"] = ""
    elif op == "int-path":
        d0["path"] = 0
    elif op == "dataset-null":
        ms[0]["datasets"][0] = None
    elif op == "axes-short":
        ms[0]["axes"] = ms[0]["axes"][1:]
    elif op == "axes-long":
        ms[0]["axes"] = [{"name": "t", "type": "time"}] + ms[0]["axes"]
    elif op == "axes-dup":
        ms[0]["axes"] = [ms[0]["axes"][-1]] * len(ms[0]["axes"])
    elif op == "axes-int":
        ms[0]["axes"] = list(range(len(ms[0]["axes"])))
    elif op == "axes-no-name":
        ms[0]["axes"] = [{"type": "space"} for _ in ms[0]["axes"]]
    elif op == "unit-bad":
        for a in ms[0]["axes"]:
            a["unit"] = 42
    elif op.startswith("scale-"):
        scale = d0["coordinateTransformations"][0]["scale"]
        if op == "scale-zero":
            scale[-1] = 0
        elif op == "scale-neg":
            scale[-1] = -0.5
        elif op == "scale-nan":
            scale[-1] = float("nan")
        elif op == "scale-short":
            del scale[0]
        elif op == "scale-text":
            scale[-1] = "0.25"
        elif op == "scale-huge":
            scale[-1] = 1e308
    elif op == "transforms-dict":
        d0["coordinateTransformations"] = {"type": "scale"}
    elif op == "transforms-null":
        d0["coordinateTransformations"] = [None]
    elif op == "version-99":
        (attrs if v3 else ms[0])["version"] = "99.9"
    elif op == "omero-bad":
        attrs["omero"] = "red"
    elif op == "omero-channels-text":
        attrs["omero"] = {"channels": [{"label": 5, "color": ["ff"]}]}
    _save_json(path, doc)
    return f"{_rel(made, path)}: multiscales {op}", refuse


NPY_FIELDS = {
    "shape": ("(1000000, 1000000)", "(0,)", "(-1, 5)", "()", "(7,)", "(5, 5, 5)", "(2**40,)", "'abc'"),
    "descr": ("'|O'", "'<U8'", "'<c16'", "'|b1'", "'xx'", "'<f8'", "'<f2'", "'|V4'", "[('a', '<f4')]"),
    "fortran_order": ("True", "'yes'"),
    "header": ("garbage", "empty", "version-9", "huge-length", "v2-huge-length"),
}


def damage_npy(made: Made, name: str, tok):
    """The .npy header rewritten with one field changed (the data left as it was)."""
    from numpy.lib import format as npformat

    path = made.target
    with open(path, "rb") as f:
        version = npformat.read_magic(f)
        shape, fortran, dtype = (npformat.read_array_header_1_0 if version == (1, 0)
                                 else npformat.read_array_header_2_0)(f)
        data = f.read()
    fields = {"descr": repr(npformat.dtype_to_descr(dtype)), "fortran_order": repr(fortran), "shape": repr(shape)}
    header = None
    if name in fields:
        fields[name] = tok
        header = "{" + ", ".join(f"'{k}': {v}" for k, v in fields.items()) + ", }"
    elif tok == "garbage":
        header = "not a dict at all"
    elif tok == "empty":
        header = ""
    magic = b"\x93NUMPY\x01\x00"
    if header is None:
        with open(path, "rb") as f:
            raw = f.read()
        if tok == "version-9":
            raw = b"\x93NUMPY\x09\x00" + raw[8:]
        elif tok == "v2-huge-length":  # format 2.0, whose header length takes 4 bytes: 2**31
            raw = b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + raw[10:]
        else:  # huge-length: the header claims 65535 bytes
            raw = raw[:8] + struct.pack("<H", 65535) + raw[10:]
    else:
        text = header.encode("latin1")
        pad = -(len(magic) + 2 + len(text) + 1) % 64
        text = text + b" " * pad + b"\n"
        raw = magic + struct.pack("<H", len(text)) + text + data
    with open(path, "wb") as f:
        f.write(raw)
    refuse = None
    if name == "descr" and "O" in tok:
        refuse = "its header claims an object array"
    elif name == "shape":
        try:
            claimed = eval(tok, {})  # noqa: S307 - our own literal tokens
            need = math.prod(claimed) * dtype.itemsize if isinstance(claimed, tuple) else None
        except Exception:  # noqa: BLE001
            need = None
        if need is not None and need > len(data):
            refuse = f"its header claims {need} bytes of data; it holds {len(data)}"
    return f"npy header {name} -> {tok}", refuse


NET_VALUES = ("nan", "inf", "-inf", -1, 0, 10**12, 2**70, "x", None, True, [], {}, "tensor-nan", "tensor-int",
              "tensor-huge-view", "tensor-empty", "tensor-3d", "delete")


REQUIRED = ("format", "version", "axes", "scale", "mode", "config", "kernel", "ranges", "networks")


def net_nodes(obj, prefix=()) -> list:
    """Every path into a loaded networks file (dicts and lists; tensors are leaves), in insertion order."""
    import torch

    out = []
    if isinstance(obj, torch.Tensor):
        return out
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for k, v in items:
        out.append(prefix + (k,))
        out.extend(net_nodes(v, prefix + (k,)))
    return out


def net_value(tok, old):
    import torch

    if tok in ("nan", "inf", "-inf"):
        return float(tok)
    if tok == "tensor-nan":
        t = old.clone().float() if isinstance(old, torch.Tensor) else torch.zeros(3)
        t.view(-1)[:1] = float("nan")
        return t
    if tok == "tensor-int":
        return old.to(torch.int32) if isinstance(old, torch.Tensor) else torch.zeros(3, dtype=torch.int32)
    if tok == "tensor-huge-view":
        return torch.zeros(1).expand(10**5, 10**5)  # 10**10 values in 4 bytes of storage
    if tok == "tensor-empty":
        return torch.zeros(0)
    if tok == "tensor-3d":
        return torch.ones(2, 3, 3)
    return json.loads(json.dumps(tok)) if isinstance(tok, (list, dict)) else tok


def damage_networks(made: Made, node_index: int, tok):
    import torch

    saved = torch.load(made.target, map_location="cpu", weights_only=True)
    nodes = net_nodes(saved)
    where = nodes[node_index % len(nodes)]
    target = saved
    for k in where[:-1]:
        target = target[k]
    old = target[where[-1]]
    if tok == "delete":
        if isinstance(target, tuple):
            return f"{'/'.join(map(str, where))} is in a tuple (unchanged)", None
        del target[where[-1]]
    else:
        if isinstance(target, tuple):
            return f"{'/'.join(map(str, where))} is in a tuple (unchanged)", None
        target[where[-1]] = net_value(tok, old)
    torch.save(saved, made.target)
    name = "/".join(map(str, where))
    refuse = None
    if tok == "delete" and len(where) == 1 and where[0] in REQUIRED:
        refuse = f"its required field {where[0]!r} was removed"
    elif tok == "tensor-nan" and "state" in where:
        refuse = f"its weight {name} holds NaN"
    return f"networks file: {name} {'deleted' if tok == 'delete' else f'= {tok!r}'}", refuse


def damage(case: Case, made: Made) -> tuple:
    """Apply the case's corruption: (what was done, in words; why it must be refused, or None)."""
    c = case.corruption
    name = c[0]
    if name == "none":
        return "none (the valid file)", None
    if name == "kernel-content":
        refuse = f"its kernel is {c[1]}" if c[1] in KERNEL_MUST_REFUSE else None
        return f"kernel file holding a {c[1]} kernel", refuse
    if name == "truncate":
        return truncate(made, *c[1:])
    if name == "overwrite":
        return overwrite(made, *c[1:])
    if name == "tag":
        return damage_tag(made, *c[1:])
    if name == "imagej":
        return damage_imagej(made, *c[1:])
    if name == "ome-attr":
        return damage_ome_attr(made, *c[1:])
    if name == "ome-op":
        return damage_ome_op(made, c[1])
    if name == "png-field":
        return damage_png_field(made, *c[1:])
    if name == "png-op":
        return damage_png_op(made, c[1])
    if name == "json":
        return damage_json(made, *c[1:])
    if name == "zarr-field":
        return damage_zarr_field(made, c[2], c[1], c[3])
    if name == "chunk":
        return damage_chunk(made, *c[1:])
    if name == "multiscales":
        return damage_multiscales(made, c[1])
    if name == "npy":
        return damage_npy(made, *c[1:])
    if name == "net-field":
        return damage_networks(made, c[2], c[1])
    raise ValueError(f"unknown corruption {name!r}")
