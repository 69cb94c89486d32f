"""The CLI's --kernel optics: the Gaussian PSF of an OME-TIFF's own NA, immersion and emission wavelengths, per
channel; a file that lacks one is refused (exit 2) with the value and where OME keeps it named."""

import tifffile

from napari_zssr.cli import main

from .io.test_ome_optics import _write

FAST = ["--max-iters", "6", "--preset", "fast", "--quiet", "--precision", "float32", "--seed", "0"]


def test_kernel_optics_runs_with_the_files_optics_per_channel(tmp_path, capsys):
    src, out = _write(tmp_path / "cells.ome.tif"), tmp_path / "out.tif"
    assert main(["upscale", str(src), str(out), "--scale", "2", "--kernel", "optics", "--dry-run"]) == 0
    said = capsys.readouterr().out
    # oil's index, each channel's own wavelength, on output pixels of 0.05 um: 0.21 * 0.461 / 1.4 / 0.05 = 1.38
    assert "optics(NA 1.4, emission 461 nm, refractive index 1.515: sigma 1.38 x 1.38 px)" in said
    assert "emission 520 nm" in said
    assert main(["upscale", str(src), str(out), "--scale", "2", "--kernel", "optics", *FAST]) == 0
    assert tifffile.imread(out).shape == (2, 48, 64)


def test_kernel_optics_names_what_the_file_lacks(tmp_path, capsys):
    src = _write(tmp_path / "no_na.ome.tif", na="", em0="")
    assert main(["upscale", str(src), str(tmp_path / "out.tif"), "--scale", "2", "--kernel", "optics", *FAST]) == 2
    err = capsys.readouterr().err
    assert "needs numerical aperture, emission wavelength" in err and "OME Objective/@LensNA" in err
    assert "Traceback" not in err
