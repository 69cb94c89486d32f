"""Choosing the torch device and the preset that suits it."""

from __future__ import annotations

import gc

from .resize import clear_device_cache


def resolve_device(name: str = "auto"):
    """A torch.device for "auto" (CUDA, then Apple MPS, then CPU), "cpu", "cuda", "cuda:N" or "mps"."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {name!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but no CUDA GPU is available; use 'cpu' or 'auto'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} does not exist: {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError("device 'mps' asked for, but Apple MPS is not available; use 'cpu' or 'auto'")
    elif dev.type != "cpu":
        raise ValueError(f"unsupported device {name!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
    return dev


def describe_device(dev) -> str:
    """What a person would call the device: the GPU's name, "Apple MPS" or "CPU (N threads)"."""
    import torch

    if dev.type == "cuda":
        return f"CUDA {torch.cuda.get_device_name(dev)}"
    if dev.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


# what torch, cuDNN and cuBLAS say when an allocation fails (not all raise torch.OutOfMemoryError)
_OOM_TEXT = ("out of memory", "can't allocate memory", "cannot allocate memory", "failed to allocate memory",
             "not enough memory", "cudnn_status_alloc_failed", "cublas_status_alloc_failed")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's CUDA/MPS out-of-memory errors, cuDNN's and cuBLAS's failed allocations, the CPU
    allocator's "can't allocate memory" and MemoryError."""
    import torch

    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(t in str(exc).lower() for t in _OOM_TEXT)


def free_memory(dev=None) -> None:
    """Drop unreachable tensors and hand cached blocks back to the driver (between out-of-memory retries)."""
    import torch

    clear_device_cache()
    gc.collect()
    if (dev is None or dev.type == "cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
    if dev is not None and dev.type == "mps":
        mps = getattr(torch, "mps", None)
        if mps is not None and hasattr(mps, "empty_cache"):
            mps.empty_cache()
