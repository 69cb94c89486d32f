"""The stages of a stack run (planes, isotropic): their units submitted to a runner, written into the output,
and finished units of a resumed store verified before they are skipped."""

from __future__ import annotations

import numpy as np

from ..core.checks import seed_for
from ..core.progress import Stage, ZSSRReport
from .blocks import Blocks
from .inputs import one_plane, read_block
from .runners import Target
from .store import unit_checksum
from .units import apply_plane, apply_slab, train_axial, train_lateral


def _range(stats, c, joint: bool, denorm: bool):
    """(lo, span) that map a unit's result back to input units: per channel for a joint plan."""
    if not denorm:
        return 0.0, 1.0
    if joint:
        return (np.array([st.lo for st in stats], np.float32)[:, None, None, None],
                np.array([st.span for st in stats], np.float32)[:, None, None, None])
    return stats[c].lo, stats[c].span


def planes_stage(runner, job, grid, src, stats, dest, flags, channels, report, progress, denorm: bool, given=None,
                 unc=None):
    cfg, plan = job.cfg, job.plan
    _, T, Z = src.shape5[:3]
    joint = plan.joint

    def region(c, t, z):
        return slice(None) if joint else c, t, slice(z, z + 1), slice(None), slice(None)

    todo = _todo(grid, channels, flags, dest, region, report, unc)
    shared = plan.planes == "shared"
    order = {key: i for i, key in enumerate(todo)}
    trains = _train_channels(runner, job, src, stats, todo, progress, given, "lateral", train_lateral, 0) \
        if shared else {}

    def unit(c, t, z):
        plane = one_plane(read_block(src, stats, c, t, slice(z, z + 1), joint=joint))
        if shared:
            model = runner.model(trains[c])
        else:
            i = t * Z + z
            progress.base.update(unit=order[c, t, z] + 1, units=len(todo))
            trains[c, i] = runner.submit(train_lateral, job.for_channel(c), [plane],
                                         seed_for(cfg.seed, c * 1_000_003 + i))
            model = runner.model(trains[c, i])
        lo, span = _range(stats, c, joint, denorm)
        target = Target(dest, region(c, t, z), lo, span, dest.array.dtype if denorm else np.float32,
                        None if flags is None else (flags, (c, t, z)), _error_target(unc, region(c, t, z), span))
        return runner.submit(apply_plane, job.for_channel(c), model, plane, target=target)

    seconds = _stream(runner, todo, unit, progress, "plane")
    _collect_reports(runner, trains, report, seconds,
                     (lambda k: k[0]) if shared else (lambda k: (k[0], k[1] * Z + k[2])),
                     "lateral" if shared else None)


def isotropic_stage(runner, job, grid, src, stats, dest, flags, channels, report, progress, out_stats=None,
                     given=None, unc=None, prior=None):
    """``unc``: where the uncertainty goes (job.uncertainty); ``prior``: the error the input already carries
    (both mode: the planes stage's uncertainty, normalised)."""
    cfg = job.cfg
    out_stats = stats if out_stats is None else out_stats
    Y = src.shape5[3]

    def region(c, t, k):
        return c, t, slice(None), slice(*grid.rows_of(k)), slice(None)

    todo = _todo(grid, channels, flags, dest, region, report, unc)
    trains = _train_channels(runner, job, src, stats, todo, progress, given, "axial", train_axial, 1_000_000)

    def unit(c, t, k):
        a, b = grid.rows_of(k)
        lo_row, hi_row = max(0, a - cfg.depth), min(Y, b + cfg.depth)
        slab = read_block(src, stats, c, t, slice(None), slice(lo_row, hi_row))
        st = out_stats[c]
        target = Target(dest, region(c, t, k), st.lo, st.span, dest.array.dtype,
                        None if flags is None else (flags, (c, t, k)), _error_target(unc, region(c, t, k), st.span))
        carried = None if prior is None else prior.read(c, t, slice(None), slice(a, b))
        return runner.submit(apply_slab, job.for_channel(c), runner.model(trains[c]), slab, a - lo_row, b - a,
                             carried, target=target)

    seconds = _stream(runner, todo, unit, progress, "slab")
    _collect_reports(runner, trains, report, seconds, lambda k: k[0], "axial")


def _error_target(unc, where, span):
    """The uncertainty's Target: an absolute error scales with the intensity's span and has no offset."""
    return None if unc is None else Target(unc, where, 0.0, span, np.float32)


def _todo(grid, channels, flags, dest, region, report, unc=None) -> list:
    """The units still to do: those not flagged done, and those flagged whose region (and uncertainty, ``unc``)
    no longer reads back as it was written (a damaged or lost chunk): they are computed again, and the
    report says so."""
    if flags is None:
        return list(grid.keys(channels))
    todo, damaged = [], 0
    for key in grid.keys(channels):
        mark = _mark(flags, key)
        if mark and _checksum_of(dest, region(*key), unc) == mark:
            continue
        todo.append(key)
        damaged += bool(mark)
    if damaged:
        report.notes.append(f"{damaged} finished unit(s) of the stored run no longer read back as written (a damaged "
                            f"or lost chunk): they were computed again")
    return todo


def _mark(flags, key) -> int:
    try:
        return int(flags[key])
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception:  # noqa: BLE001 - a damaged flag chunk: the unit is done again
        return 0


def _checksum_of(dest, where, unc=None):
    try:
        return unit_checksum(dest.read(*where), *(() if unc is None else (unc.read(*where),)))
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception:  # noqa: BLE001 - decoders raise many kinds for a damaged chunk
        return None


def _train_channels(runner, job, src, stats, todo, progress, given, kind, train_fn, unit_base) -> dict:
    """One network per channel that still has units to do: trained on its sampled planes, or loaded."""
    trains = {}
    channels = sorted({key[0] for key in todo})
    if given is None and _together(runner, job, kind, channels):
        trains = _train_together(runner, job, src, stats, channels, progress, unit_base)
        if trains:
            return trains
    for i, c in enumerate(channels):  # counted as they train: an RGB image's one network is "1/1"
        progress.base.update(unit=i + 1, units=len(channels))
        if given is not None:
            trains[c] = runner.given(_loaded(given, kind, c, job))
            continue
        planes = [one_plane(read_block(src, stats, c, t, slice(z, z + 1), joint=job.plan.joint))
                  for t, z in stats[c].sample]
        trains[c] = runner.submit(train_fn, job.for_channel(c), planes, seed_for(job.cfg.seed, unit_base + c))
    return trains


def _together(runner, job, kind: str, channels) -> bool:
    """Whether the channels' axial networks train at once as one grouped network: in this process (the
    dask runner keeps one unit per channel), with two channels or more, where grouping pays on the device
    (core.grouped.grouping_pays: measured, CUDA only so far)."""
    from .runners import InProcess

    if kind != "axial" or len(channels) < 2 or not isinstance(runner, InProcess):
        return False
    from ..core.grouped import grouping_pays

    return grouping_pays(job.device(), job.cfg.width)


def _train_together(runner, job, src, stats, channels, progress, unit_base) -> dict:
    """The channels' axial networks trained as one group, each as its own unit would train it (its planes,
    kernel, seed and stopping); handles as the runner's. Empty (the caller trains them one by one, with the
    out-of-memory retries of a unit) when the group does not fit on the device."""
    import torch

    from ..core.device import free_memory, is_out_of_memory
    from ..core.isotropic_group import train_isotropic_group
    from ..core.lateral import start_report
    from ..core.network import TrainedNetwork

    dev, f = job.device(), job.plan.z_factor
    cfg = job.cfg.replace(scale_factors=None, gradual_steps=1)
    progress.base.update(unit=len(channels), units=len(channels))
    planes_of, kernels, reports = [], [], []
    for c in channels:
        planes = [one_plane(read_block(src, stats, c, t, slice(z, z + 1), joint=job.plan.joint))
                  for t, z in stats[c].sample]
        planes_of.append([torch.as_tensor(np.asarray(p, np.float32)[None], device=dev) for p in planes])
        kernels.append(job.for_channel(c).ax_kernel)
        reports.append(start_report(cfg, dev, (f, 1.0), kernels[-1].name, progress, job.plan.describe()))
    seeds = [seed_for(job.cfg.seed, unit_base + c) for c in channels]
    try:
        nets = train_isotropic_group(planes_of, f, kernels, job.cfg, dev, progress, seeds, reports)
    except Exception as exc:  # only out-of-memory errors fall back
        if not is_out_of_memory(exc):
            raise
        free_memory(dev)
        return {}
    models = [TrainedNetwork("axial", net, (f, 1.0)) for net in nets]
    for model, rep in zip(models, reports):  # as stack.units.train_axial hands it on: with its error model
        model.error_model = getattr(rep, "error_model", None)
    return {c: runner.given(((model, rep), rep.train_seconds)) for c, model, rep in zip(channels, models, reports)}


def _stream(runner, todo, unit, progress, what: str) -> dict:
    """Submit ``unit(*key)`` for every key with at most ``runner.window`` in flight; count them as they
    finish. Returns the seconds each unit took, by key."""
    pending, keys, seconds = [], {}, {}
    for key in todo:
        while len(pending) >= runner.window:
            _finished(runner, pending, keys, seconds, len(todo), progress, what)
        handle = unit(*key)
        keys[id(handle)] = key
        pending.append(handle)
    while pending:
        _finished(runner, pending, keys, seconds, len(todo), progress, what)
    return seconds


def _finished(runner, pending, keys, seconds, total, progress, what) -> None:
    for handle, (_, secs) in runner.wait(pending):
        pending.remove(handle)
        seconds[keys.pop(id(handle))] = secs
        done = len(seconds)
        progress(force=True, stage=Stage.INFER, done=done, todo=total, unit_kind=what)


def _collect_reports(runner, trains, report, seconds, owner, kind=None) -> None:
    """Append each training's report, with the inference seconds of the units that used its network;
    keep the networks of shared runs (``kind``) for saving."""
    spent = {}
    for key, secs in seconds.items():
        spent[owner(key)] = spent.get(owner(key), 0.0) + secs
    for key, handle in trains.items():
        (model, rep), _ = runner.result(handle)
        rep.infer_seconds += spent.get(key, 0.0)
        report.units.append(rep)
        if kind is not None:
            report.networks[kind, key] = model


def _loaded(given, kind, c, job):
    """What a training unit would have returned, for a network loaded from a file."""
    if (kind, c) not in given:
        raise ValueError(f"the networks file has no {kind} network for channel {c}")
    model = given[kind, c]
    rep = ZSSRReport(preset=job.cfg.preset_name, device="", scale=model.scale, schedule=[], kernel="loaded",
                     seed=job.cfg.seed)
    rep.notes.append("network loaded from a file; not trained in this run")
    return (model, rep), 0.0


def fill_constant(dest: Blocks, stats, final5) -> None:
    _, T, Z = final5[:3]
    for c, st in enumerate(stats):
        if st.constant:
            for t in range(T):
                for z in range(Z):
                    dest.write(c, t, slice(z, z + 1), slice(None), slice(None),
                               np.full((1,) + tuple(final5[3:]), st.lo, dest.array.dtype))
