"""About how long a run will take, before it starts (the CLI's --dry-run, the widget beside Run).

From the training step this machine measured for the run's network (core.precision's probe, kept per
machine) and the work the run does: steps per network, networks per stage, and inference counted in
convolution operations at the rate a training step showed. A rough figure (within a factor of about
two): training stops early or late with the paper's policy, and a cluster divides it by its workers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.config import schedule_for
from ..core.precision import choose, probe

REFERENCE_STEPS = 1500  # the paper's policy stops between 900 and 3000 steps; a fixed budget runs max_iters


@dataclass(frozen=True)
class TimeEstimate:
    train_s: float
    infer_s: float
    networks: int

    @property
    def seconds(self) -> float:
        return self.train_s + self.infer_s

    def words(self) -> str:
        return (f"about {_duration(self.seconds)} on this machine ({self.networks} network(s) trained, about "
                f"{_duration(self.train_s)}; applying them about {_duration(self.infer_s)})")


def estimate_time(plan, shape5, cfg, device) -> TimeEstimate:
    """The time of a run of ``plan`` over an input of (C, T, Z, Y, X) ``shape5`` with the resolved preset
    ``cfg`` on ``device`` (a torch device); measures one training step here unless it was measured before."""
    C, T, Z, Y, X = shape5
    channels = C if plan.joint else 1
    measured = probe(device, channels, cfg.width, cfg.depth, cfg.crop_size, cfg.batch_size)
    step_s = measured["times"][choose(measured)] if cfg.precision == "auto" else measured["times"].get(
        cfg.precision, measured["times"]["float32"])
    steps = cfg.max_iters if cfg.learning_rate_policy != "reference" else min(cfg.max_iters, REFERENCE_STEPS)
    per_pixel = _flops_per_pixel(channels, cfg.width, cfg.depth)
    rate = 3 * per_pixel * cfg.crop_size ** 2 * cfg.batch_size / step_s  # forward + backward of a step
    networks, train_s, pixels = 0, 0.0, 0.0
    nets = 1 if plan.joint else C
    if plan.mode in ("planes", "both"):
        sy, sx = plan.lateral_scale
        per_stage = nets * (T * Z if plan.planes == "independent" else 1)
        networks += per_stage
        train_s += per_stage * steps * step_s * len(schedule_for(cfg, plan.lateral_scale))
        pixels += nets * T * Z * Y * sy * X * sx * (8 if cfg.flips_for(axial=False) else 1)
        Y, X = Y * sy, X * sx
    if plan.mode in ("isotropic", "both"):
        networks += nets
        train_s += nets * steps * step_s
        views = 2 * (4 if cfg.flips_for(axial=True) else 1)  # the XZ and the YZ planes
        pixels += nets * T * Z * plan.z_factor * Y * X * views
    return TimeEstimate(train_s, pixels * per_pixel / rate, networks)


def _flops_per_pixel(channels: int, width: int, depth: int) -> float:
    """Multiply-adds (two operations each) of the network's 3 x 3 convolutions for one output pixel."""
    return 2 * 9 * (channels * width + (depth - 2) * width * width + width * channels)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
