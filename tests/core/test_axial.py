"""core/axial.py: point-sampled axes: the geometry of fine and coarse planes, the up and down matrices, the
axial kernels (default cubic, Gaussian, profile, PSF) and their bounds, bad kernels refused in words."""

import numpy as np
import pytest

from napari_zssr.core.axial import AxialKernel, axial_kernel, coarse_length, down_matrix, fine_length, up_matrix
from napari_zssr.core.kernels import gaussian_psf, psf_sigmas


@pytest.mark.parametrize("n,f,want,back", [(6, 4, 21, 6), (6, 2.5, 13, 5), (2, 3.3, 4, 1), (60, 4, 237, 60)])
def test_point_geometry_lengths(n, f, want, back):
    assert fine_length(n, f) == want
    # the last input plane sits at (n - 1) f: on the last fine sample only when that is a whole number, else
    # past it, so subsampling the fine axis by f from sample 0 keeps one plane fewer
    assert coarse_length(want, f) == back


@pytest.mark.parametrize("f", [2, 3, 4])
def test_up_matrix_passes_through_the_planes_and_keeps_ramps(f):
    n = 7
    up = up_matrix(n, f)
    planes = np.random.default_rng(0).random(n)
    np.testing.assert_allclose((up @ planes)[::f], planes, atol=1e-12)  # plane i sits at i * f
    ramp = np.arange(n) * 2.0 + 1
    # away from the mirrored ends, cubic interpolation reproduces a ramp
    np.testing.assert_allclose((up @ ramp)[f:-f], (np.arange(fine_length(n, f)) * 2.0 / f + 1)[f:-f], atol=1e-9)


@pytest.mark.parametrize("kernel", [AxialKernel.default(3), AxialKernel.gaussian(1.5), AxialKernel.profile([1, 3, 1])])
def test_down_matrix_keeps_rows_centred(kernel):
    h, f = 31, 3
    d = down_matrix(h, f, kernel)
    assert d.shape == (coarse_length(h, f), h)
    ramp = np.arange(h, dtype=float)
    # a symmetric kernel centred on the kept rows: the ramp reads back at 0, f, 2f ... (away from the ends)
    np.testing.assert_allclose((d @ ramp)[2:-2], (np.arange(d.shape[0]) * f)[2:-2], atol=1e-9)
    np.testing.assert_allclose(d.sum(axis=1), 1.0, atol=1e-12)


def test_default_kernel_is_the_stretched_cubic():
    k = AxialKernel.default(4)
    assert k.taps.size == 17 and k.taps.sum() == pytest.approx(1.0)
    assert np.argmax(k.taps) == 8 and np.all(k.taps[:8] == k.taps[9:][::-1])


def test_psf_gives_the_anisotropic_part():
    vs = (0.2, 0.1, 0.1)
    psf = gaussian_psf(1.0, 0.5, 1.33, vs)
    sz, sxy = psf_sigmas(psf, vs)
    assert sz == pytest.approx(0.66 * 0.5 * 1.33, rel=0.05) and sxy == pytest.approx(0.21 * 0.5, rel=0.05)
    k = axial_kernel(psf, 4, fine_step=0.1, psf_voxel_size=vs)
    x = np.arange(k.taps.size) - k.taps.size // 2
    sigma_px = np.sqrt((k.taps * x**2).sum())
    assert sigma_px == pytest.approx(np.sqrt(sz**2 - sxy**2) / 0.1, rel=0.05)


@pytest.mark.parametrize("peak, offset", [(3000, 100), (60, 100), (3000, 1.6)])
def test_a_bead_on_a_camera_offset_measures_as_the_bead(peak, offset):
    from napari_zssr.core.kernels import bead_sigmas

    vs = (0.1, 0.05, 0.05)
    psf = gaussian_psf(1.0, 0.52, 1.33, vs, shape=(25, 15, 15))  # cut at 2.7 sigma along z
    bead = np.random.default_rng(0).poisson(psf / psf.max() * peak + offset).astype(np.uint16)
    truth = (0.66 * 0.52 * 1.33, 0.21 * 0.52)
    # a dim bead (60 counts over 100) is noisy: its widths within 12 %; a bright one within 2 %
    tol = 0.12 if peak < 100 else 0.02
    for got, want in zip(bead_sigmas(bead, vs), truth):
        assert got == pytest.approx(want, rel=tol)
    if offset >= 100:  # second moments, by contrast: the offset widens them
        assert psf_sigmas(bead, vs)[0] > 1.1 * truth[0]
    with pytest.raises(ValueError, match="no bead stands above"):
        bead_sigmas(np.full((9, 9, 9), 7.0), vs)


@pytest.mark.parametrize(
    "spec,kw,match",
    [
        (-1.0, {}, r"axial sigma must be a finite number >= 0 \(fine-grid pixels\), got -1.0"),
        (np.array([1.0, -2.0, 1.0]), {}, "kernel must have a positive sum, got 0"),
        (np.array([1.0, np.nan]), {}, "kernel contains NaN or inf values"),
        (np.ones((3, 3)), {}, r"a PSF array needs psf_voxel_size=\(z, y, x\) and the data's voxel_size"),
        ("gauss", {}, "unknown axial kernel"),
        (np.ones((2, 2, 2, 2)), {}, "sigma, a 1-D profile"),
    ],
)
def test_bad_axial_kernels(spec, kw, match):
    with pytest.raises(ValueError, match=match):
        axial_kernel(spec, 4, **kw)


def test_bad_psf_values():
    psf = np.ones((5, 5, 5))
    psf[0, 0, 0] = -1
    with pytest.raises(ValueError, match=r"the PSF has negative values \(min -1\); subtract its background"):
        axial_kernel(psf, 4, fine_step=0.1, psf_voxel_size=(0.3, 0.1, 0.1))
    psf[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="the PSF contains NaN or inf values"):
        axial_kernel(psf, 4, fine_step=0.1, psf_voxel_size=(0.3, 0.1, 0.1))


# --------------------------------------------------------------------------- kernel widths bounded by the data

def _stack():
    z, y, x = np.mgrid[0:6, 0:16, 0:16].astype(np.float32)
    return (100 + 40 * np.sin(x / 2.0 + z) * np.cos(y / 3.0)).astype(np.float32)


def _psf(shape=(5, 5, 5), ends=False):
    """A Gaussian spot, or (ends) two points at the first and last plane: its z spread is half its depth."""
    if ends:
        p = np.zeros(shape)
        p[[0, -1], shape[1] // 2, shape[2] // 2] = 1.0
        return p
    return gaussian_psf(1.0, 0.5, 1.33, (0.2, 0.1, 0.1), shape=shape)


def _fast(fn, seconds=10.0):
    """``fn`` must end within ``seconds``: the old code allocated 59.6 GiB or ran for minutes here."""
    def run():
        import time

        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            assert time.perf_counter() - t0 < seconds, f"took over {seconds} s"
    return run


def _up(scale, **kw):
    from napari_zssr import upscale

    from ..test_reliability import tiny

    return _fast(lambda: upscale(_stack(), scale, config=tiny(), **kw))


CASES = [
    ("axial-sigma-1e9", "upscale(kernel=1e9): an axial Gaussian of sigma 1e9 fine-grid pixels",
     _up((8, 1, 1), kernel=1e9), ValueError,
     "the axial kernel (sigma 1e+09 px) is wider than the stack (41 output planes): sigma must be at most 41"),
    ("axial-sigma-42", "upscale(kernel=42.0): a sigma just above the stack's 41 output planes",
     _up((8, 1, 1), kernel=42.0), ValueError, "is wider than the stack (41 output planes)"),
    ("axial-sigma-inf", "upscale(kernel=inf): an infinite sigma",
     _up((2, 1, 1), kernel=float("inf")), ValueError, "axial sigma must be a finite number >= 0"),
    ("axial-sigma-nan", "upscale(kernel=nan): a NaN sigma",
     _up((2, 1, 1), kernel=float("nan")), ValueError, "axial sigma must be a finite number >= 0"),
    ("axial-psf-coarse-z", "upscale(kernel=PSF, psf_voxel_size=(1e6, 1, 1)): a PSF a million times deeper",
     _up((2, 1, 1), kernel=_psf(), psf_voxel_size=(1e6, 1, 1), voxel_size=(1, 1, 1)), ValueError,
     "the axial kernel (a PSF 1e+07 output planes deep) is wider than the stack (11 output planes)"),
    ("axial-psf-wide-sigma", "upscale(kernel=PSF): a PSF within the depth bound whose sigma is not",
     _up((2, 1, 1), kernel=_psf((9, 5, 5), ends=True), psf_voxel_size=(4.5, 1, 1), voxel_size=(1, 1, 1)),
     ValueError, "the axial kernel (sigma 36 px) is wider than the stack (11 output planes)"),
    ("axial-psf-zero-voxel", "upscale(kernel=PSF, psf_voxel_size=(0, 1, 1))",
     _up((2, 1, 1), kernel=_psf(), psf_voxel_size=(0, 1, 1), voxel_size=(1, 1, 1)), ValueError,
     "psf_voxel_size must be 3 positive finite sizes (z first), got (0, 1, 1)"),
    ("axial-psf-nan-voxel", "upscale(kernel=PSF, psf_voxel_size=(nan, 1, 1))",
     _up((2, 1, 1), kernel=_psf(), psf_voxel_size=(float("nan"), 1, 1), voxel_size=(1, 1, 1)), ValueError,
     "psf_voxel_size must be 3 positive finite sizes"),
    ("axial-long-profile", "upscale(kernel=a profile of 10**6 taps)",
     _up((2, 1, 1), kernel=np.ones(10**6)), ValueError,
     "the axial kernel (a profile of 1000000 taps) is wider than the stack (11 output planes): give at most 89 taps"),
    ("axial-sigma-in-bound", "upscale(kernel=1.5): a sigma within the stack still runs",
     _up((2, 1, 1), kernel=1.5), None, "float32 array (11, 16, 16)"),
    ("axial-psf-in-bound", "upscale(kernel=PSF): a PSF of the data's own sampling still runs",
     _up((2, 1, 1), kernel=_psf((9, 7, 7)), psf_voxel_size=(0.2, 0.1, 0.1), voxel_size=(0.4, 0.1, 0.1)), None,
     "float32 array (11, 16, 16)"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_case_gets_its_documented_outcome(case):
    from ..cases import check_case

    check_case(case)


def test_without_the_depth_a_generous_absolute_cap_holds():
    from napari_zssr.core.axial import MAX_AXIAL_TAPS

    assert axial_kernel(512.0, 4).taps.size == MAX_AXIAL_TAPS
    with pytest.raises(ValueError, match=r"wider than any stack this tool enlarges: sigma must be at most 512 "):
        axial_kernel(513.0, 4)
    with pytest.raises(ValueError, match=r"a PSF 1e\+07 output planes deep"):
        axial_kernel(_psf(), 4, fine_step=0.5, psf_voxel_size=(1e6, 1, 1))


@pytest.mark.parametrize("n, f", [(2, 1.5), (6, 8), (3, 100), (400, 4)])
def test_the_bound_admits_the_default_and_a_sigma_of_the_stacks_depth(n, f):
    from napari_zssr.core.axial import max_axial_taps

    assert AxialKernel.default(f).taps.size <= max_axial_taps(n, f)
    limit = min(fine_length(n, f), 512)
    assert axial_kernel(float(limit), f, n_planes=n).taps.size <= max_axial_taps(n, f)
    with pytest.raises(ValueError, match="sigma must be at most"):
        axial_kernel(limit + 0.5, f, n_planes=n)
