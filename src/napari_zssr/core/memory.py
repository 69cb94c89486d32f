"""How much memory a device has free, to size inference tiles."""

from __future__ import annotations

import os


def free_bytes(device) -> int:
    """Bytes free now on ``device``: CUDA's free memory, or the host's available RAM."""
    if device.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 32  # unknown platform: assume 4 GB


def tile_pixels_for(width: int, device, fraction: float = 0.25, live_activations: int = 4, free=None) -> int:
    """Pixels per forward pass such that ``live_activations`` float32 activations of ``width``
    channels take at most ``fraction`` of the free memory (``free`` bytes; read from the device
    when None), never fewer than 4096."""
    free = free_bytes(device) if free is None else int(free)
    return max(4096, int(fraction * free) // (4 * width * live_activations))
