"""stack/units.py: the units of work of a stack run, the output region each one writes, and units that give
the same result wherever they run."""

import pickle

import numpy as np
import pytest

from napari_zssr.core.progress import Progress
from napari_zssr.stack.spec import resolve_run
from napari_zssr.stack.units import (
    CHUNK_VALUES,
    apply_plane,
    apply_slab,
    slab_rows,
    train_axial,
    train_lateral,
    unit_grid,
)


@pytest.mark.parametrize("mode_scale", [(2.0, 1, 1), (1.7, 1.5, 1.5), (1, 2, 1.5)])
@pytest.mark.parametrize("tile", [None, 700, 3000])
def test_every_output_chunk_belongs_to_exactly_one_unit(tiny_config, mode_scale, tile):
    from napari_zssr.stack.blocks import out_shape
    from napari_zssr.stack.plan import Plan, make_plan

    cfg = tiny_config.replace(tile_pixels=tile)
    shape5 = (1, 1, 7, 61, 23)
    plan = make_plan(shape5[2:], mode_scale)
    stage = "planes" if plan.mode == "planes" else "isotropic"
    src5 = out_shape(shape5, Plan("ZYX", plan.scale, "planes")) if plan.mode == "both" else shape5
    grid = unit_grid(stage, src5, cfg)
    final5 = out_shape(shape5, Plan("CTZYX", (1, 1) + plan.scale, plan.mode))
    chunks = grid.chunks(final5)
    owner = {}
    for c, t, k in grid.keys([0]):
        zs = range(k, k + 1) if stage == "planes" else range(final5[2])
        ys = range(final5[3]) if stage == "planes" else range(*grid.rows_of(k))
        for z in zs:
            for y in ys:
                chunk = (z // chunks[2], y // chunks[3])
                assert owner.setdefault(chunk, k) == k, f"chunk {chunk} is written by units {owner[chunk]} and {k}"
    n_chunks = -(-final5[2] // chunks[2]) * -(-final5[3] // chunks[3])
    assert len(owner) == n_chunks


def test_a_slab_holds_about_the_budget_and_never_fewer_rows_than_twice_the_margin(tiny_config):
    assert slab_rows(tiny_config, 10, 100, 5000) == (1 << 22) // (10 * 100)  # about 4 M input voxels
    assert slab_rows(tiny_config.replace(tile_pixels=30000), 10, 100, 5000) == 30
    assert slab_rows(tiny_config.replace(tile_pixels=500), 10, 100, 5000) == 2 * tiny_config.depth
    assert slab_rows(tiny_config, 10, 100, 50) == 50  # the whole of a small Y


def test_the_grid_numbers_every_unit_and_gives_each_its_rows_and_chunks(tiny_config):
    planes = unit_grid("planes", (2, 3, 5, 61, 23), tiny_config)
    assert planes.shape == (2, 3, 5) and planes.chunks((2, 3, 5, 122, 46)) == (1, 1, 1, 122, 46)
    iso = unit_grid("isotropic", (2, 3, 5, 61, 23), tiny_config.replace(tile_pixels=1150))  # 10 rows of 5 x 23
    assert iso.rows == 10 and iso.shape == (2, 3, 7)
    assert [iso.rows_of(k) for k in (0, 5, 6)] == [(0, 10), (50, 60), (60, 61)]  # the last unit is the rest
    assert iso.keys([1])[:3] == [(1, 0, 0), (1, 0, 1), (1, 0, 2)] and len(iso.keys([0, 1])) == 2 * 3 * 7
    assert iso.chunks((2, 3, 9, 61, 23)) == (1, 1, 9, 10, 23)
    big = unit_grid("isotropic", (1, 1, 400, 4000, 4000), tiny_config)
    chunk = big.chunks((1, 1, 1600, 4000, 4000))
    assert chunk[3] == big.rows and np.prod(chunk) <= CHUNK_VALUES  # a chunk holds at most about 16 MB
    with pytest.raises(ValueError, match="stage must be 'planes' or 'isotropic', got 'sideways'"):
        unit_grid("sideways", (1, 1, 1, 2, 2), tiny_config)


def test_a_plane_unit_gives_the_same_result_with_the_network_sent_elsewhere(tiny_config):
    """A TrainedNetwork pickles as CPU weights, as it travels to a dask worker; the unit's result is the same."""
    data = np.random.default_rng(0).random((4, 24, 26)).astype(np.float32)
    job = resolve_run(data, (1, 2, 2), config=tiny_config).job
    model, report = train_lateral(job, [data[0], data[2]], 0, Progress(None, {}))
    assert (model.kind, model.scale) == ("lateral", (2.0, 2.0)) and report.steps == [tiny_config.max_iters]
    here = apply_plane(job, model, data[1])
    assert here.shape == (1, 48, 52) and np.all(np.isfinite(here))
    np.testing.assert_array_equal(apply_plane(job, pickle.loads(pickle.dumps(model)), data[1]), here)


def test_slab_units_with_their_margin_equal_the_whole_volume(tiny_config):
    data = np.random.default_rng(1).random((4, 24, 26)).astype(np.float32)
    job = resolve_run(data, (3, 1, 1), kernel="cubic", config=tiny_config).job
    model, _ = train_axial(job, [data[0], data[2]], 0, Progress(None, {}))
    assert (model.kind, model.scale) == ("axial", (3.0, 1.0))
    whole = apply_slab(job, model, data, 0, 24)
    assert whole.shape == (10, 24, 26)  # fine_length(4, 3): planes 0, 3, 6, 9 are the input's
    m = model.on("cpu").reach
    for a, b in ((0, 8), (8, 16), (16, 24)):
        lo, hi = max(0, a - m), min(24, b + m)
        np.testing.assert_allclose(apply_slab(job, model, data[:, lo:hi], a - lo, b - a), whole[:, a:b],
                                   rtol=1e-5, atol=1e-6)
