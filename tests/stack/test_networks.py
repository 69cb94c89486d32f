"""Networks files (stack/networks.py) are checked field by field when loaded.

A real file is written once per module by a tiny run; each case damages one field of a copy (loaded,
changed, saved again with torch.save, as a hand-made or corrupted file would be) and applying it must be
refused with a ValueError that names the file and the field, before any network is built.
"""

from __future__ import annotations

import functools
import math
import os
import re
import tempfile
import time

import numpy as np
import pytest
import torch

from napari_zssr import upscale
from napari_zssr.stack.networks import load_networks
from napari_zssr.stack.networks_checks import expected_state

from ..cases import CLIError, check_case, cli_case
from ..test_reliability import tiny

SCALE = (1, 2, 2)  # planes mode: one lateral network for the one channel
BAD = "is not a valid napari-zssr networks file: "
_FOLDER = tempfile.TemporaryDirectory(prefix="zssr-networks-")  # the module's files; removed at exit


def stack() -> np.ndarray:
    z, y, x = np.mgrid[0:6, 0:16, 0:16].astype(np.float32)
    return (100 + 50 * np.sin(x / 2.0 + z) * np.cos(y / 3.0) + 10 * z).astype(np.float32)


@functools.lru_cache(maxsize=None)
def trained() -> tuple:
    """(path of a real networks file, the result of the run that saved it), made once."""
    path = os.path.join(_FOLDER.name, "good.pt")
    result = upscale(stack(), SCALE, config=tiny(), save_networks=path)
    return path, result


def damaged(change, name: str = "bad.pt") -> str:
    """A copy of the real file with ``change(saved_dict)`` applied, saved as a file of its own."""
    saved = torch.load(trained()[0], map_location="cpu", weights_only=True)
    change(saved)
    path = os.path.join(_FOLDER.name, f"{len(os.listdir(_FOLDER.name))}-{name}")
    torch.save(saved, path)
    return path


def apply(change):
    """Apply a damaged copy to the stack it was trained on."""
    return lambda: upscale(stack(), SCALE, config=tiny(), networks=damaged(change))


def state(saved: dict) -> dict:
    return saved["networks"][0]["state"]


def setter(*keys_and_value):
    """A change that sets saved[k1][k2]... = value."""
    *keys, value = keys_and_value

    def change(saved):
        target = saved
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value

    return change


def dropper(key):
    return lambda saved: saved.pop(key)


def weight(name, value):
    return lambda saved: state(saved).__setitem__(name, value)


def nan_weight(saved):
    state(saved)["convs.2.weight"][0, 0, 1, 1] = math.nan


CASES = [
    ("networks-nan-range", "upscale(networks=): a file whose ranges hold NaN",
     apply(setter("ranges", 0, 0, math.nan)), ValueError, BAD + "ranges[0] holds NaN"),
    ("networks-inf-span", "upscale(networks=): a range whose span is inf",
     apply(setter("ranges", 0, 1, math.inf)), ValueError, BAD + "ranges[0] holds inf"),
    ("networks-zero-span", "upscale(networks=): a range whose span is 0",
     apply(setter("ranges", 0, 1, 0.0)), ValueError, "ranges[0] has span 0; it must be > 0"),
    ("networks-no-networks", "upscale(networks=): a file without networks",
     apply(dropper("networks")), ValueError, BAD + "it has no 'networks'"),
    ("networks-no-ranges", "upscale(networks=): a file without ranges",
     apply(dropper("ranges")), ValueError, BAD + "it has no 'ranges'"),
    ("networks-bad-mode", "upscale(networks=): an unknown mode",
     apply(setter("mode", "sideways")), ValueError, "mode must be one of planes, isotropic, both"),
    ("networks-bad-axes", "upscale(networks=): axes with a letter not of TCZYXS",
     apply(setter("axes", "QYX")), ValueError, "axes must be distinct letters of TCZYXS"),
    ("networks-nan-scale", "upscale(networks=): a NaN factor",
     apply(setter("scale", 1, math.nan)), ValueError, "scale holds NaN"),
    ("networks-wrong-shape", "upscale(networks=): a weight of another shape than the config's network",
     apply(weight("convs.1.weight", torch.zeros(8, 8, 5, 5))), ValueError,
     "networks[0].state['convs.1.weight'] has shape (8, 8, 5, 5); config width 8, depth 4 and 1 input "
     "channel(s) make (8, 8, 3, 3)"),
    ("networks-missing-weight", "upscale(networks=): a network with a layer missing",
     apply(lambda saved: state(saved).pop("convs.3.weight")), ValueError,
     "networks[0].state does not hold the weights of a depth-4 network: missing ['convs.3.weight']"),
    ("networks-huge-width", "upscale(networks=): a config claiming width 10**6",
     apply(setter("config", "width", 10**6)), ValueError, "config.width must be an int from 1 to 1024, got 1000000"),
    ("networks-width-not-the-weights", "upscale(networks=): a config claiming width 1024 for weights of width 8",
     apply(setter("config", "width", 1024)), ValueError,
     "networks[0].state['convs.0.weight'] has shape (8, 1, 3, 3); config width 1024"),
    ("networks-deeper-config", "upscale(networks=): a config one layer deeper than the weights",
     apply(setter("config", "depth", 5)), ValueError, "does not hold the weights of a depth-5 network"),
    ("networks-nan-weight", "upscale(networks=): a NaN weight",
     apply(nan_weight), ValueError, "networks[0].state['convs.2.weight'] holds NaN or inf"),
    ("networks-int-weight", "upscale(networks=): integer weights",
     apply(weight("convs.0.weight", torch.zeros(8, 1, 3, 3, dtype=torch.int32))), ValueError,
     "networks[0].state['convs.0.weight'] must be a float tensor"),
    ("networks-channel-out-of-range", "upscale(networks=): a network for channel 3 of a 1-channel file",
     apply(setter("networks", 0, "channel", 3)), ValueError,
     "networks[0].channel is 3; ranges has 1 channel(s), so it must be an int from 0 to 0"),
    ("networks-bad-kind", "upscale(networks=): an axial network in a planes file",
     apply(setter("networks", 0, "kind", "axial")), ValueError,
     "networks[0].kind is 'axial'; a planes file holds lateral networks"),
    ("networks-in-channels", "upscale(networks=): in_channels other than the data's",
     apply(setter("networks", 0, "in_channels", 2)), ValueError, "networks[0].in_channels is 2; it must be 1"),
    ("networks-huge-bp", "upscale(networks=): 10**9 back-projection passes",
     apply(setter("networks", 0, "bp_iters", 10**9)), ValueError,
     "networks[0].bp_iters must be an int from 0 to 1000"),
    ("networks-nan-net-scale", "upscale(networks=): a network's factor is NaN",
     apply(setter("networks", 0, "scale", [2.0, math.nan])), ValueError, "networks[0].scale holds NaN"),
    ("networks-config-refused", "upscale(networks=): a config ZSSRConfig refuses",
     apply(setter("config", "learning_rate", -1.0)), ValueError,
     "config is not a valid ZSSRConfig (learning_rate must be > 0"),
    ("networks-config-unknown-field", "upscale(networks=): a config with an unknown field",
     apply(setter("config", "colour", "blue")), ValueError, "config is not a valid ZSSRConfig"),
    ("networks-config-tensor", "upscale(networks=): a config field holding a tensor (ZSSRConfig: RuntimeError)",
     apply(setter("config", "augment_no_interpolate_probability", torch.zeros(3, dtype=torch.int32))), ValueError,
     BAD + "config.augment_no_interpolate_probability must be a number, string, bool, None or a list of them, "
     "got a 1-D int32 tensor of shape (3,)"),
    ("networks-config-nested-list", "upscale(networks=): scale_factors nested three lists deep",
     apply(setter("config", "scale_factors", [[[2.0, 2.0]]])), ValueError,
     "config.scale_factors must be a number, string, bool, None or a list of them"),
    ("networks-nan-axial-taps", "upscale(networks=): axial kernel taps holding NaN",
     apply(setter("axial_kernel", {"name": "x", "taps": torch.tensor([1.0, math.nan, 1.0], dtype=torch.float64)})),
     ValueError, "axial_kernel.taps holds NaN or inf"),
    ("networks-zero-sum-taps", "upscale(networks=): axial taps summing to 0",
     apply(setter("axial_kernels", [{"name": "x", "taps": torch.tensor([1.0, -1.0], dtype=torch.float64)}])),
     ValueError, "axial_kernels[0].taps must have a positive sum"),
    ("networks-huge-taps", "upscale(networks=): 10**5 axial taps",
     apply(setter("axial_kernel", {"name": "x", "taps": torch.ones(10**5, dtype=torch.float64)})),
     ValueError, "axial_kernel.taps has shape (100000,); each side must have 1 to 4097 taps"),
    ("networks-3d-lateral-kernel", "upscale(networks=): a 3-D lateral kernel",
     apply(setter("lateral_kernel", {"name": "x", "array": torch.ones(3, 3, 3, dtype=torch.float64)})),
     ValueError, "lateral_kernel.array must be a 2-D float tensor"),
    ("networks-unknown-kernel-name", "upscale(networks=): a lateral kernel named 'wobbly'",
     apply(setter("lateral_kernel", {"name": "wobbly", "array": None})), ValueError,
     "lateral_kernel.name: unknown kernel 'wobbly'"),
    ("networks-negative-voxel", "upscale(networks=): a negative voxel size",
     apply(setter("voxel_size", [-1.0, 1.0, 1.0])), ValueError, "voxel_size must be positive sizes"),
    ("networks-bad-unit", "upscale(networks=): a unit that is not a string",
     apply(setter("unit", 5)), ValueError, "unit must be None or a string, got 5"),
    ("networks-bad-version", "upscale(networks=): a version that is not a string",
     apply(setter("version", 3)), ValueError, "version must be a version string, got 3"),
]


def _cli_with(change):
    """``napari-zssr upscale in.tif out.tif --networks <tmp>/bad.pt``, the file a damaged copy."""
    import shutil

    import tifffile

    def run():
        argv = ["--scale", *map(str, SCALE)]
        return cli_case(lambda tmp: make(tmp, argv), argv)

    def make(tmp, argv):
        src = os.path.join(tmp, "in.tif")
        tifffile.imwrite(src, stack())
        shutil.copy(damaged(change), os.path.join(tmp, "bad.pt"))
        # cli_case reads the arguments after this, so the file can sit in its fresh folder (shown as <tmp>)
        argv.extend(["--networks", os.path.join(tmp, "bad.pt")])
        return src

    return run


CASES.append(
    ("cli-networks-config-tensor", "napari-zssr upscale --networks bad.pt: a config field holding a tensor",
     _cli_with(setter("config", "augment_no_interpolate_probability", torch.zeros(3, dtype=torch.int32))), CLIError,
     "exit 2: napari-zssr: error: <tmp>/bad.pt is not a valid napari-zssr networks file: "
     "config.augment_no_interpolate_probability must be"))
CASES.append(
    ("cli-networks-nan-range", "napari-zssr upscale --networks bad.pt: a file whose ranges hold NaN",
     _cli_with(setter("ranges", 0, 0, math.nan)), CLIError,
     "exit 2: napari-zssr: error: <tmp>/bad.pt is not a valid napari-zssr networks file: ranges[0] holds NaN"))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_case_gets_its_documented_outcome(case):
    check_case(case)


def test_the_message_names_the_file():
    path = damaged(setter("ranges", 0, 0, math.nan), "named.pt")
    with pytest.raises(ValueError) as info:
        load_networks(path)
    assert str(info.value) == f"{path} {BAD}ranges[0] holds NaN"


@pytest.mark.parametrize("width, depth, why", [
    (10**6, 4, "config.width must be an int from 1 to 1024, got 1000000"),
    (1024, 64, "networks[0].state does not hold the weights of a depth-64 network: missing ['convs.10.weight'"),
])
def test_a_claimed_size_is_refused_without_building_the_network(width, depth, why):
    """Width 1024 and depth 64 are within the format, but a network of that size has 6e8 weights (2.4 GB):
    the file's own tensors say it is not that network, and the refusal comes before anything is built."""
    path = damaged(lambda saved: saved["config"].update(width=width, depth=depth))
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=re.escape(f"{path} {BAD}{why}")):
        load_networks(path)
    assert time.perf_counter() - t0 < 3


def test_a_valid_file_loads_and_applies_as_the_run_that_saved_it():
    path, first = trained()
    saved = load_networks(path)
    assert {k: tuple(v.shape) for k, v in saved["networks"][0]["state"].items()} == expected_state(1, 8, 4)
    again = upscale(stack(), SCALE, config=tiny(), networks=path)
    assert np.all(np.isfinite(again))
    np.testing.assert_allclose(again, first, rtol=1e-5, atol=1e-4)
    # the same dict saved again by torch.save (what the damaged copies are) loads as well
    same = damaged(lambda saved: None, "same.pt")
    np.testing.assert_allclose(upscale(stack(), SCALE, config=tiny(), networks=same), first, rtol=1e-5, atol=1e-4)


def test_expected_state_matches_a_real_network():
    from napari_zssr.core.network import ZSSRNet

    net = ZSSRNet(3, width=5, depth=6)
    assert expected_state(3, 5, 6) == {k: tuple(v.shape) for k, v in net.state_dict().items()}


def test_a_networks_file_is_read_once_while_it_stays_as_it_is(tmp_path, monkeypatch):
    from napari_zssr.stack import networks as nets

    path = tmp_path / "n.pt"
    path.write_bytes(open(trained()[0], "rb").read())
    reads, real = [], nets._load
    monkeypatch.setattr(nets, "_loaded", {})
    monkeypatch.setattr(nets, "_load", lambda p: reads.append(p) or real(p))  # the real reader, counted
    first = nets.load_networks(path)
    assert nets.load_networks(str(path)) is first and len(reads) == 1  # the CLI's check, then the run
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 10**9))  # the file changed since: read again
    assert nets.load_networks(path) is not first and len(reads) == 2
