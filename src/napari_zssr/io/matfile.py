"""A small reader of MATLAB v5 .mat files: the numeric variables a kernel file holds, and nothing else.

scipy.io.loadmat trusts the file it reads: a damaged type byte makes scipy 1.17 crash the process
(a segmentation fault, which no except clause catches), and a damaged byte count makes it allocate
hundreds of MB. Here every byte count is checked against the bytes that remain before anything is
read, compressed data is inflated with a bound, and what a kernel never is (complex, sparse, cell,
struct, char, object) is skipped with the reason, not parsed.
"""

from __future__ import annotations

import math
import os
import struct
import zlib

import numpy as np

MI_MATRIX, MI_COMPRESSED = 14, 15
MI_INT8, MI_INT32, MI_UINT32 = 1, 5, 6
MI_DTYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
MX_DTYPES = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4", 14: "i8", 15: "u8"}
MX_OTHER = {1: "a cell array", 2: "a struct", 3: "an object", 4: "a char array", 5: "a sparse matrix",
            16: "a function handle", 17: "an opaque object"}
COMPLEX, LOGICAL = 0x0800, 0x0200  # bits of the array flags' first word
HEAD_BYTES = 4096  # what is read of a variable too large to load: enough for its flags, dimensions and name
PIECE = 1 << 20  # compressed data is read and inflated in pieces of this size


class Damaged(ValueError):
    """What is broken in a file's structure (a byte count beyond its bytes, a type where another belongs);
    read_mat names the file."""


def read_mat(path, max_bytes: int) -> tuple:
    """(arrays, skipped) of a MATLAB v5 file. arrays: name -> numpy array for each numeric variable of
    at most ``max_bytes``, in the dtype of its MATLAB class as scipy.io.loadmat gives it (a logical one
    as bool), reshaped in MATLAB's column-major order; skipped: name -> what the others are. A damaged
    file, and a v7.3 (HDF5) or v4 one, is a ValueError naming it."""
    path = os.fspath(path)
    try:
        return _read(path, os.path.getsize(path), max_bytes)
    except Damaged as exc:
        raise ValueError(f"{path} is not a readable MATLAB .mat file: {exc}: the file is truncated or damaged") \
            from None


def _read(path: str, size: int, max_bytes: int) -> tuple:
    arrays, skipped = {}, {}
    with open(path, "rb") as f:
        order = _header(f.read(128), path)
        at = 128
        while at < size:
            if size - at < 8:
                raise Damaged(f"it ends {size - at} bytes into the 8-byte tag of the data element at byte {at}")
            kind, n = struct.unpack(order + "II", f.read(8))
            if n == 0 or n > size - at - 8:
                raise Damaged(f"its data element at byte {at} claims {n} bytes; {size - at - 8} follow")
            name, value = _variable(f, kind, n, order, max_bytes, f"the variable at byte {at}")
            if name:  # MATLAB's subsystem data (for function handles, objects) has no name
                (arrays if isinstance(value, np.ndarray) else skipped)[name] = value
            at += 8 + n  # no padding after a top-level element (scipy's reading; MATLAB pads inside)
            f.seek(at)
    return arrays, skipped


def _header(head: bytes, path) -> str:
    """The byte order ("<" or ">") of a v5 file's 128-byte header (116 bytes of text, the subsystem
    offset, the version, the endian indicator "IM" as the file's order writes it); others refused."""
    if head.startswith(b"MATLAB 7.3"):
        raise ValueError(f"{path} is a MATLAB v7.3 (HDF5) file, which is not read; save it with save(..., '-v7') "
                         f"or as .npy")
    if len(head) < 128:
        raise Damaged(f"it holds {len(head)} bytes, less than the 128-byte header of a .mat file")
    order = {b"IM": "<", b"MI": ">"}.get(head[126:128])
    if order is None:
        raise ValueError(f"{path} is not a readable MATLAB .mat file (no MATLAB v5 header: a v4 file, or not a "
                         f".mat file at all); save the kernel with save(..., '-v7') or as .npy")
    version = struct.unpack(order + "H", head[124:126])[0]
    if version != 0x0100:
        raise Damaged(f"its header gives version {version:#06x}, not 0x0100 (MATLAB v5 to v7)")
    return order


def _variable(f, kind: int, n: int, order: str, max_bytes: int, where: str) -> tuple:
    """(name, array or what it is) of one top-level data element of ``n`` bytes at the file's position:
    an miMATRIX, or an miCOMPRESSED holding one. One larger than ``max_bytes`` is read only as far as
    its name."""
    if kind == MI_COMPRESSED:
        body, whole = _inflate(f, n, max_bytes + 8, where)
        kind, n = _Cursor(body, order, where).tag("its compressed variable")
        if whole and n > len(body) - 8:
            raise Damaged(f"{where}: its compressed miMATRIX claims {n} bytes; {len(body) - 8} follow")
        body = body[8:8 + n]
        if kind != MI_MATRIX:
            raise Damaged(f"{where}: its compressed data holds an element of type {kind}, not a variable (14)")
    elif kind == MI_MATRIX:
        whole = n <= max_bytes
        body = f.read(n if whole else HEAD_BYTES)
    else:
        raise Damaged(f"{where} is a data element of type {kind} where a variable (miMATRIX, 14, or "
                      f"miCOMPRESSED, 15) belongs")
    return _matrix(_Cursor(body, order, where), whole, max_bytes)


def _inflate(f, n: int, limit: int, where: str) -> tuple:
    """(bytes, whole): the zlib data of ``n`` bytes at the file's position, read and inflated in pieces
    to at most ``limit`` bytes (whole is False where there was more)."""
    inflate, out, got, left, data = zlib.decompressobj(), [], 0, n, b""
    try:
        while got <= limit and not inflate.eof:
            if not data:
                if not left:
                    raise Damaged(f"{where}: its compressed data ends before its zlib stream does")
                data = f.read(min(left, PIECE))
                left -= len(data)
            piece = inflate.decompress(data, limit + 1 - got)  # never 0, which would mean no bound
            out.append(piece)
            got += len(piece)
            data = inflate.unconsumed_tail
    except zlib.error as exc:
        raise Damaged(f"{where}: its compressed data does not inflate (zlib.error: {exc})") from None
    return b"".join(out), got <= limit


def _matrix(cur: _Cursor, whole: bool, max_bytes: int) -> tuple:
    """(name, array or what it is) from an miMATRIX's sub-elements: array flags (the class in the low
    byte of the first word), dimensions, name, then the real part, read only for a numeric class."""
    flags = cur.element("its array flags", MI_UINT32)
    if len(flags) < 8:
        raise Damaged(f"{cur.where}: its array flags hold {len(flags)} bytes, not 8")
    word = struct.unpack(cur.order + "I", flags[:4])[0]
    raw = cur.element("its dimensions", MI_INT32)
    dims = tuple(int(d) for d in np.frombuffer(raw[:len(raw) // 4 * 4], cur.order + "i4"))
    if len(raw) % 4 or len(dims) < 2 or min(dims) < 0:
        raise Damaged(f"{cur.where}: its dimensions {dims} are not 2 or more sizes >= 0")
    name = cur.element("its name", MI_INT8).decode("latin-1")
    mclass = word & 0xFF
    if mclass not in MX_DTYPES:
        return name, MX_OTHER.get(mclass, f"of an unknown MATLAB class ({mclass})")
    if word & COMPLEX:
        return name, "complex"
    if not whole:
        return name, f"a {np.dtype(MX_DTYPES[mclass]).name} array of shape {dims}, more than {max_bytes} bytes"
    return name, _values(cur, dims, mclass, bool(word & LOGICAL))


def _values(cur: _Cursor, dims: tuple, mclass: int, logical: bool) -> np.ndarray:
    """The real part: as many values as the dimensions need, stored in any numeric type and given in
    the type of the MATLAB class (MATLAB stores a double array of small whole numbers as miUINT8)."""
    count = math.prod(dims)
    if count == 0 and cur.at >= len(cur.buf):  # an empty array may end with its name
        return np.zeros(dims, MX_DTYPES[mclass])
    kind, raw = cur.next("its values")
    if kind not in MI_DTYPES:
        raise Damaged(f"{cur.where}: its values are of data type {kind}, not a numeric one")
    dtype = np.dtype(cur.order + MI_DTYPES[kind])
    if len(raw) != count * dtype.itemsize:
        raise Damaged(f"{cur.where}: its dimensions {dims} need {count} values; its data holds {len(raw)} bytes "
                      f"of {dtype.name}")
    arr = np.frombuffer(raw, dtype).astype(MX_DTYPES[mclass]).reshape(dims, order="F")
    return arr.astype(bool) if logical else arr


class _Cursor:
    """The sub-elements of one buffer, in order; every byte count checked against the bytes left in
    it before anything is sliced (an element: an 8-byte tag, its data, padding to 8 bytes)."""

    def __init__(self, buf: bytes, order: str, where: str):
        self.buf, self.order, self.where, self.at = buf, order, where, 0

    def tag(self, what: str) -> tuple:
        if len(self.buf) - self.at < 8:
            raise Damaged(f"{self.where}: it ends inside the tag of the element of {what}")
        return struct.unpack_from(self.order + "II", self.buf, self.at)

    def next(self, what: str) -> tuple:
        """(type, data) of the next element; a small one (its byte count in the upper 16 bits of the
        first word) holds up to 4 bytes inside its tag."""
        word, n = self.tag(what)
        small = word >> 16
        if small:
            if small > 4:
                raise Damaged(f"{self.where}: the element of {what} is a small one of {small} bytes (at most 4)")
            data, self.at = self.buf[self.at + 4:self.at + 4 + small], self.at + 8
            return word & 0xFFFF, data
        left = len(self.buf) - self.at - 8
        if n > left:
            raise Damaged(f"{self.where}: the element of {what} claims {n} bytes; {left} follow")
        data, self.at = self.buf[self.at + 8:self.at + 8 + n], self.at + 8 + n + (-n % 8)
        return word, data

    def element(self, what: str, kind: int) -> bytes:
        got, data = self.next(what)
        if got != kind:
            raise Damaged(f"{self.where}: the element of {what} is of data type {got}, not {kind}")
        return data
