"""SuperCDMS-style phonon waveform windows: signal pulses vs low-frequency noise (LFN).

The model, and where its numbers come from (see ../shared/PHYSICS.md):

- Sampling at 625 kHz (QETpy's default ``fs``; one sample every 1.6 us).
- Signal: QETpy's two-pole template ``A (exp(-t/tau_f) - exp(-t/tau_r))`` with
  rise ~20 us and fall ~100 us (the low end of the 100-500 us fall times of
  QETpy's templates), onset at a random sample inside the window, amplitude
  log-uniform in units of the noise RMS.
- Baseline noise: drawn with ``qetpy.gen_noise`` from a two-sided PSD that is
  white above ``noise_knee_hz`` and rises as 1/f below it, normalised so the
  noise RMS is ``noise_rms_adc`` ADC counts. Traces are ``trace_length`` long
  (so frequencies well below the window's own resolution are present) and a
  window is cut from a random position.
- LFN: an explicit *model*, not data (no public LFN spectrum exists):
  band-limited Gaussian noise in ``lfn_band_hz`` (a few hundred Hz to a few kHz)
  under a Gaussian burst envelope of width ``lfn_burst_ms``, scaled so its peak
  excursion in the window is log-uniform in ``lfn_amplitude_sigma`` -- the same
  range as the signal amplitudes, so an amplitude threshold cannot separate them.
  It has no single pulse shape: every event is a new noise realisation.
- Baseline: like the hardware's running baseline, the mean of the first
  ``baseline_samples`` of each window (all before the earliest pulse onset) is
  subtracted from both classes, so a slow LFN offset alone does not give it away.
- Digitisation: rounded to ADC counts and saturated at ``adc_bits`` signed bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..card import CdmsLfnData

CLASS_NAMES = ("lfn", "signal")


@dataclass(frozen=True, kw_only=True)
class Windows:
    """Simulated windows in ADC counts with the truth kept for analysis."""

    x: np.ndarray  # (n, window) float32, integer ADC counts
    label: np.ndarray  # (n,) int8: 1 signal, 0 LFN
    amplitude_sigma: np.ndarray  # (n,) float32: pulse or LFN peak in noise-RMS units
    onset: np.ndarray  # (n,) int32: pulse onset sample (-1 for LFN)


def noise_psd(cfg: CdmsLfnData) -> np.ndarray:
    """Two-sided PSD (ADC counts^2 / Hz) of length ``trace_length``: white + 1/f below the knee."""
    freqs = np.fft.fftfreq(cfg.trace_length, d=1.0 / cfg.sample_rate_hz)
    f = np.abs(freqs)
    shape = np.ones_like(f)
    nonzero = f > 0
    shape[nonzero] += cfg.noise_knee_hz / f[nonzero]
    shape[~nonzero] = 0.0
    # variance = sum(psd) * df  (df = fs / N)  ->  scale so the RMS is noise_rms_adc
    df = cfg.sample_rate_hz / cfg.trace_length
    return shape * cfg.noise_rms_adc**2 / (shape.sum() * df)


def pulse_template(cfg: CdmsLfnData, onset: int) -> np.ndarray:
    """Unit-peak two-pole pulse starting at sample ``onset`` of the window (QETpy's template)."""
    from qetpy.utils import make_template_twopole

    t = np.arange(cfg.window) / cfg.sample_rate_hz
    return make_template_twopole(
        t,
        A=1.0,
        tau_r=cfg.rise_time_us * 1e-6,
        tau_f=cfg.fall_time_us * 1e-6,
        t0=onset / cfg.sample_rate_hz,
        fs=cfg.sample_rate_hz,
        normalize=False,
    ) / _template_peak(cfg)


def _template_peak(cfg: CdmsLfnData) -> float:
    tr, tf = cfg.rise_time_us, cfg.fall_time_us
    t_peak = tr * tf / (tf - tr) * np.log(tf / tr)
    return float(np.exp(-t_peak / tf) - np.exp(-t_peak / tr))


def _noise(cfg: CdmsLfnData, n: int, rng: np.random.Generator) -> np.ndarray:
    from qetpy import gen_noise

    traces = gen_noise(noise_psd(cfg), fs=cfg.sample_rate_hz, n_traces=n, rng=rng)
    return np.asarray(traces).reshape(n, cfg.trace_length)


def _cut(traces: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    start = rng.integers(0, traces.shape[1] - window + 1, size=traces.shape[0])
    idx = start[:, None] + np.arange(window)[None, :]
    return np.take_along_axis(traces, idx, axis=1)


def _log_uniform(rng: np.random.Generator, lo_hi: tuple[float, float], n: int) -> np.ndarray:
    lo, hi = lo_hi
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size=n))


def lfn_excursions(cfg: CdmsLfnData, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-peak LFN windows: band-limited noise bursts, each a new shape."""
    N = cfg.trace_length
    freqs = np.abs(np.fft.fftfreq(N, d=1.0 / cfg.sample_rate_hz))
    band = (freqs >= cfg.lfn_band_hz[0]) & (freqs <= cfg.lfn_band_hz[1])
    spectrum = (rng.normal(size=(n, N)) + 1j * rng.normal(size=(n, N))) * band
    traces = np.fft.ifft(spectrum, axis=1).real
    t = np.arange(N) / cfg.sample_rate_hz
    centre = rng.uniform(0.25, 0.75, size=(n, 1)) * t[-1]
    width = rng.uniform(*cfg.lfn_burst_ms, size=(n, 1)) * 1e-3
    traces *= np.exp(-0.5 * ((t[None, :] - centre) / width) ** 2)
    windows = _cut(traces, cfg.window, rng)
    peak = np.max(np.abs(windows), axis=1, keepdims=True)
    return windows / np.where(peak > 0, peak, 1.0)


def digitise(x: np.ndarray, adc_bits: int) -> np.ndarray:
    """Round to ADC counts and saturate at the ADC's signed range."""
    lo, hi = -(2 ** (adc_bits - 1)), 2 ** (adc_bits - 1) - 1
    return np.clip(np.round(x), lo, hi).astype(np.float32)


def simulate(cfg: CdmsLfnData, n: int, rng: np.random.Generator) -> Windows:
    """``n`` windows, half signal and half LFN, in random order."""
    label = rng.permutation(np.arange(n) % 2).astype(np.int8)
    n_sig = int(label.sum())
    n_lfn = n - n_sig
    x = _cut(_noise(cfg, n, rng), cfg.window, rng)
    amplitude = np.empty(n, dtype=np.float32)
    onset = np.full(n, -1, dtype=np.int32)

    sig = np.flatnonzero(label == 1)
    lo, hi = (int(round(f * cfg.window)) for f in cfg.onset_range)
    onset[sig] = rng.integers(lo, max(hi, lo + 1), size=n_sig)
    amplitude[sig] = _log_uniform(rng, cfg.signal_amplitude_sigma, n_sig)
    templates = {int(o): pulse_template(cfg, int(o)) for o in np.unique(onset[sig])}
    pulses = np.stack([templates[int(o)] for o in onset[sig]]) if n_sig else np.zeros((0, cfg.window))
    x[sig] += pulses * (amplitude[sig] * cfg.noise_rms_adc)[:, None]

    bkg = np.flatnonzero(label == 0)
    amplitude[bkg] = _log_uniform(rng, cfg.lfn_amplitude_sigma, n_lfn)
    x[bkg] += lfn_excursions(cfg, n_lfn, rng) * (amplitude[bkg] * cfg.noise_rms_adc)[:, None]

    x -= x[:, : cfg.baseline_samples].mean(axis=1, keepdims=True)
    return Windows(x=digitise(x, cfg.adc_bits), label=label, amplitude_sigma=amplitude, onset=onset)


def input_kif(cfg: CdmsLfnData) -> tuple[int, int, int]:
    """The ADC word as a fixed-point type: signed, ``adc_bits - 1`` integer bits, no fraction."""
    return 1, cfg.adc_bits - 1, 0


def description(cfg: CdmsLfnData) -> str:
    return (
        f"{cfg.window}-sample phonon windows at {cfg.sample_rate_hz / 1e3:g} kHz, {cfg.adc_bits}-bit ADC; "
        f"two-pole pulses (rise {cfg.rise_time_us:g} us, fall {cfg.fall_time_us:g} us) vs LFN bursts "
        f"({cfg.lfn_band_hz[0]:g}-{cfg.lfn_band_hz[1]:g} Hz)"
    )
