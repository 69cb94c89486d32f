"""About how long a run of the panel's settings would take, shown beside Run before it starts (stack.timing).

Worked out in a thread worker, never on the GUI thread: the first estimate on a machine measures a training
step (a few seconds, kept per machine), and the "auto" preset is resolved as the run resolves it, which may
measure the device once too. Settings that would be refused show no estimate (the run says why)."""

from __future__ import annotations

import threading

from qtpy.QtCore import QTimer

WAIT_MS = 400  # settings typed or picked in a burst start one estimate, not one per keystroke
# held while an estimate may be measuring the device: a run started meanwhile waits for it (plugin.controller),
# since two probes at once would each time the CPU slowed by the other, and the slowed times would be kept
MEASURING = threading.Lock()


def estimate_words(plan, shape, make_config) -> str:
    """The time estimate of ``plan`` over an array of ``shape`` with the config ``make_config()`` makes, in
    words (runs in the worker thread)."""
    from ..core.device import resolve_device
    from ..stack.blocks import shape5_of
    from ..stack.timing import estimate_time

    try:
        with MEASURING:
            cfg = make_config()
            est = estimate_time(plan, shape5_of(shape, plan.axes), cfg, resolve_device(cfg.device))
    except Exception as exc:  # noqa: BLE001 - an estimate that cannot be made must not disturb the panel
        return f"no estimate ({type(exc).__name__}: {exc})"
    return f"{est.words()}; preset {cfg.preset_name}"


class RunTimeEstimate:
    """Keeps ``label`` showing the estimate for the settings of ``panel`` (the widget): ``refresh`` after any
    change; one worker at a time, and none while a run is going (it would slow the run and the probe)."""

    def __init__(self, panel, label):
        self._panel, self.label = panel, label
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._start)
        self.worker = None
        self.shown_for = None  # the settings the label's estimate is for
        self._again = False
        self._closed = False

    def refresh(self, *_) -> None:
        if not self._closed:
            self._timer.start(WAIT_MS)

    def close(self) -> None:
        self._closed = True
        self._timer.stop()

    def _start(self) -> None:
        from napari.qt.threading import create_worker

        from ..stack.choices import config_factory
        from .settings_ui import training, whole_plan

        if self._closed or self._panel.running:
            return
        try:
            whole, plan = whole_plan(self._panel)
            settings = training(self._panel)
            make_config = config_factory(settings)
        except (ValueError, TypeError) as exc:
            self.label.value, self.shown_for = f"no estimate: {exc}", None
            return
        key = (id(self._panel.layer.value), tuple(whole.shape), plan, settings)
        if key == self.shown_for:
            return
        if self.worker is not None:  # the settings changed while one was being worked out: once more after it
            self._again = True
            return
        self.label.value = "working out how long the run would take (the first time, a few seconds)..."
        self.worker = create_worker(estimate_words, plan, tuple(whole.shape), make_config)
        self.worker.returned.connect(lambda words, key=key: self._show(key, words))
        self.worker.finished.connect(self._finished)
        self.worker.start()

    def _show(self, key, words: str) -> None:
        if not self._closed:
            self.label.value, self.shown_for = words, key

    def _finished(self) -> None:
        self.worker = None
        if self._again and not self._closed:
            self._again = False
            self._start()
