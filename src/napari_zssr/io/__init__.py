"""Files: TIFF (ImageJ, OME), PNG, zarr and OME-Zarr, kernel files and length units. No napari, no Qt."""

from .files import atomic_write, is_zarr_path
from .image_data import ImageData
from .images import read_image, write_image
from .kernels import read_kernel
from .samples import sample_path

__all__ = ["ImageData", "atomic_write", "is_zarr_path", "read_image", "read_kernel", "sample_path", "write_image"]
