"""The card's ``data:`` section of the ``cdms_lfn`` task, its defaults and its checks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Self

from ...errors import CardError
from ..protocol import TaskData


class PulseShape(StrEnum):
    TWOPOLE = "twopole"
    THREEPOLE = "threepole"


#: keys earlier cards had, and what replaced them
RETIRED = {
    "n_test": "the test windows are the trigger candidates of the measurement stream: set data.stream_seconds",
    "lfn_pass_target": "the threshold is set by the accidental-trigger rate: set data.accidental_budget_hz",
    "of_threshold_floor_sigma": "the threshold is set by the accidental-trigger rate (noise and LFN triggers "
    "per second, measured on the stream): set data.accidental_budget_hz",
    "peak_search_samples": "the candidate logic finds the peak on the stream: see data.candidate_hold_samples",
    "window_jitter": "the window sits where the candidate logic's peak puts it, as in the FPGA",
    "signal_fraction": "pulses arrive in streams at rates in Hz (docs/physics.md)",
    "noise_fraction": "noise triggers come from the stream's noise itself",
}


@dataclass(frozen=True, kw_only=True)
class UserStream:
    """A user's own continuous recording in place of the simulated streams (``tasks/cdms/recorded.py``).

    ``adc`` names the stream's samples (integer ADC counts at ``data.sample_rate_hz``, within
    ``data.adc_bits`` signed bits), one per entry of ``tree`` (ROOT) or one 1-D array (HDF5, NPZ). Known
    events, where the user has them, are arrays of ``events_tree``: ``event_sample`` (a pulse's onset or
    an LFN episode's centre, in samples), ``event_kind`` (2 a pulse, 1 an LFN episode: ``EventKind``) and,
    optionally, ``event_width`` (an LFN episode's half-extent in samples; default ``lfn_extent_ms``) and
    ``event_energy`` (a pulse's height in ADC counts of the template's peak, NaN where unknown). Known
    pulses are never counted as accidental triggers, and those with an energy count in the turn-on curves
    beside the injected ones; known LFN episodes give the network its background windows. The first
    ``train_fraction`` of the recording gives the training windows, the rest the measurement; with
    ``data.user_windows`` the whole recording is the measurement. A relative ``path`` is taken from the
    card's own folder.
    """

    path: Path
    tree: str = "stream"
    adc: str = "adc"
    events_tree: str = "events"
    event_sample: str | None = None
    event_kind: str | None = None
    event_width: str | None = None
    event_energy: str | None = None
    lfn_extent_ms: float = 2.0
    train_fraction: float = 0.5


@dataclass(frozen=True, kw_only=True)
class UserWindows:
    """A user's labelled traces for training, in place of windows cut from streams (``tasks/cdms/recorded.py``).

    ``traces`` names an (n, samples) array of integer ADC counts, each at least ``data.of_length +
    data.candidate_hold_samples`` samples long; ``label`` is 1 for a pulse and 0 for LFN. The trigger
    chain runs over each trace and the network's inputs are cut at the OF's largest output, as the
    candidate logic would cut them.
    """

    path: Path
    tree: str = "windows"
    traces: str = "traces"
    label: str = "label"


@dataclass(frozen=True, kw_only=True)
class CdmsLfnData(TaskData):
    """SuperCDMS-style phonon stream at 625 kHz: signal pulses, low-frequency noise (LFN) and plain noise.

    The trigger is an optimal filter (OF, an FIR of ``of_length`` taps with ``of_coefficient_bits``
    coefficients) with an amplitude threshold and a candidate logic (``candidate_hold_samples``); the
    network sees the ``window`` samples of the OF's register at each candidate's peak
    (``tasks/cdms/chain.py``). Energies are in units of the OF's baseline resolution sigma_E (multiply
    by a detector's sigma_E in eV). Training windows come from streams of ``n_train`` candidates; the
    figures of merit from ``stream_seconds`` of stream with LFN episodes at ``lfn_rate_hz``, at
    ``accidental_budget_hz`` of accidental triggers. The LFN is a model; its parameters are here. See
    ``tasks/cdms/simulation.py``, ``stream.py`` and ``thresholds.py``.
    """

    n_train: int = 30000
    window: int = 64
    sample_rate_hz: float = 625e3
    trace_length: int = 1024
    pulse_shape: PulseShape = PulseShape.TWOPOLE
    rise_time_us: float = 20.0
    fall_time_us: float = 100.0
    fall_time2_us: float = 500.0
    fall2_fraction: float = 0.2
    noise_rms_adc: float = 2.0
    noise_knee_hz: float = 5000.0
    adc_bits: int = 8
    baseline_samples: int = 16
    of_length: int = 256
    of_coefficient_bits: int = 8
    candidate_hold_samples: int = 64
    energy_range_sigma: tuple[float, float] = (0.5, 15.0)
    lfn_band_hz: tuple[float, float] = (300.0, 3000.0)
    lfn_burst_ms: tuple[float, float] = (0.2, 2.0)
    lfn_slow_fraction: float = 0.3
    lfn_slow_band_hz: tuple[float, float] = (20.0, 300.0)
    lfn_slow_ms: tuple[float, float] = (1.0, 10.0)
    lfn_of_min_sigma: float = 1.5
    lfn_of_scale_sigma: float = 2.0
    lfn_rate_hz: float = 1.0
    stream_seconds: float = 1000.0
    accidental_budget_hz: float = 1.0
    min_plateau_efficiency: float = 0.995
    user: UserStream | None = None
    user_windows: UserWindows | None = None

    retired: ClassVar[dict[str, str]] = RETIRED

    def validate(self, where: str) -> None:
        from .chain import check_geometry

        d = self
        if d.n_train < 10:
            raise CardError(f"{where}: data.n_train must be at least 10")
        if d.lfn_of_min_sigma < 0:
            raise CardError(f"{where}: data.lfn_of_min_sigma must not be negative, got {d.lfn_of_min_sigma}")
        if d.lfn_rate_hz < 0:
            raise CardError(f"{where}: data.lfn_rate_hz must not be negative, got {d.lfn_rate_hz}")
        if not 2 <= d.adc_bits <= 16:
            raise CardError(f"{where}: data.adc_bits must be in [2, 16] (the OF word must fit a 32-bit bus)")
        if not 3 <= d.of_coefficient_bits <= 16:
            raise CardError(f"{where}: data.of_coefficient_bits must be in [3, 16], got {d.of_coefficient_bits}")
        for key in (
            "rise_time_us",
            "fall_time_us",
            "fall_time2_us",
            "noise_rms_adc",
            "noise_knee_hz",
            "sample_rate_hz",
            "lfn_of_scale_sigma",
            "stream_seconds",
            "accidental_budget_hz",
        ):
            if not getattr(d, key) > 0:
                raise CardError(f"{where}: data.{key} must be positive")
        nyquist = d.sample_rate_hz / 2
        for key in ("lfn_band_hz", "lfn_slow_band_hz"):
            if getattr(d, key)[1] > nyquist:
                raise CardError(
                    f"{where}: data.{key} {list(getattr(d, key))} reaches above the Nyquist frequency of "
                    f"data.sample_rate_hz ({nyquist:g} Hz), where a sampled stream holds no such noise"
                )
        if d.rise_time_us >= d.fall_time_us:
            raise CardError(f"{where}: data.rise_time_us must be shorter than data.fall_time_us")
        for key in ("energy_range_sigma", "lfn_band_hz", "lfn_burst_ms", "lfn_slow_band_hz", "lfn_slow_ms"):
            lo, hi = getattr(d, key)
            if not 0 < lo <= hi:
                raise CardError(f"{where}: data.{key} must be [low, high] with 0 < low <= high, got {[lo, hi]}")
        for key in ("fall2_fraction", "lfn_slow_fraction"):
            if not 0.0 <= getattr(d, key) <= 1.0:
                raise CardError(f"{where}: data.{key} must be in [0, 1]")
        if not 0.5 <= d.min_plateau_efficiency < 1.0:
            raise CardError(f"{where}: data.min_plateau_efficiency must be in [0.5, 1), got {d.min_plateau_efficiency}")
        if d.window < 8 or d.of_length < 8 or d.baseline_samples < 1 or d.candidate_hold_samples < 1:
            raise CardError(
                f"{where}: data.window and data.of_length must be at least 8, data.baseline_samples and "
                "data.candidate_hold_samples at least 1"
            )
        if d.trace_length < d.of_length:
            raise CardError(f"{where}: data.trace_length (the noise PSD's grid) must be at least data.of_length")
        check_geometry(d, where)
        if d.user_windows is not None and d.user is None:
            raise CardError(
                f"{where}: data.user_windows trains the network, but its thresholds are set on continuous data "
                "(accidental triggers per second): give the recording as data.user too (or, to judge the network "
                "alone on the traces by ROC and efficiencies, use task: labelled)"
            )
        if d.user is not None:
            if not 0.0 < d.user.train_fraction < 1.0:
                raise CardError(f"{where}: data.user.train_fraction must be in (0, 1), got {d.user.train_fraction}")
            if not d.user.lfn_extent_ms > 0:
                raise CardError(f"{where}: data.user.lfn_extent_ms must be positive, got {d.user.lfn_extent_ms}")
            if (d.user.event_sample is None) != (d.user.event_kind is None):
                raise CardError(
                    f"{where}: data.user.event_sample and data.user.event_kind go together (where and what each "
                    "known event is): give both or neither"
                )

    def with_paths_from(self, folder: Path, where: str) -> Self:
        out = self
        if out.user is not None and not out.user.path.is_absolute():
            out = dataclasses.replace(out, user=dataclasses.replace(out.user, path=folder / out.user.path))
        if out.user_windows is not None and not out.user_windows.path.is_absolute():
            windows = dataclasses.replace(out.user_windows, path=folder / out.user_windows.path)
            out = dataclasses.replace(out, user_windows=windows)
        return out

    def dataset_bytes(self) -> int:
        """Windows (float32, copied twice by training), the scan's candidate rows, one stream segment's arrays."""
        from .windows import SCAN_ROW_BYTES, SCAN_ROWS_PER_SECOND, SEGMENT_SECONDS, TEST_WINDOWS_PER_SECOND

        windows = (self.n_train + TEST_WINDOWS_PER_SECOND * self.stream_seconds) * (3 * 4 * self.window + 48)
        scan = SCAN_ROWS_PER_SECOND * self.stream_seconds * SCAN_ROW_BYTES
        segment = SEGMENT_SECONDS * self.sample_rate_hz * (4 + 3 * 8)  # ADC, noise, OF words, float OF
        return int(windows + scan + segment)
