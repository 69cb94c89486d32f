"""stack/runners.py and big stacks: lazy dask/zarr input, zarr output that resumes, runs in this process and on a
dask.distributed cluster that give the same result."""

import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from napari_zssr import Cancelled, upscale

from ..compare import assert_close

zarr = pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")


class ReadLog:
    """A zarr array that records the size of every read, to prove nothing reads the whole array."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.reads = array, array.shape, array.dtype, []

    def __getitem__(self, idx):
        block = self.array[idx]
        self.reads.append(np.asarray(block).size)
        return block


@pytest.fixture
def stack4d(stack):
    """(C, Z, Y, X) uint16: two channels of different brightness."""
    return np.stack([stack, (stack // 2 + 40).astype(np.uint16)])


def test_dask_and_zarr_input_are_read_in_planes_and_match_numpy(stack4d, tiny_config, tmp_path):
    ref = upscale(stack4d, (1, 1, 2, 2), axes="CZYX", config=tiny_config)
    z = zarr.open_array(str(tmp_path / "in.zarr"), mode="w", shape=stack4d.shape, chunks=(1, 1) + stack4d.shape[2:],
                        dtype=stack4d.dtype)
    z[:] = stack4d
    logged = ReadLog(z)
    from_zarr = upscale(logged, (1, 1, 2, 2), axes="CZYX", config=tiny_config)
    assert_close(from_zarr, ref)
    assert max(logged.reads) == stack4d.shape[2] * stack4d.shape[3]  # one plane at a time
    from_dask = upscale(da.from_zarr(z), (1, 1, 2, 2), axes="CZYX", config=tiny_config)
    assert_close(from_dask, ref)


def test_isotropic_zarr_input_is_read_in_slabs(stack, tiny_config, tmp_path):
    ref = upscale(stack, (4, 1, 1), config=tiny_config)
    z = zarr.open_array(str(tmp_path / "in.zarr"), mode="w", shape=stack.shape, chunks=(1,) + stack.shape[1:],
                        dtype=stack.dtype)
    z[:] = stack
    logged = ReadLog(z)
    cfg = tiny_config.replace(depth=2, tile_pixels=4096)  # slabs of 4 rows (twice the margin) + 2 x 2 rows
    # the cubic: the default's axial estimate reads a central crop of at most 256 x 256 over all planes
    # once, which for a stack this small is all of it; the stage itself must read in slabs
    out = upscale(logged, (4, 1, 1), kernel="cubic", config=cfg)
    np.testing.assert_allclose(out, upscale(stack, (4, 1, 1), kernel="cubic", config=cfg), rtol=1e-5, atol=1e-3)
    assert out.shape == ref.shape
    assert max(logged.reads) < stack.size


def test_zarr_output_ome_metadata_and_no_partial_left(stack4d, tiny_config, tmp_path):
    ref = upscale(stack4d, (1, 4, 1, 1), axes="CZYX", config=tiny_config, dtype=np.uint16)
    path = tmp_path / "out.ome.zarr"
    res = upscale(stack4d, (1, 4, 1, 1), axes="CZYX", config=tiny_config, dtype=np.uint16, out=str(path),
                  voxel_size=(1, 1.2, 0.3, 0.3), unit="micron")
    assert isinstance(res, zarr.Array)
    assert_close(res[:], ref)
    assert not os.path.exists(str(path) + ".partial")
    group = zarr.open_group(str(path), mode="r")
    ms = group.attrs["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["c", "z", "y", "x"]
    assert ms["axes"][1]["unit"] == "micrometer"
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == pytest.approx([1, 0.3, 0.3, 0.3])
    assert group.attrs["napari_zssr"]["complete"] is True
    assert sorted(group.array_keys()) == ["0"]  # bookkeeping removed
    lazy = da.from_zarr(res)
    assert lazy.shape == ref.shape


def test_ome_output_puts_axes_in_tczyx_order(tiny_config, tmp_path):
    data = np.random.default_rng(0).random((3, 2, 20, 22)).astype(np.float32)  # Z C Y X, as ImageJ stores
    ref = upscale(data, (1, 1, 2, 2), axes="ZCYX", config=tiny_config)
    res = upscale(data, (1, 1, 2, 2), axes="ZCYX", config=tiny_config, out=str(tmp_path / "o.ome.zarr"))
    assert_close(res[:], np.moveaxis(ref, 1, 0))


def test_rerun_resumes_and_skips_finished_planes(stack, tiny_config, tmp_path):
    ref = upscale(stack, (1, 2, 2), config=tiny_config)
    out = str(tmp_path / "o.zarr")
    seen = []

    def stop_after_three(p):
        if p.get("stage") == "infer" and p.get("done"):
            seen.append((p["done"], p["todo"]))
            if p["done"] == 3:
                return False
        return None

    with pytest.raises(Cancelled):
        upscale(stack, (1, 2, 2), config=tiny_config, out=out, callback=stop_after_three)
    assert not os.path.exists(out) and os.path.isdir(out + ".partial")
    seen.clear()
    res = upscale(stack, (1, 2, 2), config=tiny_config, out=out, callback=seen_cb(seen))
    assert seen[-1] == (len(stack) - 3, len(stack) - 3)  # only the unfinished planes ran
    assert_close(res[:], ref)
    # the same job again: nothing to do, the finished store is returned
    seen.clear()
    again = upscale(stack, (1, 2, 2), config=tiny_config, out=out, callback=seen_cb(seen))
    assert seen == []
    np.testing.assert_array_equal(again[:], res[:])  # the same store, read again


def seen_cb(seen):
    def cb(p):
        if p.get("stage") == "infer" and p.get("done"):
            seen.append((p["done"], p["todo"]))
    return cb


def test_store_of_another_job_is_refused_unless_overwrite(stack, tiny_config, tmp_path):
    out = str(tmp_path / "o.zarr")
    upscale(stack, (1, 2, 2), config=tiny_config, out=out)
    with pytest.raises(FileExistsError, match=r"o\.zarr exists and holds the result of another run \(other input or "
                                              r"settings\); pass overwrite=True"):
        upscale(stack, (1, 2, 2), config=tiny_config.replace(seed=1), out=out)
    before = zarr.open_array(out + "/0", mode="r")[:]
    res = upscale(stack, (1, 2, 2), config=tiny_config.replace(seed=1), out=out, overwrite=True)
    assert not np.array_equal(res[:], before)
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "a.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not written by napari-zssr"):
        upscale(stack, (1, 2, 2), config=tiny_config, out=str(foreign))
    assert (foreign / "a.txt").read_text() == "mine"


def test_unwritable_output_gives_a_clear_error(stack, tiny_config, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # a file where the output's folder should be: refused before any work, naming both
    where = re.escape(str(blocker))
    with pytest.raises(NotADirectoryError, match=f"^cannot create {where}/o\\.zarr: {where} is a file, not a folder$"):
        upscale(stack, (1, 2, 2), config=tiny_config, out=str(blocker / "o.zarr"))


DISK_FULL = """
import resource, signal, sys
import numpy as np
from napari_zssr import upscale, ZSSRConfig
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
cfg = ZSSRConfig.preset("fast", max_iters=4, min_iters=4, width=8, depth=4, crop_size=24, batch_size=2, device="cpu",
                         precision="float32")
data = np.random.default_rng(0).random((3, 40, 40)).astype(np.float32)
resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))  # every file above 2 kB fails, as on a full disk
try:
    upscale(data, (1, 4, 4), config=cfg, out=sys.argv[1])
except OSError as exc:
    print("ERROR", exc)
"""


def test_full_disk_gives_a_clear_error_and_nothing_marked_done(tmp_path):
    out = str(tmp_path / "o.zarr")
    res = subprocess.run([sys.executable, "-c", DISK_FULL, out], capture_output=True, text=True, timeout=300)
    assert "could not write the result to" in res.stdout and "File too large" in res.stdout, res.stdout + res.stderr
    assert not os.path.exists(out)
    done = zarr.open_array(out + ".partial/done_planes", mode="r")[:]
    assert done.sum() == 0  # no plane reported done that was not written


def close(a, b):
    """Equal within training noise: workers run torch on one thread, this process on two, so the
    float sums of training and inference round apart."""
    assert_close(a, b)


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(lc)
    yield client
    client.close()
    lc.close()


def test_distributed_gives_the_in_process_result(stack4d, tiny_config, cluster, tmp_path):
    for scale in [(1, 1, 2, 2), (1, 3, 1, 1)]:
        ref = upscale(stack4d, scale, axes="CZYX", config=tiny_config)
        events = []
        res = upscale(stack4d, scale, axes="CZYX", config=tiny_config, client=cluster, callback=events.append)
        close(res, ref)
        assert any(e.get("stage") == "train" and e.get("step") for e in events)  # relayed from the workers
        assert events[-1]["stage"] == "done"
    out = upscale(stack4d, (1, 1, 2, 2), axes="CZYX", config=tiny_config, client=cluster, out=str(tmp_path / "o.zarr"))
    close(out[:], upscale(stack4d, (1, 1, 2, 2), axes="CZYX", config=tiny_config))


def test_a_worker_killed_mid_run_is_retried_and_the_output_is_complete(tiny_config, cluster, tmp_path):
    data = np.random.default_rng(0).random((12, 32, 32)).astype(np.float32)
    ref = upscale(data, (1, 2, 2), config=tiny_config)
    killed = []

    def kill_one(p):
        if p.get("stage") == "infer" and p.get("done") == 2 and not killed:
            pid = next(iter(cluster.run(os.getpid).values()))
            os.kill(pid, 9)
            killed.append(pid)

    res = upscale(data, (1, 2, 2), config=tiny_config, client=cluster, callback=kill_one, out=str(tmp_path / "o.zarr"))
    assert killed
    close(res[:], ref)
    deadline = time.time() + 60
    while len(cluster.scheduler_info()["workers"]) < 2 and time.time() < deadline:
        time.sleep(0.5)  # the nanny restarts the worker; later tests want both


def test_scheduler_that_does_not_answer_fails_fast():
    from napari_zssr.stack.runners import connect

    t0 = time.perf_counter()
    with pytest.raises(ConnectionError, match="no dask scheduler answered at tcp://127.0.0.1:9"):
        connect("tcp://127.0.0.1:9", timeout=2)
    assert time.perf_counter() - t0 < 15


def test_both_modes_through_a_store_equal_the_in_memory_result(tiny_config, tmp_path):
    data = np.random.default_rng(2).random((4, 18, 20)).astype(np.float32)
    ref = upscale(data, (2, 1.5, 1.5), config=tiny_config)
    res = upscale(da.from_array(data, chunks=(1, 18, 20)), (2, 1.5, 1.5), config=tiny_config,
                  out=str(tmp_path / "both.zarr"))
    assert res.shape == ref.shape == (7, 27, 30)
    assert_close(res[:], ref)
    assert sorted(zarr.open_group(str(tmp_path / "both.zarr"), mode="r").array_keys()) == ["0"]  # scratch removed


def test_devices_are_those_of_the_workers_and_a_scheduler_file_connects(cluster, tmp_path, stack, tiny_config):
    import json

    from napari_zssr.stack.runners import connect, worker_device

    assert worker_device(cluster, "auto") == "cpu"
    with pytest.raises(ValueError, match="no worker of the dask cluster can use device 'cuda'"):
        upscale(stack, (1, 2, 2), config=tiny_config.replace(device="cuda"), client=cluster)
    path = tmp_path / "scheduler.json"
    path.write_text(json.dumps({"address": cluster.scheduler.address}))
    client, close = connect(str(path))
    try:
        assert set(client.scheduler_info()["workers"]) == set(cluster.scheduler_info()["workers"])
    finally:
        close()
    with pytest.raises(FileNotFoundError, match="no such scheduler file"):
        connect(str(tmp_path / "missing.json"))


@pytest.mark.parametrize("scale", [(1, 1, 2, 2), (1, 3, 1, 1), (1, 2, 1.5, 1.5)])
def test_saved_networks_apply_to_another_time_point_without_training(stack4d, tiny_config, tmp_path, scale):
    path = tmp_path / "nets.pt"
    first = upscale(stack4d, scale, axes="CZYX", config=tiny_config, save_networks=str(path))
    events = []
    again = upscale(stack4d, scale, axes="CZYX", networks=str(path), callback=events.append,
                    config=tiny_config.replace(seed=5, width=16))  # only the device of this config counts
    assert_close(again, first, 1e-5)  # the same weights, loaded: inference alone may round apart
    assert not any(e.get("stage") == "train" for e in events)
    later = (stack4d[:, ::-1] * 0.9).astype(stack4d.dtype)  # "another time point"
    res = upscale(later, scale, axes="CZYX", networks=str(path), config=tiny_config)
    assert res.shape == first.shape and np.all(np.isfinite(res))
    with pytest.raises(ValueError, match="trained for axes CZYX, factors"):
        upscale(stack4d, (1, 1, 3, 3), axes="CZYX", networks=str(path))
    with pytest.raises(ValueError, match=r"nets\.pt are for 2 channel\(s\); the data has 1$"):
        upscale(stack4d[:1], scale, axes="CZYX", networks=str(path))
    with pytest.raises(FileExistsError, match=r"nets\.pt exists; pass overwrite=True \(--overwrite\) to replace it"):
        upscale(stack4d, scale, axes="CZYX", config=tiny_config, save_networks=str(path))
    (tmp_path / "junk.pt").write_bytes(b"not a file of ours")
    with pytest.raises(ValueError, match="not a napari-zssr networks file"):
        upscale(stack4d, scale, axes="CZYX", networks=str(tmp_path / "junk.pt"))


def test_saved_networks_apply_on_a_cluster(stack, tiny_config, tmp_path, cluster):
    path = str(tmp_path / "nets.pt")
    first = upscale(stack, (3, 1, 1), config=tiny_config, save_networks=path)
    close(upscale(stack, (3, 1, 1), networks=path, client=cluster), first)


def _slow_zarr_writes(client, seconds: float):
    """A worker plugin that delays every chunk write of zarr's LocalStore, as a network filesystem does;
    returns a function that removes it."""
    from distributed import WorkerPlugin

    class SlowWrites(WorkerPlugin):  # defined here so that it is pickled by value, not imported by the workers
        name = "napari-zssr-slow-writes"

        def setup(self, worker):
            import asyncio

            import zarr.storage

            store = zarr.storage.LocalStore
            self.original = store.set

            async def slow_set(this, key, value, _orig=self.original):
                if "/c/" in key or key.split("/")[-1][:1].isdigit():  # chunks, not metadata
                    await asyncio.sleep(seconds)
                return await _orig(this, key, value)

            store.set = slow_set

        def teardown(self, worker):
            import zarr.storage

            zarr.storage.LocalStore.set = self.original

    client.register_plugin(SlowWrites())
    return lambda: client.unregister_worker_plugin(SlowWrites.name)


@pytest.mark.parametrize("shape, f, tile", [((4, 200, 40), 1.3, 4000), ((5, 90, 24), 2.5, 1000)])
def test_isotropic_store_on_a_cluster_with_slow_writes_loses_no_rows(cluster, tiny_config, tmp_path, shape, f, tile):
    """Slabs and chunks line up whatever the factor and tile size, so no two units share a chunk."""
    data = np.random.default_rng(3).random(shape).astype(np.float32)
    cfg = tiny_config.replace(tile_pixels=tile)
    ref = upscale(data, (f, 1, 1), config=cfg)
    remove = _slow_zarr_writes(cluster, 0.05)
    try:
        out = str(tmp_path / "iso.zarr")
        res = upscale(data, (f, 1, 1), config=cfg, client=cluster, out=out)
    finally:
        remove()
    group = zarr.open_group(out, mode="r")
    rows = group["0"].chunks[1]
    assert shape[1] // rows >= 3, "the case must span several slabs"
    close(res[:], ref)
    assert np.all(np.abs(res[:]).max(axis=(0, 2)) > 0), "a row of the result was never written"


@pytest.mark.parametrize("scale, kernel", [((1, 3, 1, 1), 1.5), ((1, 1, 2, 2), "gauss2d")])
def test_saved_networks_with_a_non_default_kernel_reproduce_the_saving_run(stack4d, tiny_config, tmp_path, scale,
                                                                          kernel):
    from napari_zssr.core.kernels import gaussian_kernel

    kernel = gaussian_kernel([1.2, 0.8]) if kernel == "gauss2d" else kernel
    path = tmp_path / "nets.pt"
    first = upscale(stack4d, scale, axes="CZYX", kernel=kernel, config=tiny_config, save_networks=str(path))
    again = upscale(stack4d, scale, axes="CZYX", networks=str(path), config=tiny_config)  # no kernel given
    assert_close(again, first, 1e-5)
    cubic = upscale(stack4d, scale, axes="CZYX", config=tiny_config)
    assert np.abs(first - cubic).max() > 1e-2 * float(first.max() - first.min()), "the kernel made no difference"


def test_a_store_begun_with_one_networks_file_is_not_resumed_with_another(stack, tiny_config, tmp_path):
    nets_a, nets_b = str(tmp_path / "a.pt"), str(tmp_path / "b.pt")
    upscale(stack, (1, 2, 2), config=tiny_config, save_networks=nets_a)
    # the same settings and intensity range, other weights: only the files' content tells them apart
    upscale(np.ascontiguousarray(stack[:, ::-1]), (1, 2, 2), config=tiny_config, save_networks=nets_b)
    out = str(tmp_path / "o.zarr")

    def stop_after_two(p):
        return False if p.get("stage") == "infer" and p.get("done") == 2 else None

    with pytest.raises(Cancelled):
        upscale(stack, (1, 2, 2), networks=nets_a, config=tiny_config, out=out, callback=stop_after_two)
    with pytest.raises(FileExistsError, match="unfinished run of another job"):
        upscale(stack, (1, 2, 2), networks=nets_b, config=tiny_config, out=out)
    res = upscale(stack, (1, 2, 2), networks=nets_a, config=tiny_config, out=out)  # the same file resumes
    assert_close(res[:], upscale(stack, (1, 2, 2), networks=nets_a, config=tiny_config), 1e-5)


def test_on_a_cluster_the_precision_is_chosen_once_for_every_worker(stack4d, tiny_config, cluster):
    from napari_zssr.stack.upscale import run_upscale

    _, rep = run_upscale(stack4d, (1, 1, 2, 2), axes="CZYX", config=tiny_config.replace(precision="auto"),
                         client=cluster)
    assert rep.precision in ("float32", "bfloat16", "float16")
    assert rep.precision_probe["times"]  # measured on a worker, once
    assert {u.precision for u in rep.units} == {rep.precision}  # every unit ran in it


@pytest.mark.parametrize("scale, kind", [((1, 2, 2), "plane"), ((3, 1, 1), "slab")])
def test_inference_progress_names_its_units(stack, tiny_config, scale, kind):
    seen = []
    upscale(stack, scale, config=tiny_config,
            callback=lambda p: seen.append(p) if p.get("stage") == "infer" and "todo" in p else None)
    assert seen and {p["unit_kind"] for p in seen} == {kind}
    assert seen[-1]["done"] == seen[-1]["todo"]


def test_distributed_units_return_the_uncertainty_in_memory_and_into_a_store(stack4d, tiny_config, cluster,
                                                                              tmp_path):
    """The apply units return (result, uncertainty) on a worker: gathered here for an array in memory, written
    there into a store; both as the in-process run gives them."""
    scale = (1, 2, 1, 1)
    ref, ref_u = upscale(stack4d, scale, axes="CZYX", config=tiny_config, return_uncertainty=True)
    res, res_u = upscale(stack4d, scale, axes="CZYX", config=tiny_config, client=cluster, return_uncertainty=True)
    close(res, ref)
    close(res_u, ref_u)
    out, out_u = upscale(stack4d, scale, axes="CZYX", config=tiny_config, client=cluster, out=str(tmp_path / "u.zarr"),
                         return_uncertainty=True)
    close(out_u[:], ref_u)
    assert out_u.shape == out.shape and ref_u.max() > 0
