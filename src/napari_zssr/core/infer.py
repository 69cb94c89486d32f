"""The final pass: tiled forward, geometric self-ensemble with median, back-projection."""

from __future__ import annotations

import logging

import torch

from .device import free_memory, is_out_of_memory
from .memory import tile_pixels_for
from .precision import Precision
from .resize import Kernel, resize_torch
from .retries import on_cpu_after_oom
from .train import interpolate_up

log = logging.getLogger("napari_zssr")


def transforms(square: bool, flips: bool):
    """(rot90 count, mirror) pairs: all 8 for square factors, the 4 axis-preserving ones otherwise."""
    if not flips:
        return [(0, False)]
    ks = (0, 1, 2, 3) if square else (0, 2)
    return [(k, f) for k in ks for f in (False, True)]


def _apply(x, k, f):
    x = torch.rot90(x, k, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if f else x


def _undo(x, k, f):
    x = torch.flip(x, dims=(-1,)) if f else x
    return torch.rot90(x, -k, dims=(-2, -1))


def default_tile_pixels(cfg, device) -> int:
    """Pixels per forward pass: each activation of the network stays near 8 MB on the CPU (256 MB on
    a GPU), which bounds memory whatever the image size and keeps one pass well under a second;
    less when the device has little memory free (a quarter of it for four live activations).
    ``cfg.tile_pixels`` overrides it."""
    if cfg.tile_pixels:
        return cfg.tile_pixels
    return _tile_for_width(cfg.width, device)


def _tile_for_width(width: int, device) -> int:
    budget = 2**26 if device.type == "cuda" else 2**21
    return max(4096, min(budget // width, tile_pixels_for(width, device)))


TILE_RETRIES = 4  # out of memory in a forward pass: halve the tile this many times before giving up


def _tile_side(tile_pixels: int, halo: int) -> int:
    return max(16, int(tile_pixels**0.5) - 2 * halo)


def forward_tiled(net, x, tile_pixels: int, check=None, precision=None, batch_tiles=None):
    """``net(x)`` computed in row/column tiles with a halo of the network's reach (identical result),
    the network under ``precision`` (a core.precision.Precision; None: float32) autocast, the result in float32.

    Out of memory (CUDA, MPS or the CPU allocator): the partial result is dropped, the cache
    emptied and the pass redone with tiles of half as many pixels, up to ``TILE_RETRIES`` times;
    then the error propagates (the caller may fall back to the CPU). Tiles of one shape run ``batch_tiles``
    at a time (None: :func:`tiles_per_call` for the device).
    """
    precision = precision or Precision.of("float32", x.device)
    tile = int(tile_pixels)
    for attempt in range(TILE_RETRIES + 1):
        try:
            return _forward_tiled(net, x, tile, check, precision, batch_tiles)
        except Exception as exc:  # only out-of-memory errors are retried
            H, W = x.shape[-2:]
            smaller = tile // 2
            same = H * W > tile and _tile_side(smaller, net.reach) == _tile_side(tile, net.reach)
            if not is_out_of_memory(exc) or attempt == TILE_RETRIES or same:
                raise
        free_memory(x.device)
        log.info("out of memory in a forward pass of %d x %d on %s: retrying with tiles of %d pixels",
                 H, W, x.device, smaller)
        tile = smaller
    raise AssertionError("unreachable")  # pragma: no cover


def tiles_per_call(device, tile_pixels: int, tile_area: int) -> int:
    """Tiles run in one call of the network. On a GPU, as many as fill the tile budget (a call of one small
    tile leaves most of the device idle); on the CPU one (its passes are compute-bound already and a batch
    only multiplies the memory)."""
    if getattr(device, "type", str(device)) != "cuda":
        return 1
    return max(1, int(tile_pixels) // max(1, tile_area))


def _tiles(H: int, W: int, side: int, halo: int):
    """(core box, box with halo) of every tile, in row-major order."""
    for y0 in range(0, H, side):
        for x0 in range(0, W, side):
            y1, x1 = min(H, y0 + side), min(W, x0 + side)
            yield (y0, y1, x0, x1), (max(0, y0 - halo), min(H, y1 + halo), max(0, x0 - halo), min(W, x1 + halo))


def _forward_tiled(net, x, tile_pixels: int, check, precision, batch_tiles=None):
    H, W = x.shape[-2:]
    if H * W <= tile_pixels:
        with precision.autocast():
            return net(x).float()
    halo = net.reach
    side = _tile_side(tile_pixels, halo)
    per = batch_tiles or tiles_per_call(x.device, tile_pixels, (side + 2 * halo) ** 2)
    per = per if x.ndim == 4 else 1  # tiles stack along the batch axis
    out = torch.empty(x.shape[:-3] + (net.convs[-1].out_channels, H, W), device=x.device, dtype=torch.float32)
    groups = {}  # tiles of one shape run together
    for core, box in _tiles(H, W, side, halo):
        groups.setdefault((box[1] - box[0], box[3] - box[2]), []).append((core, box))
    for members in groups.values():
        for i in range(0, len(members), per):
            _run_tiles(net, x, out, members[i : i + per], precision)
            if check is not None:
                check()
    return out


def _run_tiles(net, x, out, members, precision) -> None:
    """One call of the network over tiles of one shape, stacked along the batch axis."""
    n = x.shape[0]
    parts = [x[..., ya:yb, xa:xb] for _, (ya, yb, xa, xb) in members]
    with precision.autocast():
        t = net(parts[0] if len(parts) == 1 else torch.cat(parts))
    for k, ((y0, y1, x0, x1), (ya, _, xa, _)) in enumerate(members):
        part = t if len(parts) == 1 else t[k * n : (k + 1) * n]
        out[..., y0:y1, x0:x1] = part[..., y0 - ya : y1 - ya, x0 - xa : x1 - xa]


def back_project(sr, lr, scale, kernel: Kernel, iters: int):
    """``iters`` times: sr += up(lr - down(sr)); makes the result consistent with the LR input."""
    for _ in range(iters):
        down = resize_torch(sr, scale=(1 / scale[0], 1 / scale[1]), output_shape=lr.shape[-2:], kernel=kernel)
        sr = sr + interpolate_up(lr - down, scale, sr.shape[-2:])
    return sr


def median(stack):
    # the mean of the two middle values for an even count, as numpy's median (torch's takes the lower)
    s, _ = torch.sort(stack, dim=0)
    n = s.shape[0]
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


@torch.no_grad()
def super_resolve(net, lr, scale, kernel: Kernel, bp_iters: int, flips: bool, tile_pixels: int, check=None,
                  precision=None):
    """The ensemble over transforms of ``lr`` (1, C, H, W), median, then a final back-projection; the
    network at ``precision`` (a core.precision.Precision; None: float32).

    Out of memory on a GPU even after the tile retries of :func:`forward_tiled`: a warning, and the
    whole pass is redone on the CPU (the result then comes back on the CPU). Nothing partial is returned.
    """
    dev = lr.device
    precision = precision or Precision.of("float32", dev)
    smallest = max(1, int(tile_pixels) >> TILE_RETRIES)

    def on(device):
        if device == dev:
            return _super_resolve(net, lr, scale, kernel, bp_iters, flips, tile_pixels, check, precision=precision)
        net.to(device)
        try:
            tile = min(int(tile_pixels), _tile_for_width(net.convs[0].out_channels, device))
            return _super_resolve(net, lr.to(device), scale, kernel, bp_iters, flips, tile, check,
                                  precision=Precision.of(precision.name, device))
        finally:
            net.to(dev)

    return on_cpu_after_oom(on, dev, f"in the final pass over a {tuple(lr.shape[-2:])} image at scale {tuple(scale)}",
                            stacklevel=4, tried=f"even with tiles of {smallest} pixels")


def _super_resolve(net, lr, scale, kernel: Kernel, bp_iters: int, flips: bool, tile_pixels: int, check=None,
                   batch_transforms=None, precision=None):
    precision = precision or Precision.of("float32", lr.device)
    # oneDNN runs inference-sized convolutions markedly faster in channels-last layout on the CPU
    layout = precision.layout(training=False)
    # on a GPU one batched pass over the transforms that share a shape beats several small ones;
    # on the CPU the passes are compute-bound already and a batch only multiplies the memory
    batched = lr.device.type != "cpu" if batch_transforms is None else batch_transforms
    net.to(memory_format=layout)
    try:
        if batched:
            sr = _batched_transforms(net, lr, scale, kernel, bp_iters, flips, tile_pixels, layout, check, precision)
        else:
            outs = [_one_transform(net, lr, scale, kernel, bp_iters, k, f, tile_pixels, layout, check, precision)
                    for k, f in transforms(scale[0] == scale[1], flips)]
            sr = outs[0] if len(outs) == 1 else median(torch.stack(outs))
            del outs
    finally:
        net.to(memory_format=torch.contiguous_format)
    return back_project(sr, lr, scale, kernel, bp_iters)


def _batched_transforms(net, lr, scale, kernel, bp_iters, flips, tile_pixels, layout, check, precision):
    """The ensemble with the transforms of one output shape in one batch (tiles shrink to match)."""
    sy, sx = scale
    groups = {}
    for k, f in transforms(sy == sx, flips):
        groups.setdefault(k % 2, []).append((k, f))
    outs = []
    for odd, members in groups.items():
        sc = (sx, sy) if odd else (sy, sx)
        up = torch.cat([interpolate_up(_apply(lr, k, f), sc, None) for k, f in members])
        res = forward_tiled(net, up.contiguous(memory_format=layout), max(1, tile_pixels // len(members)), check,
                            precision)
        outs.extend(_undo(res[i : i + 1], k, f) for i, (k, f) in enumerate(members))
        if check is not None:
            check()
    sr = back_project(torch.cat(outs).contiguous(), lr, scale, kernel, bp_iters)
    return sr[0:1] if sr.shape[0] == 1 else median(sr[:, None])


def _one_transform(net, lr, scale, kernel, bp_iters, k, f, tile_pixels, layout, check, precision):
    """One member of the ensemble: transform, interpolate, run the net, undo, back-project."""
    sy, sx = scale
    sc = (sx, sy) if k % 2 else (sy, sx)
    up = interpolate_up(_apply(lr, k, f), sc, None).contiguous(memory_format=layout)
    sr = _undo(forward_tiled(net, up, tile_pixels, check, precision), k, f).contiguous()
    if check is not None:
        check()
    return back_project(sr, lr, scale, kernel, bp_iters)
