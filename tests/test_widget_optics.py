"""The widget's "Gaussian from optics": its NA, wavelength and refractive index fields filled from the optics the
layer's OME file recorded (each channel's layer its own wavelength); what the file lacks is asked for."""

import pytest

from napari_zssr.plugin.reader import read_layers
from napari_zssr.plugin.widget import ZSSRWidget

from .io.test_ome_optics import _write


def test_the_optics_fields_are_filled_from_the_file_per_channel(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    data, kwargs, _ = read_layers(str(_write(tmp_path / "cells.ome.tif")))[0]
    dapi, gfp = viewer.add_image(data, **kwargs)  # napari splits the channel axis: one layer per channel
    widget = ZSSRWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.layer.value = gfp
    widget.kernel.value = "Gaussian from optics"
    assert (widget.na.value, widget.wavelength.value, widget.ri.value) == pytest.approx((1.4, 520.0, 1.515))
    assert widget.status.value == "optics from the file: NA 1.4, wavelength 520, refractive index 1.515"
    widget.layer.value = dapi
    assert widget.wavelength.value == pytest.approx(461.0)


def test_what_the_file_lacks_is_asked_for(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    data, kwargs, _ = read_layers(str(_write(tmp_path / "no_na.ome.tif", na="", em0="")))[0]
    dapi, _ = viewer.add_image(data, **kwargs)
    widget = ZSSRWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.layer.value = dapi
    widget.kernel.value = "Gaussian from optics"
    assert widget.status.value == ("optics from the file: refractive index 1.515; type the numerical aperture and "
                                   "emission wavelength, which the file lacks")
