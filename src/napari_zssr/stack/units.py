"""The units of work of a stack run: train one network, apply it to one plane or one slab.

Each unit takes numpy arrays (normalised float32) and returns numpy arrays or a
``core.network.TrainedNetwork`` (pickled as CPU weights), so the same functions run in this
process or on a dask worker, and a unit gives the same result wherever it runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..core.axial import fine_length
from ..core.config import ZSSRConfig
from ..core.device import resolve_device
from ..core.lateral import predict, start_report, train_zssr
from ..core.progress import Stage
from ..core.retries import on_cpu_after_oom, train_with_retries
from ..core.uncertainty import of_planes, of_slab
from .plan import Plan


@dataclass(frozen=True)
class Job:
    """What every unit of one run shares; small and picklable."""

    plan: Plan
    cfg: ZSSRConfig
    lateral: object = None   # stack.kernel_choice.StageKernel of the planes stage (planes and both modes)
    axial: object = None     # the isotropic stage's (isotropic and both modes)
    uncertainty: bool = False  # apply units also return the expected absolute error (core.uncertainty)

    @property
    def lat_kernel(self):
        """The core.resize.Kernel the planes units run with (the channel's own after ``for_channel``)."""
        return None if self.lateral is None else self.lateral.kernel

    @property
    def ax_kernel(self):
        """The core.axial.AxialKernel the isotropic units run with."""
        return None if self.axial is None else self.axial.kernel

    def for_channel(self, c: int) -> Job:
        """The job as channel ``c``'s units see it: with that channel's own kernels, where it has them."""
        return dataclasses.replace(self, lateral=self.lateral and self.lateral.only(c),
                                   axial=self.axial and self.axial.only(c))

    def device(self):
        return resolve_device(self.cfg.device)


def slab_rows(cfg, Z: int, X: int, Y: int) -> int:
    """Rows of Y per isotropic unit: about 4 M input voxels (``cfg.tile_pixels`` if set), never fewer
    than twice the margin of ``cfg.depth`` rows each slab reads on either side."""
    budget = cfg.tile_pixels or (1 << 22)
    return int(min(Y, max(2 * cfg.depth, budget // max(1, Z * X))))


CHUNK_VALUES = 1 << 22  # at most about 16 MB of float32 per output chunk


@dataclass(frozen=True)
class Grid:
    """The units of one stage and the region of the output each one writes.

    planes: one unit per (c, t, z), writing the whole enlarged plane z; isotropic: one unit per
    (c, t, k), writing rows ``rows_of(k)`` of Y through every output plane. The output store's
    chunks are derived from here, so every chunk is written by exactly one unit: two workers
    writing parts of one chunk would each rewrite the whole chunk, and one write would be lost.
    """

    stage: str      # "planes" or "isotropic"
    src5: tuple     # (C, T, Z, Y, X) of the stage's input
    rows: int = 0   # isotropic: rows of Y per unit

    @property
    def shape(self) -> tuple:
        """(C, T, units per time point): the index of every unit, and of its done flag."""
        C, T, Z, Y, _ = self.src5
        return (C, T, Z) if self.stage == "planes" else (C, T, -(-Y // self.rows))

    def keys(self, channels) -> list:
        _, T, n = self.shape
        return [(c, t, k) for c in channels for t in range(T) for k in range(n)]

    def rows_of(self, k: int) -> tuple:
        """Isotropic: the rows ``a:b`` of Y that unit k writes."""
        Y = self.src5[3]
        return k * self.rows, min(Y, (k + 1) * self.rows)

    def chunks(self, out5) -> tuple:
        """(C, T, Z, Y, X) chunk shape of the stage's output ``out5``: whole units, never parts of two."""
        _, _, Z, Y, X = out5
        if self.stage == "planes":
            return (1, 1, 1, Y, X)
        # a unit spans every output plane, so splitting Z keeps each chunk within one unit
        return (1, 1, max(1, min(Z, CHUNK_VALUES // max(1, self.rows * X))), self.rows, X)


def unit_grid(stage: str, src5, cfg) -> Grid:
    """The grid of units of a planes or isotropic stage over an input of (C, T, Z, Y, X) ``src5``."""
    src5 = tuple(int(n) for n in src5)
    if stage == "planes":
        return Grid("planes", src5)
    if stage != "isotropic":
        raise ValueError(f"stage must be 'planes' or 'isotropic', got {stage!r}")
    _, _, Z, Y, X = src5
    return Grid("isotropic", src5, slab_rows(cfg, Z, X, Y))


def train_lateral(job: Job, planes, seed: int, progress):
    """Planes mode: one network on fathers drawn from ``planes`` (2-D arrays). -> (TrainedNetwork, ZSSRReport)"""
    import torch

    dev = job.device()
    scale = job.plan.lateral_scale
    report = start_report(job.cfg, dev, scale, job.lat_kernel.name, progress, job.plan.describe())
    # a plane is (Y, X), or (C, Y, X) for the colours of an RGB image trained together
    sources = [torch.as_tensor(_chw(p), device=dev) for p in planes]
    return _with_error_model(train_zssr(sources, scale, job.lat_kernel, job.cfg, dev, progress, seed, report),
                             report), report


def train_axial(job: Job, planes, seed: int, progress):
    """Isotropic mode: one network on lateral crops of ``planes`` for the z factor. -> (TrainedNetwork, ZSSRReport)"""
    import torch

    # these import torch at their top: here, so that importing this module does not
    from ..core.isotropic import train_isotropic
    from ..core.network import TrainedNetwork

    dev = job.device()
    f = job.plan.z_factor
    report = start_report(job.cfg.replace(scale_factors=None, gradual_steps=1), dev, (f, 1.0), job.ax_kernel.name,
                          progress, job.plan.describe())
    lateral = [torch.as_tensor(np.asarray(p, np.float32)[None], device=dev) for p in planes]
    net = train_with_retries(
        lambda c, d: train_isotropic([p.to(d) for p in lateral], f, job.ax_kernel, c, d, progress, seed, report),
        job.cfg, dev, report)
    return _with_error_model(TrainedNetwork("axial", net, (f, 1.0)), report), report


def _with_error_model(model, report):
    """The network with the model of its error fitted after training: it travels with it to the workers
    that apply it."""
    model.error_model = report.error_model
    return model


def apply_plane(job: Job, model, plane: np.ndarray, progress=None) -> np.ndarray:
    """Planes mode: one normalised plane (Y, X), or (C, Y, X) for an RGB image, enlarged by a lateral
    TrainedNetwork: (1, Y', X'), or (C, 1, Y', X')."""
    import torch

    dev = job.device()
    x = torch.as_tensor(_chw(plane), device=dev)
    sr = predict(model, x, job.lat_kernel, job.cfg, dev, progress).to("cpu", torch.float32).numpy()
    if job.uncertainty:
        u = of_planes(_error_model(model), _chw(plane), job.plan.lateral_scale, sr.shape[-2:])
        return _plane_layout(sr, plane), _plane_layout(u, plane)
    return _plane_layout(sr, plane)


def _plane_layout(sr, plane):
    return sr[:, None] if np.ndim(plane) == 3 else sr  # (C, Z=1, Y', X') or (Z=1, Y', X')


def _error_model(model):
    found = getattr(model, "error_model", None)
    if found is None:
        raise ValueError("the uncertainty could not be calibrated: the planes are too small to make an LR-HR pair "
                         "of them at the network's scale with enough pixels to fit a model of the error on")
    return found


def apply_slab(job: Job, model, slab: np.ndarray, row0: int, rows: int, prior=None, progress=None):
    """Isotropic mode: (Z', rows, X) for the rows ``row0:row0 + rows`` of a normalised slab (Z, Y, X), by an
    axial TrainedNetwork; with ``job.uncertainty`` also its expected absolute error (core.uncertainty.of_slab,
    ``prior`` the error the slab's rows already carry)."""
    sr = _restored_slab(job, model, slab, row0, rows, progress)
    if job.uncertainty:
        return sr, of_slab(_error_model(model), slab, job.plan.z_factor, row0, rows, prior)
    return sr


def _restored_slab(job: Job, model, slab: np.ndarray, row0: int, rows: int, progress):
    # these import torch at their top: here, so that importing this module does not
    from ..core.infer import default_tile_pixels
    from ..core.isotropic import restore_slab

    cfg, f = job.cfg, job.plan.z_factor
    out = np.empty((fine_length(slab.shape[0], f), rows, slab.shape[2]), np.float32)
    # the tiles shrink first (forward_tiled); a slab that still does not fit is finished on the CPU
    return on_cpu_after_oom(lambda dev: restore_slab(model.on(dev), slab, row0, rows, f, job.ax_kernel, cfg, dev,
                                                     default_tile_pixels(cfg, dev), out, _check(progress)),
                            job.device(), f"restoring rows {row0}..{row0 + rows}")


def _chw(plane) -> np.ndarray:
    p = np.asarray(plane, np.float32)
    return p[None] if p.ndim == 2 else p


def _check(progress):
    """The inner passes' hook: report and let a cancel land between tiles."""
    return None if progress is None else (lambda: progress(stage=Stage.INFER))
