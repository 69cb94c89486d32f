"""The ``napari-zssr`` command: ``upscale`` files and run the bundled ``demo``."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import tempfile
import time
import warnings

import numpy as np

from . import __version__
from .cli_parser import DEMO_PRESET, IN_STORE, LOG_EVERY_S, build_parser  # noqa: F401 - the command's names


class ProgressDisplay:
    """The run's progress on stderr from its first second, as one line of words over the whole run
    (stack.progress_words.Overall): on a terminal one bar that never starts over; elsewhere a plain line at
    most every LOG_EVERY_S seconds, as a bar's carriage returns would fill a log with updates."""

    def __init__(self, quiet: bool = False):
        from .stack.progress_words import Overall

        self.quiet, self.overall, self.bar = quiet, Overall(), None
        self.t0, self.last = time.perf_counter(), -float("inf")

    def __call__(self, p: dict) -> None:
        if self.quiet:
            return
        fraction, words = self.overall.update(p)
        if sys.stderr.isatty():
            self._draw(fraction, words)
        else:
            self._log(fraction, words)

    def _draw(self, fraction: float, words: str) -> None:
        from tqdm import tqdm

        if self.bar is None:  # the words last, so that a long stage name does not squeeze the bar
            self.bar = tqdm(total=1000, desc=words, file=sys.stderr, leave=False,
                            bar_format="{percentage:3.0f}%|{bar:20}| {elapsed}<{remaining} {desc}")
        # drawn at every event: the engine calls at most twice a second (and at each stage's start), where
        # tqdm's own throttle could skip the words of a short stage
        self.bar.n = int(round(1000 * fraction))
        self.bar.set_description_str(words, refresh=False)
        self.bar.refresh()

    def _log(self, fraction: float, words: str) -> None:
        now = time.perf_counter()
        if now - self.last < LOG_EVERY_S:
            return
        self.last = now
        elapsed = now - self.t0
        # time left from the share done: meaningless in the first few percent (the probes and the reading count
        # as elapsed), so it is said only after that
        left = f", about {_clock(elapsed * (1 - fraction) / fraction)} left" if 0.05 <= fraction < 1 else ""
        print(f"napari-zssr: {100 * fraction:3.0f}% [{_clock(elapsed)} elapsed{left}] {words}", file=sys.stderr,
              flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour."""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _training(args):
    """The training settings from the options (the demo's namespace has only some of them)."""
    from .stack.choices import Training

    return Training(preset=args.preset, device=args.device, precision=getattr(args, "precision", "auto"),
                    seed=getattr(args, "seed", 0), max_steps=args.max_iters,
                    gradual_steps=getattr(args, "gradual_steps", None),
                    back_projection=not getattr(args, "no_back_projection", False),
                    noise_std=getattr(args, "noise_std", None))


def _kernel_choice(args):
    """--kernel or --axial-sigma; never both, where one would silently win."""
    kernel, sigma = args.kernel, getattr(args, "axial_sigma", None)
    if kernel is not None and sigma is not None:
        raise ValueError("give --kernel or --axial-sigma, not both (--axial-sigma is a Gaussian axial kernel)")
    return kernel if sigma is None else float(sigma)


def _sizes(img):
    """The file's voxel sizes, where it gives one for every spatial axis."""
    from .stack.choices import Sizes

    spatial = [a for a in "ZYX" if a in img.axes]
    if img.pixel_size and all(a in img.pixel_size for a in spatial):
        return Sizes({a: float(img.pixel_size[a]) for a in spatial}, img.unit)
    return Sizes.none("the file has none (give them with --voxel-size Z Y X --unit um, or the z factor with --scale)")


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
        _give_sizes(args, img)
        return _upscale(args, img, to_zarr)
    finally:
        close = getattr(img, "close", None)  # a lazily read file is closed when the run is over
        if close is not None:
            close()


def _give_sizes(args, img) -> None:
    """--voxel-size (with --unit) given to the image, replacing the file's: the run, --isotropic and the
    result's metadata then all see them."""
    values, unit = getattr(args, "voxel_size", None), getattr(args, "unit", None)
    if values is None:
        if unit is not None:
            raise ValueError(f"--unit {unit} names the unit of --voxel-size; give --voxel-size too")
        return
    sizes = given_sizes(values, unit, img.axes)
    img.pixel_size, img.unit = dict(sizes.sizes), sizes.unit


def given_sizes(values, unit, axes: str):
    """stack.choices.Sizes from --voxel-size (one size per spatial axis of ``axes``, in its order) and --unit
    (a length unit in any spelling io.units reads; micrometres when none is named)."""
    import math

    from .io.units import length_unit
    from .stack.choices import Sizes

    spatial = [a for a in axes if a in "ZYX"]
    if len(values) != len(spatial):
        raise ValueError(f"--voxel-size takes one size per spatial axis ({len(spatial)}: {' '.join(spatial)}); "
                         f"got {len(values)}")
    bad = [v for v in values if not (math.isfinite(v) and v > 0)]
    if bad:
        raise ValueError(f"--voxel-size: sizes are positive numbers, got {bad[0]:g}")
    symbol = length_unit("um" if unit is None else unit)
    if symbol is None:
        raise ValueError(f"--unit {unit!r} is not a length unit: give e.g. um, nm, micrometer")
    return Sizes(dict(zip(spatial, (float(v) for v in values))), symbol)


def _write_result(args, img, result, factors, report):
    from .core.checks import cast_result
    from .stack.choices import result_dtype

    _write_beside(args.output, cast_result(result, result_dtype(args.dtype, img.data.dtype)), args, img, factors,
                  report)


def _write_uncertainty(args, img, report, factors) -> None:
    _write_beside(args.uncertainty, np.asarray(report.uncertainty, np.float32), args, img, factors, report)


def _write_beside(path, data, args, img, factors, report) -> None:
    """``data`` on the result's grid written to ``path``: the source's axes and channels, its voxel sizes
    divided by the factors, the run's provenance."""
    from .io import ImageData, write_image
    from .stack.report_text import provenance

    sizes = {a: v / factors.get(a, 1.0) for a, v in img.pixel_size.items()}
    write_image(path, ImageData(data, img.axes, sizes, img.unit, _channels(img)), overwrite=args.overwrite,
                provenance=provenance(report, factors=factors, source=args.input))


def _channels(img) -> dict:
    """The source's channel names and colours, carried to the result's metadata."""
    return {k: img.metadata[k] for k in ("channel_names", "channel_colors") if img.metadata.get(k)}


def _factors(args, img, sizes) -> list:
    """One factor per axis from --scale (per axis, or per spatial axis) and --isotropic."""
    from .stack.choices import factors_per_axis, isotropic_factors

    factors = factors_per_axis(args.scale, img.axes, "--scale") if args.scale else [1.0] * len(img.axes)
    if not getattr(args, "isotropic", False):
        return factors
    return isotropic_factors(factors, img.axes, sizes, "--isotropic", "the file's")


def _upscale(args, img, to_zarr: bool = False) -> dict:
    """Every file takes one path, upscale(): an RGB image (S) is trained jointly, channels (C) one by one."""
    from .stack.upscale import run_upscale

    checked = _check_before_running(args, img, to_zarr)
    plan, kwargs = checked.plan, checked.kwargs
    if getattr(args, "dry_run", False):
        return _dry_run(args, img, checked)
    from .stack.choices import config_factory

    display = ProgressDisplay(args.quiet)
    client, disconnect = _client(args)
    t = time.perf_counter()
    try:
        out, report = run_upscale(img.data, plan.scale, axes=img.axes, mode=getattr(args, "mode", "auto"),
                                  config=config_factory(_training(args), client), callback=display,
                                  planes=getattr(args, "planes", "shared"), client=client, source=args.input,
                                  **kwargs)
    finally:
        display.close()
        disconnect()
    if not to_zarr:
        _write_result(args, img, out, dict(zip(img.axes, plan.scale)), report)
        if getattr(args, "uncertainty", None):
            _write_uncertainty(args, img, report, dict(zip(img.axes, plan.scale)))
    saved = []
    if getattr(args, "save_kernel", None):
        from .io.kernels import write_kernels

        saved = write_kernels(args.save_kernel, report.estimated_kernel, args.overwrite)
    return {"saved_kernels": saved, "input": args.input, "output": args.output, "in_shape": img.data.shape,
            "out_shape": out.shape, "seconds": time.perf_counter() - t, "report": report,
            "applied": bool(getattr(args, "networks", None)), "unit": img.unit}


@dataclasses.dataclass(frozen=True)
class Checked:
    """A run's settings once every check passed: the plan, upscale()'s keywords, and what --dry-run tells."""

    plan: object
    kwargs: dict
    kernel: object  # stack.choices.KernelSettings
    sizes: object   # stack.choices.Sizes
    shape: tuple    # the result's
    dtype: np.dtype


def _check_before_running(args, img, to_zarr: bool) -> Checked:
    """Every setting and path checked before any probe or training (each check is the engine's own or the
    shared parser's, stack.choices): the plan, the sizes, the kernel, the output and the files saved beside
    it."""
    from .core.checks import check_output_size
    from .stack.blocks import result_shape, shape5_of
    from .stack.choices import config_factory, kernel_settings, result_dtype
    from .stack.plan import make_plan

    data, axes = img.data, img.axes
    sizes = _sizes(img)
    plan = make_plan(data.shape, _factors(args, img, sizes), axes, getattr(args, "mode", "auto"), None,
                     getattr(args, "planes", "shared"))
    shape = result_shape(data.shape, plan)
    check_output_size(shape, "upscale")
    dtype = result_dtype(args.dtype, data.dtype)
    shape5 = shape5_of(data.shape, axes)
    kernel = kernel_settings(_kernel_choice(args), plan, shape5[2], sizes,
                             psf_voxel_size=getattr(args, "psf_voxel_size", None), metadata=img.metadata,
                             channels=shape5[0])
    if _check_output(args, shape, dtype) == "png":
        from .io.images import check_png

        check_png(axes, dtype, shape)  # the writer's own rule, asked before the run instead of after it
    _check_saved_files(args, data, axes, plan, kernel.kind)
    _check_uncertainty_file(args, to_zarr, shape)
    config_factory(_training(args))  # the training settings, refused now rather than after the input pass
    kwargs = {**kernel.kwargs, **sizes.kwargs(axes), "networks": getattr(args, "networks", None),
              "save_networks": getattr(args, "save_networks", None)}
    if to_zarr:
        kwargs.update(out=args.output, dtype=dtype, channel_meta=_channels(img))
    if to_zarr or kwargs["save_networks"]:
        kwargs["overwrite"] = args.overwrite
    if getattr(args, "uncertainty", None):
        kwargs["return_uncertainty"] = True
    return Checked(plan, kwargs, kernel, sizes, tuple(shape), dtype)


def _check_uncertainty_file(args, to_zarr: bool, shape) -> None:
    """--uncertainty: a TIFF beside a TIFF or PNG result, the store's own array beside a zarr one."""
    path = getattr(args, "uncertainty", None)
    if path is None:
        return
    if to_zarr:
        if path != IN_STORE:
            raise ValueError("a zarr result keeps its uncertainty in its store ('uncertainty' array): give "
                             "--uncertainty without a file")
        return
    if path == IN_STORE:
        raise ValueError(f"--uncertainty needs a file for a {os.path.splitext(args.output)[1] or 'file'} result, "
                         f"e.g. --uncertainty error.tif")
    from .io.outputs import check_output

    if os.path.abspath(path) in (os.path.abspath(args.output), os.path.abspath(args.input)):
        raise ValueError(f"--uncertainty {path} is the input or the output; give another file")
    if check_output(path, int(np.prod(shape, dtype=np.float64)) * 4) != "tiff":
        raise ValueError(f"--uncertainty {path}: the uncertainty is float32, written as TIFF (.tif)")
    if os.path.exists(path) and not args.overwrite:
        raise FileExistsError(f"{path} exists; add --overwrite to replace it")


def _check_output(args, shape, dtype) -> str:
    from .io.outputs import check_output

    return check_output(args.output, int(np.prod(shape, dtype=np.float64)) * dtype.itemsize)


def _check_saved_files(args, data, axes, plan, kernel_kind: str) -> None:
    """--save-kernel, --save-networks and --networks: paths and content, before the run, not after it."""
    from .io.outputs import check_writable_folder

    save_kernel = getattr(args, "save_kernel", None)
    if save_kernel:
        from .io.kernels import check_kernel_paths, kernel_paths

        if kernel_kind != "estimate":
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


def _dry_run(args, img, checked: Checked) -> dict:
    """What the run would do, after every check it would make: the plan, the preset (what "auto" means on this
    machine, and why), the kernel, the output's size and about how long it would take. Nothing is trained or
    written; the preset and precision probes time a few steps of a throwaway network, once per machine."""
    from .core.device import resolve_device
    from .core.precision import resolve_precision
    from .stack.blocks import shape5_of
    from .stack.timing import TimeEstimate, estimate_time

    plan, shape5 = checked.plan, shape5_of(img.data.shape, img.axes)
    cfg, preset = _dry_run_config(args)
    device = resolve_device(cfg.device)
    cfg, _ = resolve_precision(cfg, device, shape5[0] if plan.joint else 1)
    estimate = estimate_time(plan, shape5, cfg, device)
    if getattr(args, "networks", None):  # applied, not trained
        estimate = TimeEstimate(0.0, estimate.infer_s, 0)
    nbytes = int(np.prod(checked.shape, dtype=np.float64)) * checked.dtype.itemsize
    return {"dry_run": True, "input": args.input, "output": args.output, "in_shape": img.data.shape,
            "out_shape": checked.shape, "plan": plan.describe(), "preset": preset, "precision": cfg.precision,
            "kernel": _kernel_words(checked, shape5[2], shape5[0]), "dtype": checked.dtype, "bytes": nbytes,
            "estimate": estimate}


def _dry_run_config(args) -> tuple:
    """(the config the run would train with, its preset in words)."""
    if getattr(args, "networks", None):
        from .stack import networks as nets

        cfg = nets.config_of(nets.load_networks(args.networks), args.device)
        return cfg, f"{cfg.preset_name} (the saved networks' own settings)"
    from .stack.choices import config_factory

    cfg = config_factory(_training(args), None)()
    if not cfg.chosen_because:
        return cfg, cfg.preset_name
    where = " on this machine; a cluster's workers decide on their own devices" if _cluster(args) else ""
    return cfg, f"{cfg.preset_name} (auto{where}: {cfg.chosen_because})"


def _cluster(args) -> bool:
    return bool(getattr(args, "scheduler", None) or getattr(args, "workers", None))


def _kernel_words(checked: Checked, n_planes: int, channels: int = 1) -> str:
    """Each stage's kernel as the run will take it (stack.kernel_choice), in words."""
    from .stack.kernel_choice import stage_kernels

    kw, plan = checked.kernel.kwargs, checked.plan
    vs = checked.sizes.per_axis(plan.axes) if checked.sizes.known else None
    lateral, axial, _ = stage_kernels(kw.get("kernel"), plan, vs, kw.get("psf_voxel_size"), n_planes,
                                      unit=checked.sizes.unit, channels=channels)
    parts = []
    for what, k in (("2-D", lateral), ("axial", axial)):
        if k is None:
            continue
        if k.pending and not k.per_channel:  # the optics' kernels are known, and only compared with the data
            name = "read from the data when the run starts" + ("" if k.asked else " (the cubic where it cannot be)")
        else:
            name = k.name
        parts.append(f"{what} {name}")
    note = f"; {checked.kernel.note}" if checked.kernel.note else ""
    return "; ".join(parts) + note


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
    from .stack.report_text import summary

    if res.get("dry_run"):
        return _dry_run_text(res)
    return summary(res["report"], source=res["input"], target=res["output"], in_shape=res["in_shape"],
                   out_shape=res["out_shape"], seconds=res["seconds"], saved_kernels=res.get("saved_kernels", ()),
                   applied=res.get("applied", False), unit=res.get("unit"))


def _dry_run_text(res) -> str:
    from .io import is_zarr_path

    return "\n".join([
        f"{res['input']} {tuple(res['in_shape'])} -> {res['output']} {tuple(res['out_shape'])}",
        f"  plan: {res['plan']}",
        f"  preset: {res['preset']}; precision {res['precision']}",
        f"  kernel: {res['kernel']}",
        f"  output: {tuple(res['out_shape'])} {res['dtype']}, {res['bytes']} bytes ({_bytes(res['bytes'])}"
        f"{', before compression' if is_zarr_path(res['output']) else ''})",
        f"  time: {res['estimate'].words()}",
        "  dry run: every input, setting and path was checked; nothing was trained or written"])


def _bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def demo(args) -> dict:
    """The bundled anisotropic stack made isotropic, and a picture of its middle XZ plane beside the result."""
    from .io import sample_path

    src = sample_path("nuclei_aniso")
    out_dir = args.out or tempfile.mkdtemp(prefix="napari-zssr-demo-")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "nuclei_isotropic.tif")
    ns = argparse.Namespace(input=src, output=out, scale=None, isotropic=True, preset=args.preset, kernel=None,
                            device=args.device, precision=args.precision, overwrite=True, dtype="same",
                            quiet=args.quiet, max_iters=args.max_iters)
    why = ("the demo's default, for about a minute or less on two CPU cores; --preset auto for what this machine "
           "would use" if args.preset == DEMO_PRESET else "as asked")
    print(f"napari-zssr {__version__} demo: making the bundled anisotropic stack {os.path.basename(src)} (15 x 128 "
          f"x 128) isotropic (z step 1.16 um -> 0.26 um), preset {args.preset} ({why})", flush=True)
    res = upscale_file(ns)
    res["picture"] = _demo_picture(src, out)
    res["open"] = [src, out] if args.open else None
    return res


def _demo_picture(src: str, out: str) -> str:
    """The middle XZ plane of the source (stretched along z) and of the result, side by side, beside it."""
    from .io import read_image
    from .io.preview_png import write_xz_comparison

    with read_image(src) as source, read_image(out) as result:
        z_factor = source.pixel_size["Z"] / result.pixel_size["Z"]
        return write_xz_comparison(source.data, result.data, z_factor, os.path.splitext(out)[0] + "_xz.png")


def open_in_napari(paths, viewer=None):
    """Open ``paths`` (through this plugin's reader, so that voxel sizes become scales and the layers overlay)
    in ``viewer`` or a new one, showing the XZ plane through the middle; None where napari is not installed."""
    try:
        import napari
    except ImportError:
        return None
    viewer = viewer if viewer is not None else napari.Viewer(title="napari-zssr demo")
    for path in paths:
        viewer.open(path, plugin="napari-zssr")
    viewer.dims.order = (1, 0, 2)  # y on the slider: z down, x across, as in the picture
    y = viewer.dims.range[1]
    viewer.dims.set_point(1, (y.start + y.stop) / 2)
    return viewer


def _open(paths) -> None:
    """--open: the demo's source and result in napari, or one line saying why not."""
    try:
        viewer = open_in_napari(paths)
    except Exception as exc:  # noqa: BLE001 - no display, a broken Qt: the result is written all the same
        print(f"napari-zssr: --open: napari could not open a window ({_one_line(exc)}); the files are written",
              file=sys.stderr)
        return
    if viewer is None:
        print("napari-zssr: --open: napari is not installed (pip install \"napari-zssr[napari]\"); skipped",
              file=sys.stderr)
        return
    import napari

    napari.run()


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
    if res.get("picture"):
        print(f"  picture of the middle XZ plane (source stretched along z, result): {res['picture']}")
    if res.get("open"):
        _open(res["open"])
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
