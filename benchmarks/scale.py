"""Big stacks and clusters (issue 5): wall time and peak memory of upscale() in-process and on a
dask LocalCluster, and peak memory as the number of planes grows with zarr in and zarr out. Not a test.

    # the issue's full case (hours on 2 CPU cores with the "fast" preset)
    python benchmarks/scale.py
    # the reduced run recorded in docs/benchmarks.md (about 15 minutes on 2 CPU cores)
    python benchmarks/scale.py --planes 4 --grow-base 2 --set max_iters=30 min_iters=30 output_flip=false

(a) A synthetic 4-channel C x Z x 512 x 512 uint16 stack (Z = --planes, 32 for the issue's case):
blurred random blobs of several sizes on a background, with shot-like noise, seed --seed; planes
mode x2 (scale (1, 1, 2, 2), axes "CZYX"), read from a zarr array (one plane per chunk) and
written to a zarr store (``out=``, float32), once in-process and once on a LocalCluster of
--workers worker processes with threads_per_worker=1 (``client=``), each in a fresh Python process.
(b) One channel, Z x 512 x 512 with Z = --grow-base x 1, 4, 16 planes, in-process, zarr in and
zarr out: the driver's peak must not grow with Z, and stays far below the result's size.

What the numbers are:
- heap peak: the peak of the C heap in use (glibc mallinfo2 uordblks + hblkhd: numpy's and torch's
  CPU allocations alike) above its level right after the imports (torch, napari_zssr, zarr, and
  dask.distributed for the cluster run), sampled every 5 ms from a thread, as benchmarks/memory.py.
  In the cluster run the driver's figure includes the LocalCluster's scheduler (it lives in the
  driver process); each worker runs the same sampler in a thread of its own (started with
  ``client.run`` after the worker has imported torch and napari_zssr; the baseline is taken there).
- RSS peak: process resident set size (psutil), sampled every 5 ms from the driver, for the driver
  and for each worker process; it includes the interpreter, torch's and dask's libraries and the
  memory the allocator keeps, so it is far above the heap figure and is given for reference.
- seconds: the upscale() call alone (LocalCluster start-up and the workers' imports excluded, both
  reported apart). The dask nanny starts workers with OMP_NUM_THREADS=1, so each worker's torch
  uses one thread; the in-process run uses torch's default (all cores).

Rows are appended to benchmarks/results/scale.jsonl; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "scale.jsonl")
SIZE = 512  # pixels per side of a plane (--size)

sys.path.insert(0, HERE)
from common import PeakSampler, cpu_name  # noqa: E402 - the benchmarks folder is not a package


def _worker_start(dask_worker):
    """In a worker: import what the units use, then sample the heap above that baseline."""
    import torch

    import napari_zssr  # noqa: F401
    import napari_zssr.stack.units  # noqa: F401

    sys.path.insert(0, HERE)
    import scale  # this file as a module, so the sampler is not shipped by value

    torch.zeros(1).sum()
    dask_worker._zssr_sampler = scale.PeakSampler()
    dask_worker._zssr_sampler.start()
    return {"pid": os.getpid(), "torch_threads": torch.get_num_threads()}


def _worker_stop(dask_worker):
    return dask_worker._zssr_sampler.stop()


# --- data ------------------------------------------------------------------------------------

def synthetic_plane(seed: int, c: int, z: int, depth: int, size: int = SIZE):
    """One uint16 plane of a blob volume: Gaussian blobs (sigma 1.5-12 px, centres spread through
    the volume in z too, so neighbouring planes are alike) on a background, plus shot-like noise."""
    import numpy as np

    rng = np.random.default_rng([seed, c])  # the channel's blobs: the same for every plane
    k = 400
    cy, cx = rng.uniform(0, size, k), rng.uniform(0, size, k)
    cz = rng.uniform(-2, depth + 2, k)
    sig = np.exp(rng.uniform(np.log(1.5), np.log(12.0), k))
    amp = rng.uniform(0.2, 1.0, k) * (1.0 + 0.5 * c)
    sz = 2.0 * sig
    w = amp * np.exp(-0.5 * ((z - cz) / sz) ** 2)
    g = np.arange(size, dtype=np.float64)
    gy = np.exp(-0.5 * ((g[None, :] - cy[:, None]) / sig[:, None]) ** 2)  # (k, size)
    gx = np.exp(-0.5 * ((g[None, :] - cx[:, None]) / sig[:, None]) ** 2)
    img = (gy * w[:, None]).T @ gx  # sum over blobs of w * outer(gy, gx)
    signal = 100.0 + 2500.0 * img / max(1.0, float(img.max()))
    noise = np.random.default_rng([seed, c, z, 1]).standard_normal(signal.shape) * np.sqrt(signal) * 2.0
    return np.clip(np.round(signal + noise), 0, 65535).astype(np.uint16)


def make_input(path: str, channels: int, depth: int, seed: int, size: int = SIZE):
    """A zarr array (C, Z, Y, X), or (Z, Y, X) when channels == 0, one plane per chunk, filled plane by plane."""
    import zarr

    shape = ((channels,) if channels else ()) + (depth, size, size)
    z = zarr.open_array(path, mode="w", shape=shape, chunks=(1,) * (len(shape) - 2) + (size, size), dtype="uint16")
    for c in range(max(1, channels)):
        for k in range(depth):
            z[(c, k) if channels else k] = synthetic_plane(seed, c, k, depth, size)
    return z


# --- one case, in a fresh process -------------------------------------------------------------

def run_case(args) -> dict:
    import numpy as np
    import torch
    import zarr
    from common import parse_overrides

    from napari_zssr import ZSSRConfig
    from napari_zssr.stack.upscale import run_upscale

    if args.case == "dask":
        import distributed  # noqa: F401  (imported before the baseline, as torch is)
    torch.zeros(1).sum()  # the baseline is taken after torch's import-time allocations, as the design says
    sampler = PeakSampler()  # baseline: right after the imports

    overrides = parse_overrides(args.overrides)
    cfg = ZSSRConfig.preset(args.preset, device="cpu", **overrides)
    channels = args.channels if args.case != "grow" else 0
    t = time.perf_counter()
    src = make_input(os.path.join(args.tmp, f"in-{args.case}-{args.n}.zarr"), channels, args.n, args.seed,
                     args.size)
    make_s = time.perf_counter() - t
    scale, axes = ((1, 1, 2, 2), "CZYX") if channels else ((1, 2, 2), "ZYX")

    client = close = None
    info = {"case": args.case, "input": list(src.shape), "input_dtype": "uint16", "axes": axes, "scale": list(scale),
            "mode": "planes", "input_from": "zarr", "output_to": "zarr (float32)", "input_make_s": make_s}
    pids = []
    if args.case == "dask":
        from distributed import Client, LocalCluster

        t = time.perf_counter()
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        client.wait_for_workers(args.workers)
        started = client.run(_worker_start)
        info["cluster_start_s"] = time.perf_counter() - t
        info["workers"] = args.workers
        info["threads_per_worker"] = 1
        info["worker_torch_threads"] = sorted({v["torch_threads"] for v in started.values()})
        addr_of = {v["pid"]: a for a, v in started.items()}
        pids = list(addr_of)

        def close():
            client.close()
            cluster.close()
    info["driver_torch_threads"] = torch.get_num_threads()

    sampler.pids = [os.getpid()] + pids
    sampler.rss = {p: 0 for p in sampler.pids}
    sampler.start()
    t = time.perf_counter()
    out, rep = run_upscale(src, scale, axes=axes, mode="planes", config=cfg, client=client,
                           out=os.path.join(args.tmp, f"out-{args.case}-{args.n}.zarr"), overwrite=True)
    secs = time.perf_counter() - t
    peak = sampler.stop()
    info.update(seconds=secs, output=list(out.shape), result_float32_MB=float(np.prod(out.shape)) * 4 / 2**20,
                input_MB=float(np.prod(src.shape)) * 2 / 2**20, driver_heap_peak_MB=peak / 2**20,
                driver_rss_peak_MB=sampler.rss[os.getpid()] / 2**20, device=rep.device, plan=rep.plan,
                preset=cfg.preset_name, overrides=overrides, gain_db=rep.gain_db,
                train_s=[u.train_seconds for u in rep.units], steps=[u.steps for u in rep.units],
                zarr=zarr.__version__, torch=torch.__version__)
    if client is not None:
        import distributed

        heap = client.run(_worker_stop)
        info["worker_heap_peak_MB"] = [heap[addr_of[p]] / 2**20 for p in pids]
        info["worker_rss_peak_MB"] = [sampler.rss[p] / 2**20 for p in pids]
        info["distributed"] = distributed.__version__
        close()
    return info


# --- the driver: runs the cases, compares, records -------------------------------------------

def _child(args, case: str, n: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--case", case, "--n", str(n), "--tmp", args.tmp,
           "--preset", args.preset, "--channels", str(args.channels), "--workers", str(args.workers),
           "--seed", str(args.seed), "--size", str(args.size), "--set", *args.overrides]
    print(f"[scale] {case} n={n} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"case {case} n={n} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _same(path_a: str, path_b: str) -> float:
    """Largest absolute difference between two zarr results, read plane by plane."""
    import numpy as np
    import zarr

    a, b = zarr.open_array(path_a, mode="r"), zarr.open_array(path_b, mode="r")
    worst = 0.0
    for c in range(a.shape[0]):
        for z in range(a.shape[1]):
            worst = max(worst, float(np.max(np.abs(a[c, z].astype(np.float64) - b[c, z]))))
    return worst


def _fmt(x, nd=1):
    return f"{x:.{nd}f}"


def table(rows) -> str:
    lines = []
    ab = [r for r in rows if r["case"] in ("inproc", "dask")]
    if ab:
        lines += ["| run | seconds | driver heap peak MB | driver RSS peak MB | per-worker heap peak MB | "
                  "per-worker RSS peak MB | result MB |", "|---|---|---|---|---|---|---|"]
        for r in ab:
            name = "in-process" if r["case"] == "inproc" else \
                f"LocalCluster {r['workers']} workers x 1 thread (+{r['cluster_start_s']:.1f} s start-up)"
            wh = " / ".join(_fmt(v) for v in r.get("worker_heap_peak_MB", [])) or "-"
            wr = " / ".join(_fmt(v, 0) for v in r.get("worker_rss_peak_MB", [])) or "-"
            lines.append(f"| {name} {tuple(r['input'])} | {_fmt(r['seconds'])} | {_fmt(r['driver_heap_peak_MB'])} | "
                         f"{_fmt(r['driver_rss_peak_MB'], 0)} | {wh} | {wr} | {_fmt(r['result_float32_MB'], 0)} |")
        if len(ab) == 2:
            i, d = ab
            lines.append(f"\ndistributed / in-process wall time: **{d['seconds'] / i['seconds']:.2f}**; "
                         f"results identical: max |difference| = {d.get('max_abs_diff_vs_inproc', float('nan')):g}")
    grow = [r for r in rows if r["case"] == "grow"]
    if grow:
        base = grow[0]["input"][0]
        lines += ["", "| planes | input | seconds | driver heap peak MB | driver RSS peak MB | result MB | "
                      "peak / result |", "|---|---|---|---|---|---|---|"]
        for r in grow:
            lines.append(f"| {r['input'][0] // base}x ({r['input'][0]}) | {tuple(r['input'])} uint16 zarr | "
                         f"{_fmt(r['seconds'])} | {_fmt(r['driver_heap_peak_MB'])} | "
                         f"{_fmt(r['driver_rss_peak_MB'], 0)} "
                         f"| {_fmt(r['result_float32_MB'], 0)} | "
                         f"{r['driver_heap_peak_MB'] / r['result_float32_MB']:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    sys.path.insert(0, HERE)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[], help="ZSSRConfig overrides, key=value")
    ap.add_argument("--planes", type=int, default=32, help="(a): planes per channel (issue: 32)")
    ap.add_argument("--channels", type=int, default=4, help="(a): channels (issue: 4)")
    ap.add_argument("--workers", type=int, default=2, help="(a): LocalCluster worker processes")
    ap.add_argument("--grow-base", type=int, default=4, help="(b): planes of the 1x case")
    ap.add_argument("--grow", type=int, nargs="+", default=[1, 4, 16], help="(b): multiples of --grow-base")
    ap.add_argument("--only", choices=["a", "b"], help="run one part only")
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    ap.add_argument("--size", type=int, default=SIZE, help="pixels per side of a plane (issue: 512)")
    ap.add_argument("--json", default=RESULTS, help="append rows here ('' for none)")
    ap.add_argument("--note", default="", help="free text stored with the rows (e.g. the machine's load)")
    ap.add_argument("--case", choices=["inproc", "dask", "grow"], help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.case:  # a child: one case, one JSON line on stdout
        print(json.dumps(run_case(args)))
        return 0

    tmp = tempfile.mkdtemp(prefix="zssr-scale-")
    args.tmp = tmp
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    machine = {"cpu": cpu_name(), "cores": os.cpu_count(), "gpu": None, "python": platform.python_version()}
    rows = []
    t0 = time.perf_counter()
    try:
        if args.only in (None, "a"):
            rows.append(_child(args, "inproc", args.planes))
            rows.append(_child(args, "dask", args.planes))
            diff = _same(os.path.join(tmp, f"out-inproc-{args.planes}.zarr", "0"),
                         os.path.join(tmp, f"out-dask-{args.planes}.zarr", "0"))
            rows[-1]["max_abs_diff_vs_inproc"] = diff
            rows[-1]["seconds_ratio_vs_inproc"] = rows[-1]["seconds"] / rows[-2]["seconds"]
        if args.only in (None, "b"):
            for m in args.grow:
                rows.append(_child(args, "grow", args.grow_base * m))
                shutil.rmtree(os.path.join(tmp, f"out-grow-{args.grow_base * m}.zarr"), ignore_errors=True)
                shutil.rmtree(os.path.join(tmp, f"in-grow-{args.grow_base * m}.zarr"), ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - t0
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    argv_str = shlex.join(["python", "benchmarks/scale.py", *(argv if argv is not None else sys.argv[1:])])
    for r in rows:
        r.update(when=stamp, machine=machine, command=argv_str, note=args.note, loadavg_at_end=load)
    if args.json:
        with open(args.json, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    devices = ", ".join(sorted({f"{r['case']}: {r['device']}" for r in rows}))
    print(f"{argv_str}\n{machine['cpu']}, {machine['cores']} cores, no GPU; {devices}; "
          f"total {total:.0f} s; load average at end {load}\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
