"""stack/kernel_choice.py: what a user's ``kernel`` stands for in each stage, parsed once."""

import numpy as np
import pytest

from napari_zssr.core.axial import AxialKernel
from napari_zssr.stack.kernel_choice import Source, lateral_kernel, stage_kernels
from napari_zssr.stack.plan import make_plan


def _plan(scale, mode="auto"):
    return make_plan((8, 32, 32), scale, None, mode, None, "shared")


@pytest.mark.parametrize("kernel, source", [(None, Source.CUBIC), ("cubic", Source.CUBIC), ("lanczos3", Source.GIVEN),
                                            (np.ones((3, 3)), Source.GIVEN), ("estimate", Source.ESTIMATE)])
def test_the_planes_stage_kernel_says_where_it_came_from(kernel, source):
    lateral, axial, step = stage_kernels(kernel, _plan((1, 2, 2)), None, None, 8)
    assert lateral.stage == "planes" and lateral.source is source and axial is None and step is None
    assert lateral.pending == (source is Source.ESTIMATE)


@pytest.mark.parametrize("kernel, source, asked", [(None, Source.ESTIMATE, False), ("estimate", Source.ESTIMATE, True),
                                                   ("cubic", Source.CUBIC, False), (1.5, Source.GIVEN, False),
                                                   (np.array([0.25, 0.5, 0.25]), Source.GIVEN, False)])
def test_the_isotropic_default_reads_the_profile_but_only_an_asked_estimate_warns(kernel, source, asked):
    lateral, axial, step = stage_kernels(kernel, _plan((4, 1, 1)), [2.0, 0.5, 0.5], None, 8)
    assert lateral is None and axial.source is source and axial.asked is asked
    assert step == pytest.approx(0.5)  # the fine grid's z step: 2.0 / 4


def test_a_psf_array_is_placed_on_the_fine_grid_and_says_so():
    z, y, x = np.mgrid[-8:9, -4:5, -4:5]
    psf = np.exp(-0.5 * ((z / 3.0) ** 2 + (y / 1.0) ** 2 + (x / 1.0) ** 2))
    _, axial, _ = stage_kernels(psf, _plan((4, 1, 1)), [2.0, 0.5, 0.5], (0.5, 0.5, 0.5), 8)
    assert axial.source is Source.PSF and isinstance(axial.kernel, AxialKernel)
    assert axial.kernel.name.startswith("psf")


def test_both_mode_gives_the_users_kernel_to_the_axial_stage_and_bicubic_to_the_planes():
    lateral, axial, _ = stage_kernels(1.5, _plan((4, 2, 2), "both"), None, None, 8)
    assert lateral.source is Source.CUBIC and axial.source is Source.GIVEN
    lateral, axial, _ = stage_kernels("estimate", _plan((4, 2, 2), "both"), None, None, 8)
    assert lateral.pending and axial.pending and lateral.asked and axial.asked


def test_each_channel_runs_with_its_own_kernel_once_read():
    from napari_zssr.core.resize import Kernel

    lateral = lateral_kernel("estimate")
    read = lateral.with_channels([Kernel("cubic"), Kernel(np.ones((3, 3))).named("estimate(x)")])
    assert not read.pending and read.only(1).kernel.name == "estimate(x)" and read.only(0).kernel.name == "cubic"
    assert read.name == "cubic; estimate(x)"


@pytest.mark.parametrize("kernel, words", [(np.ones(3), r"2-D kernel must be 2-D, got shape \(3,\)"),
                                           ("gauss", "unknown kernel 'gauss'; choose one of"),
                                           (np.ones((3, 3, 3)), r"1 to 2 dimensions, got shape \(3, 3, 3\)")])
def test_a_kernel_the_planes_stage_cannot_use_is_refused_by_name(kernel, words):
    with pytest.raises(ValueError, match=words):
        lateral_kernel(kernel)
