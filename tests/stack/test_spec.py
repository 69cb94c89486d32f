"""stack/spec.py: a stack run resolved once into a frozen specification: what every field holds, and every
error of the user's settings raised before any work, the config (which may probe the device) made only
once the whole input is known good."""

import warnings

import numpy as np
import pytest

from napari_zssr.stack.kernel_choice import Source
from napari_zssr.stack.spec import resolve_run

DATA = np.random.default_rng(0).random((2, 5, 16, 18)).astype(np.float32)  # C Z Y X


class Broken:
    """A lazily read stack whose plane 3 cannot be decoded, as a damaged chunk or page."""

    def __init__(self, array):
        self.array, self.shape, self.dtype = array, array.shape, array.dtype

    def __getitem__(self, idx):
        if 3 in range(self.shape[0])[idx[0]]:
            raise OSError("damaged chunk")
        return self.array[idx]


def test_a_run_in_memory_resolves_its_plan_kernels_device_and_output(tiny_config):
    spec = resolve_run(DATA, (1, 1, 2, 2), axes="CZYX", config=tiny_config)
    assert (spec.plan.axes, spec.plan.mode, spec.plan.scale) == ("CZYX", "planes", (1.0, 1.0, 2.0, 2.0))
    assert spec.final5 == (2, 1, 5, 32, 36) and spec.probe == {}  # float32 asked: nothing to probe
    assert (spec.job.cfg.device, spec.job.cfg.precision, spec.job.plan) == ("cpu", "float32", spec.plan)
    assert spec.device == "cpu" and spec.precision.name == "float32"
    assert spec.job.lateral.source == Source.CUBIC and spec.job.axial is None and spec.fine_step is None
    assert spec.inputs == {}  # an array in memory without a store is not scanned for digests
    assert (spec.output.path, spec.output.axes, spec.output.dtype, spec.output.ome) == (None, "CZYX", np.float32,
                                                                                        False)
    assert spec.saved is None and spec.networks_digest == "" and spec.save_networks is None
    for c, st in enumerate(spec.stats):  # each channel's own range, from its own planes
        assert st.lo == pytest.approx(np.percentile(DATA[c], 0.1), abs=0.01) and not st.constant
    with pytest.raises(AttributeError):
        spec.probe = {"float32": 1.0}  # frozen: the stages read it, none changes it


def test_a_run_into_an_ome_zarr_store_is_scanned_and_writes_tczyx(tiny_config, tmp_path):
    zyx_c = np.ascontiguousarray(np.moveaxis(DATA, 0, 1))  # Z C Y X, as ImageJ stores it
    out = str(tmp_path / "o.ome.zarr")
    spec = resolve_run(zyx_c, (2, 1, 1, 1), axes="ZCYX", config=tiny_config, out=out, voxel_size=(1.2, 1, 0.3, 0.3))
    assert (spec.output.path, spec.output.axes, spec.output.ome) == (out, "CZYX", True)
    assert spec.plan.mode == "isotropic" and spec.final5 == (2, 1, 9, 16, 18)
    assert spec.voxel_size == [1.2, 1.0, 0.3, 0.3] and spec.fine_step == pytest.approx(0.6)  # 1.2 / 2
    assert spec.job.axial.source == Source.ESTIMATE and spec.job.axial.pending  # read from the data later
    assert list(spec.inputs["volumes"]) == ["channel 0, time 0", "channel 1, time 0"]
    assert resolve_run(zyx_c, (2, 1, 1, 1), axes="ZCYX", config=tiny_config, out=str(tmp_path / "p.zarr"),
                       ome=False).output.axes == "ZCYX"


@pytest.mark.parametrize("kw, exc, message", [
    ({"voxel_size": (1, 2)}, ValueError, r"voxel_size needs one size per axis \(4\), got 2"),
    ({"voxel_size": (1, 0, 1, 1)}, ValueError, r"voxel sizes must be positive and finite, got \[1.0, 0.0, 1.0, 1.0\]"),
    ({"dtype": bool}, TypeError, "dtype bool is not a numeric image type; use an integer or float type"),
    ({"planes": "independent", "save_networks": "n.pt"}, ValueError,
     r"saving or applying networks needs planes='shared' \(one network per channel\)"),
])
def test_settings_a_run_cannot_have_are_refused_in_words(tiny_config, kw, exc, message):
    with pytest.raises(exc, match=message):
        resolve_run(DATA, (1, 1, 2, 2), axes="CZYX", config=tiny_config, **kw)


@pytest.mark.parametrize("data, scale, message", [
    (np.zeros(5), (2,), r"data must have at least 2 axes, got shape \(5,\)"),
    (np.zeros((4, 1, 8)), (1, 2, 2), r"data is too small: shape \(4, 1, 8\) \(Y and X need >= 2 pixels\)"),
])
def test_data_a_run_cannot_take_is_refused_in_words(tiny_config, data, scale, message):
    with pytest.raises(ValueError, match=message):
        resolve_run(data, scale, config=tiny_config)


def test_networks_to_save_over_an_existing_file_need_overwrite(tiny_config, tmp_path):
    path = tmp_path / "n.pt"
    path.write_bytes(b"a file of the user's")
    with pytest.raises(FileExistsError, match=r"n\.pt exists; pass overwrite=True \(--overwrite\) to replace it"):
        resolve_run(DATA, (1, 1, 2, 2), axes="CZYX", config=tiny_config, save_networks=str(path))
    assert path.read_bytes() == b"a file of the user's"


def test_the_config_is_made_only_once_the_whole_input_is_known_good(tiny_config, tmp_path):
    made = []

    def config():
        made.append(1)
        return tiny_config

    bad = DATA.copy()
    bad[1, 2, 3, 4] = np.nan
    with pytest.raises(ValueError, match=r"^data contains 1 NaN or inf value\(s\)"):
        resolve_run(bad, (1, 1, 2, 2), axes="CZYX", config=config)
    with pytest.raises(ValueError, match=r"^cannot read the input at channel 0, time 0, planes 3-3: OSError: damaged"):
        resolve_run(Broken(DATA[0]), (1, 2, 2), config=config)  # a lazy input: every plane read first
    assert made == []
    resolve_run(DATA, (1, 1, 2, 2), axes="CZYX", config=config)
    assert made == [1]


def test_a_constant_channel_is_warned_about_once(tiny_config):
    data = DATA.copy()
    data[1] = 3.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = resolve_run(data, (1, 1, 2, 2), axes="CZYX", config=tiny_config)
    assert [str(w.message) for w in caught] == ["channel 1 is constant: it comes back interpolated"]
    assert spec.stats[1].constant and (spec.stats[1].lo, spec.stats[1].span) == (3.0, 1.0)
