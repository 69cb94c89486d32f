"""Training G independent networks at once, as one grouped network (core.grouped).

Each member keeps everything a network trained alone has: its own fathers (sampler), sons (pairs and
their noise generator), L1 loss, Adam state, learning-rate schedule and stopping (core.train.Schedule).
The only thing shared is the launch: one forward and one backward over the concatenated members. The
members' losses are summed for the backward; their parameters are disjoint, so each member's gradient
is what it would be alone, and a member that has stopped leaves the group, its weights untouched.
"""

from __future__ import annotations

import torch

from .grouped import GroupedNet, split_channels
from .precision import Precision
from .progress import Stage
from .train import Schedule, StageStats, _device_settings, set_rate, test_errors


class _Member:
    def __init__(self, net, sampler, pairs, cfg, test_image, layout):
        self.net, self.sampler, self.pairs, self.cfg = net, sampler, pairs, cfg
        self.stats = StageStats(scale=tuple(pairs.scale))
        self.sched = Schedule(cfg, self.stats)
        self.opt = torch.optim.Adam(net.parameters(), lr=self.sched.lr)
        test_in, self.test_hr = pairs.test_pair(test_image, cfg.test_max_size)
        self.test_in = test_in.contiguous(memory_format=layout)
        self.stats.cubic_error = float(torch.mean((self.test_in - self.test_hr) ** 2))
        self.loss = None


def train_group(nets, samplers, pairs, cfgs, test_images, progress, stage: int = 0, n_stages: int = 1) -> list:
    """Train ``nets`` (ZSSRNets of one shape) together; member g on fathers from ``samplers[g]`` made into
    pairs by ``pairs[g]``, with the config ``cfgs[g]`` (or one config for all: batch, crop and precision
    must agree) and its test image. Returns each member's StageStats, as core.train.train would."""
    n = len(nets)
    cfgs = list(cfgs) if isinstance(cfgs, (list, tuple)) else [cfgs] * n
    if not (len(samplers) == len(pairs) == len(cfgs) == len(test_images) == n):
        raise ValueError("one sampler, pairs, config and test image per network")
    if len({(c.batch_size, c.precision) for c in cfgs}) != 1:
        raise ValueError("the members of a group must share batch size and precision")
    group = GroupedNet(nets)
    precision = Precision.of(cfgs[0].precision, next(group.parameters()).device)
    with _device_settings(group, precision) as layout:
        members = [_Member(*a, layout) for a in zip(nets, samplers, pairs, cfgs, test_images)]
        _loop(group, members, precision, layout, progress, stage, n_stages)
    for m in members:
        if m.sched.finish():
            m.stats.rec_error = float(test_errors(m.net, m.test_in, m.test_hr, precision))
        m.net.eval()
    return [m.stats for m in members]


def _loop(group, members, precision, layout, progress, stage, n_stages) -> None:
    scaler = precision.scaler()  # float16: one scale for the summed loss
    batch = members[0].cfg.batch_size
    total = max(m.cfg.max_iters for m in members)
    group.train()
    step = 0
    while True:
        active = [g for g, m in enumerate(members) if not m.sched.done]
        if not active:
            return
        step += 1
        _step(group, [members[g] for g in active], active, batch, scaler, precision, layout)
        tested = False
        for g in active:
            m = members[g]
            if m.sched.tested(step):
                tested = True
                m.sched.record(step, float(test_errors(m.net, m.test_in, m.test_hr, precision)))
            if m.sched.advance(step):
                set_rate(m.opt, m.sched.lr)
        finished = any(members[g].sched.done for g in active)
        if tested or finished or progress.due():
            _report(members, active, step, total, progress, tested or finished, stage, n_stages)


def _step(group, members, active, batch, scaler, precision, layout) -> None:
    """One training step of the active members: their pairs side by side, one forward and backward."""
    made = [m.pairs.make(m.sampler.sample(batch)) for m in members]
    shapes = {tuple(x.shape) for x, _ in made}
    if len(shapes) != 1:
        raise ValueError(f"the members' training pairs differ in shape ({sorted(shapes)}): train them apart")
    net_in = torch.cat([x for x, _ in made], dim=-3).contiguous(memory_format=layout)
    target = torch.cat([t for _, t in made], dim=-3)
    with precision.autocast():
        out = group(net_in, active)
    diff = torch.abs(out.float() - target)
    # each member's L1 is the mean over its own channels, as it would be alone
    losses = [d.mean() for d in split_channels(diff, len(members))]
    loss = torch.stack(losses).sum()
    for m in members:
        m.opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        for m in members:
            m.opt.step()
    else:
        scaler.scale(loss).backward()
        for m in members:
            scaler.step(m.opt)
        scaler.update()
    for m, ls in zip(members, losses):
        m.loss = ls.detach()


def _report(members, active, step, total, progress, force, stage, n_stages) -> None:
    """History of every active member; the progress callback sees the group's mean loss and largest rate."""
    losses = []
    for g in active:
        m = members[g]
        loss_v = float(m.loss)
        losses.append(loss_v)
        m.stats.history.append((step, loss_v, m.stats.rec_error, m.sched.lr))
    errs = [members[g].stats.rec_error for g in active]
    progress(force=force, stage=Stage.TRAIN, scale_step=stage + 1, scale_steps=n_stages, step=step, total=total,
             loss=sum(losses) / len(losses), learning_rate=max(members[g].sched.lr for g in active),
             rec_error=sum(errs) / len(errs), networks=len(active))
