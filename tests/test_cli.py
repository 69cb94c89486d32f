import os
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_zssr.cli import main
from napari_zssr.io import read_image

FAST = ["--max-iters", "6", "--preset", "fast", "--quiet", "--precision", "float32", "--seed", "0"]


def _auto_device() -> str:
    """What "--device auto" (the default) names on this machine: a GPU where there is one."""
    from napari_zssr.core.device import describe_device, resolve_device

    return describe_device(resolve_device("auto"))


@pytest.fixture
def gray_png(tmp_path, structured_image):
    path = tmp_path / "gray.png"
    Image.fromarray(np.clip(structured_image, 0, 255).astype(np.uint8)).save(path)
    return path


def test_upscale_gray_png_keeps_dtype(tmp_path, gray_png, capsys):
    out = tmp_path / "out.png"
    assert main(["upscale", str(gray_png), str(out), "--scale", "2", *FAST]) == 0
    img = read_image(out)
    assert img.data.shape == (80, 96) and img.data.dtype == np.uint8
    report = capsys.readouterr().out
    assert "preset fast" in report and f"device {_auto_device()}" in report and "(80, 96)" in report


def test_upscale_rgb_png_non_square(tmp_path, structured_image):
    rgb = np.stack([structured_image, 255 - structured_image, structured_image * 0.5], -1)
    src = tmp_path / "rgb.png"
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(src)
    out = tmp_path / "rgb_x.png"
    assert main(["upscale", str(src), str(out), "--scale", "1.5", "2", "--no-back-projection", *FAST]) == 0
    data = np.array(Image.open(out))
    assert data.shape == (60, 96, 3) and data.dtype == np.uint8


def test_upscale_16bit_png_and_float_tiff_with_pixel_size(tmp_path, structured_image):
    src = tmp_path / "g16.png"
    Image.fromarray((structured_image * 200).astype(np.uint16)).save(src)
    out = tmp_path / "g16_x2.png"
    assert main(["upscale", str(src), str(out), "--scale", "2", *FAST]) == 0
    assert read_image(out).data.dtype == np.uint16

    tif = tmp_path / "f.tif"
    tifffile.imwrite(tif, structured_image.astype(np.float32), imagej=True, resolution=(1 / 0.2, 1 / 0.2),
                     metadata={"unit": "um"})
    out = tmp_path / "f_x.tif"
    assert main(["upscale", str(tif), str(out), "--scale", "2", "4", "--dtype", "float32", *FAST]) == 0
    img = read_image(out)
    assert img.data.dtype == np.float32 and img.data.shape == (80, 192)
    assert img.pixel_size["Y"] == pytest.approx(0.1, rel=1e-5)
    assert img.pixel_size["X"] == pytest.approx(0.05, rel=1e-5)
    assert img.unit == "um"


@pytest.mark.parametrize("ext", [".npy", ".tif", ".mat"])
def test_kernel_files(tmp_path, gray_png, ext):
    from scipy.io import savemat

    k = np.outer([1, 2, 1], [1, 3, 3, 1]).astype(np.float64)
    path = tmp_path / f"k{ext}"
    if ext == ".npy":
        np.save(path, k)
    elif ext == ".tif":
        tifffile.imwrite(path, k.astype(np.float32))
    else:
        savemat(path, {"Kernel": k})
    out = tmp_path / "o.png"
    assert main(["upscale", str(gray_png), str(out), "--scale", "2", "--kernel", str(path), *FAST]) == 0
    assert out.exists()


def test_existing_output_needs_overwrite_and_failures_leave_nothing(tmp_path, gray_png, capsys):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    assert main(["upscale", str(gray_png), str(out), "--scale", "2", *FAST]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"
    assert main(["upscale", str(gray_png), str(out), "--scale", "2", "--overwrite", *FAST]) == 0
    assert read_image(out).data.shape == (80, 96)

    bad = tmp_path / "bad.png"
    assert main(["upscale", str(gray_png), str(bad), "--scale", "0.5", *FAST]) == 2
    assert "only enlarges" in capsys.readouterr().err
    # a 16-bit RGB result cannot be a PNG: refused before anything is written
    rgb16 = tmp_path / "rgb16.tif"
    tifffile.imwrite(rgb16, np.full((12, 12, 3), 1000, np.uint16), photometric="rgb")
    assert main(["upscale", str(rgb16), str(bad), "--scale", "2", *FAST]) == 2
    assert "write a TIFF" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["gray.png", "out.png", "rgb16.tif"]


def test_bad_arguments(tmp_path, gray_png, capsys):
    assert main(["upscale", str(tmp_path / "missing.png"), str(tmp_path / "o.png"), "--scale", "2", *FAST]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["upscale", str(gray_png), str(tmp_path / "o.png"), "--scale", "2", "2", "2", *FAST]) == 2
    assert "one factor per axis" in capsys.readouterr().err
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.zeros((3, 8, 8), np.uint8), photometric="minisblack")
    assert main(["upscale", str(stack), str(tmp_path / "o.tif"), "--scale", "2", *FAST]) == 2
    assert "one factor per axis (3, axes ZYX)" in capsys.readouterr().err
    assert main(["upscale", str(stack), str(tmp_path / "o.tif"), "--isotropic", *FAST]) == 2
    assert "z step and pixel size" in capsys.readouterr().err
    assert main(["upscale", str(gray_png), str(tmp_path / "o.jpg"), "--scale", "2", *FAST]) == 2
    assert "unsupported output" in capsys.readouterr().err


def test_console_script_demo(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "napari-zssr")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "napari_zssr.cli"]
    res = subprocess.run(cmd + ["demo", "--max-iters", "10", "--quiet", "--precision", "float32",
                                "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "nuclei_aniso" in res.stdout and "(63, 128, 128)" in res.stdout
    # the device the demo was asked for ("auto"); the subprocess names it by its kind and name
    assert f"device {_auto_device().split(' (')[0]}" in res.stdout
    assert "isotropic mode on Z x4.46" in res.stdout
    # the demo's own preset, said, and its picture, where it says it is
    assert "preset fast (the demo's default" in res.stdout and "preset fast," in res.stdout
    assert f"(source stretched along z, result): {tmp_path / 'nuclei_isotropic_xz.png'}" in res.stdout
    assert Image.open(tmp_path / "nuclei_isotropic_xz.png").size[1] > 63
    out = read_image(tmp_path / "nuclei_isotropic.tif")
    assert out.data.shape == (63, 128, 128) and out.data.dtype == np.uint16 and out.axes == "ZYX"
    assert out.pixel_size["Z"] == pytest.approx(0.26, rel=1e-4) and out.pixel_size["X"] == pytest.approx(0.26)
    assert oct(os.stat(tmp_path / "nuclei_isotropic.tif").st_mode & 0o777) != oct(0o600)


def test_stack_to_ome_zarr_on_local_workers_then_rerun(tmp_path, stack, capsys):
    src = tmp_path / "stack.tif"
    tifffile.imwrite(src, stack, imagej=True, resolution=(1 / 0.3, 1 / 0.3), metadata={"axes": "ZYX", "spacing": 1.2,
                                                                                       "unit": "um"})
    out = tmp_path / "out.ome.zarr"
    args = ["upscale", str(src), str(out), "--scale", "1", "2", "2", "--workers", "2", *FAST]
    assert main(args) == 0, capsys.readouterr().err
    res = read_image(out)
    assert res.axes == "ZYX" and res.data.shape == (6, 64, 72) and res.data.dtype == np.uint16
    assert res.pixel_size == pytest.approx({"Z": 1.2, "Y": 0.15, "X": 0.15}) and res.unit == "um"
    assert main(args[:-1] + ["1"]) == 2  # another seed: another job's store is refused
    assert "exists and holds the result of another run" in capsys.readouterr().err
    first = np.asarray(res.data[:])
    assert main(["upscale", str(src), str(out), "--scale", "1", "2", "2", *FAST]) == 0  # same job: kept as is
    np.testing.assert_array_equal(read_image(out).data[:], first)


def test_unreachable_scheduler_is_a_clear_error(tmp_path, stack, capsys):
    src = tmp_path / "stack.tif"
    tifffile.imwrite(src, stack)
    code = main(["upscale", str(src), str(tmp_path / "o.zarr"), "--scale", "1", "2", "2", "--scheduler",
                 "tcp://127.0.0.1:9", *FAST])
    assert code == 2 and "no dask scheduler answered at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "o.zarr")


def test_save_networks_then_apply_them_to_another_file(tmp_path, stack, capsys):
    a, b = tmp_path / "t0.tif", tmp_path / "t1.tif"
    tifffile.imwrite(a, stack)
    tifffile.imwrite(b, stack[::-1])
    nets = tmp_path / "nets.pt"
    assert main(["upscale", str(a), str(tmp_path / "o0.tif"), "--scale", "3", "1", "1", "--save-networks",
                 str(nets), *FAST]) == 0, capsys.readouterr().err
    assert main(["upscale", str(b), str(tmp_path / "o1.tif"), "--scale", "3", "1", "1", "--networks", str(nets),
                 "--quiet"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "steps []" in out and "no network was trained in this run" in out
    assert read_image(tmp_path / "o1.tif").data.shape == (16, 32, 36)


@pytest.mark.parametrize("name", ["out.ome.tif", "out.ome.zarr"])
def test_channel_names_and_colours_carry_over_to_the_result(tmp_path, name):
    rng = np.random.default_rng(4)
    src = tmp_path / "two.ome.tif"
    tifffile.imwrite(src, (rng.random((2, 20, 24)) * 1000).astype(np.uint16), ome=True, photometric="minisblack",
                     metadata={"axes": "CYX", "PhysicalSizeX": 0.3, "PhysicalSizeY": 0.3,
                               "Channel": {"Name": ["DAPI", "GFP"], "Color": [65535, 16711935]}})
    out = tmp_path / name
    assert main(["upscale", str(src), str(out), "--scale", "2", *FAST]) == 0
    res = read_image(out)
    assert res.data.shape == (2, 40, 48)
    assert res.metadata["channel_names"] == ["DAPI", "GFP"]
    assert res.metadata["channel_colors"] == ["#0000ff", "#00ff00"]


def test_a_colour_that_is_not_hex_is_left_out_not_guessed():
    from napari_zssr.io import ImageData
    from napari_zssr.io.ngff_write import _omero
    from napari_zssr.io.tiff import _ome_channel_md

    img = ImageData(np.zeros((2, 4, 4), np.uint8), "CYX", metadata={"channel_names": ["a", "b"],
                                                                     "channel_colors": ["green", "#00ff00"]})
    assert _ome_channel_md(img) == {"Channel": {"Name": ["a", "b"]}}
    omero = _omero(img.data, "CYX", channels=img.metadata)
    assert [c["color"] for c in omero["channels"]] == ["00FF00", "FF00FF"]  # the defaults, not a guess
    assert [c["label"] for c in omero["channels"]] == ["a", "b"]


# --------------------------------------------------------------------------- checked before any probe or training

from .cases import CLIError, check_case, cli_case, run_cli  # noqa: E402


def _tif(shape=(12, 14)):
    def make(tmp):
        src = os.path.join(tmp, "in.tif")
        tifffile.imwrite(src, (np.random.default_rng(0).random(shape) * 200).astype(np.uint8), photometric="minisblack")
        return src

    return make


def _rgb16(tmp):
    src = os.path.join(tmp, "in.tif")
    tifffile.imwrite(src, (np.random.default_rng(0).random((12, 14, 3)) * 60000).astype(np.uint16),
                     photometric="rgb")
    return src


def _no_probe(fn):
    """Run ``fn`` where the preset and precision probes refuse to run: the refusal must come first."""
    from napari_zssr.core import precision

    def probe_ran(*args, **kwargs):
        raise AssertionError("a probe ran before the settings were checked")

    saved = precision.auto_preset, precision.probe
    precision.auto_preset = precision.probe = probe_ran
    try:
        return fn()
    finally:
        precision.auto_preset, precision.probe = saved


def _zarr_with_a_cut_chunk(tmp):
    """A zarr stack whose chunk of plane 2 was cut short (a copy interrupted): every chunk is present."""
    import zarr

    src = os.path.join(tmp, "in.zarr")
    z = zarr.open_array(src, mode="w", shape=(4, 16, 16), chunks=(1, 16, 16), dtype="u2", zarr_format=2)
    z[:] = (np.random.default_rng(0).random((4, 16, 16)) * 4000).astype(np.uint16)
    chunk = os.path.join(src, "2.0.0")
    os.truncate(chunk, os.path.getsize(chunk) // 2)
    return src


AUTO = ["--quiet", "--max-iters", "2"]  # the default preset and precision: both are probed when a run starts
UNWRITABLE = "/sys"  # a folder even root cannot create files in

CASES = [
    ("cli-scale-half-no-probe", "CLI: --scale 0.5 with the auto preset (refused before the probes)",
     lambda: _no_probe(lambda: cli_case(_tif(), ["--scale", "0.5", *AUTO], tiny=False)), CLIError, "only enlarges"),
    ("cli-jpg-output", "CLI: a .jpg output (refused before the input is read)",
     lambda: _no_probe(lambda: cli_case(_tif(), ["--scale", "2", *AUTO], out_name="out.jpg", tiny=False)), CLIError,
     "unsupported output type '.jpg'"),
    ("cli-png-stack", "CLI: a 3-D stack to a .png (refused before training)",
     lambda: _no_probe(lambda: cli_case(_tif((3, 12, 14)), ["--scale", "1", "2", "2", *AUTO], out_name="out.png",
                                        tiny=False)), CLIError, "PNG holds one 2-D"),
    ("cli-png-rgb16", "CLI: a 16-bit RGB image to a .png (refused before training, by the writer's own rule)",
     lambda: _no_probe(lambda: cli_case(_rgb16, ["--scale", "2", *AUTO], out_name="out.png", tiny=False)),
     CLIError, "PNG holds 8-bit gray/RGB or 16-bit gray, not uint16"),
    ("cli-unwritable-folder", "CLI: an output in a folder that cannot be written (/sys)",
     lambda: _no_probe(lambda: cli_case(_tif(), ["--scale", "2", *AUTO], out_name=UNWRITABLE + "/out.tif",
                                        tiny=False)), CLIError, "cannot write into /sys"),
    ("cli-save-kernel-unwritable", "CLI: --save-kernel into a folder that cannot be written",
     lambda: _no_probe(lambda: cli_case(_tif((24, 28)), ["--scale", "2", "--kernel", "estimate", "--save-kernel",
                                                         UNWRITABLE + "/k.npy", *AUTO], tiny=False)), CLIError,
     "cannot write into /sys"),
    ("cli-save-networks-unwritable", "CLI: --save-networks into a folder that cannot be written",
     lambda: _no_probe(lambda: cli_case(_tif((3, 12, 14)), ["--scale", "1", "2", "2", "--save-networks",
                                                            UNWRITABLE + "/n.pt", *AUTO], tiny=False)), CLIError,
     "cannot write into /sys"),
    ("cli-output-is-input", "CLI: the output is the input, with --overwrite",
     lambda: cli_case(_tif(), ["--scale", "2", "--overwrite"], out_name="in.tif"), CLIError, "is the input"),
    ("cli-workers-0", "CLI: --workers 0", lambda: cli_case(_tif(), ["--scale", "2", "--workers", "0"]), CLIError,
     "at least 1"),
    ("cli-zarr-cut-chunk", "CLI: a zarr input with a chunk cut short (refused before training)",
     lambda: _no_probe(lambda: cli_case(_zarr_with_a_cut_chunk, ["--scale", "1", "2", "2", *AUTO], tiny=False)),
     CLIError, "at channel 0, time 0, planes 2-2"),
    ("cli-kernel-and-axial-sigma", "CLI: --kernel and --axial-sigma together (one would silently win)",
     lambda: cli_case(_tif((4, 12, 14)), ["--scale", "2", "1", "1", "--kernel", "cubic", "--axial-sigma", "1"]),
     CLIError, "give --kernel or --axial-sigma, not both"),
    ("cli-dry-run", "CLI: --dry-run on a good file: checks, trains and writes nothing",
     lambda: cli_case(_tif(), ["--scale", "2", "--dry-run", *AUTO], tiny=False), None, "exit 0; files left: in.tif"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_case_gets_its_documented_outcome(case):
    if UNWRITABLE in str(case) and os.access(UNWRITABLE, os.W_OK) and os.geteuid() != 0:
        pytest.skip(f"{UNWRITABLE} is writable here")
    check_case(case)


def test_the_input_file_is_left_as_it_was_when_named_as_output(tmp_path):
    src = tmp_path / "in.tif"
    data = (np.random.default_rng(0).random((12, 14)) * 200).astype(np.uint8)
    tifffile.imwrite(src, data)
    rc, err = run_cli(["upscale", str(src), str(src), "--scale", "2", "--overwrite", *FAST])
    assert rc == 2 and "is the input" in err
    np.testing.assert_array_equal(tifffile.imread(src), data)


def test_a_reused_zarr_result_is_said_in_words(tmp_path, capsys):
    src, out = tmp_path / "in.tif", tmp_path / "o.zarr"
    tifffile.imwrite(src, (np.random.default_rng(0).random((3, 16, 16)) * 200).astype(np.uint8),
                     photometric="minisblack")
    argv = ["upscale", str(src), str(out), "--scale", "1", "2", "2", "--device", "cpu", *FAST]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"reused the finished result in {out}; nothing was trained" in text
    data = tifffile.imread(src)
    data[1] = 0
    tifffile.imwrite(src, data, photometric="minisblack")
    assert main(argv) == 2
    assert "another input: the input changed since (channel 0, time 0)" in capsys.readouterr().err


def test_an_unexpected_error_is_one_line_and_its_traceback_only_with_debug(tmp_path, monkeypatch):
    import napari_zssr.cli as cli

    def broken(args):
        raise RuntimeError("something nobody foresaw\nsecond line")

    monkeypatch.setattr(cli, "upscale_file", broken)  # a stand-in for a bug: no real input reaches here any more
    argv = ["upscale", str(tmp_path / "in.tif"), str(tmp_path / "o.tif"), "--scale", "2"]
    rc, err = run_cli(argv)
    assert rc == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"napari-zssr: error: unexpected RuntimeError while processing {tmp_path / 'in.tif'}: something nobody "
        f"foresaw [...] (run with --debug for the traceback, and please report it)")
    rc, err = run_cli([*argv, "--debug"])
    assert rc == 1 and "Traceback" in err and "second line" in err


def test_a_kernel_file_without_an_extension_is_read_as_a_file(tmp_path, structured_image):
    src, out, kern = tmp_path / "in.tif", tmp_path / "o.tif", tmp_path / "mykernel"
    tifffile.imwrite(src, np.clip(structured_image, 0, 255).astype(np.uint8))
    with open(kern, "wb") as fh:
        np.save(fh, np.ones((3, 3)) / 9)  # a .npy's content under a name with no extension
    rc, err = run_cli(["upscale", str(src), str(out), "--scale", "2", "--kernel", str(kern), "--dry-run", *FAST])
    assert rc == 2 and "unsupported kernel file" in err and "mykernel" in err, err


def test_the_file_keeps_the_same_provenance_as_a_layer(tmp_path, structured_image):
    import json

    src, out = tmp_path / "in.tif", tmp_path / "o.tif"
    tifffile.imwrite(src, np.clip(structured_image, 0, 255).astype(np.uint8))
    assert main(["upscale", str(src), str(out), "--scale", "2", "--seed", "3", *FAST[:-2]]) == 0
    with tifffile.TiffFile(out) as tif:
        info = json.loads(tif.imagej_metadata["Info"])
    # the keys the widget puts in a result layer's metadata (stack.report_text.provenance)
    assert info["software"] == "napari-zssr" and info["source"] == str(src) and info["seed"] == 3
    assert info["factors"] == {"Y": 2.0, "X": 2.0} and info["config"]["max_iters"] == 6
    assert info["steps"] == [[6]] and info["preset"] == "fast" and "gain_db" in info
