"""core/memory.py: inference tiles sized from the free memory of the device, and the override."""


def test_tile_size_follows_free_memory_and_can_be_overridden(tiny_config):
    import torch

    from napari_zssr.core.infer import default_tile_pixels
    from napari_zssr.core.memory import free_bytes, tile_pixels_for

    cpu = torch.device("cpu")
    assert free_bytes(cpu) > 0
    for free in (2**28, 2**31, 2**34):
        for width in (8, 64):
            tile = tile_pixels_for(width, cpu, free=free)
            per_pixel = 4 * width * 4  # four live float32 activations of `width` channels
            # the largest tile whose activations fit in a quarter of the free memory
            assert tile * per_pixel <= free / 4 < (tile + 1) * per_pixel
    assert tile_pixels_for(64, cpu, free=2**28) < tile_pixels_for(8, cpu, free=2**28)
    assert tile_pixels_for(64, cpu, free=1000) == 4096  # never below one small tile
    # the default on the CPU: activations near 8 MB, capped by the free memory
    assert 4096 <= default_tile_pixels(tiny_config, cpu) <= 2**21 // tiny_config.width
    assert default_tile_pixels(tiny_config.replace(tile_pixels=5000), cpu) == 5000
