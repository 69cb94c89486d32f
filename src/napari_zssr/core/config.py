"""ZSSRConfig: the reference parameters by name, validated, with presets."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

PRECISIONS = ("auto", "float32", "bfloat16", "float16")  # ZSSRConfig.precision

PRESETS = ("paper", "gradual", "real", "fast")


@dataclass
class ZSSRConfig:
    """Everything one ZSSR run needs besides the image, the scale and the kernel.

    Field names follow the reference code so that its documentation reads across. ``preset``
    only records where the values came from.
    """

    # gradual SR: explicit per-step (sy, sx) targets override gradual_steps
    scale_factors: Optional[Sequence[Sequence[float]]] = None
    gradual_steps: int = 1
    # stopping and learning-rate policy
    max_iters: int = 3000
    min_iters: int = 256
    min_learning_rate: float = 9e-6
    learning_rate: float = 1e-3
    learning_rate_change_ratio: float = 1.5
    # "reference": divide by 10 when the reconstruction error stalls (the paper's policy);
    # "cosine": anneal to min_learning_rate over max_iters (a fixed budget; used by "fast")
    learning_rate_policy: str = "reference"
    learning_rate_policy_check_every: int = 60
    learning_rate_slope_range: int = 256
    run_test_every: int = 50
    # network
    width: int = 64
    depth: int = 8
    init_variance: float = 0.1
    learn_residual: bool = True
    # data
    crop_size: int = 128
    batch_size: int = 1
    noise_std: Union[float, str] = 0.0  # normalised units, or "estimate"
    augment_leave_as_is_probability: float = 0.05
    augment_no_interpolate_probability: float = 0.45
    augment_min_scale: float = 0.5
    augment_scale_diff_sigma: float = 0.25
    augment_shear_sigma: float = 0.1
    augment_allow_rotation: bool = True
    # output
    back_projection_iters: Union[int, Sequence[int]] = 10
    # the geometric self-ensemble: True, False, or "auto": in 2-D, not along z, where the mean of the
    # XZ and YZ restorations is already an ensemble and the flips add under 0.03 dB for 3-3.7x the
    # inference (docs/benchmarks.md, "The isotropic ensemble")
    output_flip: Union[bool, str] = "auto"
    # the reconstruction error is measured on a central crop at most this big (pixels per side)
    test_max_size: int = 256
    # inference tiles at most this many output pixels (None: chosen from the device)
    tile_pixels: Optional[int] = None
    seed: int = 0
    device: str = "auto"
    # "auto": the fastest that a short probe on the device finds correct (core/precision.py)
    precision: str = "auto"
    preset_name: str = field(default="custom", compare=False)
    # config=None: why the device's default preset is this one, in words for the report (not a setting)
    chosen_because: str = field(default="", compare=False)

    def __post_init__(self):
        self._check_ints()
        self._check_floats()
        if not (0 <= self.augment_leave_as_is_probability <= 1) or not (
            0 <= self.augment_no_interpolate_probability <= 1
        ) or self.augment_leave_as_is_probability + self.augment_no_interpolate_probability > 1:
            raise ValueError("augment_* probabilities must lie in [0, 1] and sum to at most 1")
        if not 0 < self.augment_min_scale <= 1:
            raise ValueError(f"augment_min_scale must be in (0, 1], got {self.augment_min_scale}")
        if self.min_iters > self.max_iters:
            raise ValueError(f"min_iters ({self.min_iters}) exceeds max_iters ({self.max_iters})")
        bp = self.back_projection_iters
        if isinstance(bp, (list, tuple)):
            if not all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in bp):
                raise ValueError(f"back_projection_iters must be ints >= 0, got {bp!r}")
            self.back_projection_iters = list(bp)
        elif not isinstance(bp, int) or isinstance(bp, bool) or bp < 0:
            raise ValueError(f"back_projection_iters must be an int >= 0 or a list, got {bp!r}")
        if self.scale_factors is not None:
            steps = []
            for st in self.scale_factors:
                st = [float(v) for v in (st if isinstance(st, (list, tuple)) else (st, st))]
                if len(st) != 2 or not all(math.isfinite(v) and v >= 1 for v in st):
                    raise ValueError(
                        f"scale_factors must be (sy, sx) pairs of factors >= 1, got {st!r}"
                    )
                steps.append(tuple(st))
            if not steps:
                raise ValueError("scale_factors is empty; give None to use gradual_steps")
            self.scale_factors = steps
        if not (self.output_flip is True or self.output_flip is False or self.output_flip == "auto"):
            raise ValueError(f"output_flip must be True, False or 'auto', got {self.output_flip!r}")
        if self.learning_rate_policy not in ("reference", "cosine"):
            raise ValueError(f"learning_rate_policy must be 'reference' or 'cosine', got {self.learning_rate_policy!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"device must be a string such as 'auto', 'cpu', 'cuda:0', got {self.device!r}")

    def _check_ints(self):
        positive = ["gradual_steps", "max_iters", "width", "depth", "crop_size", "batch_size",
                    "learning_rate_policy_check_every", "run_test_every", "test_max_size"]
        nonneg = ["min_iters", "learning_rate_slope_range", "seed"]
        for name in positive + nonneg:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name} must be an int, got {type(v).__name__}")
            if v < (1 if name in positive else 0):
                raise ValueError(f"{name} must be {'>= 1' if name in positive else '>= 0'}, got {v}")
        if self.depth < 2:
            raise ValueError(f"depth must be at least 2 (input and output layers), got {self.depth}")
        if self.crop_size < 4:
            raise ValueError(f"crop_size must be at least 4, got {self.crop_size}")
        if self.tile_pixels is not None and (not isinstance(self.tile_pixels, int) or self.tile_pixels < 256):
            raise ValueError(f"tile_pixels must be None or an int >= 256, got {self.tile_pixels!r}")

    def _check_floats(self):
        positive = ["min_learning_rate", "learning_rate", "learning_rate_change_ratio", "init_variance"]
        nonneg = ["augment_scale_diff_sigma", "augment_shear_sigma"]
        if self.noise_std != "estimate":  # "estimate": read from the data's finest detail when the run starts
            nonneg.append("noise_std")
        for name in positive + nonneg:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
            if v < 0 or (name in positive and v == 0):
                raise ValueError(f"{name} must be {'> 0' if name in positive else '>= 0'}, got {v}")

    @classmethod
    def preset(cls, name: str, **overrides) -> "ZSSRConfig":
        """A named preset: "paper", "gradual", "real" or "fast", with fields overridden by keyword."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        values = dict(_PRESET_VALUES[name], preset_name=name)
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown ZSSRConfig field(s): {', '.join(sorted(unknown))}")
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes) -> "ZSSRConfig":
        return dataclasses.replace(self, **changes)

    def with_max_iters(self, n: int) -> "ZSSRConfig":
        """A copy capped at ``n`` training steps (min_iters lowered to fit)."""
        return self.replace(max_iters=n, min_iters=min(n, self.min_iters))

    def to_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "chosen_because"}

    def flips_for(self, axial: bool) -> bool:
        """Whether the ensemble of flips runs in a stage: ``axial`` for the isotropic (XZ/YZ) stage."""
        return self.output_flip is True or (self.output_flip == "auto" and not axial)

    def back_projection_for(self, step: int) -> int:
        bp = self.back_projection_iters
        if isinstance(bp, list):
            return bp[min(step, len(bp) - 1)]
        return bp


_PRESET_VALUES = {
    # the reference code's defaults
    "paper": {},
    # the paper's gradual schedule for x2 (1.0x1.5, 1.5x1.0, 1.5x1.5, 1.5x2, 2x1.5, 2x2)
    "gradual": {"gradual_steps": 6},
    # real, noisy images: noisy sons, no rotations, no back-projection, no ensemble
    "real": {
        "noise_std": 0.0125,
        "augment_allow_rotation": False,
        "augment_scale_diff_sigma": 0.0,
        "augment_shear_sigma": 0.0,
        "augment_min_scale": 0.75,
        "back_projection_iters": 0,
        "output_flip": False,
    },
    # two CPU cores, about a minute for a 256x256 image: a narrower net on smaller crops
    "fast": {
        "width": 32,
        "crop_size": 64,
        "batch_size": 4,
        "max_iters": 600,
        "min_iters": 300,
        "test_max_size": 128,
        "learning_rate_slope_range": 128,
        "learning_rate_policy_check_every": 30,
        "run_test_every": 25,
    },
}


def schedule_for(cfg: ZSSRConfig, target) -> list:
    """The (sy, sx) scale steps of a run to ``target``: ``cfg.scale_factors`` when given (it must end at
    ``target``), else the gradual schedule of ``cfg.gradual_steps`` steps."""
    target = tuple(float(v) for v in target)
    if not cfg.scale_factors:
        return gradual_schedule(target, cfg.gradual_steps)
    steps = [tuple(float(v) for v in st) for st in cfg.scale_factors]
    if any(abs(a - b) > 1e-9 * max(1.0, b) for a, b in zip(steps[-1], target)):
        raise ValueError(f"scale_factors must end at the requested scale {target}, but its last step is "
                         f"{steps[-1]}; make the last step {target} or give gradual_steps instead")
    return steps


def gradual_schedule(target, steps: int):
    """Intermediate (sy, sx) scale steps ending at ``target``.

    Each axis climbs in equal increments; within one increment the paper's x2 order is kept:
    (k-1, k), (k, k-1), (k, k), which for x2 and 6 steps gives 1.0x1.5, 1.5x1.0, 1.5x1.5,
    1.5x2, 2x1.5, 2x2; a count that is not a multiple of 3 keeps the last ``steps`` of the
    next longer list. With only one axis enlarged, that axis climbs in ``steps`` equal steps.
    """
    ty, tx = (float(v) for v in target)
    if ty == 1.0 or tx == 1.0:
        # one enlarged axis: equal steps along it, nothing to alternate with
        return [(round(1.0 + (ty - 1.0) * k / steps, 10), round(1.0 + (tx - 1.0) * k / steps, 10))
                for k in range(1, steps + 1)]
    m = max(1, math.ceil(steps / 3))
    level = lambda t, k: 1.0 + (t - 1.0) * k / m  # noqa: E731
    seq = []
    for k in range(1, m + 1):
        seq += [(k - 1, k), (k, k - 1), (k, k)]
    out = [(round(level(ty, a), 10), round(level(tx, b), 10)) for a, b in seq[-steps:]]
    return out
