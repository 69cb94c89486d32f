"""stack/optics.py with kernel_choice.py and estimates.py: kernel=Optics(...) in the API, from the caller or from
a file's metadata: one Gaussian per channel (its own emission wavelength), on the output grid, compared with
the PSF the image itself shows; the bare word "optics" and missing values refused by name."""

import numpy as np
import pytest
from scipy import ndimage

from napari_zssr.core.kernels import psf_sigmas
from napari_zssr.stack.kernel_choice import Source, stage_kernels
from napari_zssr.stack.optics import Optics
from napari_zssr.stack.plan import make_plan
from napari_zssr.stack.upscale import run_upscale

from ..conftest import power_law_image


def test_each_channel_gets_the_gaussian_of_its_own_wavelength_on_the_output_grid():
    plan = make_plan((2, 32, 32), (1, 2, 2), "CYX", "planes", None, "shared")
    optics = Optics(1.0, (500.0, 600.0), 1.33)
    lateral, axial, _ = stage_kernels(optics, plan, [1.0, 0.1, 0.1], None, 1, unit="um", channels=2)
    assert axial is None and lateral.source is Source.OPTICS and lateral.pending  # compared with the data first
    sigmas = [psf_sigmas(k.array, (1.0, 1.0))[1] for k in lateral.per_channel]
    # 0.21 lambda / NA in um, over the output pixel of 0.05 um
    assert sigmas == pytest.approx([0.21 * 0.5 / 0.05, 0.21 * 0.6 / 0.05], rel=0.03)
    nm, _, _ = stage_kernels(optics, plan, [1.0, 100.0, 100.0], None, 1, unit="nm", channels=2)
    np.testing.assert_allclose(nm.per_channel[0].array, lateral.per_channel[0].array)  # the unit follows


@pytest.mark.parametrize("kernel, vs, channels, message", [
    ("optics", [1.0, 0.1, 0.1], 2, "kernel='optics' needs the microscope's optics: pass optics="),
    (Optics(1.0, 500.0, 1.33), None, 2, "needs the image's pixel size"),
    (Optics(1.0, (500.0, 600.0, 700.0), 1.33), [1.0, 0.1, 0.1], 2, "3 emission wavelengths for 2 channels"),
    (Optics(1.5, 500.0, 1.33), [1.0, 0.1, 0.1], 2, r"numerical aperture \(1.5\) must be below"),
])
def test_optics_that_cannot_make_a_kernel_are_refused_by_name(kernel, vs, channels, message):
    plan = make_plan((2, 32, 32), (1, 2, 2), "CYX", "planes", None, "shared")
    with pytest.raises(ValueError, match=message):
        stage_kernels(kernel, plan, vs, None, 1, unit="um", channels=channels)


def test_optics_from_metadata_name_every_missing_value():
    meta = {"optics": {"na": None, "refractive_index": 1.515, "emission_nm": [520.0, None]}}
    with pytest.raises(ValueError, match=r"needs numerical aperture, emission wavelength, and the file's metadata "
                                         r"lack them \(OME Objective/@LensNA; OME Channel/@EmissionWavelength\)"):
        Optics.from_metadata(meta)
    assert Optics.from_metadata(meta, na=1.2, wavelength_nm=(520.0, 610.0)) == Optics(1.2, (520.0, 610.0), 1.515)
    with pytest.raises(ValueError, match="lack them"):
        Optics.from_metadata({})


def _fluorescence_lr(sigma_out: float) -> np.ndarray:
    p = power_law_image((256, 256), seed=1)
    hr = np.clip(p - np.percentile(p, 60), 0, None)
    return ndimage.gaussian_filter(hr, sigma_out, mode="reflect")[::2, ::2]


@pytest.mark.parametrize("na, agree", [(0.2625, True), (1.0, False)])
def test_the_api_runs_with_the_optics_and_says_whether_the_image_agrees(tiny_config, na, agree):
    # 0.21 * 0.5 um / NA 0.2625 = 0.4 um = 1.6 output pixels of 0.25 um: the blur the image has
    lr = _fluorescence_lr(1.6).astype(np.float32)
    out, rep = run_upscale(lr, (2, 2), kernel=Optics(na, 500.0, 1.0 if na < 1 else 1.33), config=tiny_config,
                           voxel_size=(0.5, 0.5), unit="um")
    assert out.shape == (256, 256) and rep.kernel.startswith(f"optics(NA {na:g}, emission 500 nm")
    note = next(n for n in rep.notes if "the optics give a PSF of sigma" in n)
    assert ("they agree within their uncertainty" in note) is agree
    assert ("they disagree by more than their uncertainty" in note) is not agree
    assert rep.estimated_sigma[0][0] == pytest.approx(1.6, abs=0.2)  # what the image itself showed


@pytest.mark.parametrize("optics", [Optics(1.0, 520.0, 1.33), {"na": 1.0, "wavelength_nm": 520.0,
                                                                "refractive_index": 1.33},
                                    {"optics": {"na": 1.0, "emission_nm": [520.0], "refractive_index": 1.33}}])
def test_kernel_optics_takes_the_values_from_optics_as_an_object_a_dict_or_a_files_metadata(optics):
    from napari_zssr.stack.kernel_choice import with_optics

    assert with_optics("optics", optics) == Optics(1.0, 520.0, 1.33)
    assert with_optics(None, optics) is None  # optics= alone changes no kernel


def test_kernel_optics_names_what_a_dict_lacks_or_does_not_know():
    from napari_zssr.stack.kernel_choice import with_optics

    with pytest.raises(ValueError, match="refractive index"):
        with_optics("optics", {"na": 1.0, "wavelength_nm": 520.0})
    with pytest.raises(ValueError, match="numerical aperture"):  # a file's metadata without optics
        with_optics("optics", {"ome": True, "channel_names": ["a"]})
