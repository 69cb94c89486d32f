"""The ZSSR engine: numpy and torch only, nothing from napari or Qt."""
