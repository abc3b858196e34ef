"""The card's ``data:`` section of the ``cdms_lfn`` task, its defaults and its checks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ...errors import CardError
from ..protocol import TaskData


class PulseShape(StrEnum):
    TWOPOLE = "twopole"
    THREEPOLE = "threepole"


@dataclass(frozen=True, kw_only=True)
class CdmsLfnData(TaskData):
    """SuperCDMS-style phonon stream at 625 kHz: signal pulses, low-frequency noise (LFN) and plain noise.

    The trigger is an optimal filter (OF, an FIR of ``of_length`` taps) with an amplitude threshold;
    the network sees the ``window`` samples around each OF peak. Energies are in units of the OF's
    baseline resolution sigma_E (multiply by a detector's sigma_E in eV). The LFN is a model; its
    parameters are here. See ``tasks/cdms/simulation.py``.
    """

    n_train: int = 30000
    n_test: int = 12000
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
    peak_search_samples: int = 16
    window_jitter: int = 4
    signal_fraction: float = 0.5
    noise_fraction: float = 0.1
    energy_range_sigma: tuple[float, float] = (0.5, 15.0)
    lfn_band_hz: tuple[float, float] = (300.0, 3000.0)
    lfn_burst_ms: tuple[float, float] = (0.2, 2.0)
    lfn_slow_fraction: float = 0.3
    lfn_slow_band_hz: tuple[float, float] = (20.0, 300.0)
    lfn_of_min_sigma: float = 1.5
    lfn_of_scale_sigma: float = 2.0
    lfn_pass_target: float = 0.05
    of_threshold_floor_sigma: float = 4.0
    min_plateau_efficiency: float = 0.95

    def validate(self, where: str) -> None:
        d = self
        for key in ("n_train", "n_test"):
            if getattr(d, key) < 10:
                raise CardError(f"{where}: data.{key} must be at least 10")
        if d.lfn_of_min_sigma < 0:
            raise CardError(f"{where}: data.lfn_of_min_sigma must not be negative, got {d.lfn_of_min_sigma}")
        if not 2 <= d.adc_bits <= 24:
            raise CardError(f"{where}: data.adc_bits must be in [2, 24] (da4ml buses take words up to 32 bits)")
        for key in (
            "rise_time_us",
            "fall_time_us",
            "fall_time2_us",
            "noise_rms_adc",
            "noise_knee_hz",
            "sample_rate_hz",
            "lfn_of_scale_sigma",
            "of_threshold_floor_sigma",
        ):
            if getattr(d, key) <= 0:
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
        for key in ("energy_range_sigma", "lfn_band_hz", "lfn_burst_ms", "lfn_slow_band_hz"):
            lo, hi = getattr(d, key)
            if not 0 < lo <= hi:
                raise CardError(f"{where}: data.{key} must be [low, high] with 0 < low <= high, got {[lo, hi]}")
        for key in (
            "fall2_fraction",
            "lfn_slow_fraction",
            "signal_fraction",
            "noise_fraction",
            "min_plateau_efficiency",
        ):
            if not 0.0 <= getattr(d, key) <= 1.0:
                raise CardError(f"{where}: data.{key} must be in [0, 1]")
        if d.signal_fraction + d.noise_fraction >= 1.0 or d.signal_fraction == 0:
            raise CardError(
                f"{where}: data.signal_fraction + data.noise_fraction must leave room for LFN (sum < 1), and "
                "signal_fraction must be positive"
            )
        if not 0.0 < d.lfn_pass_target < 1.0:
            raise CardError(f"{where}: data.lfn_pass_target must be in (0, 1), got {d.lfn_pass_target}")
        if d.window < 8 or d.of_length < 8 or min(d.baseline_samples, d.peak_search_samples, d.window_jitter) < 0:
            raise CardError(f"{where}: data.window and data.of_length must be at least 8; sample counts not negative")
        if d.baseline_samples < 1:
            raise CardError(f"{where}: data.baseline_samples must be at least 1")
        margin = d.baseline_samples + 2 * (d.peak_search_samples + d.window_jitter)
        if d.trace_length < d.of_length + d.window + margin:
            raise CardError(
                f"{where}: data.trace_length ({d.trace_length}) must hold the OF ({d.of_length}), the window "
                f"({d.window}) and the baseline, search and jitter margins ({margin}): at least "
                f"{d.of_length + d.window + margin}"
            )

    def dataset_bytes(self) -> int:
        """Windows (float32) read once and copied twice by training, the truth, and one chunk's streams (float64)."""
        from .simulation import CHUNK, SINUSOIDS

        per_event = 3 * 4 * self.window + 48
        working = CHUNK * self.trace_length * 8 * (SINUSOIDS + 4)  # noise, pulses, LFN sinusoids, OF output
        return (self.n_train + self.n_test) * per_event + working
