"""Is a TIFF whole? Its series metadata against the pages present and the file's length, read from
offsets only (no pixel data), and tifffile's logged complaints held back until the read is decided."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import struct
import warnings


@contextlib.contextmanager
def tifffile_log(path):
    """tifffile logs, rather than raises, much of what it finds wrong in a file: while reading, its
    records are held back, dropped when the read is refused with a clearer error and passed on as
    warnings when it is not."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    log, handler = logging.getLogger("tifffile"), Keep(logging.WARNING)
    propagate, log.propagate = log.propagate, False
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.propagate = propagate
    for msg in dict.fromkeys(records):
        warnings.warn(f"{path}: tifffile: {msg}", UserWarning, stacklevel=3)


def open_tiff(path, what: str = "a readable TIFF"):
    """``tifffile.TiffFile(path)``, or a ValueError ``{path} is not {what} (...)``: tifffile parses the
    header and first page here, and a damaged file fails in ways of its own (struct.error for a file
    shorter than its 8-byte header, TiffFileError, IndexError)."""
    import tifffile

    with tiff_errors(path, what):
        return tifffile.TiffFile(path)


@contextlib.contextmanager
def tiff_errors(path, what: str = "a readable TIFF"):
    """Any exception while tifffile parses a damaged file (building ``tif.series`` divides by sizes read
    from the file, reading pages unpacks whatever is there) becomes ``{path} is not {what} (...)``. Our
    own refusals, ValueErrors that start with the file's name, pass unchanged; so do MemoryError and
    PermissionError, which are the machine's, not the file's."""
    try:
        yield
    except (MemoryError, PermissionError):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever tifffile meets in a damaged file
        if isinstance(exc, ValueError) and str(exc).startswith(os.fspath(path)):
            raise
        raise ValueError(f"{path} is not {what} ({error_kind(exc)}: {exc})") from None


def error_kind(exc) -> str:
    """An exception's type for a message: ``struct.error`` and ``zlib.error`` rather than a bare "error"."""
    name = type(exc).__name__
    return f"{type(exc).__module__}.{name}" if name == "error" else name


def check_complete(tif, series, path) -> None:
    """A ValueError naming the file when its series metadata declares planes that are not in it, or
    a page's data lies beyond the end of the file; reads offsets only, no pixel data."""
    size = tif.filehandle.size
    imagej = series.kind == "imagej"  # tifffile accepted the ImageJ metadata: its planes are contiguous
    # in every case: tifffile builds an ImageJ series from slices= even where images= declares more planes
    _check_imagej_planes(tif, path, size)
    contiguous = series.dataoffset is not None
    pages = [] if imagej and contiguous else list(series.pages)  # an ImageJ stack's pages need not be read
    missing = sum(p is None for p in pages)
    if missing:
        where = "or a file of its multi-file set is missing" if series.is_multifile else "or incomplete"
        raise ValueError(f"{path} declares {len(pages)} planes ({_declared(tif, series)}) but only "
                         f"{len(pages) - missing} are present: the file is truncated {where}")
    if contiguous and series.dataoffset + series.nbytes > size:
        raise ValueError(f"{path} is truncated: its image data (shape {tuple(series.shape)}, {series.nbytes} bytes "
                         f"from byte {series.dataoffset}) ends beyond the end of the file ({size} bytes)")
    for page in pages or [tif.pages.first]:  # an ImageJ stack is read from its first page: its tags still count
        _check_page_data(page, path, size)
    if not imagej:
        _check_page_chain(tif, path, size)


def _check_page_data(page, path, size) -> None:
    """A page's strips or tiles: each inside the file, and as many as its shape needs where they are read
    one by one (tifffile fills those missing with zeros, with only a warning, after allocating the whole
    shape: an ImageLength of 10**7 over 2 tiles is 400 MB of zeros)."""
    ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts) if n]
    if ends and max(ends) > size:
        raise ValueError(f"{path} is truncated: the data of its page {page.index} ends at byte {max(ends)}, "
                         f"beyond the end of the file ({size} bytes)")
    if page.is_contiguous:  # read as one block, checked against the file's length above
        return
    need = math.prod(page.keyframe.chunked)
    listed = min(len(page.dataoffsets), len(page.databytecounts))
    if listed < need:
        raise ValueError(f"{path} is damaged: its page {page.index} (shape {tuple(page.shape)}) needs {need} strips "
                         f"or tiles, and lists {listed}: its size tags or its data are wrong")


def _check_imagej_planes(tif, path, size) -> None:
    """ImageJ's ``images=`` against the planes in the file: one page each, or contiguous after the
    first page (ImageJ writes big stacks so, with a single page)."""
    ij = tif.imagej_metadata or {}
    declared = ij.get("images")
    if not isinstance(declared, int) or declared <= 1:
        return
    first = tif.pages.first
    present = 0
    if first.is_contiguous and first.nbytes:  # from offsets first: an ImageJ stack's pages need not be read
        present = (size - first.dataoffsets[0]) // first.nbytes
    if present < declared:
        present = max(present, len(tif.pages))
    if present < declared:
        shape = tuple(ij[k] for k in ("frames", "slices", "channels") if ij.get(k, 1) > 1) + tuple(first.shape)
        raise ValueError(f"{path} declares {declared} planes (ImageJ metadata, shape {shape}) but only {present} "
                         f"are present: the file is truncated or incomplete")


def _declared(tif, series) -> str:
    if series.kind == "ome" and tif.ome_metadata:
        sizes = " ".join(re.findall(r'\bSize[ZCT]="\d+"', tif.ome_metadata)[:3]).replace('"', "")
        return f"OME metadata, {sizes}, shape {tuple(series.shape)}"
    return f"{series.kind} series, shape {tuple(series.shape)}"


def _check_page_chain(tif, path, size) -> None:
    """The last page tifffile found must end the chain of pages: a next-page offset beyond the end
    of the file means the file was cut (tifffile only logs it and reads what is left)."""
    if tif.is_ndpi or not len(tif.pages):  # NDPI stores offsets its own way
        return
    t, fh = tif.tiff, tif.filehandle
    last = tif.pages[len(tif.pages) - 1]
    fh.seek(last.offset)
    raw = fh.read(t.tagnosize)
    nxt = None
    if len(raw) == t.tagnosize:
        fh.seek(last.offset + t.tagnosize + struct.unpack(t.tagnoformat, raw)[0] * t.tagsize)
        raw = fh.read(t.offsetsize)
        nxt = struct.unpack(t.offsetformat, raw)[0] if len(raw) == t.offsetsize else None
    if nxt is None or nxt + t.tagnosize > size:
        at = "is cut off" if nxt is None else f"points to byte {nxt}, beyond the end of the file ({size} bytes)"
        raise ValueError(f"{path} is truncated: the pointer to the page after its page {len(tif.pages)} {at}; "
                         f"the file is incomplete")
