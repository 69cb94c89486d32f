"""The demo's picture: the middle XZ plane of a stack and of its isotropic result side by side, as one PNG.

A user without a display (a server, a cluster node) sees what the run did without opening napari. Both
panels have the result's size: the source is stretched along z by linear interpolation on the isotropic
mode's geometry (input plane i sits on output row i * f), so the two differ only in what ZSSR added.
Pillow and numpy only: no napari, no Qt.
"""

from __future__ import annotations

import numpy as np

from .files import atomic_write

PERCENTILES = (0.5, 99.5)  # each panel's display range: a few hot pixels must not make the rest dark
GAP = 6                    # pixels between the panels
TARGET_WIDTH = 400         # a panel is enlarged (nearest) to about this width, so a 128-pixel plane is visible


def middle_xz(stack) -> np.ndarray:
    """The XZ plane through the middle row (y) of a (Z, Y, X) stack, as float32 (z down, x across)."""
    stack = np.asarray(stack)
    if stack.ndim != 3:
        raise ValueError(f"the picture needs a (Z, Y, X) stack, got shape {stack.shape}")
    return stack[:, stack.shape[1] // 2, :].astype(np.float32)


def stretch_z(plane, z_factor: float, rows: int) -> np.ndarray:
    """``plane`` (z, x) linearly interpolated to ``rows`` rows, output row j at input position j / z_factor
    (the last input plane held where a non-integer factor stops short of it)."""
    plane = np.asarray(plane, np.float32)
    pos = np.minimum(np.arange(rows) / float(z_factor), plane.shape[0] - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, plane.shape[0] - 1)
    w = (pos - lo)[:, None].astype(np.float32)
    return plane[lo] * (1 - w) + plane[hi] * w


def to_uint8(plane) -> np.ndarray:
    """``plane`` mapped from its own 0.5 / 99.5 percentiles to 0-255 (clipped); a flat plane is mid-grey."""
    low, high = np.percentile(plane, PERCENTILES)
    if not high > low:
        return np.full(np.shape(plane), 128, np.uint8)
    return (np.clip((plane - low) / (high - low), 0, 1) * 255 + 0.5).astype(np.uint8)


def side_by_side(left, right, labels=("source", "result")) -> np.ndarray:
    """Two planes of one shape as one uint8 picture, each normalised on its own, labelled above."""
    from PIL import Image, ImageDraw

    if np.shape(left) != np.shape(right):
        raise ValueError(f"the panels differ in shape: {np.shape(left)} and {np.shape(right)}")
    h, w = np.shape(left)
    zoom = max(1, TARGET_WIDTH // max(h, w))
    panels = [np.kron(to_uint8(p), np.ones((zoom, zoom), np.uint8)) for p in (left, right)]
    band = 16  # the labels' band above the panels
    canvas = np.zeros((band + h * zoom, 2 * w * zoom + GAP), np.uint8)
    canvas[band:, : w * zoom] = panels[0]
    canvas[band:, w * zoom + GAP:] = panels[1]
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for i, text in enumerate(labels):
        draw.text((i * (w * zoom + GAP) + 2, 2), text, fill=255)
    return np.asarray(image)


def write_xz_comparison(source, result, z_factor: float, path, labels=None) -> str:
    """Write the middle XZ planes of ``source`` (stretched to the result's z) and ``result`` side by side as a
    PNG at ``path`` (replaced if it exists); returns the path."""
    from PIL import Image

    src, res = middle_xz(source), middle_xz(result)
    if src.shape[1] != res.shape[1]:
        raise ValueError(f"the result's x size ({res.shape[1]}) is not the source's ({src.shape[1]})")
    stretched = stretch_z(src, z_factor, res.shape[0])
    labels = labels or (f"source, linear along z (x{z_factor:.3g})", "ZSSR result")
    picture = side_by_side(stretched, res, labels)
    atomic_write(path, lambda tmp: Image.fromarray(picture).save(tmp, format="PNG"), overwrite=True)
    return str(path)
