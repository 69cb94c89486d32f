"""core/checks.py: the checks every entry point shares, at their limits."""

import numpy as np
import pytest

from napari_zssr.core.checks import (
    MAX_ABS_VALUE,
    MAX_FACTOR,
    MAX_OUTPUT_VALUES,
    cast_result,
    check_factor_limit,
    check_finite,
    check_output_size,
    seed_for,
)
from napari_zssr.stack.upscale import _check_result


def test_check_finite_counts_what_is_wrong_and_passes_what_is_not():
    img = np.ones((4, 5), np.float32)
    check_finite(img)
    check_finite(np.full((2, 2), 7, np.int64))  # integers are finite by construction
    img[1, 2] = np.nan
    img[3, 0] = -np.inf
    with pytest.raises(ValueError, match="image contains 2 NaN or inf value"):
        check_finite(img)
    with pytest.raises(ValueError, match="beyond what a float32 result holds"):
        check_finite(np.array([1.0, 10 * MAX_ABS_VALUE]))
    check_finite(np.array([1.0, MAX_ABS_VALUE]))  # the limit itself is allowed


def test_factor_and_output_limits_sit_exactly_at_their_bounds():
    check_factor_limit([MAX_FACTOR], "t")
    with pytest.raises(ValueError, match="t: a factor of 100.5 is above the limit of 100"):
        check_factor_limit([1.0, MAX_FACTOR + 0.5], "t")
    check_output_size((MAX_OUTPUT_VALUES,), "t")
    with pytest.raises(ValueError, match=r"t: the result would have shape \(1073741825,\)"):
        check_output_size((MAX_OUTPUT_VALUES + 1,), "t")


def test_cast_result_rounds_and_clips_to_integers_and_converts_floats():
    vals = np.array([-3.4, 0.5, 1.5, 254.6, 300.0], np.float32)
    np.testing.assert_array_equal(cast_result(vals, np.uint8), [0, 0, 2, 255, 255])  # round half to even
    out = cast_result(vals, np.float64)
    assert out.dtype == np.float64 and np.allclose(out, vals)


def test_seed_for_depends_on_the_seed_and_the_unit_only():
    assert seed_for(0, 5) == seed_for(0, 5)
    assert len({seed_for(0, u) for u in range(50)}) == 50
    assert seed_for(1, 5) != seed_for(0, 5)


def test_a_result_with_nan_is_never_handed_back():
    _check_result(np.zeros((3, 3), np.float32))
    _check_result(np.zeros((3, 3), np.uint8))
    bad = np.zeros((3, 3), np.float32)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="the result holds 1 NaN or inf value"):
        _check_result(bad)
