"""core/config.py: ZSSRConfig's presets, the paper's gradual schedule, and every field validated in words."""

import pytest

from napari_zssr import ZSSRConfig
from napari_zssr.core.config import gradual_schedule


def test_presets_carry_their_settings():
    paper = ZSSRConfig.preset("paper")
    assert (paper.width, paper.depth, paper.crop_size, paper.max_iters) == (64, 8, 128, 3000)
    assert paper.learning_rate == 1e-3 and paper.min_learning_rate == 9e-6
    assert paper.back_projection_iters == 10 and paper.output_flip == "auto" and paper.noise_std == 0
    assert ZSSRConfig.preset("gradual").gradual_steps == 6
    real = ZSSRConfig.preset("real")
    assert real.noise_std == 0.0125 and real.back_projection_iters == 0 and real.output_flip is False
    assert not real.augment_allow_rotation and real.augment_min_scale == 0.75
    fast = ZSSRConfig.preset("fast", seed=3)
    assert fast.seed == 3 and fast.preset_name == "fast"


def test_paper_gradual_schedule_for_x2():
    assert gradual_schedule((2, 2), 6) == [(1.0, 1.5), (1.5, 1.0), (1.5, 1.5), (1.5, 2.0), (2.0, 1.5), (2.0, 2.0)]
    assert gradual_schedule((2, 2), 1) == [(2.0, 2.0)]
    steps = gradual_schedule((1, 2.5), 6)
    assert len(steps) == 6 and steps[-1] == (1.0, 2.5) and all(a == 1.0 for a, _ in steps)
    assert all(b1 < b2 for (_, b1), (_, b2) in zip(steps, steps[1:]))
    assert gradual_schedule((4, 3), 3) == [(1.0, 3.0), (4.0, 1.0), (4.0, 3.0)]
    assert len(gradual_schedule((3, 2), 4)) == 4 and gradual_schedule((3, 2), 4)[-1] == (3.0, 2.0)


@pytest.mark.parametrize(
    "field,value,exc,match",
    [
        ("width", 0, ValueError, "width must be >= 1, got 0"),
        ("depth", 1, ValueError, r"depth must be at least 2 \(input and output layers\), got 1"),
        ("max_iters", 1.5, TypeError, "max_iters must be an int, got float"),
        ("learning_rate", -1.0, ValueError, "learning_rate must be > 0, got -1.0"),
        ("noise_std", float("nan"), ValueError, "noise_std must be a finite number, got nan"),
        ("back_projection_iters", -2, ValueError, "back_projection_iters must be an int >= 0 or a list, got -2"),
        ("output_flip", 1, ValueError, "output_flip must be True, False or 'auto', got 1"),
        ("output_flip", "yes", ValueError, "output_flip must be True, False or 'auto', got 'yes'"),
        ("scale_factors", [(0.5, 2)], ValueError,
         r"scale_factors must be \(sy, sx\) pairs of factors >= 1, got \[0.5, 2.0\]"),
        ("augment_leave_as_is_probability", 0.9, ValueError,
         r"augment_\* probabilities must lie in \[0, 1\] and sum to at most 1"),
        ("min_iters", 5000, ValueError, r"min_iters \(5000\) exceeds max_iters \(3000\)"),
        ("crop_size", 2, ValueError, "crop_size must be at least 4, got 2"),
    ],
)
def test_validation(field, value, exc, match):
    with pytest.raises(exc, match=match):
        ZSSRConfig(**{field: value})


def test_unknown_preset_and_field():
    with pytest.raises(ValueError, match="unknown preset"):
        ZSSRConfig.preset("best")
    with pytest.raises(TypeError, match="unknown ZSSRConfig field"):
        ZSSRConfig.preset("fast", widht=3)


def test_back_projection_per_step():
    cfg = ZSSRConfig(back_projection_iters=[1, 2, 3])
    assert [cfg.back_projection_for(i) for i in range(5)] == [1, 2, 3, 3, 3]
