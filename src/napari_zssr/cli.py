"""The ``napari-zssr`` command: ``upscale`` files and run the bundled ``demo``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import warnings

import numpy as np

from . import __version__


def _progress_bar(quiet: bool):
    """A callback with one tqdm bar per network being trained (several at once on a cluster) and one
    for the planes or slabs applied; a network's bar closes when its training ends."""
    from tqdm import tqdm

    bars = {}

    def bar_for(key, total, desc, unit):
        if key not in bars:
            bars[key] = tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr, position=len(bars))
        return bars[key]

    def callback(p):
        if quiet:
            return
        net = f"network {p['unit']}/{p['units']} " if "units" in p else ""
        stage = p.get("stage")
        if stage == "train" and p.get("total"):
            bar = bar_for((p.get("unit"), p.get("scale_step"), "train"), p["total"],
                          f"{net}train {p.get('scale_step', 1)}/{p.get('scale_steps', 1)}", "step")
            bar.update(p["step"] - bar.n)
            if "loss" in p and "learning_rate" in p:
                bar.set_postfix(loss=f"{p['loss']:.4f}", lr=f"{p['learning_rate']:.0e}")
        elif stage == "infer" and p.get("todo"):
            bar = bar_for("infer", p["todo"], "apply", p.get("unit_kind", "unit"))
            bar.update(p["done"] - bar.n)

    def close():
        for bar in bars.values():
            bar.close()
        bars.clear()

    return callback, close


def _config(args, client=None):
    import torch

    from .core.config import ZSSRConfig
    from .core.device import resolve_device
    from .core.precision import auto_preset_name

    if client is not None:  # the workers' devices count, not this machine's
        from .stack.runners import worker_device

        dev = torch.device(worker_device(client, args.device))
    else:
        dev = resolve_device(args.device)
    preset = args.preset if args.preset != "auto" else auto_preset_name(dev)
    over = {"device": args.device, "seed": args.seed, "precision": getattr(args, "precision", "auto")}
    if args.gradual_steps is not None:
        over["gradual_steps"] = args.gradual_steps
    if args.no_back_projection:
        over["back_projection_iters"] = 0
    if args.noise_std is not None:
        over["noise_std"] = args.noise_std
    cfg = ZSSRConfig.preset(preset, **over)
    return cfg if args.max_iters is None else cfg.with_max_iters(args.max_iters)


def _kernel(spec, axial_sigma=None):
    """--kernel (a file that exists or has an extension, else a name the engine checks) or --axial-sigma;
    never both, where one would silently win."""
    if spec is not None and axial_sigma is not None:
        raise ValueError("give --kernel or --axial-sigma, not both (--axial-sigma is a Gaussian axial kernel)")
    if axial_sigma is not None:
        return float(axial_sigma)
    if spec is None:
        return None
    if os.path.isfile(spec) or os.path.splitext(spec)[1]:
        from .io import read_kernel

        return read_kernel(spec)
    return spec


def upscale_file(args) -> dict:
    from .io import is_zarr_path, read_image
    from .io.outputs import check_output_type
    from .stack.store import check_not_input

    check_output_type(args.output)  # what can be told from the names alone, before the input is read
    check_not_input(args.output, args.input)
    to_zarr = is_zarr_path(args.output)
    # a zarr output decides for itself: the same job's store is resumed or returned, another is refused
    if not to_zarr and os.path.exists(args.output) and not args.overwrite:
        raise FileExistsError(f"{args.output} exists; add --overwrite to replace it")
    img = read_image(args.input, lazy=to_zarr)
    try:
        if getattr(args, "axes", None):
            if len(args.axes) != img.data.ndim:
                raise ValueError(f"--axes {args.axes} has {len(args.axes)} letters; {args.input} has {img.data.ndim} "
                                 f"axes (shape {img.data.shape}, read as {img.axes})")
            img.axes = args.axes.upper()
        return _upscale(args, img, to_zarr)
    finally:
        close = getattr(img, "close", None)  # a lazily read file is closed when the run is over
        if close is not None:
            close()


def _write_result(args, img, result, factors, report):
    from .core.checks import cast_result
    from .io import ImageData, write_image

    out_dtype = img.data.dtype if args.dtype == "same" else np.dtype(args.dtype)
    if np.issubdtype(out_dtype, np.floating):
        out_dtype = np.float32
    sizes = {a: v / factors.get(a, 1.0) for a, v in img.pixel_size.items()}
    provenance = {"software": f"napari-zssr {__version__}", "factors": factors, "preset": report.preset,
                  "device": report.device, "kernel": report.kernel, "seed": args.seed}
    write_image(args.output, ImageData(cast_result(result, out_dtype), img.axes, sizes, img.unit, _channels(img)),
                overwrite=args.overwrite, provenance=provenance)


def _channels(img) -> dict:
    """The source's channel names and colours, carried to the result's metadata."""
    return {k: img.metadata[k] for k in ("channel_names", "channel_colors") if img.metadata.get(k)}


def stack_factors(axes: str, shape, scale, isotropic: bool, pixel_size: dict) -> tuple:
    """One factor per axis from --scale (per axis, or per spatial axis) and --isotropic."""
    spatial = [a for a in axes if a in "ZYX"]
    factors = {a: 1.0 for a in axes}
    if scale and len(scale) == 1 and spatial == ["Y", "X"]:
        scale = list(scale) * 2  # a 2-D image: one factor means both axes, as in the 2-D path
    if scale:
        if len(scale) == len(axes):
            factors = dict(zip(axes, scale))
        elif len(scale) == len(spatial):
            factors.update(zip(spatial, scale))
        else:
            raise ValueError(f"--scale takes one factor per axis ({len(axes)}, axes {axes}) or per spatial axis "
                             f"({len(spatial)}, {''.join(spatial)}); got {len(scale)}")
    if isotropic:
        if "Z" not in axes:
            raise ValueError(f"--isotropic needs a Z axis; the data has axes {axes}")
        if "Z" not in pixel_size or "X" not in pixel_size:
            raise ValueError("--isotropic needs the file's z step and pixel size; the file has none "
                             "(give --scale with the z factor instead)")
        lateral = pixel_size["X"] / factors.get("X", 1.0)
        factors["Z"] = pixel_size["Z"] / lateral
        if factors["Z"] <= 1:
            raise ValueError(f"the z step ({pixel_size['Z']:g}) is not coarser than the pixel size ({lateral:g}): "
                             "the stack is already isotropic")
    return tuple(float(factors[a]) for a in axes)


def _upscale(args, img, to_zarr: bool = False) -> dict:
    """Every file takes one path, upscale(): an RGB image (S) is trained jointly, channels (C) one by one."""
    from .stack.upscale import run_upscale

    data, axes = img.data, img.axes
    factors = stack_factors(axes, data.shape, args.scale, getattr(args, "isotropic", False), img.pixel_size)
    kernel = _kernel(args.kernel, getattr(args, "axial_sigma", None))
    vs = None
    if img.pixel_size and all(a in img.pixel_size for a in "ZYX" if a in axes):
        vs = [img.pixel_size.get(a, 1.0) for a in axes]
    extra = {"networks": getattr(args, "networks", None), "save_networks": getattr(args, "save_networks", None)}
    if to_zarr:
        extra["channel_meta"] = _channels(img)
        dtype = img.data.dtype if args.dtype == "same" else np.float32
        extra.update(out=args.output, unit=img.unit, dtype=np.float32 if np.issubdtype(dtype, np.floating) else dtype)
    if to_zarr or extra["save_networks"]:
        extra["overwrite"] = args.overwrite
    save_kernel = getattr(args, "save_kernel", None)
    plan = _check_before_running(args, img, factors, kernel, vs)
    if getattr(args, "dry_run", False):
        return _dry_run(args, img, plan)
    callback, close = _progress_bar(args.quiet)
    client, disconnect = _client(args)
    t = time.perf_counter()
    try:
        out, report = run_upscale(data, factors, axes=axes, mode=getattr(args, "mode", "auto"), kernel=kernel,
                                  config=lambda: _config(args, client), callback=callback,
                                  planes=getattr(args, "planes", "shared"), voxel_size=vs,
                                  psf_voxel_size=getattr(args, "psf_voxel_size", None), client=client,
                                  source=args.input, **extra)
    finally:
        close()
        disconnect()
    if not to_zarr:
        _write_result(args, img, out, dict(zip(axes, factors)), report)
    saved = []
    if save_kernel:
        from .io.kernels import write_kernels

        saved = write_kernels(save_kernel, report.estimated_kernel, args.overwrite)
    return {"saved_kernels": saved, "input": args.input, "output": args.output, "in_shape": data.shape,
            "out_shape": out.shape, "seconds": time.perf_counter() - t, "report": report}


def _check_before_running(args, img, factors, kernel, vs):
    """Every setting and path checked before any probe or training (each check is the engine's own): the
    plan, the sizes, the kernel, the output and the files saved beside it. Returns the plan."""
    from .core.checks import check_output_size
    from .stack.blocks import result_shape
    from .stack.plan import make_plan

    data, axes = img.data, img.axes
    plan = make_plan(data.shape, factors, axes, getattr(args, "mode", "auto"), None, getattr(args, "planes", "shared"))
    shape = result_shape(data.shape, plan)
    check_output_size(shape, "upscale")
    dtype = _out_dtype(args, img)
    _check_kernel(args, plan, kernel, vs, data.shape)
    if _check_output(args, shape, dtype) == "png":
        from .io.images import check_png

        check_png(axes, dtype, shape)  # the writer's own rule, asked before the run instead of after it
    _check_saved_files(args, data, axes, plan, kernel)
    return plan


def _out_dtype(args, img):
    dtype = img.data.dtype if args.dtype == "same" else np.dtype(args.dtype)
    return np.dtype(np.float32) if np.issubdtype(dtype, np.floating) else np.dtype(dtype)


def _check_output(args, shape, dtype) -> str:
    from .io.outputs import check_output

    return check_output(args.output, int(np.prod(shape, dtype=np.float64)) * dtype.itemsize)


def _check_kernel(args, plan, kernel, vs, shape) -> None:
    """The kernels the run will use for its mode, built here (as the run builds them) so that a bad one is
    refused before the run starts, also by --dry-run."""
    from .stack.blocks import shape5_of
    from .stack.spec import stage_kernels

    stage_kernels(kernel, plan, vs, getattr(args, "psf_voxel_size", None), shape5_of(shape, plan.axes)[2])


def _check_saved_files(args, data, axes, plan, kernel) -> None:
    """--save-kernel, --save-networks and --networks: paths and content, before the run, not after it."""
    from .io.outputs import check_writable_folder

    save_kernel = getattr(args, "save_kernel", None)
    if save_kernel:
        from .core.zssr import is_estimate
        from .io.kernels import check_kernel_paths, kernel_paths

        if not is_estimate(kernel):
            raise ValueError("--save-kernel saves what --kernel estimate finds; add --kernel estimate")
        n = data.shape[axes.index("C")] if "C" in axes else 1
        check_kernel_paths(save_kernel, n, args.overwrite)
        for p in kernel_paths(save_kernel, n):
            check_writable_folder(p)
    save_networks = getattr(args, "save_networks", None)
    if save_networks:
        check_writable_folder(save_networks)
        if os.path.exists(save_networks) and not args.overwrite:
            raise FileExistsError(f"{save_networks} exists; add --overwrite to replace it")
    if getattr(args, "networks", None):
        from .stack import networks as nets

        nets.check_fits(nets.load_networks(args.networks), plan, plan_channels(plan, data.shape), args.networks)


def plan_channels(plan, shape) -> int:
    from .stack.blocks import shape5_of

    return shape5_of(shape, plan.axes)[0]


def _dry_run(args, img, plan) -> dict:
    """What the run would do, after every check it would make; nothing is trained or written."""
    from .stack.blocks import result_shape

    shape = result_shape(img.data.shape, plan)
    return {"dry_run": True, "input": args.input, "output": args.output, "in_shape": img.data.shape,
            "out_shape": shape, "plan": plan.describe(), "preset": args.preset, "kernel": args.kernel or "default"}


def _client(args):
    """A dask client for --scheduler or --workers, and how to let it go; (None, no-op) for in-process."""
    scheduler, workers = getattr(args, "scheduler", None), getattr(args, "workers", None)
    if not scheduler and not workers:
        return None, lambda: None
    if scheduler and workers:
        raise ValueError("give --scheduler (an existing cluster) or --workers (a local one), not both")
    from .stack.runners import connect

    return connect(scheduler, workers)


def _summary(res) -> str:
    from .core.quality import gain_words

    if res.get("dry_run"):
        return (f"{res['input']} {tuple(res['in_shape'])} -> {res['output']} {tuple(res['out_shape'])}\n"
                f"  {res['plan']}; preset {res['preset']}, kernel {res['kernel']}\n"
                f"  dry run: every input, setting and path was checked; nothing was trained or written")
    rep = res["report"]
    what, units = rep.plan, rep.units
    train_s = sum(u.train_seconds for u in units)
    infer_s = sum(u.infer_seconds for u in units)
    steps = [s for u in units for s in u.steps]
    notes = list(dict.fromkeys(list(rep.notes) + [n for u in units for n in u.notes]))
    return "\n".join([
        f"{res['input']} {tuple(res['in_shape'])} -> {res['output']} {tuple(res['out_shape'])}",
        f"  {what}; preset {rep.preset}, kernel {rep.kernel}, precision {rep.precision}" + _probe_text(rep),
        f"  device {rep.device}; {res['seconds']:.1f} s (training {train_s:.1f} s, inference {infer_s:.1f} s); "
        f"steps {steps}",
        f"  internal gain over cubic {gain_words(rep.gain_held_out)}: {rep.gain_db:+.2f} dB"
        if rep.gain_db == rep.gain_db
        else "  internal gain over cubic: not measured (no network was trained in this run)",
    ] + _axial_check_lines(rep) + _estimate_lines(rep, res.get("saved_kernels", ())) + [f"  note: {n}" for n in notes])


def _axial_check_lines(rep) -> list:
    """The isotropic result's axial spectrum against its lateral one, per channel (core.quality)."""
    excess = [e for e in getattr(rep, "axial_excess_db", []) if np.isfinite(e)]
    if not excess:
        return []
    from .core.quality import AXIAL_EXCESS_DB

    values = ", ".join(f"{e:+.1f}" for e in rep.axial_excess_db)
    verdict = "over-sharpened" if max(excess) > AXIAL_EXCESS_DB else "not over-sharpened"
    return [f"  axial spectrum against lateral: {values} dB ({verdict}; the bar is +{AXIAL_EXCESS_DB:g} dB)"]


def _estimate_lines(rep, saved=()) -> list:
    """What kernel="estimate" found, per channel, and where it was saved."""
    lines = []
    found = [("", getattr(rep, "estimated_sigma", []), getattr(rep, "estimated_fwhm", []),
              getattr(rep, "estimated_fwhm_physical", []), getattr(rep, "estimated_kernel", []))]
    found.append(("lateral_", getattr(rep, "estimated_lateral_sigma", []), getattr(rep, "estimated_lateral_fwhm", []),
                  getattr(rep, "estimated_lateral_fwhm_physical", []), getattr(rep, "estimated_lateral_kernel", [])))
    for prefix, sigmas, fwhms, physical, kernels in found:
        for c, (sigma, fwhm) in enumerate(zip(sigmas, fwhms)):
            phys = (physical or [None] * (c + 1))[c]
            what = "2-D kernel" if np.ndim(sigma) or prefix else "axial profile"
            if c < len(kernels) and isinstance(kernels[c], str):
                lines.append(f"  estimated {what}, channel {c}: bicubic kept "
                             "(the note below says why; nothing to save)")
                continue
            if np.ndim(sigma) and not np.isfinite(sigma[0]) or not np.ndim(sigma) and not np.isfinite(sigma):
                lines.append(f"  {what}, channel {c}: not estimated (the default was used)")
                continue
            where = f" ({_pair(phys)} in the voxel sizes' unit)" if phys is not None else ""
            axes = " (y x)" if np.ndim(sigma) else ""
            lines.append(f"  estimated {what}, channel {c}: sigma {_pair(sigma)} px, FWHM {_pair(fwhm)} px{axes}"
                         f"{where} on the output grid")
    lines += [f"  estimated kernel saved to {p}" for p in saved]
    return lines


def _pair(v) -> str:
    return " x ".join(f"{x:.3g}" for x in np.atleast_1d(v))


def _probe_text(rep) -> str:
    times = (getattr(rep, "precision_probe", None) or {}).get("times")
    if not times:
        return ""
    return " (probe: " + ", ".join(f"{p} {1000 * t:.0f} ms/step" for p, t in times.items()) + ")"


def demo(args) -> dict:
    from .io import sample_path

    src = sample_path("nuclei_aniso")
    out_dir = args.out or tempfile.mkdtemp(prefix="napari-zssr-demo-")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "nuclei_isotropic.tif")
    ns = argparse.Namespace(input=src, output=out, scale=None, isotropic=True, axes=None, mode="auto",
                            planes="shared", axial_sigma=None, psf_voxel_size=None, preset=args.preset, kernel=None,
                            gradual_steps=None, no_back_projection=False, noise_std=None, seed=0, device=args.device,
                            precision=args.precision,
                            overwrite=True, dtype="same", quiet=args.quiet, max_iters=args.max_iters)
    print(f"napari-zssr {__version__} demo: making the bundled anisotropic stack {os.path.basename(src)} "
          "isotropic (z step 1.16 um -> 0.26 um)")
    return upscale_file(ns)


def _noise_std(text: str):
    if text == "estimate":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number or 'estimate', got {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"at least 1, got {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    # the vocabularies are the engine's own, so the command offers exactly what the engine accepts
    from .core.config import PRECISIONS, PRESETS
    from .stack.plan import MODES, PLANES

    ap = argparse.ArgumentParser(prog="napari-zssr", description="Zero-Shot Super-Resolution for microscopy images.")
    ap.add_argument("--version", action="version", version=f"napari-zssr {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--preset", default="auto", choices=["auto", *PRESETS],
                       help="settings: auto = paper on a CUDA GPU, fast otherwise")
        p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
        p.add_argument("--precision", default="auto", choices=PRECISIONS,
                       help="the network's precision: auto = the fastest a short probe finds correct on the device")
        p.add_argument("--max-iters", type=int, default=None, help="cap on training steps per scale step")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.add_argument("--debug", action="store_true", help="print the traceback of an unexpected error")

    up = sub.add_parser("upscale", help="super-resolve a 2-D image (PNG, TIFF) or a stack (TIFF, zarr); an OUT "
                                        "ending in .zarr (.ome.zarr: OME-Zarr) is written as planes finish and "
                                        "a rerun resumes it")
    up.add_argument("input")
    up.add_argument("output")
    up.add_argument("--scale", nargs="+", type=float, metavar="S",
                    help="2-D: factor(s) along y and x (--scale 2, --scale 2 1.5); stacks: one per axis or per "
                         "spatial axis (--scale 4 1 1 for z x4)")
    up.add_argument("--isotropic", action="store_true",
                    help="take the z factor from the file's voxel sizes (z step / pixel size)")
    up.add_argument("--axes", help="axes of the input if the file does not say, e.g. ZYX, CZYX, TZYX")
    up.add_argument("--mode", default="auto", choices=["auto", *MODES])
    up.add_argument("--planes", default="shared", choices=PLANES,
                    help="planes mode: one network per channel (shared) or one per plane")
    up.add_argument("--axial-sigma", type=float, help="isotropic mode: Gaussian axial kernel, sigma in output-grid "
                                                      "pixels")
    up.add_argument("--psf-voxel-size", type=float, nargs="+", metavar="S",
                    help="voxel size (z y x) of a PSF given with --kernel")
    up.add_argument("--kernel", help="downscaling kernel: a name (cubic, linear, lanczos2, lanczos3, box), "
                                     "a .npy, .tif or .mat file, or 'estimate' (read from the data: the 2-D kernel "
                                     "of the planes, the axial profile in isotropic mode). Default: bicubic in 2-D "
                                     "and planes mode; in isotropic mode the axial profile read from the data "
                                     "(cubic where it cannot be read; --kernel cubic for the cubic always)")
    up.add_argument("--save-kernel", metavar="FILE", help="with --kernel estimate: save what was found (.npy or "
                                                          ".tif; FILE.cN.npy per channel for several) to pass on "
                                                          "with --kernel FILE")
    up.add_argument("--gradual-steps", type=int, help="number of gradual scale increases (paper: 6)")
    up.add_argument("--no-back-projection", action="store_true", help="switch back-projection off")
    up.add_argument("--noise-std", type=_noise_std, help="noise added to the LR sons (normalised units), e.g. "
                                                          "0.0125, or 'estimate' (read from the data)")
    up.add_argument("--seed", type=int, default=0)
    up.add_argument("--dtype", default="same", choices=["same", "float32"],
                    help="output type: same as the input (rounded, clipped) or float32 (TIFF only)")
    up.add_argument("--overwrite", action="store_true", help="replace an existing output file or store")
    up.add_argument("--scheduler", metavar="ADDRESS", help="run on this dask.distributed scheduler, e.g. "
                                                          "tcp://10.0.0.5:8786 (workers must see the output path)")
    up.add_argument("--workers", type=_positive_int, metavar="N",
                    help="run on a local dask cluster of N worker processes")
    up.add_argument("--dry-run", action="store_true", help="check the input, every setting and the output, say "
                                                           "what would be done; train and write nothing")
    up.add_argument("--save-networks", metavar="FILE", help="stacks: save the trained networks (one per channel) "
                                                            "to apply them to other files of the acquisition")
    up.add_argument("--networks", metavar="FILE", help="stacks: apply networks saved by --save-networks instead "
                                                       "of training (their settings are used)")
    common(up)

    dm = sub.add_parser("demo", help="run ZSSR on the bundled sample and print a report")
    dm.add_argument("--out", help="folder for the result (default: a new temporary folder)")
    common(dm)
    return ap


INTERRUPTED = 130  # main()'s code for Ctrl-C (128 + SIGINT, what a shell shows)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "upscale" and not args.scale and not args.isotropic:
        print("napari-zssr: error: give --scale (or --isotropic for a stack with voxel sizes)", file=sys.stderr)
        return 2
    # every warning of the run reaches the user, also those raised before an error
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = demo(args) if args.command == "demo" else upscale_file(args)
        except (ValueError, TypeError, OSError, ConnectionError, MemoryError) as exc:
            print_warnings(caught)
            print(f"napari-zssr: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print_warnings(caught)
            print(f"napari-zssr: interrupted; {_what_was_kept(args)}", file=sys.stderr)
            return INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - the last resort: one line, the traceback only when asked
            print_warnings(caught)
            if args.debug:
                import traceback

                traceback.print_exc()
            what = getattr(args, "input", None) or "the demo"
            print(f"napari-zssr: error: unexpected {type(exc).__name__} while processing {what}: {_one_line(exc)} "
                  f"(run with --debug for the traceback, and please report it)", file=sys.stderr)
            return 1
    print_warnings(caught)
    print(_summary(res))
    return 0


def _one_line(exc) -> str:
    """An error's text on one line (a message of several lines keeps its first and says more follows)."""
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    return lines[0] + (" [...]" if len(lines) > 1 else "")


def print_warnings(caught) -> None:
    """The run's own warnings (the UserWarning and RuntimeWarning kinds), each once; libraries'
    deprecation notices are not the user's business."""
    seen = set()
    for w in caught:
        if not issubclass(w.category, (UserWarning, RuntimeWarning)):
            continue
        kind = "warning" if w.category is UserWarning else f"warning ({w.category.__name__})"
        line = f"{kind}: {w.message}"
        if line not in seen:
            seen.add(line)
            print(line, file=sys.stderr)


def _what_was_kept(args) -> str:
    """What an interrupted run leaves: a zarr output keeps its finished units to resume; files are written
    only when complete."""
    from .io import is_zarr_path

    out = getattr(args, "output", None)
    if out and is_zarr_path(out):
        partial = os.path.abspath(out).rstrip("/\\") + ".partial"
        if os.path.exists(partial):
            return (f"the units finished so far are kept in {partial}; run the same command again to resume, "
                    f"or remove it")
    return "nothing was written"


def run(argv=None) -> int:
    """The command's entry point. After Ctrl-C the process dies of SIGINT, as Unix programs do, so that a
    shell running it in a loop stops too (a child that exits 130 tells bash it handled the interrupt).
    Exiting 130 would not even be reliable: CPython kills itself with SIGINT anyway when the interrupt
    landed inside a library's exec() of generated code (dataclasses, during torch's lazy imports)."""
    code = main(argv)
    if code == INTERRUPTED and hasattr(signal, "SIGINT") and os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return code


if __name__ == "__main__":
    sys.exit(run())
