"""MATLAB-compatible imresize for numpy arrays and torch tensors.

Every axis is resized on its own by a dense weight matrix (out x in) built once in float64 and
cached; the matrix carries MATLAB's geometry (output x maps to input x/s + (1 - 1/s)/2, 1-based),
its antialiasing (the kernel stretched to s*h(s*x) when s < 1, decided per axis) and its
symmetric boundary. A numeric kernel is a correlation followed by point sampling.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .checks import cast_result, check_numeric, check_output_size
from .kernels import KERNELS, kernel_name, shift_kernel, validate_numeric_kernel


def ceil_size(v: float) -> int:
    # n * (1/3) * 3 style products land a hair above an integer; MATLAB-made files expect the integer.
    return int(math.ceil(round(v, 9)))


def resolve_geometry(shape, scale=None, output_shape=None):
    """Per-axis scales and output sizes from ``scale`` and/or ``output_shape`` (MATLAB's rules)."""
    ndim = len(shape)
    if scale is None and output_shape is None:
        raise ValueError("give scale or output_shape (or both)")
    scales = [1.0] * ndim
    if scale is not None:
        if np.isscalar(scale):
            # A scalar applies to the first two axes, as in MATLAB (channels stay untouched).
            sc = [float(scale)] * min(2, ndim)
        else:
            sc = [float(s) for s in np.asarray(scale, dtype=np.float64).ravel()]
        if len(sc) > ndim:
            raise ValueError(f"{len(sc)} scale factors given for an array with {ndim} axes")
        for s in sc:
            if not math.isfinite(s) or s <= 0:
                raise ValueError(f"scale factors must be positive and finite, got {list(sc)}")
        scales[: len(sc)] = sc
    out = [ceil_size(n * s) for n, s in zip(shape, scales)]
    check_output_size(out, "imresize")
    if output_shape is not None:
        os_ = list(output_shape)
        if len(os_) > ndim:
            raise ValueError(f"output_shape {tuple(os_)} has more axes than the array ({ndim})")
        for i, o in enumerate(os_):
            if o is None:
                continue
            if int(o) != o or o < 1:
                raise ValueError(f"output_shape entries must be positive integers, got {o!r}")
            out[i] = int(o)
            if scale is None:
                scales[i] = out[i] / shape[i]
    check_output_size(out, "imresize")
    return scales, out


MAX_TAPS = 1 << 26  # entries of one axis' weight matrix (512 MB in float64)


def _mirror(idx: np.ndarray, n: int) -> np.ndarray:
    aux = np.concatenate([np.arange(n), np.arange(n)[::-1]])
    return aux[np.mod(idx, 2 * n)]


@lru_cache(maxsize=256)
def weight_matrix(in_len: int, out_len: int, scale: float, kernel: str, antialias: bool):
    """The (out_len, in_len) float64 matrix that resizes one axis with an interpolation kernel."""
    fn, width = KERNELS[kernel]
    if scale < 1 and antialias:
        h = lambda x: scale * fn(scale * x)  # noqa: E731
        width = width / scale
    else:
        h = fn
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    if out_len * taps > MAX_TAPS:
        raise ValueError(f"imresize: shrinking an axis of {in_len} to {out_len} by {scale:g} needs a kernel of {taps} "
                         f"taps per output sample; shrink in several steps or by a factor nearer 1")
    ind = left[:, None] + np.arange(taps)[None, :]
    w = h(u[:, None] - ind)
    w = w / w.sum(axis=1, keepdims=True)
    m = np.zeros((out_len, in_len))
    rows = np.repeat(np.arange(out_len), taps)
    np.add.at(m, (rows, _mirror(ind.astype(np.int64).ravel() - 1, in_len)), w.ravel())
    m.flags.writeable = False
    return m


@lru_cache(maxsize=256)
def sampling_matrix(in_len: int, out_len: int, scale: float):
    """Point sampling at MATLAB's output positions, and the sub-pixel phase folded into the kernel.

    For integer factors every position has the same fractional part; it is returned as the phase
    (to shift the kernel by) and the matrix picks whole pixels. Otherwise positions are read by
    linear interpolation.
    """
    u = (np.arange(out_len) + 0.5) / scale - 0.5
    frac = u - np.floor(u)
    phase = float(frac[0]) if np.allclose(frac, frac[0], atol=1e-9) else 0.0
    pos = u - phase
    lo = np.floor(pos + 1e-9)
    w_hi = np.clip(pos - lo, 0.0, 1.0)
    w_hi[w_hi < 1e-9] = 0.0
    m = np.zeros((out_len, in_len))
    rows = np.arange(out_len)
    np.add.at(m, (rows, _mirror(lo.astype(np.int64), in_len)), 1 - w_hi)
    np.add.at(m, (rows, _mirror(lo.astype(np.int64) + 1, in_len)), w_hi)
    m.flags.writeable = False
    return m, phase


class Kernel:
    """A downscaling kernel: a named interpolation kernel or a validated numeric array."""

    def __init__(self, kernel="cubic", ndim_max: int = 2):
        if isinstance(kernel, Kernel):
            self.name, self.array = kernel.name, kernel.array
        elif isinstance(kernel, str):
            self.name, self.array = kernel_name(kernel), None
        else:
            self.name, self.array = "numeric", validate_numeric_kernel(kernel, ndim_max)
            self.array.flags.writeable = False

    def named(self, name: str) -> "Kernel":
        """The same numeric kernel under another name (what the report shows, e.g. where it came from);
        a named kernel's name is what selects its function, so it keeps it."""
        if not self.numeric:
            raise ValueError(f"the {self.name} kernel keeps its name")
        out = Kernel(self)
        out.name = name
        return out

    @property
    def numeric(self) -> bool:
        return self.array is not None

    def shifted(self, phases) -> np.ndarray:
        return _shifted(self.array.tobytes(), self.array.shape, tuple(phases))

    def __repr__(self):
        return f"Kernel({self.name}{'' if self.array is None else ' ' + str(self.array.shape)})"


@lru_cache(maxsize=64)
def _shifted(buf, shape, phases):
    k = np.frombuffer(buf, dtype=np.float64).reshape(shape)
    out = shift_kernel(k, phases)
    out.flags.writeable = False
    return out


def _check_array(x) -> np.ndarray:
    arr = np.asarray(x)
    check_numeric(arr)
    if arr.ndim == 0:
        raise ValueError("image must have at least one axis, got a scalar")
    if arr.size == 0:
        raise ValueError(f"image is empty (shape {arr.shape})")
    return arr


def imresize(x, scale=None, output_shape=None, kernel="cubic", antialias=True) -> np.ndarray:
    """Resize an array as MATLAB's ``imresize`` does, one axis at a time.

    Parameters
    ----------
    x : array_like
        Real numeric array of any number of axes.
    scale : float or sequence of float, optional
        One factor per axis (missing trailing axes and 1.0 are untouched). A scalar applies to
        the first two axes, as in MATLAB.
    output_shape : sequence of int, optional
        Output size per axis; ``None`` entries follow ``scale``. With ``scale`` given too, the
        scale sets the geometry and this sets the size.
    kernel : str or array_like
        "cubic" (Keys, a = -0.5), "linear", "lanczos2", "lanczos3", "box", or a numeric
        downscaling kernel applied to the first ``kernel.ndim`` axes (downscaling only).
    antialias : bool
        Stretch the kernel when shrinking (per axis).

    Returns
    -------
    numpy.ndarray
        Same dtype as an integer or float32/float64 input (integers rounded and clipped, as
        MATLAB does); other floats come back as float32.
    """
    arr = _check_array(x)
    if not np.all(np.isfinite(arr)):
        raise ValueError("image contains NaN or inf values")
    k = Kernel(kernel, ndim_max=arr.ndim)
    scales, out_shape = resolve_geometry(arr.shape, scale, output_shape)
    work = arr.astype(np.float64)
    if k.numeric:
        work = _numeric_numpy(work, k, scales, out_shape)
    else:
        # MATLAB resizes the axis with the smallest factor first (least work after it).
        for ax in np.argsort(scales, kind="stable"):
            if scales[ax] == 1.0 and out_shape[ax] == arr.shape[ax]:
                continue
            m = weight_matrix(work.shape[ax], out_shape[ax], scales[ax], k.name, bool(antialias))
            work = np.moveaxis(np.tensordot(m, work, axes=([1], [ax])), 0, ax)
            if np.issubdtype(arr.dtype, np.integer):
                # MATLAB keeps the integer class between the passes; so do we, to match its files.
                work = _cast_like(work, arr.dtype).astype(np.float64)
    return _cast_like(work, arr.dtype)


def _numeric_numpy(work, k: Kernel, scales, out_shape):
    from scipy import ndimage

    kd = k.array.ndim
    if any(s > 1 for s in scales):
        raise ValueError("a numeric kernel only downscales; use a named kernel to enlarge")
    if any(scales[i] != 1.0 for i in range(kd, work.ndim)):
        raise ValueError(f"a {kd}-D numeric kernel can only resize the first {kd} axes")
    mats = [sampling_matrix(work.shape[i], out_shape[i], scales[i]) for i in range(kd)]
    kern = k.shifted([p for _, p in mats])
    kern = kern.reshape(kern.shape + (1,) * (work.ndim - kd))
    work = ndimage.correlate(work, kern, mode="reflect")  # scipy's 'reflect' is MATLAB's symmetric
    for ax, (m, _) in enumerate(mats):
        work = np.moveaxis(np.tensordot(m, work, axes=([1], [ax])), 0, ax)
    return work


def _cast_like(work: np.ndarray, dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        return cast_result(work, dtype)
    if dtype == np.float64:
        return work
    # the cubic's overshoot can carry values near float32's limit past it; keep them finite
    lim = np.finfo(np.float32).max
    return np.clip(work, -lim, lim).astype(np.float32)


# --------------------------------------------------------------------------- torch


def resize_torch(t, scale=None, output_shape=None, kernel="cubic", antialias=True, dims=(-2, -1)):
    """Resize the axes ``dims`` of a tensor on its own device and dtype.

    ``scale`` and ``output_shape`` have one entry per axis in ``dims``. A numeric kernel must
    have one axis per entry of ``dims``.
    """
    import torch

    dims = [d % t.ndim for d in dims]
    shape = [t.shape[d] for d in dims]
    scales, out_shape = resolve_geometry(shape, scale, output_shape)
    k = kernel if isinstance(kernel, Kernel) else Kernel(kernel, ndim_max=len(dims))
    if k.numeric:
        if any(s > 1 for s in scales):
            raise ValueError("a numeric kernel only downscales; use a named kernel to enlarge")
        if k.array.ndim != len(dims):
            raise ValueError(f"a {k.array.ndim}-D kernel cannot resize {len(dims)} axes")
        mats = [sampling_matrix(n, o, s) for n, o, s in zip(shape, out_shape, scales)]
        kern = k.shifted([p for _, p in mats])
        t = _correlate_symmetric(t, torch.tensor(kern, dtype=t.dtype, device=t.device), dims)
        for d, (m, _) in zip(dims, mats):
            t = apply_matrix(t, m, d)
        return t
    order = np.argsort(scales, kind="stable")
    for i in order:
        if scales[i] == 1.0 and out_shape[i] == shape[i]:
            continue
        m = weight_matrix(t.shape[dims[i]], out_shape[i], scales[i], k.name, bool(antialias))
        t = apply_matrix(t, m, dims[i])
    return t


_DEVICE_CACHE: dict = {}


def clear_device_cache() -> None:
    """Let go of the resize matrices held on devices (GPU memory returns to where it was)."""
    _DEVICE_CACHE.clear()


def _as_tensor(m: np.ndarray, like):
    import torch

    key = (id(m), like.dtype, str(like.device))
    hit = _DEVICE_CACHE.get(key)
    if hit is not None and hit[0] is m:
        return hit[1]
    if len(_DEVICE_CACHE) > 512:
        _DEVICE_CACHE.clear()
    tm = torch.as_tensor(np.ascontiguousarray(m.T), dtype=like.dtype, device=like.device)
    _DEVICE_CACHE[key] = (m, tm)  # keeps m alive so its id cannot be reused while cached
    return tm


def apply_matrix(t, m: np.ndarray, dim: int):
    import torch

    moved = torch.movedim(t, dim, -1)
    return torch.movedim(moved @ _as_tensor(m, t), -1, dim)


def _correlate_symmetric(t, kern, dims):
    """Correlate the axes ``dims`` with ``kern`` using MATLAB's symmetric (edge-repeating) boundary."""
    import torch
    import torch.nn.functional as F

    nd = len(dims)
    for d, n in zip(dims, kern.shape):
        size = t.shape[d]
        idx = _mirror(np.arange(-(n // 2), size + n - 1 - n // 2), size)
        t = torch.index_select(t, d, torch.as_tensor(idx, device=t.device))
    lead = [i for i in range(t.ndim) if i not in dims]
    perm = lead + list(dims)
    moved = t.permute(perm)
    lead_shape = moved.shape[: len(lead)]
    flat = moved.reshape((-1, 1) + tuple(moved.shape[len(lead):]))
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    out = conv(flat, kern.reshape((1, 1) + tuple(kern.shape)))
    out = out.reshape(tuple(lead_shape) + tuple(out.shape[2:]))
    inv = np.argsort(perm)
    return out.permute(*inv)
