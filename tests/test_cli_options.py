"""The CLI's run-time choices (--mode, --axial-sigma, --psf-voxel-size, --planes, --gradual-steps,
--noise-std) and what it tells the user: warnings, notes, and what an interrupted run kept."""

import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import tifffile

from napari_zssr.cli import main, print_warnings
from napari_zssr.io import read_image

FAST = ["--max-iters", "6", "--preset", "fast", "--quiet", "--precision", "float32", "--seed", "0"]


@pytest.fixture
def stack_tif(tmp_path, stack):
    """The test stack as an ImageJ TIFF with voxel sizes (z 1.2, pixels 0.3 um)."""
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack, imagej=True, resolution=(1 / 0.3, 1 / 0.3),
                     metadata={"axes": "ZYX", "spacing": 1.2, "unit": "um"})
    return path


def _summary(capsys):
    out = capsys.readouterr()
    return out.out, out.err


def test_mode_must_fit_the_factors(tmp_path, stack_tif, capsys):
    out = tmp_path / "o.tif"
    assert main(["upscale", str(stack_tif), str(out), "--scale", "3", "1", "1", "--mode", "isotropic", *FAST]) == 0
    assert "isotropic mode on Z x3" in _summary(capsys)[0]
    assert main(["upscale", str(stack_tif), str(out), "--scale", "3", "1", "1", "--mode", "planes", "--overwrite",
                 *FAST]) == 2
    assert "mode 'planes' does not fit" in _summary(capsys)[1]


def test_axial_sigma_and_psf_become_the_axial_kernel(tmp_path, stack_tif, capsys):
    assert main(["upscale", str(stack_tif), str(tmp_path / "a.tif"), "--isotropic", "--axial-sigma", "1.5",
                 *FAST]) == 0
    assert "kernel gaussian(1.5)" in _summary(capsys)[0]
    from napari_zssr import gaussian_psf

    psf = tmp_path / "psf.tif"
    tifffile.imwrite(psf, gaussian_psf(1.0, 0.52, 1.33, (0.2, 0.1, 0.1)).astype(np.float32))
    assert main(["upscale", str(stack_tif), str(tmp_path / "p.tif"), "--isotropic", "--kernel", str(psf),
                 "--psf-voxel-size", "0.2", "0.1", "0.1", *FAST]) == 0
    text = _summary(capsys)[0]
    assert "kernel psf(sigma" in text
    # the PSF's anisotropic part on the fine grid of 0.3 um: sqrt(sz^2 - sxy^2) / 0.3
    sz, sxy = 0.66 * 0.52 * 1.33, 0.21 * 0.52
    sigma = float(text.split("kernel psf(sigma ")[1].split(" px")[0])
    assert sigma == pytest.approx(np.sqrt(sz**2 - sxy**2) / 0.3, rel=0.05)
    assert main(["upscale", str(stack_tif), str(tmp_path / "q.tif"), "--isotropic", "--kernel", str(psf),
                 *FAST]) == 2
    assert "psf_voxel_size" in _summary(capsys)[1]


def test_planes_independent_trains_one_network_per_plane(tmp_path, stack_tif, capsys):
    assert main(["upscale", str(stack_tif), str(tmp_path / "o.tif"), "--scale", "1", "2", "2", "--planes",
                 "independent", *FAST]) == 0
    text = _summary(capsys)[0]
    assert "independent network per channel" in text
    assert "steps [6, 6, 6, 6, 6, 6]" in text  # six planes, six networks


def test_gradual_steps_and_noise_std(tmp_path, structured_image, capsys):
    src = tmp_path / "img.tif"
    tifffile.imwrite(src, structured_image)
    assert main(["upscale", str(src), str(tmp_path / "g.tif"), "--scale", "2", "--gradual-steps", "3", *FAST]) == 0
    assert "steps [6, 6, 6]" in _summary(capsys)[0]
    assert main(["upscale", str(src), str(tmp_path / "a.tif"), "--scale", "2", *FAST]) == 0
    assert main(["upscale", str(src), str(tmp_path / "n.tif"), "--scale", "2", "--noise-std", "0.05", *FAST]) == 0
    capsys.readouterr()
    clean, noisy = read_image(tmp_path / "a.tif").data, read_image(tmp_path / "n.tif").data
    assert clean.shape == noisy.shape and np.abs(clean - noisy).max() > 0
    assert main(["upscale", str(src), str(tmp_path / "x.tif"), "--scale", "2", "--noise-std", "-1", *FAST]) == 2
    assert "noise_std" in _summary(capsys)[1]


def test_warnings_raised_before_an_error_are_shown(tmp_path, capsys):
    src = tmp_path / "flat.tif"
    tifffile.imwrite(src, np.full((4, 16, 16), 7, np.uint16), photometric="minisblack")
    # a flat stack trains no network, so saving them fails after the run: its warning must still show
    code = main(["upscale", str(src), str(tmp_path / "o.tif"), "--scale", "1", "2", "2", "--save-networks",
                 str(tmp_path / "n.pt"), *FAST])
    err = _summary(capsys)[1]
    assert code == 2 and "nothing to save" in err
    assert "warning: channel 0 is constant" in err


def test_runtime_warnings_are_shown_once():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            warnings.warn("out of memory on CUDA: falling back to the CPU (slower)", RuntimeWarning)
        warnings.warn("an old keyword", DeprecationWarning)
    import io
    from contextlib import redirect_stderr

    buf = io.StringIO()
    with redirect_stderr(buf):
        print_warnings(caught)
    lines = buf.getvalue().splitlines()
    assert lines == ["warning (RuntimeWarning): out of memory on CUDA: falling back to the CPU (slower)"]


def test_the_report_notes_are_shown(tmp_path, structured_image, capsys):
    from .test_reliability import memory_limit

    src = tmp_path / "img.tif"
    tifffile.imwrite(src, structured_image)
    with memory_limit(max_batch=2, training=True):  # "fast" trains batches of 4
        assert main(["upscale", str(src), str(tmp_path / "o.tif"), "--scale", "2", *FAST]) == 0
    notes = [line for line in _summary(capsys)[0].splitlines() if line.strip().startswith("note:")]
    assert len(notes) == 1 and "out of memory training" in notes[0] and "retried with batch 2" in notes[0]


def test_an_interrupted_zarr_run_says_where_its_units_are_kept(tmp_path, stack_tif):
    out = tmp_path / "o.zarr"
    cmd = [sys.executable, "-m", "napari_zssr.cli", "upscale", str(stack_tif), str(out), "--scale", "1", "2", "2",
           "--max-iters", "100000", "--preset", "fast", "--quiet", "--precision", "float32"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not os.path.isdir(str(out) + ".partial") and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert os.path.isdir(str(out) + ".partial"), proc.stderr.read() if proc.poll() is not None else "no store"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # dies of SIGINT, as a Unix program does after Ctrl-C, so that a shell loop running it stops too
    assert proc.returncode == -signal.SIGINT, err
    assert "kept in" in err and "o.zarr.partial" in err and "run the same command again to resume" in err
    assert "nothing was written" not in err


def test_an_interrupted_file_run_writes_nothing(tmp_path):
    import argparse

    from napari_zssr.cli import _what_was_kept

    assert _what_was_kept(argparse.Namespace(output=str(tmp_path / "o.tif"))) == "nothing was written"
    assert _what_was_kept(argparse.Namespace(output=str(tmp_path / "o.zarr"))) == "nothing was written"
