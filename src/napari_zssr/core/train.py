"""The training loop: fathers -> sons -> L1 on the residual, with the reference learning-rate policy."""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .graph import GraphStep, graph_wanted, make_optimizer
from .network import ZSSRNet
from .precision import Precision, l1_step
from .progress import Progress, Stage
from .resize import Kernel, resize_torch


@dataclass
class StageStats:
    scale: tuple
    steps: int = 0
    learning_rate: float = 0.0
    rec_error: float = float("nan")
    cubic_error: float = float("nan")
    history: list = field(default_factory=list)  # (step, loss, rec_error, lr)

    @property
    def gain_db(self) -> float:
        """Internal quality signal: PSNR gain of the network over cubic on the image's own LR->HR pair."""
        if not (self.rec_error > 0 and self.cubic_error > 0):
            return float("nan")
        return 10.0 * math.log10(self.cubic_error / self.rec_error)


class SRPairs:
    """ZSSR's LR-HR pairs: the son is the father downscaled through the kernel (plus noise)."""

    def __init__(self, scale, kernel: Kernel, noise_std: float, clip, generator):
        self.scale, self.kernel, self.noise_std = tuple(scale), kernel, noise_std
        self.clip, self.generator = clip, generator

    def son(self, father):
        s = resize_torch(father, scale=(1 / self.scale[0], 1 / self.scale[1]), kernel=self.kernel)
        if self.noise_std > 0:
            s = s + self.noise_std * torch.randn(s.shape, generator=self.generator, device=s.device, dtype=s.dtype)
        return s.clamp(self.clip[0], self.clip[1])

    def make(self, father):
        """(network input, target) for a batch of fathers (B, C, h, w)."""
        return interpolate_up(self.son(father), self.scale, father.shape[-2:]), father

    def test_pair(self, image, size):
        hr = _test_crop(image, size)
        down = resize_torch(hr, scale=(1 / self.scale[0], 1 / self.scale[1]), kernel=self.kernel)
        return interpolate_up(down, self.scale, hr.shape[-2:]), hr


def interpolate_up(son, scale, shape):
    return resize_torch(son, scale=scale, output_shape=shape, kernel="cubic")


def _test_crop(image, size):
    H, W = image.shape[-2:]
    h, w = min(H, size), min(W, size)
    y, x = (H - h) // 2, (W - w) // 2
    return image[..., y : y + h, x : x + w]


@contextlib.contextmanager
def _device_settings(net, precision):
    """The network's layout for training at ``precision`` (core.precision.Precision.layout), and TF32
    convolutions for float32 on CUDA; both undone on exit.

    Yields the memory format the network's inputs should have. Only the convolutions use TF32 or
    the lower precision: the resizes that make the sons are matrix products in full float32.
    """
    dev = next(net.parameters()).device
    layout = precision.layout(training=True)
    cudnn = torch.backends.cudnn
    saved = cudnn.allow_tf32
    if dev.type == "cuda":
        cudnn.allow_tf32 = True
    net.to(memory_format=layout)
    try:
        yield layout
    finally:
        net.to(memory_format=torch.contiguous_format)
        cudnn.allow_tf32 = saved


def fresh_network(sources, cfg, dev, seed: int) -> tuple:
    """(network, clip range of the sources' values, generator of the sons' noise), all from ``seed``: what
    every training starts from, so that one seed gives one start wherever it runs."""
    clip = (min(float(s.min()) for s in sources), max(float(s.max()) for s in sources))
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    net = ZSSRNet(sources[0].shape[0], cfg.width, cfg.depth, cfg.learn_residual).to(dev)
    net.reset(cfg.init_variance, torch.Generator().manual_seed(seed))
    return net, clip, gen


def train_into(report, net, sampler, pairs, cfg, test_image, progress, stage: int = 0, n_stages: int = 1):
    """:func:`train`, with its seconds, steps, loss history and gain added to ``report``."""
    t = time.perf_counter()
    stats = train(net, sampler, pairs, cfg, test_image, progress, stage, n_stages)
    report.train_seconds += time.perf_counter() - t
    report.steps.append(stats.steps)
    report.history.extend(stats.history)
    report.gain_db = stats.gain_db
    return stats


def train(net, sampler, pairs, cfg, test_image, progress: Progress, stage: int = 0, n_stages: int = 1) -> StageStats:
    """Train ``net`` on fathers from ``sampler`` made into pairs by ``pairs``; returns the stage's statistics."""
    precision = Precision.of(cfg.precision, next(net.parameters()).device)  # "auto" was resolved by the run
    with _device_settings(net, precision) as layout:
        return _train(net, sampler, pairs, cfg, test_image, progress, stage, n_stages, layout, precision)


class Schedule:
    """One network's learning rate, reconstruction-error tests and stopping: the reference policy (or the
    cosine one). Every network of a grouped run keeps its own, so it stops when it would alone."""

    def __init__(self, cfg, stats: StageStats):
        self.cfg, self.stats = cfg, stats
        self.lr = cfg.learning_rate
        self.steps_log, self.err_log = [], []
        self.last_change = 0
        self.done = False

    def tested(self, step: int) -> bool:
        return step % self.cfg.run_test_every == 0

    def record(self, step: int, rec_error: float) -> None:
        self.stats.rec_error = rec_error
        self.steps_log.append(step)
        self.err_log.append(rec_error)

    def advance(self, step: int) -> bool:
        """After step ``step`` (and its test, if any): update the rate; returns whether it changed."""
        cfg = self.cfg
        self.stats.steps = step
        changed = False
        if cfg.learning_rate_policy == "cosine":
            self.lr = cfg.min_learning_rate + 0.5 * (cfg.learning_rate - cfg.min_learning_rate) * (
                1 + math.cos(math.pi * step / cfg.max_iters))
            changed = True
        elif (step % cfg.learning_rate_policy_check_every == 0
              and step - self.last_change > cfg.learning_rate_slope_range):
            self.lr, changed = _policy(self.lr, self.steps_log, self.err_log, cfg)
            if changed:
                self.last_change = step
        stalled = cfg.learning_rate_policy == "reference" and self.lr < cfg.min_learning_rate
        self.done = step >= cfg.max_iters or (stalled and step >= cfg.min_iters)
        return changed

    def finish(self) -> bool:
        """Close the stage; True when the final reconstruction error still has to be measured."""
        self.stats.learning_rate = self.lr
        return not self.steps_log or self.steps_log[-1] != self.stats.steps


def set_rate(opt, lr: float) -> None:
    for g in opt.param_groups:
        if isinstance(g["lr"], torch.Tensor):  # a captured step reads the rate from its tensor
            g["lr"].fill_(lr)
        else:
            g["lr"] = lr


def _train(net, sampler, pairs, cfg, test_image, progress, stage, n_stages, layout, precision) -> StageStats:
    stats = StageStats(scale=tuple(pairs.scale))
    sched = Schedule(cfg, stats)
    dev = next(net.parameters()).device
    # a captured step on CUDA where the probe finds it faster; never tried on the CPU
    captured = graph_wanted(dev, precision, net.convs[0].in_channels, cfg.width, cfg.depth, cfg.crop_size,
                            cfg.batch_size)
    opt = make_optimizer(net.parameters(), sched.lr, captured)
    scaler = precision.scaler()
    graph_step = GraphStep(net, opt, precision) if captured else None
    test_in, test_hr = pairs.test_pair(test_image, cfg.test_max_size)
    test_in = test_in.contiguous(memory_format=layout)
    stats.cubic_error = float(torch.mean((test_in - test_hr) ** 2))

    def rec_error():
        return float(test_errors(net, test_in, test_hr, precision))

    net.train()
    for step in range(1, cfg.max_iters + 1):
        net_in, target = pairs.make(sampler.sample(cfg.batch_size))
        net_in = net_in.contiguous(memory_format=layout)
        if graph_step is not None:
            loss = graph_step(net_in, target)
        else:
            loss = l1_step(net, opt, scaler, net_in, target, precision)
        tested = sched.tested(step)
        if tested:
            sched.record(step, rec_error())
        if sched.advance(step):
            set_rate(opt, sched.lr)
        if tested or sched.done or progress.due():
            # the loss is read back only here (a test, the end, or once a second): no sync per step
            loss_v = float(loss.detach())
            stats.history.append((step, loss_v, stats.rec_error, sched.lr))
            progress(force=tested or sched.done, stage=Stage.TRAIN, scale_step=stage + 1, scale_steps=n_stages,
                     step=step, total=cfg.max_iters, loss=loss_v, learning_rate=sched.lr,
                     rec_error=stats.rec_error)
        if sched.done:
            break
    if sched.finish():
        stats.rec_error = rec_error()
    net.eval()
    return stats


def test_errors(net, test_in, test_hr, precision):
    """Mean squared error of ``net`` on the test pair, as a tensor: read back by the caller, when it needs it."""
    with torch.no_grad():
        net.eval()
        with precision.autocast():
            out = net(test_in)
        net.train()
        return torch.mean((out.float() - test_hr) ** 2)


def _policy(lr, steps_log, err_log, cfg):
    """Divide the rate by 10 when the recent reconstruction errors no longer fall convincingly."""
    n = cfg.learning_rate_slope_range // cfg.run_test_every  # the tests in the window
    # polyfit's covariance needs more points than coefficients + 2; a window that holds fewer (a
    # config that tests rarely) leaves the rate alone rather than fitting the whole history
    if n < 4 or len(steps_log) < 4:
        return lr, False
    xs, ys = np.asarray(steps_log[-n:], float), np.asarray(err_log[-n:], float)
    (slope, _), cov = np.polyfit(xs, ys, 1, cov=True)
    std = math.sqrt(max(cov[0, 0], 0.0))
    if -cfg.learning_rate_change_ratio * slope < std:
        return lr / 10, True
    return lr, False
