"""Progress, cancel and the reports of a run: plain Python, no torch, so every layer can use them."""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass, field

import numpy as np

# over-sharpened: the axial spectrum rises to twice its resolved level against the lateral one. Isotropic
# volumes measured -2.1 to +1.8 dB (nuclei.tif; 60 blobs in 48 x 64 x 64, the noisiest), results with a
# kernel far wider than the data's blur +7 to +9 dB, so the bar sits between (set after seeing these)
AXIAL_EXCESS_DB = 3.0


class Stage(str, enum.Enum):
    """The ``stage`` of a progress event (a str, so a callback may compare it with "train")."""

    START = "start"
    ESTIMATE = "estimate"   # reading the kernel or the axial profile from the data
    TRAIN = "train"
    INFER = "infer"
    DONE = "done"


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


@dataclass(frozen=True)
class KernelEstimate:
    """What was read from the data for one channel of one stage: ``stage`` "planes" (the 2-D kernel, sigma
    and FWHM per axis (y, x), its covariance) or "isotropic" (the axial profile on the fine grid), in
    output-grid pixels; ``fwhm_physical`` in the voxel sizes' unit where they are known. ``kernel`` is the
    kernel found (nested lists), "cubic" where bicubic was chosen, None where none could be read (then
    sigma and FWHM are nan and ``note`` says why)."""

    stage: str
    channel: int
    kernel: object
    sigma: object
    fwhm: object
    fwhm_physical: object = None
    cov: object = None
    note: str = ""
    uncertainty: object = None  # the sigma's, in output-grid pixels, where the method gives one (the PSF estimate)


class _Estimates:
    """The ``estimated_*`` views of a report's ``kernel_estimates``: the run's own stage (the axial profile
    where one was read, else the 2-D kernel), and ``estimated_lateral_*`` the planes stage of a run that
    also read an axial profile (both mode)."""

    kernel_estimates: list

    def _stage(self, lateral: bool) -> list:
        axial = any(e.stage == "isotropic" for e in self.kernel_estimates)
        want = "planes" if lateral or not axial else "isotropic"
        return [e for e in self.kernel_estimates if e.stage == want] if axial or not lateral else []

    estimated_kernel = property(lambda self: [e.kernel for e in self._stage(False)])
    estimated_sigma = property(lambda self: [e.sigma for e in self._stage(False)])
    estimated_fwhm = property(lambda self: [e.fwhm for e in self._stage(False)])
    estimated_fwhm_physical = property(lambda self: [e.fwhm_physical for e in self._stage(False)])
    estimated_cov = property(lambda self: [e.cov for e in self._stage(False)])
    estimated_lateral_kernel = property(lambda self: [e.kernel for e in self._stage(True)])
    estimated_lateral_sigma = property(lambda self: [e.sigma for e in self._stage(True)])
    estimated_lateral_fwhm = property(lambda self: [e.fwhm for e in self._stage(True)])
    estimated_lateral_fwhm_physical = property(lambda self: [e.fwhm_physical for e in self._stage(True)])


@dataclass
class ZSSRReport(_Estimates):
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
    # kernel="estimate": what was read (KernelEstimate, one for the image), and the seconds it took
    kernel_estimates: list = field(default_factory=list)
    estimate_seconds: float = 0.0
    precision_probe: dict = field(default_factory=dict)  # step seconds per precision, when "auto" measured them
    error_model: object = None  # core.uncertainty.ErrorModel fitted after training, where a pair could be made
    gain_linear_db: float = float("nan")  # isotropic mode: over linear interpolation, on held-out pixels

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__
               if k not in ("history", "kernel_estimates", "error_model")}
        return {**out, **{k: getattr(self, k) for k in ESTIMATE_KEYS[:4] + ("estimated_cov",)}}


ESTIMATE_KEYS = ("estimated_kernel", "estimated_sigma", "estimated_fwhm", "estimated_fwhm_physical",
                 "estimated_lateral_kernel", "estimated_lateral_sigma", "estimated_lateral_fwhm",
                 "estimated_lateral_fwhm_physical")


@dataclass
class UpscaleReport(_Estimates):
    plan: str
    preset: str = ""
    device: str = ""
    kernel: str = ""
    precision: str = ""
    precision_probe: dict = field(default_factory=dict)  # step seconds per precision, when "auto" measured them
    # per channel and stage, what was read from the data (KernelEstimate; the estimated_* views read them)
    kernel_estimates: list = field(default_factory=list)
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
    # return_uncertainty: the expected absolute error of every voxel of the result (core.uncertainty)
    uncertainty: object = field(default=None, repr=False)

    def estimates(self) -> dict:
        """What kernel="estimate" found (empty when nothing was estimated), as plain lists for metadata."""
        out = {k: getattr(self, k) for k in ESTIMATE_KEYS if getattr(self, k)}
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

    @property
    def gain_linear_db(self) -> float:
        """Isotropic mode: the smallest gain of a network over linear interpolation on held-out pixels."""
        gains = [u.gain_linear_db for u in self.units if np.isfinite(u.gain_linear_db)]
        return float(np.min(gains)) if gains else float("nan")
