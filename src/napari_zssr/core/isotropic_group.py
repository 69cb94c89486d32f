"""Isotropic mode, several networks at once: the axial networks of a stack's channels trained together as
one grouped network (core.train_group), each as core.isotropic.train_isotropic would train it alone:
its own planes, held-out band, fathers, sons, kernel, seed, schedule and stopping."""

from __future__ import annotations

import time

from .axial import coarse_length
from .isotropic import AxialPairs, lateral_sampler
from .quality import holdout_split, record_held_out
from .train import fresh_network
from .train_group import train_group


def train_isotropic_group(planes_of, f: float, kernels, cfg, device, progress, seeds, reports) -> list:
    """One network per member: ``planes_of[g]`` (a list of normalised (1, H, W) tensors), its axial kernel
    ``kernels[g]``, seed ``seeds[g]``; each member's report gets its steps, history and gains, and an equal
    share of the group's seconds. Returns the trained networks, in eval mode."""
    t0 = time.perf_counter()
    nets, samplers, pairs, tests, held = [], [], [], [], []
    for planes, kernel, seed in zip(planes_of, kernels, seeds):
        net, clip, gen = fresh_network(planes, cfg, device, seed)
        planes, band = holdout_split(planes, cfg.crop_size, 1.0)  # no father comes from the band
        sampler = lateral_sampler(planes, cfg.crop_size, seed)
        if coarse_length(sampler.crop, f) < 2:
            raise ValueError(f"lateral planes of {sampler.crop} pixels are too small for a z factor of {f:g}")
        nets.append(net)
        samplers.append(sampler)
        pairs.append(AxialPairs(f, kernel, cfg.noise_std, clip, gen))
        tests.append(planes[len(planes) // 2][None])
        held.append((AxialPairs(f, kernel, 0.0, clip, gen), band))
    stats = train_group(nets, samplers, pairs, cfg, tests, progress)
    share = (time.perf_counter() - t0) / len(nets)
    for net, st, report, (hold_pairs, band), test in zip(nets, stats, reports, held, tests):
        report.train_seconds += share
        report.steps.append(st.steps)
        report.history.extend(st.history)
        report.gain_db = st.gain_db
        record_held_out(report, net, hold_pairs, band, cfg.precision, whole=test)
        net.eval()
    return nets
