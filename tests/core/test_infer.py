"""core/infer.py: the final pass (tiled forward, the geometric self-ensemble, back-projection) gives the same
result whichever way it is cut into tiles or batches."""

import numpy as np
import pytest

from napari_zssr.core.infer import forward_tiled, transforms


def test_tiled_forward_equals_untiled():
    import torch

    from napari_zssr.core.network import ZSSRNet

    net = ZSSRNet(2, width=8, depth=5)
    net.reset(0.1, torch.Generator().manual_seed(0))
    x = torch.randn(1, 2, 70, 53)
    with torch.no_grad():
        whole = net(x)
        tiled = forward_tiled(net, x, tile_pixels=24 * 24)
    torch.testing.assert_close(tiled, whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch_tiles", [1, 3, 64])
def test_tiles_run_several_at_a_time_give_the_untiled_result(batch_tiles):
    import torch

    from napari_zssr.core.infer import tiles_per_call
    from napari_zssr.core.network import ZSSRNet

    net = ZSSRNet(1, width=8, depth=4)
    net.reset(0.1, torch.Generator().manual_seed(1))
    x = torch.randn(2, 1, 61, 77)
    calls = []
    net.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    with torch.no_grad():
        whole = net(x)
        calls.clear()
        tiled = forward_tiled(net, x, tile_pixels=20 * 20, batch_tiles=batch_tiles)
    torch.testing.assert_close(tiled, whole, rtol=1e-5, atol=1e-6)
    # 4 x 5 tiles of 16 pixels and a halo of 4, of 9 shapes; the commonest (the inner 24 x 24) counts 6
    assert max(calls) == 2 * min(batch_tiles, 6)
    assert tiles_per_call(torch.device("cpu"), 1 << 20, 100) == 1
    assert tiles_per_call(torch.device("cuda"), 1 << 20, 1 << 16) == 16


def test_ensemble_transforms():
    assert len(transforms(True, True)) == 8
    non_square = transforms(False, True)
    assert len(non_square) == 4 and all(k % 2 == 0 for k, _ in non_square)
    assert transforms(True, False) == [(0, False)]


@pytest.mark.parametrize("scale, shape", [((2.0, 2.0), (12, 12)), ((2.0, 2.0), (10, 14)), ((1.5, 2.5), (11, 9))])
def test_batched_ensemble_equals_one_transform_at_a_time(scale, shape):
    """The GPU path (transforms of one shape in one batch) gives what the CPU path gives."""
    import torch

    from napari_zssr.core.infer import _super_resolve
    from napari_zssr.core.network import ZSSRNet
    from napari_zssr.core.resize import Kernel

    torch.manual_seed(0)
    net = ZSSRNet(1, 8, 4).eval()
    lr = torch.rand((1, 1) + shape)
    with torch.no_grad():
        one = _super_resolve(net, lr, scale, Kernel("cubic"), 3, True, 4096, batch_transforms=False)
        batch = _super_resolve(net, lr, scale, Kernel("cubic"), 3, True, 4096, batch_transforms=True)
        tiled = _super_resolve(net, lr, scale, Kernel("cubic"), 3, True, 300, batch_transforms=True)
    np.testing.assert_allclose(batch.numpy(), one.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tiled.numpy(), one.numpy(), rtol=1e-5, atol=1e-6)
