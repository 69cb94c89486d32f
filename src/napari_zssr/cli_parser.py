"""The ``napari-zssr`` command's options: the parser of ``upscale`` and ``demo`` (every word the user types is
read by stack.choices; here only the options themselves)."""

from __future__ import annotations

import argparse

from . import __version__

LOG_EVERY_S = 10.0  # outside a terminal (a job's log, > log.txt): one plain line this often, not a bar's redraws
DEMO_PRESET = "fast"  # the demo's default: about 15 s on two CPU cores, where "paper" takes minutes
IN_STORE = "<store>"  # --uncertainty without FILE: in the zarr result's store


def _noise_std(text: str):
    from .stack.choices import parse_noise_std

    try:
        return parse_noise_std(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"at least 1, got {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="napari-zssr", description="Zero-Shot Super-Resolution for microscopy images.")
    ap.add_argument("--version", action="version", version=f"napari-zssr {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upscale", help="super-resolve a 2-D image (PNG, TIFF) or a stack (TIFF, zarr); an OUT "
                                        "ending in .zarr (.ome.zarr: OME-Zarr) is written as planes finish and "
                                        "a rerun resumes it")
    _upscale_options(up)
    _paper_options(up)
    _run_options(up)
    _common_options(up)
    dm = sub.add_parser("demo", help="make the bundled anisotropic stack isotropic, print a report and write a "
                                      "picture of its middle XZ plane (source and result side by side)")
    dm.add_argument("--out", help="folder for the result and its picture (default: a new temporary folder)")
    dm.add_argument("--open", action="store_true", help="then open the source and the result in napari (when "
                                                        "napari is installed)")
    _common_options(dm, preset=DEMO_PRESET)
    return ap


PRESET_HELP = ("settings (default: %(default)s): auto = paper on a CUDA GPU and on a CPU fast enough for a paper run "
               "in about two minutes (measured once per machine), fast otherwise; paper = the reference settings; "
               "gradual = paper + 6 gradual steps; real = noisy real images (noisy sons, no ensemble, no "
               "back-projection); fast = a narrower network on small crops, for CPUs")


def _common_options(p, preset: str = "auto") -> None:
    # the vocabularies are the engine's own, so the command offers exactly what the engine accepts
    from .core.config import PRECISIONS
    from .stack.choices import PRESET_CHOICES

    p.add_argument("--preset", default=preset, choices=PRESET_CHOICES, help=PRESET_HELP)
    p.add_argument("--device", default="auto", help="auto (a CUDA GPU where there is one, else Apple's MPS, else "
                                                    "the CPU), cpu, cuda, cuda:N or mps")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="the network's precision: auto = the fastest a short probe finds correct on the device")
    p.add_argument("--max-iters", type=int, default=None, metavar="N",
                   help="cap on training steps per scale step (the preset's own by default)")
    p.add_argument("--quiet", action="store_true", help="no progress (on a terminal a bar; in a log a line every "
                                                        f"{LOG_EVERY_S:g} s)")
    p.add_argument("--debug", action="store_true", help="print the traceback of an unexpected error")


def _upscale_options(up) -> None:
    """What to enlarge, by how much, in which mode."""
    from .stack.plan import MODES, PLANES

    up.add_argument("input", help="the image or stack: PNG, TIFF (ImageJ, OME), zarr / OME-Zarr")
    up.add_argument("output", help="the result: .tif, .png (one 2-D image), .zarr or .ome.zarr (written as units "
                                   "finish; a rerun resumes it)")
    up.add_argument("--scale", nargs="+", type=float, metavar="S",
                    help="2-D: factor(s) along y and x (--scale 2, --scale 2 1.5); stacks: one per axis or per "
                         "spatial axis (--scale 4 1 1 for z x4)")
    up.add_argument("--isotropic", action="store_true",
                    help="take the z factor from the voxel sizes (the file's, or --voxel-size): z step / pixel size")
    up.add_argument("--voxel-size", type=float, nargs="+", metavar="S",
                    help="the voxel size per spatial axis (Z Y X for a stack, Y X for a 2-D image) in --unit, for a "
                         "file without sizes or with wrong ones; e.g. --voxel-size 2 0.5 0.5 --unit um --isotropic")
    up.add_argument("--unit", help="the unit of --voxel-size: um (default), nm, micrometer, ...")
    up.add_argument("--axes", help="axes of the input if the file does not say, e.g. ZYX, CZYX, TZYX")
    up.add_argument("--mode", default="auto", choices=["auto", *MODES],
                    help="auto (default) follows the factors: planes when only y/x are enlarged (each 2-D plane), "
                         "isotropic when only z is (trained on the lateral planes, applied to XZ and YZ), both when "
                         "both are (planes, then isotropic)")
    up.add_argument("--planes", default="shared", choices=PLANES,
                    help="planes mode: one network per channel (shared) or one per plane")


def _paper_options(up) -> None:
    """The paper's run-time choices: the kernel, gradual steps, back-projection, noise on the sons."""
    up.add_argument("--axial-sigma", type=float, help="isotropic mode: Gaussian axial kernel, sigma in output-grid "
                                                      "pixels")
    up.add_argument("--psf-voxel-size", type=float, nargs="+", metavar="S",
                    help="voxel size (z y x) of a PSF given with --kernel")
    up.add_argument("--kernel", help="downscaling kernel: a name (cubic, linear, lanczos2, lanczos3, box), "
                                     "a .npy, .tif or .mat file, 'estimate' (read from the data: the 2-D kernel "
                                     "of the planes, the axial profile in isotropic mode) or 'optics' (the Gaussian "
                                     "PSF of the OME metadata's NA, emission wavelengths and immersion). Default: "
                                     "bicubic in 2-D and planes mode; in isotropic mode the axial profile read from "
                                     "the data (cubic where it cannot be read; --kernel cubic for the cubic always)")
    up.add_argument("--save-kernel", metavar="FILE", help="with --kernel estimate: save what was found (.npy or "
                                                          ".tif; FILE.cN.npy per channel for several) to pass on "
                                                          "with --kernel FILE")
    up.add_argument("--gradual-steps", type=int, help="number of gradual scale increases (paper: 6)")
    up.add_argument("--no-back-projection", action="store_true", help="switch back-projection off")
    up.add_argument("--noise-std", type=_noise_std, help="noise added to the LR sons (normalised units), e.g. "
                                                          "0.0125, or 'estimate' (read from the data)")
    up.add_argument("--seed", type=int, default=0, help="random seed of the training (default 0); the same seed, "
                                                       "settings, device and thread count give the same result")


def _run_options(up) -> None:
    """Where the result goes, where the run runs, and networks saved or applied."""
    from .stack.choices import DTYPE_LABELS

    up.add_argument("--dtype", default="same", choices=list(DTYPE_LABELS),
                    help="output type: same as the input (rounded, clipped) or float32 (TIFF only)")
    up.add_argument("--overwrite", action="store_true", help="replace an existing output file or store")
    up.add_argument("--scheduler", metavar="ADDRESS", help="run on this dask.distributed scheduler, e.g. "
                                                          "tcp://10.0.0.5:8786 (workers must see the output path)")
    up.add_argument("--workers", type=_positive_int, metavar="N",
                    help="run on a local dask cluster of N worker processes")
    up.add_argument("--dry-run", action="store_true", help="check the input, every setting and the output; print "
                                                           "the plan, preset, kernel, output size and about how long "
                                                           "the run would take; train and write nothing")
    up.add_argument("--save-networks", metavar="FILE", help="stacks: save the trained networks (one per channel) "
                                                            "to apply them to other files of the acquisition")
    up.add_argument("--networks", metavar="FILE", help="stacks: apply networks saved by --save-networks instead "
                                                       "of training (their settings are used)")
    up.add_argument("--uncertainty", nargs="?", const=IN_STORE, metavar="FILE",
                    help="also write, for every voxel, the expected absolute error of the result (float32 TIFF, "
                         "the result's shape and units) to FILE; a zarr result keeps it in its store's "
                         "'uncertainty' array (give --uncertainty without FILE)")
