"""core/probe_cache.py and the decisions kept with it (core/precision.py): the default preset and precision
are decided once per machine, do not flip near their line, and a damaged or unwritable cache costs only a probe."""

import json
import os
import subprocess
import sys

import pytest
import torch

from napari_zssr.core import precision, probe_cache

CPU = torch.device("cpu")
ASK = ("import torch; from napari_zssr.core.precision import auto_preset; "
       "print(auto_preset(torch.device('cpu'))[0])")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(probe_cache.CACHE_ENV, str(tmp_path))
    return tmp_path


def _preset_in_a_new_process(env) -> str:
    res = subprocess.run([sys.executable, "-c", ASK], capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().splitlines()[-1]


def test_two_processes_on_one_machine_get_the_same_default_preset(cache):
    env = {**os.environ, probe_cache.CACHE_ENV: str(cache)}
    first = _preset_in_a_new_process(env)
    kept = json.loads((cache / probe_cache.FILE).read_text())["preset"]
    (entry,) = kept.values()
    assert entry["preset"] == first and entry["paper_seconds"] > 0
    # whatever the second measurement would say, the kept decision is the answer: make it the other one
    other = "paper" if first == "fast" else "fast"
    entry["preset"] = other
    (cache / probe_cache.FILE).write_text(json.dumps({"preset": kept}))
    assert _preset_in_a_new_process(env) == other


@pytest.mark.parametrize("before, seconds, after", [
    (None, 119.0, "paper"), (None, 121.0, "fast"),            # no history: the line itself
    ("paper", 150.0, "paper"), ("paper", 181.0, "fast"),      # near the line a kept decision holds...
    ("fast", 100.0, "fast"), ("fast", 79.0, "paper"),         # ...and changes only well past it
])
def test_a_measurement_near_the_line_does_not_flip_a_kept_decision(before, seconds, after):
    assert precision.decide_preset(seconds, before) == after


def test_the_report_says_why_the_default_preset_was_chosen(cache):
    key = probe_cache.machine(CPU)
    probe_cache.keep("preset", key, {"preset": "fast", "paper_seconds": 480.0})
    name, why = precision.auto_preset(CPU)
    assert name == "fast" and "about 480 s on this CPU (as measured on this machine), over the 120 s" in why
    cfg, _ = precision.resolve_config(None)
    assert cfg.preset_name == "fast" and cfg.chosen_because == why and "chosen_because" not in cfg.to_dict()


def test_a_measurement_past_its_age_is_marked_to_be_taken_again(cache):
    key = probe_cache.machine(CPU)
    probe_cache.keep("preset", key, {"preset": "paper", "paper_seconds": 100.0})
    data = json.loads((cache / probe_cache.FILE).read_text())
    data["preset"][key]["when"] -= (probe_cache.MAX_AGE_DAYS + 1) * 86400
    (cache / probe_cache.FILE).write_text(json.dumps(data))
    assert probe_cache.kept("preset", key)["stale"]


def test_a_damaged_cache_is_measured_again_and_replaced(cache):
    (cache / probe_cache.FILE).write_text("{ not json")
    assert probe_cache.kept("preset", "any") is None
    probe_cache.keep("preset", "any", {"preset": "fast", "paper_seconds": 300.0})
    assert probe_cache.kept("preset", "any")["preset"] == "fast"


def test_an_unwritable_cache_folder_only_costs_a_probe(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(probe_cache.CACHE_ENV, str(blocker / "cache"))  # a folder cannot be made under a file
    probe_cache.keep("preset", "any", {"preset": "fast"})
    assert probe_cache.kept("preset", "any") is None


def test_the_precision_probe_is_kept_per_machine_and_shape(cache, monkeypatch):
    monkeypatch.setattr(precision, "_probes", {})
    first = precision.probe(CPU, 1, 4, 2, 16, 1)
    kept = json.loads((cache / probe_cache.FILE).read_text())["precision"]
    assert len(kept) == 1 and next(iter(kept.values()))["times"] == first["times"]
    monkeypatch.setattr(precision, "_probes", {})  # a new process: the kept figures, not a new measurement
    assert precision.probe(CPU, 1, 4, 2, 16, 1)["times"] == first["times"]
