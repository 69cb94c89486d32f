"""Is a TIFF whole? Its series metadata against the pages present and the file's length, read from
offsets only (no pixel data), and tifffile's logged complaints held back until the read is decided."""

from __future__ import annotations

import contextlib
import struct
import warnings


@contextlib.contextmanager
def tifffile_log(path):
    """tifffile logs, rather than raises, much of what it finds wrong in a file: while reading, its
    records are held back, dropped when the read is refused with a clearer error and passed on as
    warnings when it is not."""
    import logging

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


def check_complete(tif, series, path) -> None:
    """A ValueError naming the file when its series metadata declares planes that are not in it, or
    a page's data lies beyond the end of the file; reads offsets only, no pixel data."""
    size = tif.filehandle.size
    imagej = series.kind == "imagej"  # tifffile accepted the ImageJ metadata: its planes are contiguous
    if not imagej:
        _check_imagej_planes(tif, path, size)  # tifffile fell back to the pages: say what is missing
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
    for page in pages:
        ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts) if n]
        if ends and max(ends) > size:
            raise ValueError(f"{path} is truncated: the data of its page {page.index} ends at byte {max(ends)}, "
                             f"beyond the end of the file ({size} bytes)")
    if not imagej:
        _check_page_chain(tif, path, size)


def _check_imagej_planes(tif, path, size) -> None:
    """ImageJ's ``images=`` against the planes in the file: one page each, or contiguous after the
    first page (ImageJ writes big stacks so, with a single page)."""
    ij = tif.imagej_metadata or {}
    declared = ij.get("images")
    if not isinstance(declared, int) or declared <= 1:
        return
    first = tif.pages.first
    present = len(tif.pages)
    if present < declared and first.is_contiguous and first.nbytes:
        present = max(present, (size - first.dataoffsets[0]) // first.nbytes)
    if present < declared:
        shape = tuple(ij[k] for k in ("frames", "slices", "channels") if ij.get(k, 1) > 1) + tuple(first.shape)
        raise ValueError(f"{path} declares {declared} planes (ImageJ metadata, shape {shape}) but only {present} "
                         f"are present: the file is truncated or incomplete")


def _declared(tif, series) -> str:
    if series.kind == "ome" and tif.ome_metadata:
        import re

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
