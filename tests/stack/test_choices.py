"""stack/choices.py: what a user chose (the CLI's options, the widget's fields) -> upscale()'s settings,
parsed in one place, every wrong setting refused there with the words that name it."""

import numpy as np
import pytest

from napari_zssr.stack.choices import (
    KERNEL_LABELS,
    Optics,
    Sizes,
    Training,
    config_factory,
    factors_per_axis,
    isotropic_factors,
    kernel_kind,
    kernel_settings,
    parse_factors,
    parse_noise_std,
    parse_preset,
    preset_labels,
    result_dtype,
)
from napari_zssr.stack.plan import make_plan

UM = Sizes({"Z": 1.2, "Y": 0.3, "X": 0.3}, "um")
ISO = make_plan((6, 24, 24), (4, 1, 1), "ZYX")
PLANES = make_plan((6, 24, 24), (1, 2, 2), "ZYX")


@pytest.mark.parametrize("choice, kind, value", [
    (None, "default", None),
    ("", "default", None),
    ("default", "default", None),
    ("estimate from the data", "estimate", None),
    ("Estimate", "estimate", None),
    ("cubic", "cubic", "cubic"),
    ("bicubic", "cubic", "cubic"),
    ("lanczos3", "name", "lanczos3"),
    ("Gaussian from optics", "optics", None),
    ("PSF from a layer", "psf", None),
    (1.5, "sigma", 1.5),
    ("2", "sigma", 2.0),
    ("psf.tif", "file", "psf.tif"),  # a missing file with an extension: read_kernel refuses it by name
])
def test_each_kernel_word_has_one_meaning(choice, kind, value):
    assert kernel_kind(choice) == (kind, value)


def test_the_widgets_kernel_labels_are_all_understood(tmp_path):
    kinds = {kernel_kind(label, path=tmp_path / "k.npy")[0] for label in KERNEL_LABELS.values()}
    assert kinds == set(KERNEL_LABELS)


def test_a_file_without_extension_is_a_file_and_an_unknown_word_is_refused(tmp_path, monkeypatch):
    (tmp_path / "mykernel").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert kernel_kind("mykernel") == ("file", "mykernel")
    with pytest.raises(ValueError, match="unknown kernel 'gaussian': give default, estimate, cubic"):
        kernel_kind("gaussian")
    with pytest.raises(ValueError, match="choose the kernel file"):
        kernel_kind(KERNEL_LABELS["file"])


def test_kernel_settings_per_mode(tmp_path):
    assert kernel_settings(None, PLANES, 6, UM).kwargs == {}
    assert kernel_settings("estimate", ISO, 6, UM).kwargs == {"kernel": "estimate"}
    assert kernel_settings(1.5, ISO, 6, UM).kwargs == {"kernel": 1.5}
    with pytest.raises(ValueError, match=r"a Gaussian sigma \(1.5\) is an axial kernel"):
        kernel_settings(1.5, PLANES, 6, UM)
    with pytest.raises(ValueError, match="unknown axial kernel 'linear'"):  # the engine's own check, asked now
        kernel_settings("linear", ISO, 6, UM)
    k = np.outer([1, 2, 1], [1, 3, 3, 1]).astype(np.float64)
    np.save(tmp_path / "k.npy", k)
    got = kernel_settings(str(tmp_path / "k.npy"), PLANES, 6, UM)
    assert got.kind == "file" and np.array_equal(got.kwargs["kernel"], k)
    with pytest.raises(FileNotFoundError, match="no such kernel file"):
        kernel_settings(str(tmp_path / "missing.npy"), PLANES, 6, UM)


def test_a_psf_voxel_size_goes_with_a_psf_file_only(tmp_path):
    from napari_zssr import gaussian_psf

    with pytest.raises(ValueError, match="psf_voxel_size.*goes with a PSF given as a kernel file, not with the "
                                         "kernel 'cubic'"):
        kernel_settings("cubic", ISO, 6, UM, psf_voxel_size=(0.2, 0.1, 0.1))
    np.save(tmp_path / "psf.npy", gaussian_psf(1.0, 0.52, 1.33, (0.2, 0.1, 0.1)))
    with pytest.raises(ValueError, match="psf_voxel_size"):  # a PSF cannot be placed without its voxel size
        kernel_settings(str(tmp_path / "psf.npy"), ISO, 6, UM)
    got = kernel_settings(str(tmp_path / "psf.npy"), ISO, 6, UM, psf_voxel_size=[0.2, 0.1, 0.1])
    assert got.kwargs["psf_voxel_size"] == (0.2, 0.1, 0.1) and got.kwargs["kernel"].ndim == 3


def test_optics_in_nanometres_and_micrometres_give_one_kernel():
    """Every size of a run is in the image's one unit: the wavelength (typed in nm) follows it."""
    optics = Optics(1.0, 520.0, 1.33)
    um = kernel_settings("optics", ISO, 6, UM, optics=optics).kwargs
    nm = kernel_settings("optics", ISO, 6, Sizes({"Z": 1200.0, "Y": 300.0, "X": 300.0}, "nm"), optics=optics).kwargs
    np.testing.assert_allclose(nm["psf_voxel_size"], np.multiply(um["psf_voxel_size"], 1000))
    assert nm["kernel"].shape == um["kernel"].shape
    np.testing.assert_allclose(nm["kernel"], um["kernel"], rtol=1e-6, atol=1e-12)
    assert set(um) == {"kernel", "psf_voxel_size"}  # voxel_size and unit come from the sizes, once
    assert UM.kwargs("TZYX") == {"voxel_size": [1.0, 1.2, 0.3, 0.3], "unit": "um"}


@pytest.mark.parametrize("optics, sizes, message", [
    (None, UM, "needs the numerical aperture, wavelength and refractive index"),
    (Optics(1.0, 520.0, 1.33), Sizes.none("the layer has no voxel sizes"),
     "a Gaussian from optics needs the image's voxel sizes: the layer has no voxel sizes"),
    (Optics(1.4, 520.0, 1.33), UM, r"numerical aperture \(1.4\) must be below the refractive index \(1.33\)"),
    (Optics(1.0, -5.0, 1.33), UM, "the wavelength must be a number above 0"),
])
def test_optics_that_cannot_be_used_are_refused_by_name(optics, sizes, message):
    with pytest.raises(ValueError, match=message):
        kernel_settings("Gaussian from optics", ISO, 6, sizes, optics=optics)


def _bead(voxel_size):
    from napari_zssr import gaussian_psf

    return (gaussian_psf(1.0, 0.52, 1.33, voxel_size, shape=(41, 21, 21)) * 5e4 + 100.0).astype(np.float32)


def test_a_psf_without_voxel_sizes_is_taken_at_the_images():
    from napari_zssr.core.kernels import widefield_sigmas

    plane = make_plan((32, 32), (2, 2), "YX")
    got = kernel_settings("psf", plane, 1, Sizes({"Y": 0.05, "X": 0.05}, "um"), psf=_bead((0.1, 0.05, 0.05)),
                          psf_sizes=Sizes.none("no sizes"))
    assert "the PSF has no voxel sizes: the image's were used" in got.note and "the bead's widths" in got.note
    # planes mode: a Gaussian as wide as the bead laterally, on the result's grid (half the pixel)
    k = got.kwargs["kernel"]
    x = np.arange(k.shape[1]) - (k.shape[1] - 1) / 2
    sd = np.sqrt((k.sum(axis=0) * x**2).sum())
    assert sd == pytest.approx(widefield_sigmas(1.0, 0.52, 1.33)[1] / 0.025, rel=0.05)


def test_a_psf_that_cannot_be_placed_is_refused_by_name():
    bead = _bead((0.1, 0.05, 0.05))
    with pytest.raises(ValueError, match="the image has none"):
        kernel_settings("psf", ISO, 6, Sizes.none("no sizes"), psf=bead)
    with pytest.raises(ValueError, match="the PSF's voxel sizes are in um and the image's in no unit"):
        kernel_settings("psf", ISO, 6, Sizes({"Z": 2.0, "Y": 0.5, "X": 0.5}), psf=bead,
                        psf_sizes=Sizes({"Z": 0.1, "Y": 0.05, "X": 0.05}, "um"))
    with pytest.raises(ValueError, match="2-D .* or 3-D .* image of one bead, got 1 axes"):
        kernel_settings("psf", ISO, 6, UM, psf=np.ones(5))
    with pytest.raises(ValueError, match="choose the PSF"):
        kernel_settings("psf", ISO, 6, UM)


def test_factors_typed_or_given_per_axis():
    assert parse_factors("4, 1;1") == [4.0, 1.0, 1.0] and parse_factors("2 2") == [2.0, 2.0]
    with pytest.raises(ValueError, match="factors must be numbers separated by commas, got 'x2'"):
        parse_factors("x2")
    assert factors_per_axis([2], "YX") == [2.0, 2.0]  # a 2-D image: one factor means both axes
    assert factors_per_axis([4, 1, 1], "TZYX") == [1.0, 4.0, 1.0, 1.0]  # per spatial axis
    assert factors_per_axis([1, 2, 2, 1], "ZYXC") == [1.0, 2.0, 2.0, 1.0]
    with pytest.raises(ValueError, match=r"--scale: give one factor per axis \(3, axes ZYX\) or per spatial"):
        factors_per_axis([2], "ZYX", "--scale")


def test_the_isotropic_z_factor():
    assert isotropic_factors([1, 1, 1], "ZYX", UM) == pytest.approx([4, 1, 1])
    assert isotropic_factors([1, 2, 2], "ZYX", UM) == pytest.approx([8, 2, 2])  # the lateral pixel after x2
    with pytest.raises(ValueError, match="making a stack isotropic needs a Z axis; the data has axes YX"):
        isotropic_factors([1, 1], "YX", UM)
    with pytest.raises(ValueError, match="--isotropic needs the file's z step and pixel size; the file has none"):
        isotropic_factors([1, 1, 1], "ZYX", Sizes.none("the file has none"), "--isotropic", "the file's")
    with pytest.raises(ValueError, match=r"the z step \(0.3\) is not coarser than the pixel size \(0.3\)"):
        isotropic_factors([1, 1, 1], "ZYX", Sizes({"Z": 0.3, "Y": 0.3, "X": 0.3}, "um"))


def test_training_choices_become_a_config_and_bad_ones_are_refused_before_any_probe():
    from napari_zssr.core import precision

    def probe_ran(*args, **kwargs):
        raise AssertionError("a probe ran while the settings were only checked")

    saved = precision.auto_preset, precision.probe
    precision.auto_preset = precision.probe = probe_ran
    try:
        make = config_factory(Training(preset="auto", max_steps=7, gradual_steps=2, back_projection=False,
                                       noise_std=0.0125))
        with pytest.raises(ValueError, match="precision"):
            config_factory(Training(precision="float8"))
        with pytest.raises(ValueError, match="noise_std"):
            config_factory(Training(noise_std=-1.0))
        with pytest.raises(ValueError, match="unknown preset 'quick'; choose one of auto, paper"):
            config_factory(Training(preset="quick"))
    finally:
        precision.auto_preset, precision.probe = saved
    cfg = make()  # "auto" is resolved only now, when the run makes its config
    assert cfg.preset_name in ("fast", "paper") and cfg.max_iters == 7
    assert (cfg.gradual_steps, cfg.back_projection_iters, cfg.noise_std) == (2, 0, 0.0125)
    real = config_factory(Training(preset="real (noisy data)", device="cpu"))()
    assert real.preset_name == "real"


def test_presets_noise_and_output_types_have_one_vocabulary_each():
    assert [parse_preset(label) for label in preset_labels()] == ["auto", "paper", "gradual", "real", "fast"]
    assert parse_noise_std("") is None and parse_noise_std(" Estimate ") == "estimate"
    assert parse_noise_std("0.05") == 0.05
    with pytest.raises(ValueError, match="noise on the sons must be a number or 'estimate', got 'lots'"):
        parse_noise_std("lots")
    assert result_dtype("float32", np.uint16) == np.float32
    assert result_dtype("same", np.uint16) == np.uint16 and result_dtype("same as source", np.uint8) == np.uint8
    assert result_dtype("same", np.float64) == np.float32  # results are float32 unless an integer type is kept
    with pytest.raises(ValueError, match="unknown output type 'int8'"):
        result_dtype("int8", np.uint8)
