"""Data and output dtypes (stack/blocks.py check_dtype): only integer and float images, refused before training.

numpy counts timedelta64 as a signed integer, so a check for "a number" alone lets it through; an output
dtype of timedelta64 then failed only at the final cast, after every network was trained.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from napari_zssr import upscale
from napari_zssr.stack.blocks import check_dtype

from ..cases import check_case
from ..test_reliability import image, tiny

HINT = "is not a numeric image type; use an integer or float type"


def timed(fn, seconds=5.0):
    """``fn`` must end (with its error) within ``seconds``: a refusal, not a failure after training."""
    def run():
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            assert time.perf_counter() - t0 < seconds, "refused only after training"
    return run


CASES = [
    ("upscale-timedelta-data", "upscale: a timedelta64 image",
     timed(lambda: upscale(np.zeros((8, 8), "m8[s]"), (2, 2), config=tiny())), TypeError,
     f"data has dtype timedelta64[s], which {HINT}"),
    ("upscale-datetime-data", "upscale: a datetime64 image",
     timed(lambda: upscale(np.zeros((8, 8), "M8[s]"), (2, 2), config=tiny())), TypeError,
     f"data has dtype datetime64[s], which {HINT}"),
    ("upscale-timedelta-output", "upscale(dtype='m8[s]'): a timedelta64 result",
     timed(lambda: upscale(image(), (2, 2), config=tiny(max_iters=3000, min_iters=3000), dtype="m8[s]")),
     TypeError, f"dtype timedelta64[s] {HINT}"),
    ("upscale-datetime-output", "upscale(dtype='M8[ns]'): a datetime64 result",
     timed(lambda: upscale(image(), (2, 2), config=tiny(max_iters=3000, min_iters=3000), dtype="M8[ns]")),
     TypeError, f"dtype datetime64[ns] {HINT}"),
    ("upscale-bool-output", "upscale(dtype=bool): a bool result",
     timed(lambda: upscale(image(), (2, 2), config=tiny(max_iters=3000, min_iters=3000), dtype=bool)),
     TypeError, f"dtype bool {HINT}"),
    ("upscale-uint8-output", "upscale(dtype=uint8): an integer result is still made",
     lambda: upscale(image(16, 16), (2, 2), config=tiny(), dtype=np.uint8), None, "uint8 array (32, 32)"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_case_gets_its_documented_outcome(case):
    check_case(case)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, np.int64, np.float16, np.float32,
                                   np.float64])
def test_integer_and_float_types_pass(dtype):
    check_dtype(np.empty(0, dtype), "dtype")
    check_dtype(np.zeros((2, 2), dtype))


@pytest.mark.parametrize("dtype", ["m8[s]", "m8[ns]", "M8[D]", bool, complex, object, "U3", "S2", "V8"])
def test_everything_else_is_refused_naming_the_type(dtype):
    with pytest.raises(TypeError, match=r"dtype .* is not a numeric image type") as info:
        check_dtype(np.empty(0, dtype), "dtype")
    assert str(np.dtype(dtype)) in str(info.value)
