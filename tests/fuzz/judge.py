"""Running one fuzz case through the command line's dry run and judging it: exit 0, or one line and exit 2;
never the last resort, a traceback, a crash, a hang or a big allocation."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import signal
import tempfile
import threading
import time
import tracemalloc

from ..cases import run_cli
from .damage import damage
from .valid import AS_HEADROOM, CASE_SECONDS, DRY, ERROR, PEAK_BYTES, Case, Outcome, make_valid


class CaseTimeout(BaseException):
    """Raised by the timer inside a case that runs too long (a BaseException: main() must not catch it)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """SIGALRM after ``seconds`` (on the main thread of a Unix process; elsewhere only the time is measured)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise CaseTimeout(f"still running after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_once(argv, traced: bool, alarm: float) -> tuple:
    """``main(argv)`` with stdout and stderr captured, timed, under a timer of ``alarm`` seconds and, when
    ``traced``, tracemalloc: (exit code or the exception that escaped, stderr, seconds, peak bytes above
    the start; 0 untraced)."""
    tracing = tracemalloc.is_tracing()
    if traced and not tracing:
        tracemalloc.start(1)
    elif traced:
        tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0] if traced else 0
    t = time.perf_counter()
    out = io.StringIO()
    try:
        with time_limit(alarm), contextlib.redirect_stdout(out):
            rc, err = run_cli(argv)
    except CaseTimeout as exc:
        rc, err = exc, ""
    except BaseException as exc:  # noqa: BLE001 - whatever escapes main() is the finding
        if isinstance(exc, KeyboardInterrupt):
            raise
        import traceback

        rc, err = exc, traceback.format_exc()
    finally:
        seconds = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] - base if traced else 0
        if traced and not tracing:
            tracemalloc.stop()
    return rc, err, seconds, peak


def run_measured(argv) -> tuple:
    """The dry run twice: timed (under the timer that makes a hang a failure), then under tracemalloc for
    its peak allocation (tracemalloc slows a run that makes millions of Python objects many times over, so
    it is not the run that is timed; cut off after a while, it gives the peak so far)."""
    rc, err, seconds, _ = run_once(argv, traced=False, alarm=2 * CASE_SECONDS)
    peak = 0
    if not isinstance(rc, BaseException) and seconds <= CASE_SECONDS:
        peak = run_once(argv, traced=True, alarm=2 * CASE_SECONDS)[3]
    return rc, err, seconds, peak


def verdict(rc, err: str, seconds: float, peak: int, refuse: str | None, valid: bool) -> str | None:
    """Why an outcome breaks the contract, or None."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    if isinstance(rc, CaseTimeout):
        return f"hang: {rc}"
    if isinstance(rc, BaseException):
        return f"{type(rc).__name__} escaped main(): {rc}"
    if "Traceback" in err:
        return "a traceback on stderr"
    if rc == 1:
        return f"the last resort (exit 1): {last}"
    if rc not in (0, 2):
        return f"exit {rc!r}: {last}"
    if rc == 2:
        if not last.startswith(ERROR):
            return f"exit 2 without a last line starting with {ERROR!r}: {last!r}"
        if re.match(rf"{ERROR}unexpected \w+ while processing", last):
            return f"exit 2 with the last resort's 'unexpected' error: {last}"
        if sum(ln.startswith(ERROR) for ln in lines) != 1:
            return "more than one error line"
    if rc == 2 and re.search(r"MemoryError|Unable to allocate|Cannot allocate memory", last):
        return f"memory: an allocation sized by the file failed ({AS_HEADROOM / 2**30:g} GB address-space " \
               f"headroom in an isolated case): {last}"
    if seconds > CASE_SECONDS:
        return f"slow: {seconds:.1f} s (the limit is {CASE_SECONDS:g} s)"
    if peak > PEAK_BYTES:
        return f"memory: {peak / 2**20:.0f} MB allocated at the peak (the limit is {PEAK_BYTES / 2**20:.0f} MB)"
    if rc == 0 and refuse:
        return f"accepted although {refuse}"
    if rc == 2 and valid:
        return f"a valid file was refused: {last}"
    return None


def build(case: Case, folder: str) -> tuple:
    """Write the case's damaged input into ``folder``: (Made, what was done, why it must be refused, argv)."""
    made = make_valid(case, folder)
    what, refuse = damage(case, made)
    argv = ["upscale", made.input, os.path.join(folder, "out.tif"), *made.argv, *DRY]
    return made, what, refuse, argv


# an RGB image trains one joint network of 3 channels: the dry run's time estimate measures its step apart
RGB_EXAMPLES = {"tiff": {"axes": "YXS", "dtype": "uint8", "y": 16, "x": 16}, "png": {"mode": "RGB", "y": 16, "x": 16}}


@functools.lru_cache(maxsize=None)
def warm(kind: str) -> None:
    """Valid runs of the kind, untimed, in this process before any case forks: imports (torch, zarr, codecs),
    the networks file's training, and the training steps the dry run's time estimate measures (a gray and,
    where the kind holds RGB, a joint RGB network), which a forked child must not run: torch's CPU thread pool
    (GNU OpenMP) hangs in a child forked after the parent used it."""
    if kind in RGB_EXAMPLES:
        _warm_run(kind, RGB_EXAMPLES[kind])
    example = {"imagej": {"axes": "ZYX", "dtype": "uint16", "z": 2, "c": 2, "y": 16, "x": 16},
               "ome-tiff": {"axes": "ZYX", "dtype": "uint16", "z": 2, "c": 2, "y": 16, "x": 16},
               "tiff": {"axes": "ZYX", "dtype": "uint16", "z": 2, "y": 16, "x": 16, "compression": "zlib"},
               "png": {"mode": "L", "y": 16, "x": 16},
               "zarr": {"format": 3, "ndim": 3, "dtype": "uint16", "z": 2, "y": 16, "x": 16, "split": 1},
               "ome-zarr": {"format": 2, "axes": "ZYX", "dtype": "uint16", "z": 2, "y": 16, "x": 16,
                            "levels": 1},
               "networks": {}}.get(kind, {"size": 5, "sigma": 1.0, "dtype": "float32"})
    _warm_run(kind, example)


def _warm_run(kind: str, example: dict) -> None:
    with tempfile.TemporaryDirectory(prefix="zssr-fuzz-") as tmp:
        _, _, _, argv = build(Case(kind, example, ("none",)), tmp)
        with contextlib.redirect_stdout(io.StringIO()):
            run_cli(argv)


def check(case: Case, isolate: bool | None = None) -> Outcome:
    """Write the case, run the dry run on it, and judge: an Outcome whose ``failure`` says what broke.

    With ``isolate`` (the default where os.fork exists; ZSSR_FUZZ_ISOLATE=0 turns it off) the case runs in
    a forked child, so that a reader that kills the process (a segmentation fault in a decoder) or hangs
    in C code, where no timer reaches it, is a failure of that case rather than the end of the run."""
    warm(case.kind)
    if isolate is None:
        isolate = ISOLATE
    with tempfile.TemporaryDirectory(prefix="zssr-fuzz-") as tmp:
        return _in_child(case, tmp) if isolate else _check(case, tmp)


ISOLATE = hasattr(os, "fork") and os.environ.get("ZSSR_FUZZ_ISOLATE", "1") != "0"


KILL_SECONDS = 4 * CASE_SECONDS + 20  # a child still running then is killed: a hang no timer could stop


def cap_address_space() -> None:
    """In an isolated case's child only: its address space capped at what it has plus AS_HEADROOM, so
    that an allocation sized by a number in the file fails at once (MemoryError) instead of filling the
    machine's memory. Process-wide, hence never in the process that runs the tests."""
    try:
        import resource

        with open("/proc/self/status") as f:
            vm = next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith("VmSize:"))
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = vm + AS_HEADROOM
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, OSError, ValueError, StopIteration):  # not Linux: the tracemalloc bound only
        pass


def _check(case: Case, tmp: str) -> Outcome:
    made, what, refuse, argv = build(case, tmp)
    rc, err, seconds, peak = run_measured(argv)
    failure = verdict(rc, err, seconds, peak, refuse, case.corruption == ("none",))
    return _outcome(case, tmp, what, argv, rc, err, seconds, peak, failure)


def _outcome(case, tmp, what, argv, rc, err, seconds, peak, failure) -> Outcome:
    failure = failure.replace(tmp, "<tmp>") if failure else None
    clean = [a.replace(tmp, "<tmp>") for a in argv]
    return Outcome(case, what.replace(tmp, "<tmp>"), clean, rc if not isinstance(rc, BaseException) else None,
                   err.replace(tmp, "<tmp>"), seconds, peak, failure)


def _in_child(case: Case, tmp: str) -> Outcome:
    """``_check`` in a forked child, its Outcome pickled back through a pipe; a child that dies or hangs
    is judged here."""
    import pickle
    import select

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, never runs the parent's exit handlers
        code = 0
        try:
            os.close(read)
            cap_address_space()
            try:
                payload = ("outcome", _check(case, tmp))
            except BaseException:  # noqa: BLE001 - the fuzzer's own error, raised again in the parent
                import traceback

                payload = ("error", traceback.format_exc())
            with os.fdopen(write, "wb") as f:
                f.write(pickle.dumps(payload))
        except BaseException:  # noqa: BLE001
            code = 3
        finally:
            os._exit(code)
    os.close(write)
    chunks, t, killed = [], time.monotonic(), False
    with os.fdopen(read, "rb") as f:
        while True:
            left = KILL_SECONDS - (time.monotonic() - t)
            ready, _, _ = select.select([f], [], [], max(left, 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
            chunk = os.read(f.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    seconds = time.monotonic() - t
    if chunks and not killed:
        kind, value = pickle.loads(b"".join(chunks))
        if kind == "error":
            raise RuntimeError(f"the fuzzer failed on {case!r}:\n{value}")
        return value
    # the child died or hung before answering: the damage is written again (not run) to describe it
    with tempfile.TemporaryDirectory(prefix="zssr-fuzz-") as again:
        _, what, _, argv = build(case, again)
        argv = [a.replace(again, tmp) for a in argv]
        what = what.replace(again, tmp)
    if killed:
        failure = f"hang: killed after {KILL_SECONDS:g} s (a timer inside could not stop it)"
    elif os.WIFSIGNALED(status):
        failure = f"crash: the process died of {signal.Signals(os.WTERMSIG(status)).name}"
    else:
        failure = f"crash: the process exited {os.WEXITSTATUS(status)} without an outcome"
    return _outcome(case, tmp, what, argv, None, "", seconds, 0, failure)
