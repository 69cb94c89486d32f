"""A run's progress events as one fraction over the whole run and one line of words, for the CLI's bar and
the widget's: what is happening from the first second, one bar that does not start over per stage, and
counts of what really trains. No napari, no Qt."""

from __future__ import annotations

from dataclasses import dataclass

TRAIN_SHARE = 0.7  # of a stage's time, training is most: a rough split so that the bar moves evenly

BEFORE = {  # what is happening before the first network trains, by the event's ``doing``
    "checking": "checking the input",
    "reading": "reading the input through once",
    "probing": "choosing the preset and precision: measuring this machine (once per machine)",
    "estimating": "reading the kernel from the data",
}


@dataclass
class Overall:
    """Folds progress events into (fraction of the whole run, words). Feed every event to ``update``."""

    fraction: float = 0.0
    words: str = "starting"
    trained_stage: int = 0  # the run step whose last network finished its last scale step

    def update(self, p: dict) -> tuple:
        stage = str(getattr(p.get("stage"), "value", p.get("stage")))
        if stage == "done":
            self.fraction, self.words = 1.0, "done"
        elif stage == "start" and "doing" in p:
            self.words = BEFORE.get(p["doing"], p["doing"])
        elif stage == "estimate":
            channel = f" of channel {p['channel']}" if "channel" in p else ""
            self.words = f"reading the kernel{channel} from the data"
        elif stage == "train" and p.get("total"):
            self._set(p, _training_share(p), _training_words(p))
            if _last_step_done(p):
                self.trained_stage = p.get("run_step", 1)
        elif stage == "infer" and not p.get("todo"):
            # a heartbeat from inside a pass: it means the stage's inference only once its last network has
            # trained (a gradual schedule also applies its network between scale steps)
            if self.trained_stage == p.get("run_step", 1) and "scale_step" not in p:
                self._set(p, TRAIN_SHARE * _trained(p), f"{_stage(p)}applying the network")
        elif stage == "infer":
            done, todo = p.get("done", 0), p["todo"]
            self._set(p, TRAIN_SHARE * _trained(p) + (1 - TRAIN_SHARE) * done / todo,
                      f"{_stage(p)}applying the network{'s' if p.get('units', 1) > 1 else ''}: "
                      f"{done}/{todo} {p.get('unit_kind', 'unit')}s")
        return self.fraction, self.words

    def _set(self, p: dict, within: float, words: str) -> None:
        """``within`` the current stage of the run; the bar never moves back (a retry restarts a stage's
        steps, not the user's wait)."""
        step, steps = max(1, int(p.get("run_step", 1))), max(1, int(p.get("run_steps", 1)))
        self.fraction = max(self.fraction, min(1.0, (step - 1 + min(1.0, within)) / steps))
        self.words = words


def _trained(p) -> float:
    """The share of the stage's training that is done when its inference runs: all of it, unless no
    network trains in the stage (networks applied from a file)."""
    return 1.0 if p.get("units") else 0.0


def _last_step_done(p) -> bool:
    return (p.get("unit", 1) == p.get("units", 1) and p.get("scale_step", 1) == p.get("scale_steps", 1)
            and p["step"] >= p["total"])


def _training_share(p) -> float:
    unit, units = p.get("unit", 1), max(1, p.get("units", 1))
    scale_step, scale_steps = p.get("scale_step", 1), max(1, p.get("scale_steps", 1))
    within = ((scale_step - 1) + p["step"] / p["total"]) / scale_steps
    return TRAIN_SHARE * ((unit - 1) + within) / units


def _training_words(p) -> str:
    steps = f", scale step {p['scale_step']}/{p['scale_steps']}" if p.get("scale_steps", 1) > 1 else ""
    loss = f", loss {p['loss']:.4f}" if "loss" in p else ""
    return f"{_stage(p)}training network{_s(p)}: step {p['step']}/{p['total']}{steps}{loss}"


def _s(p) -> str:
    return f" {p['unit']}/{p['units']}" if p.get("units", 1) > 1 else ""


def _stage(p) -> str:
    if p.get("run_steps", 1) > 1:
        return f"{p.get('run_stage', 'stage')} stage ({p['run_step']}/{p['run_steps']}): "
    return ""
