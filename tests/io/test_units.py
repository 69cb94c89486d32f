import os

import numpy as np
import pytest
import tifffile

from napari_zssr.cli import main
from napari_zssr.io import ImageData, read_image, write_image


@pytest.mark.parametrize("name", ["hyper.tif", "hyper.ome.tif"])
def test_hyperstack_round_trip_keeps_axes_sizes_and_unit(tmp_path, name):
    data = np.random.default_rng(0).integers(0, 4000, (2, 3, 2, 8, 9)).astype(np.uint16)  # T Z C Y X
    path = tmp_path / name
    write_image(path, ImageData(data, "TZCYX", {"Z": 1.5, "Y": 0.25, "X": 0.2}, "um"), provenance={"seed": 3})
    back = read_image(path)
    assert back.axes == "TZCYX"
    np.testing.assert_array_equal(back.data, data)
    assert back.pixel_size == pytest.approx({"Z": 1.5, "Y": 0.25, "X": 0.2})
    assert back.unit == "um"


def test_imagej_order_is_restored_by_axes_not_lost(tmp_path):
    data = np.arange(2 * 4 * 5 * 6, dtype=np.float32).reshape(2, 4, 5, 6)  # C Z Y X
    write_image(tmp_path / "c.tif", ImageData(data, "CZYX", {"Z": 2.0, "Y": 0.5, "X": 0.5}, "um"))
    back = read_image(tmp_path / "c.tif")
    # ImageJ stores Z before C: the axes string says so, and the values follow it
    assert back.axes == "ZCYX"
    np.testing.assert_array_equal(back.data, np.moveaxis(data, 0, 1))


def test_existing_file_is_kept_and_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "o.tif"
    path.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="overwrite"):
        write_image(path, ImageData(np.zeros((4, 4), np.uint8), "YX"))
    assert path.read_bytes() == b"keep"
    with pytest.raises(ValueError, match="PNG holds one 2-D image"):
        write_image(tmp_path / "s.png", ImageData(np.zeros((3, 4, 4), np.uint8), "ZYX"))
    assert sorted(os.listdir(tmp_path)) == ["o.tif"]


def test_cli_stack_isotropic_from_voxel_sizes(tmp_path, stack):
    src = tmp_path / "stack.tif"
    write_image(src, ImageData(stack, "ZYX", {"Z": 1.0, "Y": 0.25, "X": 0.25}, "um"))
    out = tmp_path / "iso.ome.tif"
    args = ["upscale", str(src), str(out), "--isotropic", "--max-iters", "6", "--preset", "fast", "--quiet",
            "--precision", "float32"]
    assert main(args) == 0
    back = read_image(out)
    assert back.data.shape == (21, 32, 36) and back.data.dtype == np.uint16 and back.axes == "ZYX"
    assert back.pixel_size == pytest.approx({"Z": 0.25, "Y": 0.25, "X": 0.25})
    with tifffile.TiffFile(out) as tif:
        assert "napari-zssr" in tif.ome_metadata


def test_cli_axes_option_and_per_spatial_axis_scale(tmp_path, stack):
    src = tmp_path / "two.tif"
    tifffile.imwrite(src, np.stack([stack, stack // 2]), photometric="minisblack")  # no axes in the file
    out = tmp_path / "two_x2.tif"
    args = ["upscale", str(src), str(out), "--axes", "CZYX", "--scale", "1", "2", "2", "--max-iters", "4",
            "--preset", "fast", "--quiet", "--precision", "float32"]
    assert main(args) == 0
    back = read_image(out)
    assert back.axes == "ZCYX" and back.data.shape == (6, 2, 64, 72)
    assert main(["upscale", str(src), str(tmp_path / "x.tif"), "--axes", "ZYX", "--scale", "2", "1", "1"]) == 2


def test_ome_tiff_units_are_read_per_axis(tmp_path):
    import tifffile

    from napari_zssr.io import read_image

    path = tmp_path / "mixed.ome.tif"
    md = {"axes": "ZYX", "PhysicalSizeZ": 1.2, "PhysicalSizeZUnit": "µm", "PhysicalSizeY": 300.0,
          "PhysicalSizeYUnit": "nm", "PhysicalSizeX": 300.0, "PhysicalSizeXUnit": "nm"}
    tifffile.imwrite(path, np.zeros((3, 8, 8), np.uint16), ome=True, metadata=md)
    img = read_image(path)
    assert img.unit == "nm"
    assert img.pixel_size == pytest.approx({"Z": 1200.0, "Y": 300.0, "X": 300.0})


@pytest.mark.parametrize("unit, symbol", [("micrometer", "µm"), ("um", "µm"), ("micron", "µm"), ("nm", "nm"),
                                          (None, "µm")])
def test_ome_tiff_is_written_with_ome_unit_symbols(tmp_path, unit, symbol):
    import tifffile

    from napari_zssr.io import ImageData, read_image, write_image

    path = tmp_path / "o.ome.tif"
    write_image(path, ImageData(np.zeros((3, 8, 8), np.uint16), "ZYX", {"Z": 1.0, "Y": 0.25, "X": 0.25}, unit))
    with tifffile.TiffFile(path) as tif:
        xml = tif.ome_metadata
    assert f'PhysicalSizeXUnit="{symbol}"' in xml and f'PhysicalSizeZUnit="{symbol}"' in xml
    back = read_image(path)
    assert back.pixel_size == pytest.approx({"Z": 1.0, "Y": 0.25, "X": 0.25})


def test_length_units_in_every_spelling():
    from napari_zssr.io.units import length_unit, ngff_name, ome_symbol, to_unit

    for name in ("um", "µm", "μm", "micron", "microns", "micrometer"):
        assert length_unit(name) == "um" and ngff_name(name) == "micrometer" and ome_symbol(name) == "µm"
    assert length_unit("pixel") is None and length_unit("second") is None and length_unit("") is None
    assert to_unit(1200, "nm", "um") == pytest.approx(1.2)
    with pytest.raises(ValueError, match="'second' is not a length unit"):
        to_unit(1, "second", "um")
