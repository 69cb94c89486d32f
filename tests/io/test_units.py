"""io/units.py: length units of voxel sizes in every spelling the formats use, converted and written back."""

import pytest


def test_length_units_in_every_spelling():
    from napari_zssr.io.units import length_unit, ngff_name, ome_symbol, to_unit

    for name in ("um", "µm", "μm", "micron", "microns", "micrometer"):
        assert length_unit(name) == "um" and ngff_name(name) == "micrometer" and ome_symbol(name) == "µm"
    assert length_unit("pixel") is None and length_unit("second") is None and length_unit("") is None
    assert to_unit(1200, "nm", "um") == pytest.approx(1.2)
    with pytest.raises(ValueError, match="'second' is not a length unit"):
        to_unit(1, "second", "um")
