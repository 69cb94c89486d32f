"""The napari reader in a real viewer: the plugin's own OME-Zarr output, pyramids, big TIFFs lazily."""

import numpy as np
import pytest

napari = pytest.importorskip("napari")

from napari_zssr.plugin import reader  # noqa: E402


def test_the_plugins_own_ome_zarr_output_reopens_with_its_scale_lazily(tmp_path, make_napari_viewer, tiny_config):
    from napari_zssr import upscale

    src = (np.random.default_rng(0).random((2, 4, 24, 24)) * 1000).astype(np.uint16)
    path = str(tmp_path / "out.ome.zarr")
    upscale(src, (1, 1, 2, 2), axes="CZYX", config=tiny_config, out=path, voxel_size=(1.0, 1.2, 0.3, 0.3), unit="um")
    assert reader.napari_get_reader(path) is not None
    viewer = make_napari_viewer()
    layers = viewer.open(path, plugin="napari-zssr")
    assert len(layers) == 2  # one per channel
    for layer in layers:
        assert not isinstance(layer.data, np.ndarray)  # lazy: read as napari shows it
        assert layer.data.shape == (4, 48, 48)
        np.testing.assert_allclose(layer.scale, [1.2, 0.15, 0.15])
        assert layer.metadata["axes"] == "ZYX" and tuple(layer.units) == ("micrometer",) * 3


def test_an_ome_zarr_pyramid_opens_as_a_multiscale_layer(tmp_path, make_napari_viewer):
    import zarr

    path = str(tmp_path / "pyramid.ome.zarr")
    base = (np.random.default_rng(1).random((8, 64, 64)) * 255).astype(np.uint8)
    g = zarr.open_group(path, mode="w")
    levels = [base, base[:, ::2, ::2], base[:, ::4, ::4]]
    for i, a in enumerate(levels):
        g.create_array(str(i), data=a, chunks=(1, 32, 32))
    g.attrs["multiscales"] = [{
        "version": "0.4", "name": "p",
        "axes": [{"name": "z", "type": "space", "unit": "micrometer"},
                 {"name": "y", "type": "space", "unit": "micrometer"},
                 {"name": "x", "type": "space", "unit": "micrometer"}],
        "datasets": [{"path": str(i),
                      "coordinateTransformations": [{"type": "scale", "scale": [2.0, 0.5 * 2 ** i, 0.5 * 2 ** i]}]}
                     for i in range(3)]}]
    viewer = make_napari_viewer()
    layer, = viewer.open(path, plugin="napari-zssr")
    assert layer.multiscale and [tuple(d.shape) for d in layer.data] == [a.shape for a in levels]
    np.testing.assert_allclose(layer.scale, [2.0, 0.5, 0.5])
    np.testing.assert_array_equal(np.asarray(layer.data[0]), base)


def test_a_tiff_too_big_to_read_whole_opens_lazily(tmp_path, make_napari_viewer, monkeypatch):
    import tifffile

    data = (np.random.default_rng(2).random((6, 20, 22)) * 1000).astype(np.uint16)
    path = str(tmp_path / "big.tif")
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / 0.3, 1 / 0.3), metadata={"axes": "ZYX", "spacing": 1.2,
                                                                                       "unit": "um"})
    (eager, _, _), = reader.read_layers(path)
    assert isinstance(eager, np.ndarray)
    monkeypatch.setattr(reader, "LAZY_BYTES", 1000)  # this file counts as big
    viewer = make_napari_viewer()
    layer, = viewer.open(path, plugin="napari-zssr")
    assert not isinstance(layer.data, np.ndarray)
    np.testing.assert_array_equal(np.asarray(layer.data), data)
    np.testing.assert_allclose(layer.scale, [1.2, 0.3, 0.3])
    assert reader.napari_get_reader(str(tmp_path / "x.png")) is None
    assert reader.napari_get_reader(str(tmp_path / "missing.zarr")) is None


def test_ome_channel_names_and_colours_become_the_layers_names_and_colormaps(tmp_path, make_napari_viewer):
    import tifffile
    import zarr

    data = (np.random.default_rng(3).random((2, 3, 8, 8)) * 1000).astype(np.uint16)
    tif = str(tmp_path / "two.ome.tif")
    tifffile.imwrite(tif, data, ome=True, metadata={"axes": "CZYX", "PhysicalSizeX": 0.3, "PhysicalSizeY": 0.3,
                                                    "PhysicalSizeZ": 1.2,
                                                    "Channel": {"Name": ["DAPI", "GFP"], "Color": [65535, 16711935]}})
    store = str(tmp_path / "two.ome.zarr")
    g = zarr.open_group(store, mode="w")
    g.create_array("0", data=data)
    g.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": a, "type": t} for a, t in
                                                          zip("czyx", ("channel", "space", "space", "space"))],
                               "datasets": [{"path": "0", "coordinateTransformations": [
                                   {"type": "scale", "scale": [1.0, 1.2, 0.3, 0.3]}]}]}]
    g.attrs["omero"] = {"channels": [{"label": "DAPI", "color": "0000FF"}, {"label": "GFP", "color": "00FF00"}]}
    viewer = make_napari_viewer()
    for path in (tif, store):
        layers = viewer.open(path, plugin="napari-zssr")
        assert [layer.name for layer in layers] == ["DAPI", "GFP"] or \
            [layer.name.rsplit(" ", 1)[0] for layer in layers] == ["DAPI", "GFP"]  # napari numbers repeats
        blue, green = (layer.colormap.colors[-1][:3] for layer in layers)
        np.testing.assert_allclose(blue, [0, 0, 1])
        np.testing.assert_allclose(green, [0, 1, 0])
        np.testing.assert_allclose(layers[0].scale, [1.2, 0.3, 0.3])
        np.testing.assert_array_equal(np.asarray(layers[1].data), data[1])


def test_a_big_ome_zarr_result_has_a_pyramid_and_display_settings_and_opens_as_multiscale(
        tmp_path, make_napari_viewer, tiny_config):
    import zarr

    from napari_zssr import upscale

    src = (np.random.default_rng(7).random((2, 150, 131)) * 1000).astype(np.uint16)
    path = str(tmp_path / "big.ome.zarr")
    upscale(src, (1, 2, 2), axes="ZYX", config=tiny_config, out=path, voxel_size=(1.0, 0.2, 0.2), unit="um",
            dtype=np.uint16)
    g = zarr.open_group(path, mode="r")
    ms = g.attrs["multiscales"][0]
    shapes = [g[d["path"]].shape for d in ms["datasets"]]
    assert shapes == [(2, 300, 262), (2, 150, 131)]
    full, half = (np.asarray(g[d["path"]]) for d in ms["datasets"])
    np.testing.assert_allclose(half[:, 10, 10], full[:, 20:22, 20:22].reshape(2, -1).mean(axis=1), atol=0.51)
    assert ms["datasets"][1]["coordinateTransformations"][0]["scale"] == [1.0, 0.2, 0.2]
    assert ms["datasets"][1]["coordinateTransformations"][1]["translation"][1:] == pytest.approx(
        [ms["datasets"][0]["coordinateTransformations"][1]["translation"][1] + 0.05] * 2)
    window = g.attrs["omero"]["channels"][0]["window"]
    assert window["min"] <= window["start"] < window["end"] <= window["max"]
    pytest.importorskip("ome_zarr_models")
    from ome_zarr_models.v04.image import Image

    Image.from_zarr(g)  # the metadata is valid NGFF 0.4
    viewer = make_napari_viewer()
    layer, = viewer.open(path, plugin="napari-zssr")
    assert layer.multiscale and len(layer.data) == 2
    np.testing.assert_allclose(layer.scale, [1.0, 0.1, 0.1])


def test_the_writer_streams_a_dask_layer_plane_by_plane(tmp_path):
    import tracemalloc

    import dask.array as da
    import tifffile

    from napari_zssr.plugin.writer import write_single_image

    lazy = da.random.default_rng(8).random((40, 512, 512), chunks=(1, 512, 512)).astype(np.float32)  # 40 MB
    meta = {"scale": (1.2, 0.3, 0.3), "units": ("um",) * 3, "metadata": {"axes": "ZYX"}}
    write_single_image(str(tmp_path / "warm.tif"), lazy[:3], meta)  # one-time costs (imports, dask) not counted
    for name in ("big.tif", "big.ome.tif"):
        path = str(tmp_path / name)
        tracemalloc.start()
        write_single_image(path, lazy, meta)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < lazy.nbytes / 4, f"{name}: {peak / 1e6:.0f} MB held for a {lazy.nbytes / 1e6:.0f} MB layer"
        back = tifffile.imread(path)
        np.testing.assert_array_equal(back[[0, 17, 39]], lazy[[0, 17, 39]].compute())


def test_a_truncated_tiff_is_refused_in_the_viewer_with_the_readers_message(tmp_path, make_napari_viewer):
    import os

    import tifffile

    path = str(tmp_path / "cut.tif")
    tifffile.imwrite(path, np.zeros((16, 32, 32), np.uint16), imagej=True, metadata={"axes": "ZYX"})
    os.truncate(path, os.path.getsize(path) // 2)
    viewer = make_napari_viewer()
    with pytest.raises(Exception) as info:
        viewer.open(path, plugin="napari-zssr")
    chain, exc = [], info.value
    while exc is not None:
        chain.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    assert any("cut.tif declares 16 planes" in m and "but only 8 are present" in m for m in chain), chain
    assert not viewer.layers
