"""SuperCDMS-style phonon stream: signal pulses, low-frequency noise (LFN) and plain noise, as the trigger sees it.

The model, and where its numbers come from (sources in ``docs/physics.md``):

- Sampling at 625 kHz (QETpy's default ``fs``; one sample every 1.6 us).
- Pulses: QETpy's two-pole (``A (exp(-t/tau_f) - exp(-t/tau_r))``) or three-pole template, rise
  ~20 us, fall ~100 us (the low end of QETpy's 100-500 us), normalised to unit peak.
- Noise: a two-sided PSD, white above ``noise_knee_hz`` and rising as 1/f below it (a
  measured-looking PSD), ``noise_rms_adc`` counts RMS over a ``trace_length``-sample grid; the
  stream draws it continuously (``stream.stream_noise``).
- The present trigger: QETpy's optimal filter (OF) for that template and PSD, AC-coupled, run over
  the stream as an FIR of ``of_length`` taps; its output is the pulse-amplitude estimate, here in
  units of its baseline resolution sigma_E (QETpy's ``energy_resolution``). Energies are in the
  same units, so the OF-alone trigger at threshold T turns on as an error function at E = T of
  width 1.
- LFN: an explicit *model*, not data (no public LFN spectrum exists). Each episode is a new
  realisation, with no single pulse shape: a sum of eight sinusoids with random frequencies in
  ``lfn_band_hz``, amplitudes and phases under a Gaussian burst envelope of width ``lfn_burst_ms``
  (a share ``lfn_slow_fraction``: slow excursions in ``lfn_slow_band_hz`` of width ``lfn_slow_ms``;
  ``stream.LfnEpisodes``). Each is scaled so that its largest noise-free OF excursion is
  ``lfn_of_min_sigma`` plus an exponential of mean ``lfn_of_scale_sigma`` (sigma_E units): LFN
  amplitudes overlap low-energy pulses, and a few are far above threshold.
- Digitisation: rounded to ADC counts and saturated at ``adc_bits`` signed bits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from ...artifacts import FixedFormat
from .config import CdmsLfnData, PulseShape

CLASS_NAMES = ("background", "signal")


class EventKind(IntEnum):
    """What made each window (``Windows.kind``, the dataset's ``kind`` truth)."""

    NOISE = 0
    LFN = 1
    SIGNAL = 2


SINUSOIDS = 8


def noise_psd(cfg: CdmsLfnData, n: int | None = None) -> np.ndarray:
    """Two-sided PSD (ADC counts^2 / Hz) over ``n`` bins (default ``trace_length``): white + 1/f below the knee,
    or, for a recording (``data.user``), measured on it (``recorded.MeasuredNoise``)."""
    n = cfg.trace_length if n is None else n
    if cfg.user is not None:  # a recording's: measured on it
        from .recorded import noise

        return noise(cfg).psd(n)
    f = np.abs(np.fft.fftfreq(n, d=1.0 / cfg.sample_rate_hz))
    shape = np.ones_like(f)
    nonzero = f > 0
    shape[nonzero] += cfg.noise_knee_hz / f[nonzero]
    shape[~nonzero] = 0.0
    # variance = sum(psd) * df  (df = fs / n)  ->  scale so the RMS is noise_rms_adc
    return shape * cfg.noise_rms_adc**2 / (shape.sum() * cfg.sample_rate_hz / n)


def _template_fn(cfg: CdmsLfnData) -> Callable[[np.ndarray], np.ndarray]:
    """The pulse (peak not yet 1) as a function of time since onset, from QETpy's template functions."""
    from qetpy.utils import make_template_threepole, make_template_twopole

    tr, tf = cfg.rise_time_us * 1e-6, cfg.fall_time_us * 1e-6
    if cfg.pulse_shape is PulseShape.TWOPOLE:
        return lambda t: make_template_twopole(t, A=1.0, tau_r=tr, tau_f=tf, t0=0.0, fs=cfg.sample_rate_hz,
                                               normalize=False)  # fmt: skip
    b = cfg.fall2_fraction
    return lambda t: make_template_threepole(t, 1.0 - b, b, tr, tf, cfg.fall_time2_us * 1e-6, t0=0.0,
                                             fs=cfg.sample_rate_hz, normalize=False)  # fmt: skip


def template_peak(cfg: CdmsLfnData) -> float:
    """The pulse's true maximum (between samples), from a fine time grid."""
    longest = max(cfg.fall_time_us, cfg.fall_time2_us) * 1e-6
    t = np.linspace(0.0, 3.0 * longest, 200001)
    return float(np.max(_template_fn(cfg)(t)))


def pulse_templates(cfg: CdmsLfnData, n: int, onsets: np.ndarray) -> np.ndarray:
    """Unit-peak pulses of ``n`` samples, one starting at each sample of ``onsets`` (zero before it)."""
    onsets = np.asarray(onsets, dtype=np.int64)
    t = np.arange(-n, n) / cfg.sample_rate_hz  # one pulse with its onset at sample n, sliced for every onset
    bank = np.zeros(2 * n)
    bank[n:] = _template_fn(cfg)(t[n:]) / template_peak(cfg)
    return bank[(n - onsets)[:, None] + np.arange(n)[None, :]]


def pulse_template(cfg: CdmsLfnData, n: int, onset: int) -> np.ndarray:
    """Unit-peak pulse of ``n`` samples starting at sample ``onset`` (zero before it)."""
    return pulse_templates(cfg, n, np.array([onset]))[0]


@dataclass(frozen=True)
class OptimalFilter:
    """The OF as the FPGA runs it: an FIR whose output at ``t`` is the amplitude of a pulse starting at ``t + onset``.

    Built from QETpy's ``OptimumFilter`` (template, PSD, AC coupling); ``resolution`` is its
    baseline resolution in ADC counts of pulse peak.
    """

    kernel: np.ndarray
    onset: int
    resolution: float

    @classmethod
    def build(cls, cfg: CdmsLfnData) -> OptimalFilter:
        from qetpy import OptimumFilter

        n = cfg.of_length
        onset = n // 8
        template = pulse_template(cfg, n, onset)
        of = OptimumFilter(template, template, noise_psd(cfg, n), cfg.sample_rate_hz, coupling="AC")
        # QETpy's amplitude at delay d is sum_m g[m] x[m + d] with g[m] = Re(ifft(phi))[-m] / norm
        g = np.real(np.fft.ifft(of.phi))[(-np.arange(n)) % n] / of.norm
        return cls(kernel=g, onset=onset, resolution=float(of.energy_resolution()))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Amplitude estimates (ADC counts) for every start ``t`` in [0, T - taps] of streams ``x`` (n, T)."""
        from scipy.signal import fftconvolve

        return fftconvolve(np.atleast_2d(x), self.kernel[None, ::-1], mode="valid", axes=1)


def digitise(x: np.ndarray, adc_bits: int) -> np.ndarray:
    """Round to ADC counts and saturate at the ADC's signed range."""
    lo, hi = -(2 ** (adc_bits - 1)), 2 ** (adc_bits - 1) - 1
    return np.clip(np.round(x), lo, hi).astype(np.float32)


def input_format(cfg: CdmsLfnData) -> FixedFormat:
    """The ADC word as a fixed-point type: signed, ``adc_bits - 1`` integer bits, no fraction."""
    return FixedFormat(1, cfg.adc_bits - 1, 0)


def description(cfg: CdmsLfnData) -> str:
    return (
        f"continuous {cfg.adc_bits}-bit phonon streams at {cfg.sample_rate_hz / 1e3:g} kHz; the network sees the "
        f"{cfg.window} samples and the amplitude the {cfg.of_length}-tap optimal filter's candidate logic presents at "
        "each peak; "
        f"{cfg.pulse_shape.value} pulses (rise {cfg.rise_time_us:g} us, fall "
        f"{cfg.fall_time_us:g} us) vs LFN ({cfg.lfn_band_hz[0]:g}-{cfg.lfn_band_hz[1]:g} Hz bursts, "
        f"{cfg.lfn_slow_band_hz[0]:g}-{cfg.lfn_slow_band_hz[1]:g} Hz excursions) and noise"
    )
