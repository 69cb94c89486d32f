"""The ``napari-zssr`` command: ``upscale`` files and run the bundled ``demo``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings

import numpy as np

from . import __version__


def _progress_bar(quiet: bool):
    """A callback that drives a tqdm bar per scale step; returns (callback, close)."""
    from tqdm import tqdm

    state = {"bar": None, "key": None}

    def callback(p):
        if quiet:
            return None
        key = (p.get("scale_step"), p.get("stage"))
        if p.get("stage") == "train":
            if state["key"] != key:
                if state["bar"] is not None:
                    state["bar"].close()
                desc = f"train {p.get('scale_step')}/{p.get('scale_steps')}"
                state["bar"] = tqdm(total=p["total"], desc=desc, unit="step", leave=False, file=sys.stderr)
                state["key"] = key
            bar = state["bar"]
            bar.update(p["step"] - bar.n)
            bar.set_postfix(loss=f"{p['loss']:.4f}", lr=f"{p['learning_rate']:.0e}")
        elif p.get("stage") == "infer" and state["key"] != key:
            if state["bar"] is not None:
                state["bar"].close()
                state["bar"] = None
            state["key"] = key
            print(f"  inference (ensemble + back-projection), scale step {p.get('scale_step')}", file=sys.stderr)
        return None

    def close():
        if state["bar"] is not None:
            state["bar"].close()

    return callback, close


def _config(args):
    from .core.config import ZSSRConfig
    from .core.device import auto_preset_name, resolve_device

    dev = resolve_device(args.device)
    preset = args.preset if args.preset != "auto" else auto_preset_name(dev)
    over = {"device": args.device, "seed": args.seed}
    if args.gradual_steps is not None:
        over["gradual_steps"] = args.gradual_steps
    if args.no_back_projection:
        over["back_projection_iters"] = 0
    if args.noise_std is not None:
        over["noise_std"] = args.noise_std
    if args.max_iters is not None:
        over["max_iters"] = args.max_iters
        over["min_iters"] = min(args.max_iters, ZSSRConfig.preset(preset).min_iters)
    return ZSSRConfig.preset(preset, **over)


def _kernel(spec):
    if spec is None:
        return None
    if os.path.splitext(spec)[1]:
        from .io import read_kernel

        return read_kernel(spec)
    return spec  # a kernel name, checked by the engine


def upscale_file(args) -> dict:
    from .core.zssr import run_zssr
    from .io import ImageData, cast_result, read_image, write_image

    if os.path.exists(args.output) and not args.overwrite:
        raise FileExistsError(f"{args.output} exists; add --overwrite to replace it")
    img = read_image(args.input)
    data = img.data
    if img.axes not in ("YX", "YXS"):
        raise ValueError(f"{args.input} has axes {img.axes} {data.shape}; this command takes 2-D images (YX or RGB)")
    scale = tuple(args.scale) * (2 if len(args.scale) == 1 else 1)
    cfg = _config(args)
    callback, close = _progress_bar(args.quiet)
    t = time.perf_counter()
    try:
        sr, report = run_zssr(data, scale, kernel=_kernel(args.kernel), config=cfg,
                              channel_axis=-1 if data.ndim == 3 else None, callback=callback)
    finally:
        close()
    out_dtype = data.dtype if args.dtype == "same" else np.dtype(args.dtype)
    if np.issubdtype(out_dtype, np.floating):
        out_dtype = np.float32
    sizes = {a: v / scale[0 if a == "Y" else 1] for a, v in img.pixel_size.items() if a in "YX"}
    write_image(args.output, ImageData(cast_result(sr, out_dtype), img.axes, sizes, img.unit), overwrite=args.overwrite)
    return {"input": args.input, "output": args.output, "in_shape": data.shape, "out_shape": sr.shape,
            "seconds": time.perf_counter() - t, "report": report}


def _summary(res) -> str:
    rep = res["report"]
    lines = [
        f"{res['input']} {tuple(res['in_shape'])} -> {res['output']} {tuple(res['out_shape'])}",
        f"  scale {rep.scale[0]:g} x {rep.scale[1]:g}, preset {rep.preset}, kernel {rep.kernel}, seed {rep.seed}",
        f"  device {rep.device}; {res['seconds']:.1f} s (training {rep.train_seconds:.1f} s, "
        f"inference {rep.infer_seconds:.1f} s); steps {rep.steps}",
        f"  internal gain over cubic on the image's own LR->HR pair: {rep.gain_db:+.2f} dB",
    ]
    return "\n".join(lines)


def demo(args) -> dict:
    from ._sample_data import sample_path

    src = sample_path("cell_2d")
    out_dir = args.out or tempfile.mkdtemp(prefix="napari-zssr-demo-")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "cell_2d_x2.tif")
    ns = argparse.Namespace(input=src, output=out, scale=[2.0, 2.0], preset=args.preset, kernel=None,
                            gradual_steps=None, no_back_projection=False, noise_std=None, seed=0,
                            device=args.device, overwrite=True, dtype="same", quiet=args.quiet,
                            max_iters=args.max_iters)
    print(f"napari-zssr {__version__} demo: ZSSR x2 on the bundled sample {os.path.basename(src)}")
    return upscale_file(ns)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="napari-zssr", description="Zero-Shot Super-Resolution for microscopy images.")
    ap.add_argument("--version", action="version", version=f"napari-zssr {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--preset", default="auto", choices=["auto", "paper", "gradual", "real", "fast"],
                       help="settings: auto = paper on a CUDA GPU, fast otherwise")
        p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
        p.add_argument("--max-iters", type=int, default=None, help="cap on training steps per scale step")
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    up = sub.add_parser("upscale", help="super-resolve a 2-D PNG or TIFF")
    up.add_argument("input")
    up.add_argument("output")
    up.add_argument("--scale", nargs="+", type=float, required=True, metavar="S",
                    help="factor(s) along y and x, e.g. --scale 2 or --scale 2 1.5")
    up.add_argument("--kernel", help="downscaling kernel: a name (cubic, linear, lanczos2, lanczos3, box) "
                                     "or a .npy, .tif or .mat file")
    up.add_argument("--gradual-steps", type=int, help="number of gradual scale increases (paper: 6)")
    up.add_argument("--no-back-projection", action="store_true", help="switch back-projection off")
    up.add_argument("--noise-std", type=float, help="noise added to the LR sons (normalised units), e.g. 0.0125")
    up.add_argument("--seed", type=int, default=0)
    up.add_argument("--dtype", default="same", choices=["same", "float32"],
                    help="output type: same as the input (rounded, clipped) or float32 (TIFF only)")
    up.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    common(up)

    dm = sub.add_parser("demo", help="run ZSSR on the bundled sample and print a report")
    dm.add_argument("--out", help="folder for the result (default: a new temporary folder)")
    common(dm)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "upscale" and len(args.scale) not in (1, 2):
        print(f"napari-zssr: error: --scale takes 1 or 2 factors (y, x), got {len(args.scale)}", file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = demo(args) if args.command == "demo" else upscale_file(args)
        for w in caught:
            if issubclass(w.category, UserWarning):
                print(f"warning: {w.message}", file=sys.stderr)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, OSError) as exc:
        print(f"napari-zssr: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("napari-zssr: interrupted; nothing was written", file=sys.stderr)
        return 130
    print(_summary(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
