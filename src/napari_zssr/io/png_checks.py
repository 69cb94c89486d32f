"""Is a PNG whole? Its chunks walked and its image data inflated in bounded pieces before Pillow reads it,
which trusts the lengths a file claims and pads missing rows with zeros."""

from __future__ import annotations

import os
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # per colour type: gray, RGB, palette, gray + alpha, RGBA
PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def check_png_chunks(path) -> None:
    """Walk a PNG's chunks (length, type, data, CRC) before Pillow reads it. A chunk whose length runs
    past the end of the file is refused (Pillow allocates the length it claims: 2 GB for 2**31-1), and so
    is image data that decompresses to fewer bytes than the IHDR declares (Pillow pads the missing rows
    with zeros, silently). What is not a PNG at all is left to Pillow to say."""
    size, need, got = os.path.getsize(path), None, 0
    inflate = zlib.decompressobj()
    with open(path, "rb") as f:
        if f.read(8) != PNG_SIGNATURE:
            return
        while len(head := f.read(8)) == 8:
            n, kind = struct.unpack(">I4s", head)
            at = f.tell() - 8
            if at + 8 + n > size:
                raise ValueError(f"{path} is not a readable PNG: image file is truncated or damaged (its "
                                 f"{kind.decode('latin1')!r} chunk at byte {at} claims {n} bytes; only {size - at - 8} "
                                 f"follow in the file)")
            if kind == b"IHDR" and need is None:
                need = _png_scanline_bytes(f.read(n))
                f.seek(4, 1)
            elif kind == b"IDAT" and need and got < need:
                got += _inflated(inflate, f.read(n), need - got, path)
                f.seek(4, 1)
            elif kind == b"IEND":
                break
            else:
                f.seek(n + 4, 1)
    if need and got < need:
        raise ValueError(f"{path} is not a readable PNG: image file is truncated (its IHDR declares {need} bytes "
                         f"of scanlines; its image data holds {got}): the file is damaged")


def _inflated(inflate, data: bytes, want: int, path) -> int:
    """How many bytes ``data`` decompresses to, counted in bounded pieces and stopping at ``want``: a
    compressed stream is never expanded whole, whatever it claims."""
    got = 0
    try:
        while data and got < want and not inflate.eof:
            got += len(inflate.decompress(data, min(want - got, 1 << 20)))
            data = inflate.unconsumed_tail
    except zlib.error as exc:
        raise ValueError(f"{path} is not a readable PNG: its image data does not decompress (zlib.error: {exc})") \
            from None
    return got


def _png_scanline_bytes(ihdr: bytes):
    """The bytes of filtered scanlines an IHDR declares (each row: a filter byte, then its packed
    pixels; an interlaced image's seven Adam7 passes each so), or None where Pillow decides: a header
    it refuses anyway, or an image above its decompression-bomb limit."""
    from PIL import Image

    if len(ihdr) != 13:
        return None
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    if depth not in PNG_DEPTHS.get(ctype, ()) or interlace not in (0, 1):
        return None
    if Image.MAX_IMAGE_PIXELS and w * h > 2 * Image.MAX_IMAGE_PIXELS:
        return None
    passes = ADAM7 if interlace else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        pw, ph = max(0, -(-(w - x0) // dx)), max(0, -(-(h - y0) // dy))
        if pw and ph:
            total += ph * (1 + -(-pw * PNG_CHANNELS[ctype] * depth // 8))
    return total


def png_size(path) -> tuple:
    """Width and height from a PNG's IHDR chunk, read without decoding anything."""
    with open(path, "rb") as f:
        head = f.read(24)
    return struct.unpack(">II", head[16:24]) if len(head) == 24 else None
