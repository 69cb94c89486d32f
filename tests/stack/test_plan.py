"""stack/plan.py: which axes are spatial, batch or channel and which mode enlarges which; every plan a stack
cannot have is refused in words that name the problem."""

import numpy as np
import pytest

from napari_zssr.stack.plan import make_plan


@pytest.mark.parametrize(
    "shape,scale,kw,exc,match",
    [
        ((6, 8, 8), (2, 1), {}, ValueError, r"scale needs one factor per axis \(3 for axes ZYX\), got 2"),
        ((6, 8, 8), (2, 1, 1), {"axes": "ZY"}, ValueError, "axes 'ZY' has 2 letters but the array has 3 axes"),
        ((6, 8, 8), (2, 1, 1), {"axes": "ZZX"}, ValueError,
         "axes 'ZZX' repeats a letter; each of T, C, Z, Y, X, S may"),
        ((6, 8, 8), (2, 1, 1), {"axes": "ZYQ"}, ValueError, "axes 'ZYQ' uses Q; use letters from T, C, Z, Y, X, S"),
        ((1, 8, 8), (2, 1, 1), {}, ValueError, "isotropic mode needs at least 2 z planes, the stack has 1"),
        ((2, 6, 8, 8), (2, 2, 1, 1), {"axes": "CZYX"}, ValueError, "the factor on the channel axis must be 1, got 2"),
        ((2, 6, 8, 8), (2, 2, 1, 1), {"axes": "TZYX"}, ValueError, "the factor on the time axis must be 1, got 2"),
        ((32, 32, 3), (2, 2, 1), {}, ValueError, r"an array of shape \(32, 32, 3\) looks like an RGB\(A\) image"),
        ((2, 6, 8, 8), (1, 2, 1, 1), {}, ValueError, "a 4-D array must name its axes, e.g. axes='TCZYX'"),
        ((6, 8, 8), (2, 1, 1), {"mode": "planes"}, ValueError,
         "mode 'planes' does not fit factors .*this scale calls for 'isotropic'"),
        ((6, 8, 8), (2, 1, 1), {"mode": "sideways"}, ValueError,
         "mode must be 'auto', 'planes', 'isotropic' or 'both', got 'sideways'"),
        ((6, 8, 8), (0.5, 1, 1), {}, ValueError,
         r"upscale only enlarges: the factor on Z is 0.5 \(use imresize to shrink\)"),
        ((6, 8, 8), (1, 1, 1), {}, ValueError, r"at least one factor must be > 1, got \[1.0, 1.0, 1.0\]"),
        ((6, 8, 8), (np.nan, 1, 1), {}, ValueError,
         r"scale factors must be positive and finite, got \[nan, 1.0, 1.0\]"),
        ((2, 6, 8, 8), (1, 2, 1, 1), {"axes": "CZYX", "channel_axis": 1}, ValueError,
         "channel_axis=1 disagrees with axes 'CZYX'"),
        ((6, 8, 8), (2, 1, 1), {"planes": "some"}, ValueError, "planes must be 'shared' or 'independent', got 'some'"),
    ],
)
def test_plan_errors(shape, scale, kw, exc, match):
    with pytest.raises(exc, match=match):
        make_plan(shape, scale, **kw)
