"""napari-zssr: zero-shot super-resolution (ZSSR) for microscopy, in napari, Python and the shell."""

from importlib import import_module

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("napari-zssr")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

# Resolved on first use, so that importing the package does not import torch.
_LAZY = {
    "imresize": ".core.resize",
    "ZSSRConfig": ".core.config",
    "zssr": ".stack.zssr",
    "run_zssr": ".stack.zssr",
    "Cancelled": ".core.progress",
    "upscale": ".stack.upscale",
    "run_upscale": ".stack.upscale",
    "gaussian_psf": ".core.kernels",
    "QualityWarning": ".core.progress",
    "estimate_kernel": ".core.estimate",
    "estimate_noise": ".core.estimate",
    "Optics": ".stack.optics",
}

__all__ = ["imresize", "zssr", "upscale", "run_zssr", "run_upscale", "ZSSRConfig", "Cancelled", "QualityWarning",
           "gaussian_psf", "estimate_kernel", "estimate_noise", "Optics", "__version__"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'napari_zssr' has no attribute {name!r}")
