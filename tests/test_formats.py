"""Vendor files through bioio (the optional ``formats`` extra): the same path the CLI uses."""

import numpy as np
import pytest

from napari_zssr.io import read_image


def test_a_file_no_reader_knows_gets_an_error_that_says_what_to_install(tmp_path):
    path = tmp_path / "scan.czi"
    path.write_bytes(b"not a CZI file")
    with pytest.raises(ValueError, match=r"scan\.czi.*(napari-zssr\[formats\]|bioio could not read it)"):
        read_image(path)


def test_bioio_gives_the_axes_voxel_sizes_and_channel_names_lazily(tmp_path):
    pytest.importorskip("bioio")
    ome_tiff = pytest.importorskip("bioio_ome_tiff")
    import tifffile

    from napari_zssr.io.images import read_bioio

    data = (np.random.default_rng(9).random((2, 3, 16, 16)) * 1000).astype(np.uint16)
    path = str(tmp_path / "two.ome.tif")
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "CZYX", "PhysicalSizeX": 0.3, "PhysicalSizeY": 0.3,
                                                     "PhysicalSizeZ": 1.2, "Channel": {"Name": ["DAPI", "GFP"]}})
    img = read_bioio(path, reader=ome_tiff.Reader)
    assert img.axes == "CZYX" and not isinstance(img.data, np.ndarray)  # T of length 1 dropped; lazy
    assert img.pixel_size == pytest.approx({"Z": 1.2, "Y": 0.3, "X": 0.3}) and img.unit == "um"
    assert img.metadata["channel_names"] == ["DAPI", "GFP"]
    np.testing.assert_array_equal(np.asarray(img.data), data)
