"""The sharpest straight edges bound the 2-D kernel from above (core.estimate_edges)."""

import os

import numpy as np
import pytest

from napari_zssr.core.estimate_edges import clip_to_bounds, edge_bounds, edge_fits
from napari_zssr.core.estimate_lateral import MIN_BOUNDS

from ..conftest import SR_DATA, blur_2d, power_law_image


def mosaic(shape, n: int, seed: int = 0) -> np.ndarray:
    """Flat cells with straight borders of every orientation (a Voronoi mosaic): a scene of steps."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    seeds = rng.random((n, 2)) * np.array(shape)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    _, label = cKDTree(seeds).query(np.stack([yy.ravel(), xx.ravel()], 1))
    return rng.random(n)[label].reshape(shape)


def across(bounds, cov):
    return np.array([v / (n @ np.asarray(cov) @ n) for n, v in bounds])


@pytest.mark.parametrize("cov", [[[0.5, 0.2], [0.2, 0.3]], [[1.0, 0.0], [0.0, 0.4]]])
def test_the_sharpest_edges_read_the_blur_across_them(cov):
    scene = mosaic((512, 512), 60)
    lr = blur_2d(scene, np.asarray(cov) * 16)[2::4, 2::4]  # every sampling phase lies along the slanted borders
    bounds = edge_bounds([lr])
    assert len(bounds) == 6  # every orientation bin holds enough borders
    np.testing.assert_allclose(across(bounds, cov), 1.0, atol=0.06)


def test_soft_regions_and_noise_do_not_widen_the_bound():
    cov = np.array([[0.6, -0.2], [-0.2, 0.4]])
    scene = mosaic((512, 512), 80, seed=1)
    soft = blur_2d(scene, np.eye(2) * 200)  # half the scene out of focus
    lr = blur_2d(np.where(np.arange(512)[None, :] < 256, scene, soft), cov * 16)[::4, ::4]
    lr = lr + np.random.default_rng(2).normal(0, 0.005, lr.shape)
    ratio = across(edge_bounds([lr], noise=0.005), cov)
    assert len(ratio) >= 4 and np.all(ratio < 1.1) and np.all(ratio > 0.8)


def test_a_texture_without_steps_bounds_nothing_below_its_blur():
    # a random-phase texture has no steps: what looks like an edge there is wider than the kernel,
    # so the spectrum's estimate stands as it was read
    cov = np.eye(2) * 2.0
    lr = blur_2d(power_law_image((256, 256), seed=3), cov)[::2, ::2]
    assert np.all(across(edge_bounds([lr]), cov / 4) > 1.5)
    assert edge_bounds([np.full((64, 64), 3.0)]) == [] and len(edge_fits(np.full((64, 64), 3.0))) == 0


def test_clipping_keeps_what_the_bounds_allow_and_cuts_only_what_they_forbid():
    spec = np.array([[4.0, 0.0], [0.0, 4.0]])
    loose = [(np.array([1.0, 0.0]), 5.0), (np.array([0.0, 1.0]), 9.0)]
    assert clip_to_bounds(spec, loose) is spec
    cut = clip_to_bounds(spec, [(np.array([1.0, 0.0]), 1.0)])  # y allows at most 1
    np.testing.assert_allclose(cut, [[1.0, 0.0], [0.0, 4.0]], atol=1e-4)
    n = np.array([np.sqrt(0.5), np.sqrt(0.5)])
    cut = clip_to_bounds(np.array([[3.0, 1.0], [1.0, 2.0]]), [(n, 1.0), (np.array([0.0, 1.0]), 0.5)])
    assert n @ cut @ n <= 1.0 + 1e-6 and cut[1, 1] <= 0.5 + 1e-6
    assert np.linalg.eigvalsh(cut).min() >= 0
    line = np.diag([0.0, 13.0]) / 16  # a line kernel, capped across a slanted direction
    n = np.array([np.sin(0.3), np.cos(0.3)])
    cut = clip_to_bounds(line, [(n, 0.3)])
    assert n @ cut @ n <= 0.3 + 1e-6 and np.linalg.eigvalsh(line - cut).min() > -1e-9  # never wider anywhere


def test_a_photographs_own_softness_is_not_read_as_kernel():
    """The zebra of Set14 is softer than a scale-invariant scene: the spectrum reads its 1.6 px^2
    as about 2.5-3; its stripes' edges cap the kernel back near the truth, and only narrow it."""
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    from napari_zssr import estimate_kernel

    path = os.path.join(SR_DATA, "Set14", "image_SRF_2", "img_014_SRF_2_HR.png")
    if not os.path.exists(path):
        pytest.skip(f"Set14 not found under {SR_DATA}")
    hr = np.asarray(Image.open(path), dtype=np.float64).mean(axis=-1) / 255
    lr = np.round(gaussian_filter(hr, np.sqrt(1.6), mode="reflect")[::2, ::2] * 255) / 255
    _, info = estimate_kernel(lr, 2)
    found, spectrum, true = np.asarray(info["cov"]), np.asarray(info["cov_spectrum"]), np.eye(2) * 1.6

    def error(c):
        return np.linalg.norm(c - true) / np.linalg.norm(true)

    assert error(spectrum) > 0.5 and error(found) < 0.25
    assert np.linalg.eigvalsh(spectrum - found).min() > -1e-9  # narrower in every direction
    for n, v in edge_bounds([lr], noise=0.0):
        assert n @ found @ n / 4 <= v * (1 + 1e-6)  # the kernel on the LR grid is K / 4


def stripes(n: int, seed: int) -> np.ndarray:
    """Vertical bands of random widths and levels: steps in one orientation only."""
    rng = np.random.default_rng(seed)
    cuts = np.cumsum(rng.integers(4, 20, 60))
    col = np.zeros(n)
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, n]):
        col[a:b] = rng.random()
    return np.tile(col, (n, 1))


@pytest.mark.parametrize("seed", [0, 1])
def test_a_small_image_is_read_at_a_smaller_factor(seed):
    from napari_zssr import estimate_kernel

    cov = np.array([[6.0, 1.5], [1.5, 3.5]])  # output-grid pixels^2 at x4
    lr = blur_2d(mosaic((368, 368), 160, seed=seed), cov)[::4, ::4]  # 92 px: one 16-px tile once shrunk by 4
    kernel, info = estimate_kernel(lr, 4)
    assert info["read_scale"] == [2.0, 2.0] and info["chosen"] == "gaussian" and info["edge_bounds"] >= MIN_BOUNDS
    np.testing.assert_allclose(info["cov"], cov, atol=0.15 + 0.1 * np.trace(cov))


@pytest.mark.parametrize("seed", [1, 2])
def test_edges_that_cut_the_spectrum_in_too_few_orientations_keep_bicubic(seed):
    # along the bands nothing changes, which the spectrum reads as a blur tens of pixels wide; the
    # steps cut it across them but cannot pin the direction along them
    from napari_zssr import estimate_kernel

    lr = blur_2d(stripes(256, seed), np.eye(2) * 3.0)[::2, ::2]
    lr = lr + np.random.default_rng(seed).normal(0, 0.003, lr.shape)
    kernel, info = estimate_kernel(lr, 2)
    assert info["misfit_cubic"] - info["misfit"] > 0.5 * info["misfit_split"]
    assert np.linalg.eigvalsh(info["cov_spectrum"]).max() > 20 and not np.allclose(info["cov"], info["cov_spectrum"])
    assert info["read_scale"] == [2.0, 2.0] and 1 <= info["edge_bounds"] < MIN_BOUNDS
    assert (kernel == "cubic" and info["chosen"] == "cubic"
            and "show that the spectrum read too wide" in info["why_cubic"])
    assert f"in only {info['edge_bounds']} of the {MIN_BOUNDS} orientations" in info["why_cubic"]


def test_a_small_texture_without_edges_keeps_bicubic():
    from napari_zssr import estimate_kernel

    lr = blur_2d(power_law_image((320, 320), seed=1), np.eye(2) * 5.0)[::4, ::4]
    kernel, info = estimate_kernel(lr, 4)
    assert info["read_scale"] == [2.0, 2.0] and info["edge_bounds"] == 0
    assert kernel == "cubic" and ("too small to read the kernel at 4 x 4 (it was read at 2 x 2), "
                                  "and it has no straight edges") in info["why_cubic"]
