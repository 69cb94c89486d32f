"""Shared by the case lists (tests/test_reliability.py, tests/test_cli.py and the ``CASES`` of tests/io, tests/stack
and tests/core): running a case, and the command line tool on real files in a fresh folder.

A case is ``(id, what is tried, call, expected exception type or None for a result, text the message
must contain)``; docs/reliability.md is made from every module's ``CASES``.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import warnings

import numpy as np

TINY = ["--quiet", "--device", "cpu", "--preset", "fast", "--max-iters", "2", "--precision", "float32"]


class CLIError(Exception):
    """Stands for a non-zero exit of the command line tool."""


def run_case(fn):
    """(exception type name or 'result', message or a description of the result)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = fn()
    except Exception as exc:  # noqa: BLE001 - the table records whatever happens
        return type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    notes = sorted({str(w.message).split(":")[0][:60] for w in caught if issubclass(w.category, RuntimeWarning)})
    if isinstance(res, np.ndarray):
        desc = f"{res.dtype} array {res.shape}, finite: {bool(np.all(np.isfinite(res)))}"
    elif isinstance(res, str):  # a case's own description of what it checked
        desc = res
    else:
        desc = type(res).__name__
    return "result", desc + (f"; warnings: {'; '.join(notes)}" if notes else "")


def check_case(case) -> None:
    """The case gets its documented outcome: the exception's type and text, or a finite result."""
    _, _, fn, exc_type, text = case
    kind, msg = run_case(fn)
    if exc_type is None:
        assert kind == "result", f"{kind}: {msg}"
        assert "finite: True" in msg or "Tensor" in msg or text in msg, msg
    else:
        assert kind == exc_type.__name__, f"{kind}: {msg}"
        assert text in msg, msg


def run_cli(argv) -> tuple:
    """``main(argv)`` with stderr captured: (exit code, stderr text)."""
    from napari_zssr.cli import main

    err = io.StringIO()
    old, sys.stderr = sys.stderr, err
    try:
        try:
            rc = main(list(argv))
        except SystemExit as exc:
            rc = exc.code
    finally:
        sys.stderr = old
    return rc, err.getvalue()


def cli_case(make_input, argv_tail, out_name="out.tif", tiny=True, after=None):
    """Run ``napari-zssr upscale IN OUT ...`` in a fresh folder, where ``make_input(folder)`` writes the input
    and returns its path, and ``after(folder)`` checks what is left. A non-zero exit raises CLIError with its
    last line (folder shown as <tmp>),
    after checking that it was one line and no traceback; success returns the files left."""
    with tempfile.TemporaryDirectory() as tmp:
        src = make_input(tmp)
        out = os.path.join(tmp, out_name)
        rc, text = run_cli(["upscale", src, out, *argv_tail, *(TINY if tiny else [])])
        left = sorted(os.listdir(tmp))
        if after is not None:
            after(tmp)
        text = text.replace(tmp, "<tmp>").strip()
    assert "Traceback" not in text, text
    msg = text.splitlines()[-1] if text else ""
    if rc != 0:
        raise CLIError(f"exit {rc}: {msg} (files left: {', '.join(left) or 'none'})")
    return f"exit 0; files left: {', '.join(left) or 'none'}"


def read_warning_once(path, text):
    """``read_image(path)``, which must warn ``text`` exactly once, in a warning that starts with the path."""
    from napari_zssr.io import read_image

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img = read_image(path)
    found = [str(w.message) for w in caught if text in str(w.message)]
    assert len(found) == 1 and found[0].startswith(path), [str(w.message) for w in caught]
    return img


def small_peak(fn, limit=16 << 20):
    """``fn()``, which must allocate less than ``limit`` bytes at its peak (tracemalloc sees numpy's and
    Python's buffers); its outcome, result or error, is passed on."""
    import tracemalloc

    def run():
        tracemalloc.start()
        try:
            return fn()
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert peak < limit, f"{peak / 2**20:.0f} MB allocated"
    return run
