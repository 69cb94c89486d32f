"""The input fuzzer of tests/test_fuzz.py at scale: damaged files of every input kind through the command
line's dry run, counted per kind. Not a test; exits 1 when any case broke the contract.

    python benchmarks/fuzz.py --examples 2000            # spread over the kinds, random seed
    python benchmarks/fuzz.py --examples 400 --seed 1 --kinds png zarr --keep /tmp/fuzz-failures

The contract, the strategies and the judging are the test's (tests/fuzz/: ``cases`` and ``check``): exit 0, or
exit 2 ending in one line ``napari-zssr: error: ...``; no traceback, no last resort (exit 1), each case in
a few seconds and a bounded allocation; a file whose data is cut off or missing is refused. Failures are
not shrunk here (the test does that): each is printed with the case's repr, which rebuilds it:
``python -m tests.test_fuzz "<repr>" DIR`` writes its files to DIR and runs the command with --debug.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # tests/ is a package of the repository root


def run_kind(kind: str, n: int, seed: int | None, outcomes: list, log=None) -> None:
    """``n`` cases of ``kind`` drawn by hypothesis (generation only, no shrinking), each checked and kept;
    each case's repr is written to ``log`` (flushed) before it runs, so that a crash of the process
    (a segmentation fault in a decoder) leaves the case that caused it as the log's last line."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seeded

    from tests.fuzz.judge import check
    from tests.fuzz.strategies import cases

    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate], print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(case=cases(kind))
    def fuzz(case):
        if log is not None:
            log.write(f"{case!r}\n")
            log.flush()
        outcomes.append(check(case))  # never raises: every outcome is counted, failures too

    if seed is not None:
        fuzz = seeded(seed)(fuzz)
    fuzz()


def main(argv=None) -> int:
    from tests.fuzz.judge import build
    from tests.fuzz.valid import CASE_SECONDS, KINDS, PEAK_BYTES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=500, help="cases in all, spread evenly over the kinds")
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    ap.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    ap.add_argument("--keep", metavar="DIR", help="write each failing case's files to DIR/<n>/ to reproduce")
    ap.add_argument("--log", metavar="FILE", help="write each case's repr to FILE before running it (to find the "
                                                 "case of a crash)")
    ap.add_argument("--verbose", action="store_true", help="also count per corruption within each kind")
    args = ap.parse_args(argv)

    per_kind = max(1, args.examples // len(args.kinds))
    print(f"napari-zssr input fuzzer: {per_kind} cases per kind x {len(args.kinds)} kinds, seed "
          f"{args.seed if args.seed is not None else 'random'}; a case must end within {CASE_SECONDS:g} s and "
          f"allocate at most {PEAK_BYTES / 2**20:.0f} MB", flush=True)
    t_all = time.perf_counter()
    outcomes = []
    rows = []
    log = open(args.log, "w") if args.log else None
    for kind in args.kinds:
        start, t = len(outcomes), time.perf_counter()
        run_kind(kind, per_kind, args.seed, outcomes, log)
        mine = outcomes[start:]
        counts = collections.Counter(o.status for o in mine)
        rows.append((kind, len(mine), counts["accepted"], counts["refused"], counts["failure"],
                     time.perf_counter() - t, max((o.seconds for o in mine), default=0.0),
                     max((o.peak for o in mine), default=0)))
        print(f"  {kind:<11} {len(mine):5d} cases  {counts['accepted']:5d} accepted  {counts['refused']:5d} refused  "
              f"{counts['failure']:4d} failed  ({rows[-1][5]:.1f} s)", flush=True)
        if args.verbose:
            by = collections.defaultdict(collections.Counter)
            for o in mine:
                by[o.label][o.status] += 1
            for label in sorted(by):
                c = by[label]
                print(f"      {label:<34} {sum(c.values()):4d}: {c['accepted']} accepted, {c['refused']} refused, "
                      f"{c['failure']} failed")

    failures = [o for o in outcomes if o.failure]
    print(f"\n{'kind':<11} {'cases':>6} {'accepted':>9} {'refused':>8} {'failed':>7} {'seconds':>8} "
          f"{'slowest':>8} {'peak MB':>8}")
    for kind, n, acc, ref, fail, secs, slowest, peak in rows:
        print(f"{kind:<11} {n:6d} {acc:9d} {ref:8d} {fail:7d} {secs:8.1f} {slowest:8.3f} {peak / 2**20:8.1f}")
    total = collections.Counter(o.status for o in outcomes)
    print(f"{'all':<11} {len(outcomes):6d} {total['accepted']:9d} {total['refused']:8d} {total['failure']:7d} "
          f"{time.perf_counter() - t_all:8.1f}")

    if failures:
        print(f"\n{len(failures)} failure(s):")
        for i, o in enumerate(failures):
            print(f"\n[{i}] {o.case.kind} / {o.label}: {o.failure}\n    case: {o.case!r}\n    damage: {o.what}\n"
                  f"    last stderr line: {o.last_line or '(none)'}")
            if args.keep:
                folder = os.path.join(os.path.abspath(args.keep), str(i))
                os.makedirs(folder, exist_ok=True)
                build(o.case, folder)
                print(f"    files kept in {folder}")
        distinct = collections.Counter((o.case.kind, o.label, _gist(o)) for o in failures)
        print(f"\n{len(distinct)} distinct failure(s) (kind, corruption, what broke):")
        for (kind, label, gist), n in sorted(distinct.items()):
            print(f"  {n:4d} x {kind} / {label}: {gist}")
    return 1 if failures else 0


def _gist(outcome) -> str:
    """The failure without the file names and numbers that differ from case to case."""
    import re

    text = re.sub(r"/\S*zssr-fuzz-\w+", "<tmp>", outcome.failure)
    text = re.sub(r"<tmp>/\S+", "<file>", text)
    return re.sub(r"\d+", "N", text)[:160]


if __name__ == "__main__":
    sys.exit(main())
