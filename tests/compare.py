"""Comparing results of two code paths, thread counts or machines: within a tolerance, never bit for bit.

Float sums come out in another order on another CPU model (oneDNN picks kernels per CPU and per
memory alignment), with another thread count or another batching; the design (Determinism) says
such results agree within training noise. Exact equality is kept for the same path run twice.
"""

import numpy as np

# about 1e-3 of the range after a full "fast" run; a tiny test run stays well inside it, while a
# lost row, a swapped channel or a wrong kernel is off by a large part of the range
TRAINING_NOISE = 1e-3


def assert_close(actual, expected, frac: float = TRAINING_NOISE) -> None:
    """``actual`` equals ``expected`` within ``frac`` of ``expected``'s range, with the same shape."""
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    span = float(b.max() - b.min()) if b.size else 0.0
    np.testing.assert_allclose(a, b, rtol=0, atol=frac * (span or 1.0))
