"""core/device.py: which errors count as out of memory, in every wording torch, cuDNN and cuBLAS use."""

import pytest

# messages as torch, cuDNN and cuBLAS word them
OOM_MESSAGES = [
    "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity; 75.02 GiB already allocated)",
    "cuDNN error: CUDNN_STATUS_ALLOC_FAILED",
    "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
    "MPS backend out of memory (MPS allocated: 17.00 GB, other allocations: 1.20 GB, max allowed: 18.13 GB). "
    "Tried to allocate 256.00 MB on private pool.",
    "[enforce fail at alloc_cpu.cpp:114] data. DefaultCPUAllocator: not enough memory: you tried to allocate "
    "1073741824 bytes.",
    "DefaultCPUAllocator: can't allocate memory: you tried to allocate 8589934592 bytes. Error code 12 (Cannot "
    "allocate memory)",
    "CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported at some other API call",
]


NOT_OOM = [
    "cuDNN error: CUDNN_STATUS_NOT_SUPPORTED. This error may appear if you passed in a non-contiguous input.",
    "CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasSgemm( handle, opa, opb, m, n, k, ...)`",
    "CUDA error: device-side assert triggered",
    "Given groups=1, weight of size [64, 1, 3, 3], expected input[1, 3, 32, 32] to have 1 channels",
]


@pytest.mark.parametrize("msg", OOM_MESSAGES)
def test_out_of_memory_is_recognised_in_every_wording(msg):
    from napari_zssr.core.device import is_out_of_memory

    assert is_out_of_memory(RuntimeError(msg))


@pytest.mark.parametrize("msg", NOT_OOM)
def test_other_errors_are_not_out_of_memory(msg):
    from napari_zssr.core.device import is_out_of_memory

    assert not is_out_of_memory(RuntimeError(msg))
