"""Property-based tests (hypothesis) of imresize, zssr, upscale and the CLI, as a careless user calls them.

Every call ends in a correct result (shape as documented, finite, dtype as documented) or in a
ValueError / TypeError whose message names one of the problems of the input; the input is never
changed. Runs with few examples and a micro network so the file stays well under a minute.
"""

import math
import os
import tempfile
import warnings

import numpy as np
import pytest

from napari_zssr import ZSSRConfig, imresize, upscale, zssr
from napari_zssr.core.axial import coarse_length

from .compare import assert_close

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402 - after the importorskip that guards it
from hypothesis import strategies as st  # noqa: E402 - after the importorskip that guards it
from hypothesis.extra import numpy as hnp  # noqa: E402 - after the importorskip that guards it

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
SLOW = settings(FAST, max_examples=12)

NUMERIC = [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64,
           np.float16, np.float32, np.float64, np.longdouble]
ODD = [np.bool_, np.complex64, np.complex128, object]


def micro_config():
    return ZSSRConfig.preset("fast", max_iters=2, min_iters=2, width=4, depth=2, crop_size=8, batch_size=1,
                             run_test_every=2, learning_rate_policy_check_every=2, learning_rate_slope_range=2,
                             back_projection_iters=1, device="cpu", precision="float32")


CFG = micro_config()


# --------------------------------------------------------------------------- strategies


def _elements(dtype, special: bool, big: float):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        if dtype.itemsize == 2:
            big = 6e4
        elif dtype.itemsize == 4:
            big = float(np.float32(min(big, 1e30)))
        finite = st.floats(-big, big, width=min(64, dtype.itemsize * 8))
        return st.one_of(finite, st.sampled_from([math.nan, math.inf, -math.inf])) if special else finite
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return st.integers(int(info.min), int(info.max))
    return None


@st.composite
def arrays(draw, ndims=(2, 2), max_side=6, dtypes=NUMERIC + ODD, min_side=0):
    """Any real, bool, complex or object array; maybe read-only, non-contiguous, with NaN/inf/huge values."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    shape = draw(hnp.array_shapes(min_dims=ndims[0], max_dims=ndims[1], min_side=min_side, max_side=max_side))
    special = draw(st.booleans()) if dtype.kind == "f" else False
    big = draw(st.sampled_from([1.0, 1e4, 1e30, 1e300]))
    el = _elements(dtype, special, big)
    if el is None:
        base = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
        arr = base.astype(dtype) if dtype != np.dtype(object) else base.astype(object)
    else:
        arr = draw(hnp.arrays(dtype, shape, elements=el))
    layout = draw(st.sampled_from(["c", "fortran", "reversed", "strided", "readonly"])) if arr.ndim else "c"
    if layout == "fortran":
        arr = np.asfortranarray(arr)
    elif layout == "reversed":
        arr = arr[..., ::-1]
    elif layout == "strided":
        arr = np.repeat(arr, 2, axis=-1)[..., ::2]
    elif layout == "readonly":
        arr = arr.copy()
        arr.setflags(write=False)
    return arr


FACTORS = st.one_of(
    st.floats(1.0, 3.0),
    st.sampled_from([0.0, -1.0, -2.5, 0.5, 0.999, 1.0, 1e6, 1e9, math.nan, math.inf, -math.inf]),
)


# --------------------------------------------------------------------------- helpers


SMALL_SHAPE = {"shape", "small", "empty", "axes"}


def problems_of(arr, factors=(), shrink_ok=False):
    """Keywords, one set per problem the input has; a clear error message names at least one of them."""
    probs = []
    if arr.dtype == object or arr.dtype == bool or arr.dtype.kind == "c":
        probs.append({"dtype", "numeric"})
    elif arr.dtype.kind == "f" and arr.size and not np.all(np.isfinite(arr.astype(np.float64))):
        probs.append({"nan", "inf"})
    elif arr.dtype.kind == "f" and arr.size and np.max(np.abs(arr.astype(np.float64))) > 1e36:
        probs.append({"magnitude", "float32"})
    if arr.size == 0 or any(n < 2 for n in arr.shape):
        probs.append(SMALL_SHAPE)
    for f in factors:
        if not (math.isfinite(f) and (f > 0 if shrink_ok else f >= 1)):
            probs.append({"scale", "factor"})
        if math.isfinite(f) and f > 1e5:
            probs.append({"limit", "small", "factor"})
    return probs


def same(a, b) -> bool:
    if a.dtype == object:
        return a.shape == b.shape and all(x == y for x, y in zip(a.ravel().tolist(), b.ravel().tolist()))
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def call(fn, arr, *args, **kwargs):
    """(result, None) or (None, error); any exception other than ValueError / TypeError fails the test."""
    before = arr.copy()
    flags = arr.flags.writeable
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fn(arr, *args, **kwargs)
        err = None
    except (ValueError, TypeError) as exc:
        res, err = None, exc
    assert same(arr, before), "the input was changed"
    assert arr.flags.writeable == flags
    return res, err


def assert_names_problem(err, probs):
    msg = str(err).lower()
    assert msg, "empty error message"
    assert probs, f"unexpected error for a valid input: {type(err).__name__}: {err}"
    keys = set().union(*probs)
    assert any(k in msg for k in keys), f"message {msg!r} names none of {sorted(keys)}"


# --------------------------------------------------------------------------- imresize


@FAST
@given(arr=arrays(ndims=(0, 3), max_side=5), sy=FACTORS.filter(lambda f: not (math.isfinite(f) and f > 1e5)),
       sx=FACTORS.filter(lambda f: not (math.isfinite(f) and f > 1e5)))
def test_imresize_any_input(arr, sy, sx):
    scale = (sy, sx)[: max(1, arr.ndim)]
    res, err = call(imresize, arr, scale)
    probs = problems_of(arr, scale, shrink_ok=True)
    # imresize resizes arrays with 1-pixel axes (MATLAB does); only empty arrays and scalars are errors
    probs = [p for p in probs if "empty" not in p] + ([{"empty", "scalar", "axis"}] if arr.size == 0 or
                                                       arr.ndim == 0 else [])
    probs = [p for p in probs if "magnitude" not in p]  # imresize keeps float64 values of any size
    if err is not None:
        assert_names_problem(err, probs)
        return
    assert not probs, f"no error for an input with problems {probs}"
    expect = tuple(math.ceil(round(n * s, 9)) for n, s in zip(arr.shape, scale)) + arr.shape[len(scale):]
    assert res.shape == expect
    if arr.dtype in (np.float32, np.float64) or arr.dtype.kind in "iu":
        assert res.dtype == arr.dtype
    else:
        assert res.dtype == np.float32
    assert np.all(np.isfinite(res.astype(np.float64)))


def test_imresize_float32_near_max_stays_finite():
    """The cubic overshoot of float32 values near 3.4e38 stays within float32 (clipped, not inf)."""
    a = np.array([[3e38, -3e38, 3e38], [-3e38, 3e38, -3e38], [3e38, 3e38, -3e38]], np.float32)
    res = imresize(a, 2)
    assert np.all(np.isfinite(res))


# --------------------------------------------------------------------------- zssr


@SLOW
@given(arr=arrays(ndims=(0, 3), max_side=6), scale=st.one_of(FACTORS, st.tuples(FACTORS, FACTORS)),
       channel_axis=st.sampled_from([None, None, -1, 0, 5]))
def test_zssr_any_input(arr, scale, channel_axis):
    res, err = call(zssr, arr, scale, config=CFG, channel_axis=channel_axis)
    factors = (scale, scale) if np.isscalar(scale) else scale
    probs = problems_of(arr, factors)
    want_nd = 2 if channel_axis is None else 3
    if arr.ndim != want_nd:
        probs.append({"2-d", "3-d", "shape", "channel_axis", "axis"})
    elif channel_axis is not None and not -arr.ndim <= channel_axis < arr.ndim:
        probs.append({"channel_axis"})
    if channel_axis is not None and arr.ndim == 3 and -3 <= channel_axis < 3:
        # the channel axis may have any length >= 1; only the spatial axes need 2 pixels
        spatial = [n for i, n in enumerate(arr.shape) if i != channel_axis % 3]
        probs = [p for p in probs if "small" not in p or "limit" in p]
        if arr.size == 0 or min(spatial) < 2:
            probs.append({"small", "shape"})
    if all(math.isfinite(f) and f >= 1 for f in factors) and max(factors) <= 1:
        probs.append({"scale", "factor"})
    if err is not None:
        assert_names_problem(err, probs)
        return
    assert not probs, f"no error for an input with problems {probs}"
    ca = None if channel_axis is None else channel_axis % 3
    spatial = [i for i in range(arr.ndim) if i != ca]
    expect = list(arr.shape)
    for i, f in zip(spatial, factors):
        expect[i] = math.ceil(round(arr.shape[i] * f, 9))
    assert res.shape == tuple(expect) and res.dtype == np.float32
    assert np.all(np.isfinite(res))


def test_zssr_huge_factor_is_a_clear_error_before_any_allocation():
    with pytest.raises(ValueError, match=r"^zssr: a factor of 1e\+06 is above the limit of 100; ZSSR learns from"):
        zssr(np.ones((10, 12), np.float32), 1e6, config=CFG)
    with pytest.raises(ValueError, match="^zssr: a factor of 20000 is above the limit of 100;"):
        zssr(np.ones((3, 10, 12), np.float32), (2e4, 2e4), config=CFG, channel_axis=0)


def test_zssr_values_beyond_float32_are_refused():
    img = np.random.default_rng(0).random((8, 9)) * 1e300
    with pytest.raises(ValueError, match=r"^image has values up to 9\.\d+e\+299 in magnitude, beyond what a float32 "
                                         r"result holds \(limit 1e\+36\); rescale the data first$"):
        zssr(img, 2, config=CFG)


VALID_2D = arrays(ndims=(2, 2), max_side=7, min_side=2, dtypes=NUMERIC).filter(
    lambda a: not problems_of(a))


@settings(SLOW, max_examples=8)
@given(arr=VALID_2D, sy=st.floats(1.0, 3.0), sx=st.floats(1.0, 3.0))
def test_zssr_valid_input_gives_the_documented_result(arr, sy, sx):
    if max(sy, sx) <= 1:
        sy = 2.0
    res, err = call(zssr, arr, (sy, sx), config=CFG)
    assert err is None, err
    assert res.shape == (math.ceil(round(arr.shape[0] * sy, 9)), math.ceil(round(arr.shape[1] * sx, 9)))
    assert res.dtype == np.float32 and np.all(np.isfinite(res))


# --------------------------------------------------------------------------- upscale

AXES = st.one_of(st.none(), st.text("TCZYXyxAB", min_size=0, max_size=4), st.sampled_from(["ZYX", "YX", "CYX", "YXC"]),
                 st.just(3))


def _valid_axes(axes, ndim):
    if axes is None:
        return {2: "YX", 3: "ZYX"}.get(ndim)
    if not isinstance(axes, str):
        return None
    a = axes.upper()
    if len(a) != ndim or set(a) - set("TCZYX") or len(set(a)) != len(a) or "Y" not in a or "X" not in a:
        return None
    if a.index("Y") > a.index("X") or ("Z" in a and a.index("Z") > a.index("Y")):
        return None
    return a


@SLOW
@given(arr=arrays(ndims=(1, 3), max_side=5, min_side=0), axes=AXES, data=st.data())
def test_upscale_any_input(arr, axes, data):
    n = max(arr.ndim, 1)
    factors = tuple(data.draw(st.lists(st.one_of(FACTORS, st.just(1.0)), min_size=n, max_size=n)))
    res, err = call(upscale, arr, factors, axes=axes, config=CFG)
    probs = problems_of(arr, factors)
    a = _valid_axes(axes, arr.ndim)
    if arr.ndim < 2 or a is None:
        probs.append({"axes", "axis", "2 axes", "rgb", "string"})
    else:
        if any(f != 1 for ax, f in zip(a, factors) if ax in "CT"):
            probs.append({"channel", "time"})
        if all(f <= 1 for f in factors if math.isfinite(f)):
            probs.append({"factor", "scale"})
        z_big = "Z" in a and math.isfinite(factors[a.index("Z")]) and factors[a.index("Z")] > 1
        if z_big and arr.shape[a.index("Z")] < 2:
            probs.append({"z plane", "small", "too"})
        side = min(arr.shape[a.index(c)] for c in "YX")
        # isotropic mode learns from lateral crops subsampled by the z factor: at least 2 rows must remain
        if z_big and side >= 2 and coarse_length(min(side, CFG.crop_size), factors[a.index("Z")]) < 2:
            probs.append({"small", "crop", "lateral"})
        if arr.size and side >= 2:
            # an axis of length 1 other than Y and X (a single plane, channel or time point) is valid
            probs = [p for p in probs if p != SMALL_SHAPE]
    if err is not None:
        assert_names_problem(err, probs)
        return
    assert probs == [], f"no error for problems {probs}"
    expect = []
    for ax, nax, f in zip(a, arr.shape, factors):
        if ax == "Z" and f > 1:
            expect.append(math.floor(round((nax - 1) * f, 9)) + 1)
        else:
            expect.append(math.ceil(round(nax * f, 9)))
    assert res.shape == tuple(expect) and res.dtype == np.float32
    assert np.all(np.isfinite(res))


@settings(SLOW, max_examples=6)
@given(arr=arrays(ndims=(3, 3), max_side=6, min_side=2, dtypes=NUMERIC).filter(lambda a: not problems_of(a)),
       fz=st.floats(1.0, 2.5), fxy=st.sampled_from([1.0, 1.0, 1.5, 2.0]))
def test_upscale_valid_stack_gives_the_documented_result(arr, fz, fxy):
    if fz <= 1 and fxy <= 1:
        fz = 2.0
    res, err = call(upscale, arr, (fz, fxy, fxy), axes="ZYX", config=CFG)
    if err is not None:  # a lateral plane too small for the z factor is the one legitimate refusal here
        assert "small" in str(err) and fz > 1
        return
    nz = math.floor(round((arr.shape[0] - 1) * fz, 9)) + 1 if fz > 1 else arr.shape[0]
    assert res.shape == (nz,) + tuple(math.ceil(round(n * fxy, 9)) for n in arr.shape[1:])
    assert res.dtype == np.float32 and np.all(np.isfinite(res))


@settings(SLOW, max_examples=8)
@given(arr=arrays(ndims=(2, 3), max_side=6, min_side=0), data=st.data())
def test_upscale_of_a_dask_array_matches_numpy(arr, data):
    """A dask array (read lazily, block by block) gives what the same numpy array gives: the same
    result, or an error of the same type (a NaN may be named per plane instead of for the array)."""
    da = pytest.importorskip("dask.array")
    factors = tuple(data.draw(st.lists(st.one_of(FACTORS, st.just(1.0), st.just(2.0)), min_size=arr.ndim,
                                       max_size=arr.ndim)))
    ref, ref_err = call(upscale, arr, factors, config=CFG)
    lazy = da.from_array(arr, chunks=(1,) * (arr.ndim - 2) + arr.shape[-2:]) if arr.dtype != object else None
    if lazy is None:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res, err = upscale(lazy, factors, config=CFG), None
    except (ValueError, TypeError) as exc:
        res, err = None, exc
    if ref_err is not None:
        assert err is not None and type(err) is type(ref_err), f"numpy: {ref_err!r}; dask: {err!r}"
        return
    assert err is None, f"dask input failed where numpy did not: {err!r}"
    assert_close(res, ref)  # another path through the data: float sums may come out in another order


# --------------------------------------------------------------------------- CLI


SCALE_TEXT = st.lists(st.sampled_from(["2", "1.5", "1", "0", "-2", "0.5", "nan", "inf", "abc", "1e6"]),
                      min_size=1, max_size=3)


@settings(SLOW, max_examples=10)
@given(data=st.data(), scale=SCALE_TEXT, axes=st.sampled_from([None, "YX", "ZYX", "QX", "YXZ", "yx"]),
       dtype=st.sampled_from([np.uint8, np.uint16, np.float32]), shape=st.sampled_from([(6, 7), (1, 7), (3, 6, 7)]))
def test_cli_any_arguments(data, scale, axes, dtype, shape):
    import tifffile

    from napari_zssr.cli import main

    rng = np.random.default_rng(0)
    img = (rng.random(shape) * 200).astype(dtype)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "in.tif"), os.path.join(tmp, "out.tif")
        tifffile.imwrite(src, img, photometric="minisblack")
        argv = ["upscale", src, out, "--scale", *scale, "--max-iters", "2", "--preset", "fast", "--quiet",
                "--device", "cpu", "--precision", "float32"]
        if axes is not None:
            argv += ["--axes", axes]
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse: a word where a number belongs
            rc = exc.code
        before = tifffile.imread(src)
        np.testing.assert_array_equal(before, img)
        if rc == 0:
            assert os.path.exists(out)
            res = tifffile.imread(out)
            assert res.dtype == img.dtype and res.ndim == img.ndim
        else:
            assert rc == 2
            assert not os.path.exists(out), "a failed run left an output file"
            assert sorted(os.listdir(tmp)) == ["in.tif"], "a failed run left a temporary file"
