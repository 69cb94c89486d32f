"""io/ome_optics.py: the objective's NA, the immersion and the channels' emission wavelengths, read from a real
OME-TIFF (written with tifffile) and from the OME/METADATA.ome.xml that bioformats2raw keeps in an OME-Zarr."""

import numpy as np
import pytest
import tifffile

from napari_zssr.io import read_image

OME = """<?xml version="1.0" encoding="UTF-8"?>
<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">
  <Instrument ID="Instrument:0">
    <Objective ID="Objective:0" LensNA="{na}" Immersion="{immersion}" NominalMagnification="60"/>
  </Instrument>
  <Image ID="Image:0" Name="cells">
    <InstrumentRef ID="Instrument:0"/>
    <ObjectiveSettings ID="Objective:0"{index}/>
    <Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint16" SizeX="32" SizeY="24" SizeC="2" SizeZ="1"
            SizeT="1" PhysicalSizeX="0.1" PhysicalSizeY="0.1">
      <Channel ID="Channel:0:0" Name="DAPI" SamplesPerPixel="1" {em0}/>
      <Channel ID="Channel:0:1" Name="GFP" SamplesPerPixel="1" EmissionWavelength="0.52"
               EmissionWavelengthUnit="µm"/>
      <TiffData IFD="0" PlaneCount="2"/>
    </Pixels>
  </Image>
</OME>"""


def _write(path, na="1.4", immersion="Oil", index="", em0='EmissionWavelength="461"'):
    xml = OME.format(na=na, immersion=immersion, index=index, em0=em0)
    data = np.arange(2 * 24 * 32, dtype=np.uint16).reshape(2, 24, 32)
    tifffile.imwrite(path, data, description=xml.encode("utf-8"), metadata=None)
    return path


def test_the_optics_are_read_from_an_ome_tiff(tmp_path):
    img = read_image(_write(tmp_path / "cells.ome.tif"))
    assert img.axes == "CYX" and img.pixel_size == pytest.approx({"Y": 0.1, "X": 0.1})
    optics = img.metadata["optics"]
    assert optics["na"] == 1.4 and optics["immersion"] == "Oil"
    assert optics["refractive_index"] == 1.515  # oil's own, where the settings give none
    assert optics["emission_nm"] == pytest.approx([461.0, 520.0])  # the second given in um
    assert optics["channel_names"] == ["DAPI", "GFP"]


def test_the_settings_refractive_index_wins_and_missing_values_stay_missing(tmp_path):
    img = read_image(_write(tmp_path / "a.ome.tif", na="0", immersion="Other", index=' RefractiveIndex="1.52"',
                            em0=""))
    optics = img.metadata["optics"]
    assert optics["na"] is None  # 0 is no aperture: not read, never guessed
    assert optics["refractive_index"] == 1.52
    assert optics["emission_nm"] == [None, pytest.approx(520.0)]


def test_a_tiff_without_optics_has_none(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint16))
    assert "optics" not in read_image(path).metadata


def test_the_optics_are_read_beside_a_bioformats2raw_ome_zarr(tmp_path):
    import zarr

    root = tmp_path / "cells.ome.zarr"
    group = zarr.open_group(str(root), mode="w")
    group.create_array("0", shape=(2, 24, 32), chunks=(1, 24, 32), dtype="u2", fill_value=0)[:] = 7
    group.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": "c", "type": "channel"},
                                                              {"name": "y", "type": "space", "unit": "micrometer"},
                                                              {"name": "x", "type": "space", "unit": "micrometer"}],
                                   "datasets": [{"path": "0", "coordinateTransformations": [
                                       {"type": "scale", "scale": [1, 0.1, 0.1]}]}]}]
    (root / "OME").mkdir()
    (root / "OME" / "METADATA.ome.xml").write_text(OME.format(na="1.2", immersion="Water", index="",
                                                              em0='EmissionWavelength="461"'), encoding="utf-8")
    optics = read_image(str(root)).metadata["optics"]
    assert optics["na"] == 1.2 and optics["refractive_index"] == 1.333
    assert optics["emission_nm"] == pytest.approx([461.0, 520.0])
