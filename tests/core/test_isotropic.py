"""core/isotropic.py: restoring XZ and YZ planes slab by slab gives what the whole volume gives."""

import numpy as np


def test_slabs_with_a_margin_equal_the_whole_volume(tiny_config):
    import torch

    from napari_zssr.core.axial import AxialKernel
    from napari_zssr.core.isotropic import restore_slab
    from napari_zssr.core.network import ZSSRNet

    torch.manual_seed(0)
    net = ZSSRNet(1, 8, 4).eval()
    vol = np.random.default_rng(1).random((5, 30, 12)).astype(np.float32)
    kern = AxialKernel.default(3.0)
    whole = np.empty((13, 30, 12), np.float32)
    restore_slab(net, vol, 0, 30, 3.0, kern, tiny_config, torch.device("cpu"), 4096, whole)  # the whole volume
    m = net.reach
    for a, b in [(0, 7), (7, 19), (19, 30)]:
        lo, hi = max(0, a - m), min(30, b + m)
        part = np.empty((13, b - a, 12), np.float32)
        restore_slab(net, vol[:, lo:hi], a - lo, b - a, 3.0, kern, tiny_config, torch.device("cpu"), 4096, part)
        np.testing.assert_allclose(part, whole[:, a:b], rtol=1e-5, atol=1e-6)
