"""Progress, cancel and the reports of a run: plain Python, no torch, so every layer can use them."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

# over-sharpened: the axial spectrum rises to twice its resolved level against the lateral one. Isotropic
# volumes measured -2.1 to +1.8 dB (nuclei.tif; 60 blobs in 48 x 64 x 64, the noisiest), results with a
# kernel far wider than the data's blur +7 to +9 dB, so the bar sits between (set after seeing these)
AXIAL_EXCESS_DB = 3.0


class Cancelled(Exception):
    """Raised when a progress callback returns False."""


class QualityWarning(UserWarning):
    """The result may be no better than interpolation, or a step of the run fell back to a default."""


class Progress:
    """Calls the user's callback at most every ``interval`` seconds (and when forced)."""

    def __init__(self, callback, base: dict, interval: float = 0.5):
        self.callback = callback
        self.base = base
        self.interval = interval
        self.last = -math.inf

    def __call__(self, force: bool = False, **info) -> None:
        if self.callback is None:
            return
        now = time.perf_counter()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        if self.callback({**self.base, **info}) is False:
            raise Cancelled("cancelled by the progress callback")

    def due(self) -> bool:
        return self.callback is not None and time.perf_counter() - self.last >= self.interval


@dataclass
class ZSSRReport:
    """What a run did: the settings it resolved and how well it reconstructs its own image."""

    preset: str
    device: str
    scale: tuple
    schedule: list
    kernel: str
    seed: int
    seconds: float = 0.0
    steps: list = field(default_factory=list)
    gain_db: float = float("nan")         # over cubic, on held-out pixels where gain_held_out (core.quality)
    gain_held_out: bool = False
    train_seconds: float = 0.0
    infer_seconds: float = 0.0
    history: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # out-of-memory retries, fallbacks and the estimate's choices, in words
    precision: str = "float32"                 # what the network ran in
    estimated_noise: float = float("nan")      # noise_std="estimate": the value used (normalised units)
    # kernel="estimate": the 2-D kernel found (a list of one; None where it fell back), its sigma and
    # FWHM per axis (y, x) and covariance, in output-grid pixels; the seconds the estimate took
    estimated_kernel: list = field(default_factory=list)
    estimated_sigma: list = field(default_factory=list)
    estimated_fwhm: list = field(default_factory=list)
    estimated_cov: list = field(default_factory=list)
    estimate_seconds: float = 0.0
    precision_probe: dict = field(default_factory=dict)  # step seconds per precision, when "auto" measured them

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "history"}


@dataclass
class UpscaleReport:
    plan: str
    preset: str = ""
    device: str = ""
    kernel: str = ""
    precision: str = ""
    precision_probe: dict = field(default_factory=dict)  # step seconds per precision, when "auto" measured them
    # kernel="estimate": per channel, the kernel found for the run's mode (planes: the 2-D kernel, sigma
    # and FWHM per axis (y, x); isotropic and both: the axial profile on the fine grid, its sigma and
    # FWHM), in output-grid pixels, and the FWHM in the voxel sizes' unit where they are known (None
    # where a channel fell back to the default); both mode also the 2-D kernels of its planes stage
    estimated_kernel: list = field(default_factory=list)
    estimated_sigma: list = field(default_factory=list)
    estimated_fwhm: list = field(default_factory=list)
    estimated_fwhm_physical: list = field(default_factory=list)
    estimated_lateral_kernel: list = field(default_factory=list)
    estimated_lateral_sigma: list = field(default_factory=list)
    estimated_lateral_fwhm: list = field(default_factory=list)
    estimated_lateral_fwhm_physical: list = field(default_factory=list)
    estimate_seconds: float = 0.0
    estimated_noise: float = float("nan")  # noise_std="estimate": the value used for the sons (normalised units)
    # isotropic and both modes, per channel: the rise of the result's axial spectrum against its lateral one
    # (core.quality.axial_excess_db; nan where not measured); above AXIAL_EXCESS_DB it is over-sharpened
    axial_excess_db: list = field(default_factory=list)
    config: dict = field(default_factory=dict)  # the settings the run used (ZSSRConfig.to_dict), for provenance
    seconds: float = 0.0
    # what the run chose on the user's behalf, in words (units have their own)
    notes: list = field(default_factory=list)
    reused: str = ""  # the store whose finished result was returned without training ("" when the run computed it)
    units: list = field(default_factory=list)  # one ZSSRReport per trained network
    networks: dict = field(default_factory=dict, repr=False)  # (kind, channel) -> TrainedNetwork (shared runs)

    def estimates(self) -> dict:
        """What kernel="estimate" found (empty when nothing was estimated), as plain lists for metadata."""
        keys = ("estimated_kernel", "estimated_sigma", "estimated_fwhm", "estimated_fwhm_physical",
                "estimated_lateral_kernel", "estimated_lateral_sigma", "estimated_lateral_fwhm",
                "estimated_lateral_fwhm_physical")
        out = {k: getattr(self, k) for k in keys if getattr(self, k)}
        if np.isfinite(self.estimated_noise):
            out["estimated_noise"] = self.estimated_noise
        return out

    def estimate_text(self) -> str:
        """One line on the estimated kernels, per channel: sigma in output-grid pixels."""
        def fmt(v):
            return " x ".join(f"{x:.2f}" for x in np.atleast_1d(v))

        parts = []
        for label, sigmas, kernels in (("", self.estimated_sigma, self.estimated_kernel),
                                       ("lateral ", self.estimated_lateral_sigma, self.estimated_lateral_kernel)):
            if sigmas:
                what = "kernel sigma (y x)" if np.ndim(sigmas[0]) or label else "axial sigma"
                values = ["bicubic" if isinstance(k, str) else fmt(v) + " px" if np.all(np.isfinite(v)) else
                          "not read (cubic)" for v, k in zip(sigmas, kernels)]
                parts.append(f"estimated {label}{what} " + ", ".join(values))
        return "; ".join(parts)

    def over_sharpened(self) -> list:
        """The channels whose result the axial spectrum check found over-sharpened."""
        return [c for c, e in enumerate(self.axial_excess_db) if e > AXIAL_EXCESS_DB]

    @property
    def gain_held_out(self) -> bool:
        """Every trained network's gain was measured on pixels it did not train on."""
        trained = [u for u in self.units if np.isfinite(u.gain_db)]
        return bool(trained) and all(u.gain_held_out for u in trained)

    @property
    def gain_db(self) -> float:
        gains = [u.gain_db for u in self.units if np.isfinite(u.gain_db)]
        return float(np.mean(gains)) if gains else float("nan")
