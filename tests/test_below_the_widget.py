"""What the widget uses, tested without a viewer: voxel sizes in one unit, optics, preview regions,
time estimates and where a result goes."""

import pytest

from napari_zssr.stack.plan import make_plan


def test_spatial_sizes_convert_lengths_and_leave_time_alone():
    from napari_zssr.io.units import spatial_sizes

    sizes, unit = spatial_sizes("TZYX", [30.0, 1200.0, 0.3, 0.3], ["second", "nanometer", "micrometer", "um"])
    assert unit == "um" and sizes == pytest.approx({"Z": 1.2, "Y": 0.3, "X": 0.3})
    sizes, unit = spatial_sizes("ZYX", [2.0, 0.5, 0.5], ["pixel"] * 3)  # sizes without a unit stay as they are
    assert unit is None and sizes == {"Z": 2.0, "Y": 0.5, "X": 0.5}
    with pytest.raises(ValueError, match="no voxel sizes"):
        spatial_sizes("ZYX", [1, 1, 1], None)
    with pytest.raises(ValueError, match="the Z axis is in second"):
        spatial_sizes("ZYX", [2, 0.3, 0.3], ["second", "um", "um"])


def test_optics_kernel_per_mode():
    from napari_zssr.core.kernels import psf_sigmas, widefield_sigmas
    from napari_zssr.stack.optics import optics_kernel

    sz, sxy = widefield_sigmas(1.0, 0.5, 1.33)
    assert sz == pytest.approx(0.66 * 0.5 * 1.33) and sxy == pytest.approx(0.21 * 0.5)
    vs = {"Z": 0.4, "Y": 0.1, "X": 0.1}
    planes = optics_kernel("ZYX", vs, [1, 2, 2], "planes", 1.0, 0.5, 1.33)["kernel"]
    # the lateral sigma in pixels of the output grid (0.05 um): 0.105 / 0.05 = 2.1
    _, lateral = psf_sigmas(planes, (1.0, 1.0))
    assert lateral == pytest.approx(sxy / 0.05, rel=0.05)
    iso = optics_kernel("ZYX", vs, [4, 1, 1], "isotropic", 1.0, 0.5, 1.33)
    assert iso["psf_voxel_size"] == (0.4, 0.1, 0.1) and iso["voxel_size"] == [0.4, 0.1, 0.1]
    axial, _ = psf_sigmas(iso["kernel"], iso["psf_voxel_size"])
    assert axial == pytest.approx(sz, rel=0.05)


def test_preview_regions():
    from napari_zssr.stack.preview import preview_region

    planes = make_plan((3, 20, 600, 500), (1, 1, 2, 2), axes="TZYX")
    region = preview_region((3, 20, 600, 500), planes, position=(2, 7, 0, 0))
    assert region == (slice(2, 3), slice(7, 8), slice(172, 428), slice(122, 378))
    iso = make_plan((20, 600, 500), (4, 1, 1))
    assert preview_region((20, 600, 500), iso) == (slice(0, 20), slice(284, 316), slice(122, 378))
    small = make_plan((5, 10, 12), (1, 2, 2))
    assert preview_region((5, 10, 12), small, position=(9, 0, 0)) == (slice(4, 5), slice(0, 10), slice(0, 12))


def test_estimate_scales_inference_with_the_output():
    from napari_zssr.core.progress import UpscaleReport, ZSSRReport
    from napari_zssr.stack.preview import estimate_run

    unit = ZSSRReport(preset="fast", device="CPU", scale=(2, 2), schedule=[], kernel="cubic", seed=0,
                      train_seconds=10.0, infer_seconds=1.0)
    report = UpscaleReport(plan="", units=[unit])
    plan = make_plan((10, 64, 64), (1, 2, 2))
    est = estimate_run((10, 64, 64), plan, report, preview_values=128 * 128)
    assert est["shape"] == (10, 128, 128)
    assert est["seconds"] == pytest.approx(10.0 + 1.0 * 10)  # the same training; ten planes to infer
    assert est["megabytes"] == pytest.approx(4 * 10 * 128 * 128 / 2**20)


def test_results_too_big_for_ram_go_to_a_store(tmp_path):
    from napari_zssr.stack.placement import result_fits_in_ram, store_for

    plan = make_plan((10, 64, 64), (1, 2, 2))
    need = 4 * 10 * 128 * 128
    assert result_fits_in_ram((10, 64, 64), plan, fraction=0.25, free=4 * need)
    assert not result_fits_in_ram((10, 64, 64), plan, fraction=0.25, free=4 * need - 1)
    path = store_for("nuclei (z) #1", folder=str(tmp_path))
    assert path == str(tmp_path / "nuclei__z___1.zarr")


def test_what_is_read_from_layers_changes_no_layer():
    pytest.importorskip("napari")
    import numpy as np
    from napari.layers import Image

    from napari_zssr.plugin.layers import guess_axes, layer_sizes, read_psf

    image = Image(np.zeros((4, 16, 16), np.float32), scale=(1200.0, 300.0, 300.0), units=("nm",) * 3)
    bead = Image(np.ones((9, 7, 7), np.float32), scale=(0.1, 0.05, 0.05), units=("um",) * 3)
    before = [(tuple(lay.scale), tuple(str(u) for u in lay.units)) for lay in (image, bead)]
    assert guess_axes(image) == "ZYX"
    sizes = layer_sizes(image, "ZYX")
    assert sizes.unit == "nm" and sizes.sizes == pytest.approx({"Z": 1200.0, "Y": 300.0, "X": 300.0})
    psf, psf_sizes = read_psf(bead, image, "isotropic")
    assert psf is bead.data and psf_sizes.unit == "um" and psf_sizes.sizes["Z"] == pytest.approx(0.1)
    assert not layer_sizes(Image(np.zeros((4, 8, 8))), "ZYX").known
    with pytest.raises(ValueError, match="the PSF layer is the image itself"):
        read_psf(image, image, "isotropic")
    with pytest.raises(ValueError, match="must be a grey image, got an RGB image"):
        read_psf(Image(np.zeros((8, 8, 3), np.uint8), rgb=True), image, "planes")
    assert before == [(tuple(lay.scale), tuple(str(u) for u in lay.units)) for lay in (image, bead)]


def test_the_time_beside_run_is_stack_timings_estimate_or_says_why_there_is_none():
    pytest.importorskip("qtpy")
    import torch

    from napari_zssr import ZSSRConfig
    from napari_zssr.plugin.time_estimate import estimate_words
    from napari_zssr.stack.timing import estimate_time

    plan = make_plan((3, 24, 28), (1, 2, 2))
    cfg = ZSSRConfig.preset("fast", device="cpu", precision="float32").with_max_iters(8)
    expected = estimate_time(plan, (1, 1, 3, 24, 28), cfg, torch.device("cpu"))
    assert estimate_words(plan, (3, 24, 28), lambda: cfg) == f"{expected.words()}; preset fast"

    def refused():
        raise ValueError("precision 'float16' does not run on CPU")

    assert estimate_words(plan, (3, 24, 28), refused) == \
        "no estimate (ValueError: precision 'float16' does not run on CPU)"
