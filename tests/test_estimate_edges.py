"""The sharpest straight edges bound the 2-D kernel from above (core.estimate_edges)."""

import numpy as np
import pytest

from napari_zssr.core.estimate_edges import clip_to_bounds, edge_bounds, edge_fits

from .conftest import blur_2d, power_law_image


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


def test_the_2d_estimate_keeps_to_the_edges_bounds():
    from napari_zssr import estimate_kernel

    cov = np.array([[1.2, 0.3], [0.3, 0.7]])
    scene = mosaic((384, 384), 70, seed=4) + 0.2 * power_law_image((384, 384), seed=4) / 100
    lr = blur_2d(scene, cov)[::2, ::2]
    _, info = estimate_kernel(lr, 2)
    found = np.asarray(info["cov"])
    bounds = edge_bounds([lr])
    assert info["edge_bounds"] == len(bounds) >= 4
    for n, v in bounds:  # on the LR grid, the kernel's variance is K / 4
        assert n @ found @ n / 4 <= v * (1 + 1e-6)
    np.testing.assert_allclose(found, cov, atol=0.25)
