"""The CLI's run-time choices (--mode, --axial-sigma, --psf-voxel-size, --planes, --gradual-steps,
--noise-std) and what it tells the user: warnings, notes, and what an interrupted run kept."""

import io
import os
import re
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


# --------------------------------------------------------------------------- progress, --dry-run, --voxel-size, words

def _progress_lines(err: str) -> list:
    return [line for line in err.splitlines() if line.startswith("napari-zssr: ") and "%" in line]


def test_outside_a_terminal_progress_is_one_plain_line_per_interval(tmp_path, structured_image, capsys, monkeypatch):
    import napari_zssr.cli as cli

    src = tmp_path / "img.tif"
    tifffile.imwrite(src, structured_image)
    argv = ["upscale", str(src), str(tmp_path / "o.tif"), "--scale", "2", "--preset", "fast", "--precision",
            "float32", "--device", "cpu"]
    monkeypatch.setattr(cli, "LOG_EVERY_S", 0.1)  # a short interval, so that a short run shows several lines
    t0 = time.perf_counter()
    assert main([*argv, "--max-iters", "20"]) == 0
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err  # captured: not a terminal
    lines = _progress_lines(err)
    assert "\r" not in err
    assert 2 <= len(lines) <= elapsed / 0.1 + 1, (elapsed, lines)
    assert "checking the input" in lines[0]  # said from the first second, before any training
    assert any("training network: step" in line and "elapsed" in line for line in lines), lines
    percents = [int(line.split("%")[0].split()[-1]) for line in lines]
    assert percents == sorted(percents)  # one bar over the whole run: it never starts over
    monkeypatch.setattr(cli, "LOG_EVERY_S", 3600.0)
    assert main([*argv, "--max-iters", "4", "--overwrite"]) == 0
    assert len(_progress_lines(capsys.readouterr().err)) == 1  # the first line, then none within the hour


class _Terminal(io.StringIO):
    """A terminal's stderr (tqdm draws its bar in it), kept to be read back."""

    def isatty(self):
        return True


def test_on_a_terminal_one_bar_runs_over_both_stages(tmp_path, stack, monkeypatch, capsys):
    src = tmp_path / "small.tif"
    tifffile.imwrite(src, stack[:4, :16, :16], photometric="minisblack")
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert main(["upscale", str(src), str(tmp_path / "o.tif"), "--scale", "2", "2", "2", "--max-iters", "4",
                 "--preset", "fast", "--precision", "float32", "--no-back-projection"]) == 0
    frames = [f for f in term.getvalue().split("\r") if "%|" in f]
    percents = [int(f.split("%|")[0].strip()) for f in frames]
    assert len(frames) > 3 and percents == sorted(percents), percents  # one bar: never back to 0 per stage
    assert any("planes stage (1/2)" in f for f in frames) and any("isotropic stage (2/2)" in f for f in frames)


def _no_training(monkeypatch):
    import napari_zssr.core.train as train

    def trained(*args, **kwargs):
        raise AssertionError("a training step ran")

    monkeypatch.setattr(train, "train", trained)


def test_dry_run_prints_the_plan_and_an_estimate_and_trains_and_writes_nothing(tmp_path, stack_tif, capsys,
                                                                              monkeypatch):
    _no_training(monkeypatch)
    out = tmp_path / "o.tif"
    argv = ["upscale", str(stack_tif), str(out), "--isotropic", "--dry-run", "--quiet", "--max-iters", "20"]
    assert main([*argv, "--preset", "fast"]) == 0
    text = capsys.readouterr().out
    assert sorted(os.listdir(tmp_path)) == ["stack.tif"]
    assert "plan: axes ZYX: isotropic mode on Z x4" in text
    assert "preset: fast; precision " in text
    assert "kernel: axial read from the data when the run starts" in text
    # 21 planes of 32 x 36 uint16 (the input's type)
    assert f"output: (21, 32, 36) uint16, {21 * 32 * 36 * 2} bytes (48.4 kB)" in text
    assert "time: about " in text and "1 network(s) trained" in text
    assert main([*argv]) == 0  # the default preset: what "auto" means on this machine, and why
    assert re.search(r"preset: (paper|fast) \(auto: the (paper|fast) preset: the paper's training would take about",
                     capsys.readouterr().out)
    assert sorted(os.listdir(tmp_path)) == ["stack.tif"]
    # the guard is real: the same command without --dry-run reaches a training step
    assert main([a for a in argv if a != "--dry-run"] + ["--preset", "fast"]) == 1
    assert "a training step ran" in capsys.readouterr().err


def test_the_summary_says_why_the_default_preset_was_chosen(tmp_path, structured_image, capsys):
    src = tmp_path / "img.tif"
    tifffile.imwrite(src, structured_image)
    assert main(["upscale", str(src), str(tmp_path / "o.tif"), "--scale", "2", "--max-iters", "2", "--quiet"]) == 0
    assert re.search(r"note: the (paper|fast) preset: the paper's training would take about \d+ s on this CPU",
                     capsys.readouterr().out)


def test_voxel_size_gives_a_file_its_sizes(tmp_path, stack, capsys):
    src = tmp_path / "bare.tif"
    tifffile.imwrite(src, stack, photometric="minisblack")  # no voxel sizes
    out = tmp_path / "iso.tif"
    assert main(["upscale", str(src), str(out), "--voxel-size", "2", "0.5", "0.5", "--unit", "micrometer",
                 "--isotropic", *FAST]) == 0
    text = capsys.readouterr().out
    assert "isotropic mode on Z x4 " in text
    res = read_image(out)
    assert res.data.shape == (21, 32, 36) and res.unit == "um"
    assert res.pixel_size == pytest.approx({"Z": 0.5, "Y": 0.5, "X": 0.5})
    # the estimated axial width is given in the file's unit, named
    assert re.search(r"FWHM [\d.]+ px \([\d.]+ um\)", text) and "voxel sizes' unit" not in text


@pytest.mark.parametrize("tail, words", [
    (["--voxel-size", "0", "0.5", "0.5"], "--voxel-size: sizes are positive numbers, got 0"),
    (["--voxel-size", "nan", "0.5", "0.5"], "--voxel-size: sizes are positive numbers, got nan"),
    (["--voxel-size", "0.5", "0.5"], "--voxel-size takes one size per spatial axis (3: Z Y X); got 2"),
    (["--voxel-size", "two", "0.5", "0.5"], "argument --voxel-size: invalid float value: 'two'"),
    (["--voxel-size", "2", "0.5", "0.5", "--unit", "seconds"], "--unit 'seconds' is not a length unit"),
    (["--unit", "nm"], "--unit nm names the unit of --voxel-size; give --voxel-size too"),
])
def test_a_bad_voxel_size_is_refused_naming_the_option(tmp_path, stack, tail, words):
    from .cases import run_cli

    src = tmp_path / "bare.tif"
    tifffile.imwrite(src, stack, photometric="minisblack")
    rc, err = run_cli(["upscale", str(src), str(tmp_path / "o.tif"), "--isotropic", *tail, *FAST])
    assert rc == 2 and words in err and "Traceback" not in err, err
    assert sorted(os.listdir(tmp_path)) == ["bare.tif"]


def test_every_option_and_positional_has_help_and_the_preset_help_agrees_with_readme():
    import argparse

    from napari_zssr.cli import build_parser
    from napari_zssr.core.config import PRESETS

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subs.choices.items():
        for action in sub._actions:
            assert action.help and action.help.strip(), f"{name}: {action.option_strings or action.dest} has no help"
    preset_help = next(a.help for a in subs.choices["upscale"]._actions if "--preset" in a.option_strings)
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8").read()
    for phrase in ["a CPU fast enough for a paper run in about two minutes", "paper + 6 gradual steps",
                   "no ensemble, no back-projection", "a narrower network on small crops"]:
        assert phrase in preset_help and phrase in " ".join(readme.split()), phrase
    assert all(f"{p} = " in preset_help for p in PRESETS)
