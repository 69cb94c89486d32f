"""stack/progress_words.py: one bar over the whole run, words from the first second, counts of what trains."""

import numpy as np

from napari_zssr import upscale
from napari_zssr.stack.progress_words import Overall


def _watch(data, scale, cfg, **kw):
    overall, seen = Overall(), []
    upscale(data, scale, config=cfg, callback=lambda p: seen.append(overall.update(p)), **kw)
    return seen


def test_the_bar_never_goes_back_and_ends_full_across_both_stages(tiny_config):
    seen = _watch(np.random.default_rng(0).random((6, 24, 24), np.float32), (2, 2, 2), tiny_config, mode="both")
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    words = [w for _, w in seen]
    assert words[0] == "checking the input" and words[-1] == "done"
    first_iso = next(i for i, w in enumerate(words) if w.startswith("isotropic stage (2/2)"))
    assert any(w.startswith("planes stage (1/2): training network") for w in words[:first_iso])
    assert max(fractions[:first_iso]) <= 0.5 <= fractions[first_iso]  # the planes stage is half of a two-stage run


def test_what_happens_before_training_is_said():
    overall = Overall()
    assert overall.update({"stage": "start", "doing": "probing"})[1].startswith("choosing the preset and precision")
    assert overall.update({"stage": "estimate", "channel": 1})[1] == "reading the kernel of channel 1 from the data"
    assert overall.fraction == 0.0


def test_an_rgb_image_counts_one_network_and_channels_count_theirs(tiny_config, structured_image):
    rgb = np.stack([structured_image, structured_image * 0.5, structured_image + 3], -1)
    words = [w for _, w in _watch(rgb, (2, 2, 1), tiny_config, axes="YXS")]
    assert any(w.startswith("training network: step") for w in words)
    assert not any("network 1/3" in w for w in words)
    two = np.stack([structured_image, structured_image[::-1]])
    words = [w for _, w in _watch(two, (1, 2, 2), tiny_config, axes="CYX")]
    assert any(w.startswith("training network 2/2: step") for w in words)


def test_training_fills_most_of_a_stage_and_applying_the_rest():
    overall = Overall()
    f, words = overall.update({"stage": "train", "step": 50, "total": 100, "unit": 1, "units": 2})
    assert f == np.float64(0.7 * 0.25) and words == "training network 1/2: step 50/100"
    f, words = overall.update({"stage": "infer", "done": 5, "todo": 10, "unit_kind": "plane", "units": 2})
    assert f == 0.7 + 0.3 * 0.5 and words == "applying the networks: 5/10 planes"


def test_a_pass_applied_as_one_unit_is_said_once_its_network_has_trained():
    overall = Overall()
    overall.update({"stage": "train", "step": 4, "total": 8, "scale_step": 1, "scale_steps": 2})
    assert overall.update({"stage": "infer"})[1].startswith("training network")  # between scale steps
    overall.update({"stage": "train", "step": 8, "total": 8, "scale_step": 2, "scale_steps": 2})
    f, words = overall.update({"stage": "infer"})
    assert words == "applying the network" and f == np.float64(0.7)
