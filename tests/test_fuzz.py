"""A fuzzer for the command line's reading and validation path: no broken input ends in a traceback.

Every kind of input the project reads (ImageJ, OME and plain TIFF, PNG, zarr, OME-Zarr, kernel files in
.npy, .tif and .mat, networks files) is written valid and small, then damaged as hypothesis draws:
truncated, bytes overwritten (biased toward headers and JSON metadata), or metadata made to disagree with
the data (TIFF tags, ImageJ and OME descriptions, PNG IHDR, zarr array metadata, OME-Zarr multiscales, .npy
headers, fields of a networks file). ``napari-zssr upscale IN OUT --dry-run`` then runs in-process on it
(the kernel or networks file through ``--kernel`` / ``--networks``, with a good input).

The contract, checked by ``check``: exit 0, or exit 2 whose stderr ends in ONE line
``napari-zssr: error: ...``; never the last resort (exit 1, "unexpected ..."), never a traceback, never a
crash of the process, each case done within CASE_SECONDS (a SIGALRM timer; a child still running after
KILL_SECONDS is killed), and at most PEAK_BYTES allocated while it runs (tracemalloc, which sees numpy's
buffers, in a second, untimed run) and no allocation failing under the address-space cap. A file whose
data was cut off, or whose own metadata declares data that is not in it (a TIFF or PNG cut inside its
pixel data, a deleted zarr chunk, ImageJ ``images=`` or OME ``SizeZ/C/T`` above the planes present, a
.npy header claiming more data than follows), must be refused, not accepted.

Each case runs in a forked child (where os.fork exists): a segmentation fault in a decoder is then that
case's failure, not the end of the run, and the child's address space is capped (cap_address_space) so
that an allocation sized by a number in a file fails at once instead of filling the machine's memory.
Tuning: ZSSR_FUZZ_EXAMPLES (cases per kind, 30), ZSSR_FUZZ_SHRINK=1 (shrink a failure; off for speed),
ZSSR_FUZZ_CASE_SECONDS, ZSSR_FUZZ_PEAK_MB, ZSSR_FUZZ_AS_MB, ZSSR_FUZZ_ISOLATE=0 (in-process: no
crash isolation and no address-space cap; for debugging one case only).

    python -m pytest -q -p no:cacheprovider tests/test_fuzz.py
    python benchmarks/fuzz.py --examples 2000                  # the same strategies at scale
    python -m tests.test_fuzz "Case('png', {...}, (...))" DIR  # write one case's files to DIR, run it (--debug)
"""

from __future__ import annotations

import os
import sys

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# benchmarks/fuzz.py draws and judges cases with cases() and check() from here too
from .fuzz.judge import build, cap_address_space, check, verdict
from .fuzz.strategies import cases
from .fuzz.valid import DRY, ERROR, EXAMPLES, KINDS, PEAK_BYTES, Case

# no shrinking unless asked (ZSSR_FUZZ_SHRINK=1): a case is already a small plain-data recipe, and shrinking a
# failure costs a minute of reruns; the first failing case of each kind is reported as drawn
PHASES = [p for p in Phase if p is not Phase.shrink or os.environ.get("ZSSR_FUZZ_SHRINK") == "1"]


FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=False,
                phases=PHASES, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data())
def test_a_damaged_input_is_accepted_or_refused_in_one_line(kind, data):
    case = data.draw(cases(kind), label="case")
    outcome = check(case)
    assert outcome.failure is None, outcome.report()


@pytest.mark.parametrize("kind", KINDS)
def test_the_valid_file_of_each_kind_is_accepted(kind):
    """The fuzzer's own files are valid: each kind, undamaged, is accepted (or the fuzzer is wrong)."""
    source = {"imagej": {"axes": "ZCYX", "dtype": "float32", "z": 2, "c": 2, "y": 13, "x": 17},
              "ome-tiff": {"axes": "CZYX", "dtype": "uint8", "z": 3, "c": 2, "y": 12, "x": 20},
              "tiff": {"axes": "YXS", "dtype": "uint8", "y": 20, "x": 14, "tile": True},
              "png": {"mode": "I;16", "y": 14, "x": 15},
              "zarr": {"format": 2, "ndim": 2, "dtype": "float32", "y": 20, "x": 21, "split": 2},
              "ome-zarr": {"format": 3, "axes": "CZYX", "dtype": "uint8", "z": 2, "c": 2, "y": 24, "x": 20,
                           "levels": 2, "omero": True},
              "networks": {}}.get(kind, {"size": 7, "sigma": 1.5, "dtype": "float64"})
    outcome = check(Case(kind, source, ("none",)))
    assert outcome.rc == 0 and outcome.failure is None, outcome.report()


def test_a_cut_tiff_is_judged_by_its_data():
    """The verdict itself: a TIFF cut inside its pixel data must be refused; accepting it is a failure."""
    assert verdict(0, "", 0.0, 0, "it was cut at byte 10, before the end of its data", False).startswith("accepted")
    assert verdict(1, f"{ERROR}unexpected KeyError while processing x", 0.0, 0, None, False).startswith("the last")
    assert verdict(2, f"warning: w\n{ERROR}bad file", 0.0, 0, "cut", False) is None
    assert verdict(2, "Traceback (most recent call last):\n" + ERROR + "x", 0.0, 0, None, False) == \
        "a traceback on stderr"
    assert verdict(0, "", 0.0, PEAK_BYTES + 1, None, False).startswith("memory")


def main(argv=None) -> int:
    """``python -m tests.test_fuzz "Case(...)" DIR``: write the case's files into DIR and run the command."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__)
        return 2
    case = eval(argv[0], {"Case": Case, "nan": float("nan"), "inf": float("inf")})  # noqa: S307 - a repr of ours
    folder = os.path.abspath(argv[1])
    os.makedirs(folder, exist_ok=True)
    _, what, refuse, run = build(case, folder)
    print(f"damage: {what}" + (f"\nmust be refused: {refuse}" if refuse else ""))
    print("command: napari-zssr " + " ".join(run))
    from napari_zssr.cli import main as cli

    cap_address_space()  # this process is the case's own: an allocation sized by the file fails at once
    return cli(run[:-len(DRY)] + ["--dry-run", "--debug", *DRY[1:]])


if __name__ == "__main__":
    sys.exit(main())
