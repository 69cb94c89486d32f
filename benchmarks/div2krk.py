"""Random blur kernels made as the DIV2KRK benchmark makes them (Bell-Kligler, Shocher and Irani,
KernelGAN, NeurIPS 2019), written from the paper's description, and the LR images they give.

An anisotropic Gaussian whose two eigen-variances are uniform in [0.175 s, 2.5 s] (HR pixels) and
whose angle is uniform in [0, pi); each tap multiplied by (1 + u), u uniform in [-0.4, 0.4], clipped at
0; shifted so that its centre of mass lies (s - 1) / 2 past the kernel's centre, so that the blurred
image read every s pixels lines up with MATLAB's LR geometry; normalised. The LR image is the HR one
correlated with the kernel (symmetric border) and read every s-th pixel.
"""

from __future__ import annotations

import numpy as np


def random_kernel(s: int, rng, noise: float = 0.4):
    """(kernel, covariance) for factor ``s``; the covariance is that of the Gaussian before the noise."""
    lo, hi = 0.175 * s, 2.5 * s
    lam = rng.uniform(lo, hi, size=2)
    theta = rng.uniform(0, np.pi)
    q = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    cov = q @ np.diag(lam) @ q.T
    half = int(np.ceil(3.5 * np.sqrt(hi))) + s
    n = 2 * half + 1
    shift = (s - 1) / 2
    y, x = np.mgrid[0:n, 0:n].astype(np.float64) - half - shift
    pts = np.stack([y, x], -1)
    inv = np.linalg.inv(cov)
    k = np.exp(-0.5 * np.einsum("...i,ij,...j->...", pts, inv, pts))
    k *= 1 + rng.uniform(-noise, noise, size=k.shape)
    k = np.clip(k, 0, None)
    k /= k.sum()
    # the noise moves the centre of mass a little: put it back where MATLAB's geometry wants it
    from scipy import ndimage

    com = np.array(ndimage.center_of_mass(k))
    k = ndimage.shift(k, half + shift - com, order=1, mode="constant")
    return k / k.sum(), cov


def degrade(hr: np.ndarray, k: np.ndarray, s: int) -> np.ndarray:
    """``hr`` (H, W) or (H, W, C), float, correlated with ``k`` and read every ``s``-th pixel."""
    from scipy import ndimage

    kk = k.reshape(k.shape + (1,) * (hr.ndim - 2))
    return ndimage.correlate(hr.astype(np.float64), kk, mode="reflect")[::s, ::s]
