"""stack/inputs.py: what a stack run reads: each channel's intensity range from evenly spaced planes, blocks in
the units the networks see, and one pass over the whole input (digests, decoding, finiteness) before any
training, which names the planes it could not read."""

import numpy as np
import pytest

from napari_zssr.stack.blocks import Blocks
from napari_zssr.stack.inputs import (
    MAX_SOURCES,
    channel_range,
    channel_stats,
    one_plane,
    read_block,
    scan_input,
    source_of,
)

RNG = np.random.default_rng(0)


class Lazy:
    """A lazily read array (no numpy, no chunks): records the planes of every read, and fails on ``broken``
    planes as a damaged chunk or page does."""

    def __init__(self, array, broken=(), chunks=None):
        self.array, self.shape, self.dtype, self.broken, self.reads = array, array.shape, array.dtype, broken, []
        if chunks is not None:
            self.chunks = chunks

    def __getitem__(self, idx):
        zs = range(self.shape[0])[idx[0]]
        self.reads.append(len(zs))
        if any(z in self.broken for z in zs):
            raise OSError("damaged chunk")
        return self.array[idx]


def test_a_channels_range_is_its_percentiles_and_a_constant_channel_says_so():
    lo, span, constant = channel_range(np.arange(1000.0))
    want_lo, want_hi = np.percentile(np.arange(1000.0), (0.1, 99.9))
    assert (lo, span, constant) == (pytest.approx(want_lo), pytest.approx(want_hi - want_lo), False)
    sparse = np.zeros(10000)
    sparse[[5, 500, 9000]] = 50.0  # both percentiles 0: the range falls back to min and max
    assert channel_range(sparse) == (0.0, 50.0, False)
    assert channel_range(np.full((4, 4), 7.0)) == (7.0, 1.0, True)  # a span of 1 leaves the values as they are


def test_the_statistics_read_evenly_spaced_planes_that_are_also_the_training_sources():
    data = RNG.random((3, 10, 6, 7))  # T Z Y X: 30 planes, more than a network draws its fathers from
    stats = channel_stats(Blocks(data, "TZYX"), 0)
    assert len(stats.sample) == MAX_SOURCES == 16 and len(set(stats.sample)) == 16
    assert stats.sample[0] == (0, 0) and stats.sample[-1] == (2, 9)
    assert channel_stats(Blocks(data[:1, :5], "TZYX"), 0).sample == [(0, z) for z in range(5)]
    picked = np.stack([data[t, z] for t, z in stats.sample])
    assert (stats.lo, stats.span) == channel_range(picked)[:2]


def test_a_nan_in_a_sampled_plane_is_refused_naming_the_channel_time_and_plane():
    data = RNG.random((2, 4, 6, 7))  # C Z Y X
    data[1, 2, 3, 3] = np.nan
    channel_stats(Blocks(data, "CZYX"), 0)  # the other channel is fine
    with pytest.raises(ValueError, match=r"^data \(channel 1, time 0, plane 2\) contains 1 NaN or inf value\(s\)"):
        channel_stats(Blocks(data, "CZYX"), 1)


def test_blocks_come_in_the_units_the_networks_see_and_the_input_is_untouched():
    data = np.stack([RNG.integers(100, 200, (3, 6, 7)), RNG.integers(0, 4000, (3, 6, 7))]).astype(np.uint16)
    before = data.copy()
    src = Blocks(data, "CZYX")
    stats = [channel_stats(src, c) for c in range(2)]
    for c in range(2):
        block = read_block(src, stats, c, 0)
        assert block.shape == (3, 6, 7) and block.dtype == np.float32
        np.testing.assert_allclose(block, (data[c] - stats[c].lo) / stats[c].span, rtol=1e-6, atol=1e-6)
        assert -0.01 < block.min() and block.max() < 1.01  # the percentiles map to 0 and 1
    joint = read_block(src, stats, 0, 0, slice(1, 2), joint=True)  # the colours of an RGB image, together
    assert joint.shape == (2, 1, 6, 7)
    np.testing.assert_array_equal(joint[1, 0], read_block(src, stats, 1, 0, slice(1, 2))[0])
    assert one_plane(joint).shape == (2, 6, 7) and one_plane(joint[1]).shape == (6, 7)
    np.testing.assert_array_equal(data, before)


def test_the_scan_digests_each_volume_the_same_however_it_is_stored(tmp_path):
    zarr = pytest.importorskip("zarr")
    data = RNG.random((2, 4, 6, 7))  # C Z Y X
    scan = scan_input(Blocks(data, "CZYX"))
    assert scan["shape"] == [2, 4, 6, 7] and scan["dtype"] == "float64"
    assert list(scan["volumes"]) == ["channel 0, time 0", "channel 1, time 0"]
    stored = zarr.open_group(str(tmp_path / "in.zarr"), mode="w").create_array("0", shape=data.shape,
                                                                               chunks=(1, 3, 6, 7), dtype="f8")
    stored[:] = data
    assert scan_input(Blocks(stored, "CZYX")) == scan  # read in chunks of 3 planes, digested as one volume
    assert source_of(stored) == str(tmp_path / "in.zarr" / "0") and source_of(data) is None
    changed = data.copy()
    changed[1, 3, 0, 0] += 1e-9
    volumes = scan_input(Blocks(changed, "CZYX"))["volumes"]
    assert volumes["channel 0, time 0"] == scan["volumes"]["channel 0, time 0"]
    assert volumes["channel 1, time 0"] != scan["volumes"]["channel 1, time 0"]


def test_the_scan_reads_a_lazy_array_by_its_own_chunks_or_plane_by_plane():
    data = RNG.random((7, 6, 5))
    chunked = Lazy(data, chunks=(3, 6, 5))
    plain = Lazy(data)
    assert scan_input(Blocks(chunked, "ZYX")) == scan_input(Blocks(plain, "ZYX")) == scan_input(Blocks(data, "ZYX"))
    assert chunked.reads == [3, 3, 1] and plain.reads == [1] * 7  # unknown chunking: one plane at a time


def test_the_scan_names_the_planes_it_could_not_read_or_that_hold_nan():
    data = RNG.random((6, 5, 5)).astype(np.float32)
    with pytest.raises(ValueError, match=r"^cannot read in\.zarr at channel 0, time 0, planes 4-4: OSError: "
                                         r"damaged chunk$"):
        scan_input(Blocks(Lazy(data, broken={4}), "ZYX"), "in.zarr")
    with pytest.raises(ValueError, match=r"^cannot read the input at channel 0, time 0, planes 3-5: OSError"):
        scan_input(Blocks(Lazy(data, broken={4}, chunks=(3, 5, 5)), "ZYX"))
    data[2, 1, 1] = np.inf
    with pytest.raises(ValueError, match=r"^data \(channel 0, time 0, planes 2-2\) contains 1 NaN or inf"):
        scan_input(Blocks(Lazy(data), "ZYX"))
