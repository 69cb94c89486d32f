"""`napari-zssr demo`: it shows its result (a side-by-side picture of the middle XZ plane, napari with --open)."""

import sys

import numpy as np
import pytest
from PIL import Image

from napari_zssr.cli import main
from napari_zssr.io import read_image, sample_path
from napari_zssr.io.preview_png import PERCENTILES, middle_xz, side_by_side, stretch_z, to_uint8

TINY_DEMO = ["--max-iters", "8", "--quiet", "--precision", "float32", "--device", "cpu"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One short demo run for the module: (its folder, what it printed)."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["demo", *TINY_DEMO, "--out", str(folder)]) == 0
    return folder, printed.getvalue()


def test_the_demo_writes_its_picture_and_says_where(demo_run):
    tmp_path, text = demo_run
    picture = tmp_path / "nuclei_isotropic_xz.png"
    assert f"picture of the middle XZ plane (source stretched along z, result): {picture}" in text
    assert "preset fast (the demo's default" in text and "preset fast," in text
    pixels = np.asarray(Image.open(picture))
    result = read_image(tmp_path / "nuclei_isotropic.tif").data
    source = read_image(sample_path("nuclei_aniso")).data
    z, x = result.shape[0], result.shape[2]  # 63 planes of 128
    zoom = (pixels.shape[1] + 1) // (2 * x)
    assert pixels.dtype == np.uint8 and pixels.ndim == 2 and zoom >= 2
    left, right = pixels[-z * zoom:, : x * zoom], pixels[-z * zoom:, -x * zoom:]
    # the right panel is the result's middle XZ plane, the left the source's, stretched to the result's 63 planes
    np.testing.assert_array_equal(right[::zoom, ::zoom], to_uint8(middle_xz(result)))
    np.testing.assert_array_equal(left[::zoom, ::zoom], to_uint8(stretch_z(middle_xz(source), 1.16 / 0.26, z)))
    assert left.min() == right.min() == 0 and left.max() == right.max() == 255  # each panel spans its own range


def test_stretching_puts_input_plane_i_on_output_row_i_times_f():
    plane = np.array([[0.0, 10], [4, 20], [8, 30]], np.float32)
    out = stretch_z(plane, 4, 9)
    np.testing.assert_array_equal(out[[0, 4, 8]], plane)
    np.testing.assert_allclose(out[2], [2, 15])  # half way between planes 0 and 1
    held = stretch_z(plane, 2.5, 6)  # a non-integer factor: row 5 lies at 2.0, the last plane
    np.testing.assert_allclose(held[5], plane[2])


def test_each_panel_is_normalised_by_its_own_percentiles():
    rng = np.random.default_rng(0)
    dim = rng.random((20, 30)).astype(np.float32)
    hot = dim * 1000
    hot[0, 0] = 1e9  # one hot pixel must not turn the rest black
    low, high = np.percentile(hot, PERCENTILES)
    assert to_uint8(hot)[5, 5] == round(float(np.clip((hot[5, 5] - low) / (high - low), 0, 1) * 255))
    picture = side_by_side(dim, hot)
    assert picture.shape[1] > 2 * 30 and np.median(picture[20:]) > 60
    assert (to_uint8(np.full((4, 4), 3.0)) == 128).all()  # a flat plane is grey, not a division by zero
    with pytest.raises(ValueError, match="differ in shape"):
        side_by_side(dim, dim[:10])


def test_open_without_napari_says_so_and_skips(demo_run, capsys, monkeypatch):
    from napari_zssr.cli import _open, open_in_napari

    monkeypatch.setitem(sys.modules, "napari", None)  # what an installation without napari gives: ImportError
    paths = [sample_path("nuclei_aniso"), str(demo_run[0] / "nuclei_isotropic.tif")]
    assert open_in_napari(paths) is None
    _open(paths)  # what `demo --open` does after its report: one line, no window, no error
    err = capsys.readouterr().err
    assert err.strip() == 'napari-zssr: --open: napari is not installed (pip install "napari-zssr[napari]"); skipped'


def test_open_shows_source_and_result_overlaid_in_xz(demo_run, make_napari_viewer):
    pytest.importorskip("napari")
    from napari_zssr.cli import open_in_napari

    tmp_path = demo_run[0]
    viewer = make_napari_viewer()
    out = str(tmp_path / "nuclei_isotropic.tif")
    assert open_in_napari([sample_path("nuclei_aniso"), out], viewer) is viewer
    source, result = viewer.layers
    assert source.data.shape == (15, 128, 128) and result.data.shape == (63, 128, 128)
    assert source.scale[0] == pytest.approx(1.16) and result.scale[0] == pytest.approx(0.26, rel=1e-4)
    assert tuple(viewer.dims.order) == (1, 0, 2) and tuple(viewer.dims.displayed) == (0, 2)  # the XZ plane
