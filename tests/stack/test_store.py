"""Output stores (stack/store.py): never a stale result, never a damaged one marked complete, never data that
is not the run's own removed, one run at a time."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tifffile
import zarr

from napari_zssr import Cancelled, upscale
from napari_zssr.stack.upscale import run_upscale

from ..compare import assert_close
from ..test_reliability import tiny


@pytest.fixture
def vol():
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:32, 0:32]
    planes = [100 + 50 * np.sin(x / (2 + z % 3)) * np.cos(y / 3) + rng.random((32, 32)) * 5 for z in range(8)]
    return np.stack(planes).astype(np.float32)


def stop_after(n):
    def cb(p):
        if p.get("stage") == "infer" and p.get("done") == n:
            return False
        return None

    return cb


def test_a_changed_input_is_never_answered_with_the_old_result(vol, tmp_path):
    out = str(tmp_path / "o.zarr")
    first = np.asarray(upscale(vol, (1, 2, 2), config=tiny(), out=out)[:])
    changed = vol.copy()
    changed[1] = 0
    with pytest.raises(FileExistsError, match="this job for another input: the input changed since .channel 0"):
        upscale(changed, (1, 2, 2), config=tiny(), out=out)
    redone = np.asarray(upscale(changed, (1, 2, 2), config=tiny(), out=out, overwrite=True)[:])
    assert np.abs(redone[1]).max() < 0.05 * np.abs(first[1]).max()  # plane 1 now holds the new input's result
    assert_close(redone[3], first[3])


def test_the_same_input_reuses_the_result_and_says_so(vol, tmp_path):
    out = str(tmp_path / "o.zarr")
    _, rep = run_upscale(vol, (1, 2, 2), config=tiny(), out=out)
    assert rep.units and not rep.reused
    _, again = run_upscale(vol.copy(), (1, 2, 2), config=tiny(), out=out)
    assert again.reused == os.path.abspath(out) and not again.units
    assert any(n.startswith(f"reused the finished result in {os.path.abspath(out)}; nothing was trained")
               for n in again.notes)


def test_an_unfinished_run_is_not_resumed_on_another_input(vol, tmp_path):
    out = str(tmp_path / "o.zarr")
    with pytest.raises(Cancelled):
        upscale(vol, (1, 2, 2), config=tiny(), out=out, callback=stop_after(2))
    changed = vol.copy()
    changed[5] += 1
    with pytest.raises(FileExistsError, match="unfinished run of this job on another input"):
        upscale(changed, (1, 2, 2), config=tiny(), out=out)
    assert os.path.isdir(out + ".partial")  # kept: it is the user's to discard
    res = upscale(changed, (1, 2, 2), config=tiny(), out=out, overwrite=True)
    assert_close(res[:], upscale(changed, (1, 2, 2), config=tiny()))


def _damage_first_chunk(array_dir):
    names = sorted(n for n in os.listdir(array_dir) if not n.startswith("."))
    with open(os.path.join(array_dir, names[0]), "r+b") as fh:
        data = bytearray(fh.read())
        data[len(data) // 2:] = bytes(len(data) - len(data) // 2)  # half the chunk zeroed: decodes badly or differs
        fh.seek(0)
        fh.write(data)


def test_a_damaged_chunk_of_a_finished_unit_is_computed_again(vol, tmp_path):
    ref = upscale(vol, (1, 2, 2), config=tiny())
    out = str(tmp_path / "o.zarr")
    with pytest.raises(Cancelled):
        upscale(vol, (1, 2, 2), config=tiny(), out=out, callback=stop_after(3))
    _damage_first_chunk(out + ".partial/0")
    res, rep = run_upscale(vol, (1, 2, 2), config=tiny(), out=out)
    assert any("1 finished unit(s) of the stored run no longer read back" in n for n in rep.notes), rep.notes
    assert_close(res[:], ref)


def test_a_missing_chunk_of_a_finished_unit_is_computed_again(vol, tmp_path):
    ref = upscale(vol, (1, 2, 2), config=tiny())
    out = str(tmp_path / "o.zarr")
    with pytest.raises(Cancelled):
        upscale(vol, (1, 2, 2), config=tiny(), out=out, callback=stop_after(3))
    os.remove(os.path.join(out + ".partial/0", "1.0.0"))
    res, rep = run_upscale(vol, (1, 2, 2), config=tiny(), out=out)
    assert any("no longer read back" in n for n in rep.notes)
    assert_close(res[:], ref)


def test_overwrite_removes_only_what_the_run_made(vol, tmp_path):
    out = str(tmp_path / "o.zarr")
    mine = tmp_path / "o.zarr.old"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    upscale(vol, (1, 2, 2), config=tiny(), out=out)
    upscale(vol, (1, 2, 2), config=tiny(seed=1), out=out, overwrite=True)
    assert (mine / "notes.txt").read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == ["o.zarr", "o.zarr.old"]  # no lock, no partial, no replaced copy


def test_a_foreign_partial_folder_is_never_removed(vol, tmp_path):
    out = str(tmp_path / "o.zarr")
    foreign = tmp_path / "o.zarr.partial"
    foreign.mkdir()
    (foreign / "data.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="was not written by napari-zssr"):
        upscale(vol, (1, 2, 2), config=tiny(), out=out, overwrite=True)
    assert (foreign / "data.txt").read_text() == "keep me"


def test_a_half_written_partial_of_ours_is_restarted(vol, tmp_path):
    out = str(tmp_path / "o.zarr")
    with pytest.raises(Cancelled):
        upscale(vol, (1, 2, 2), config=tiny(), out=out, callback=stop_after(2))
    os.remove(out + ".partial/0/.zarray")  # the result array's own metadata is gone
    res = upscale(vol, (1, 2, 2), config=tiny(), out=out)
    assert_close(res[:], upscale(vol, (1, 2, 2), config=tiny()))


@pytest.mark.parametrize("where", ["same", "inside", "holds"])
def test_an_output_that_is_or_holds_the_input_is_refused(vol, tmp_path, where):
    src = str(tmp_path / "in.zarr")
    zarr.save_array(src, vol)
    out = {"same": src, "inside": os.path.join(src, "o.zarr"), "holds": str(tmp_path)}[where]
    with pytest.raises(ValueError, match=f"^the output {re.escape(out)} is the input {re.escape(src)}, or one holds "
                                         r"the other: choose another output path \(the input is never overwritten\)$"):
        upscale(zarr.open_array(src, mode="r"), (1, 2, 2), config=tiny(), out=out, overwrite=True)
    np.testing.assert_array_equal(zarr.open_array(src, mode="r")[:], vol)


SECOND = ["upscale", "{src}", "{out}", "--scale", "1", "2", "2", "--quiet", "--device", "cpu", "--preset", "fast",
          "--max-iters", "2", "--precision", "float32"]


def test_a_second_run_on_the_same_output_is_refused_at_once(vol, tmp_path):
    src, out = str(tmp_path / "in.tif"), str(tmp_path / "o.zarr")
    tifffile.imwrite(src, vol)
    seen = []

    def start_the_second(p):
        if not seen and p.get("stage") == "train":  # the output's lock is held from before training on
            argv = [a.format(src=src, out=out) for a in SECOND]
            seen.append(subprocess.run([sys.executable, "-m", "napari_zssr.cli", *argv], capture_output=True,
                                       text=True, timeout=300))
        return None

    upscale(tifffile.imread(src), (1, 2, 2), config=tiny(), out=out, callback=start_the_second)
    second = seen[0]
    assert second.returncode == 2, second.stderr
    assert "another napari-zssr run (pid" in second.stderr and "is writing" in second.stderr
    assert "Traceback" not in second.stderr
    assert sorted(os.listdir(tmp_path)) == ["in.tif", "o.zarr"]


def test_a_lock_whose_holder_is_gone_is_taken_over(vol, tmp_path):
    import json
    import socket

    out = str(tmp_path / "o.zarr")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with open(out + ".lock", "w") as fh:
        json.dump({"napari_zssr": True, "pid": gone.pid, "host": socket.gethostname(), "started": "earlier"}, fh)
    upscale(vol, (1, 2, 2), config=tiny(), out=out)
    assert not os.path.exists(out + ".lock") and os.path.isdir(out)
