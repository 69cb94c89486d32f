"""The napari side: the dock widget, reader, writer and sample data. The only place that imports napari or Qt."""
