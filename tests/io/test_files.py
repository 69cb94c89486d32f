"""io/files.py: file kinds by name, and writes that never leave a half-written file."""

import os

import pytest

from napari_zssr.io.files import atomic_write, file_ext, is_zarr_path


def test_kinds_by_name():
    assert file_ext("a/B.TIF") == ".tif" and file_ext("noext") == ""
    assert is_zarr_path("x.zarr") and is_zarr_path("x.ome.zarr/") and not is_zarr_path("x.zarr.txt")


def test_a_failed_write_leaves_nothing_and_the_old_file_untouched(tmp_path):
    path = tmp_path / "o.tif"
    path.write_bytes(b"old")

    def half_then_fail(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"half")
        raise RuntimeError("the writer died")

    with pytest.raises(RuntimeError, match="the writer died"):
        atomic_write(path, half_then_fail, overwrite=True)
    assert path.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["o.tif"]


def test_existing_files_need_overwrite_and_missing_folders_are_named(tmp_path):
    path = tmp_path / "o.tif"
    path.write_bytes(b"old")

    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"new")

    with pytest.raises(FileExistsError, match="o.tif exists"):
        atomic_write(path, write)
    atomic_write(path, write, overwrite=True)
    assert path.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # not the private mode of a temporary file
    with pytest.raises(FileNotFoundError, match="output folder does not exist"):
        atomic_write(tmp_path / "missing" / "o.tif", write)


def test_other_write_errors_pass_unchanged(tmp_path):
    def fail(tmp):
        raise ValueError("not a disk problem")

    from napari_zssr.io import atomic_write

    with pytest.raises(ValueError, match="not a disk problem"):
        atomic_write(str(tmp_path / "a.tif"), fail)
    assert os.listdir(tmp_path) == []
