"""SuperCDMS-style phonon stream: signal pulses, low-frequency noise (LFN) and plain noise, as the trigger sees it.

The model, and where its numbers come from (sources in ``docs/physics.md``):

- Sampling at 625 kHz (QETpy's default ``fs``; one sample every 1.6 us).
- Pulses: QETpy's two-pole (``A (exp(-t/tau_f) - exp(-t/tau_r))``) or three-pole template, rise
  ~20 us, fall ~100 us (the low end of QETpy's 100-500 us), normalised to unit peak.
- Noise: drawn with ``qetpy.gen_noise`` from a two-sided PSD, white above ``noise_knee_hz`` and
  rising as 1/f below it (a measured-looking PSD), ``noise_rms_adc`` counts RMS; ``trace_length``
  samples of stream per event.
- The present trigger: QETpy's optimal filter (OF) for that template and PSD, AC-coupled, run over
  the stream as an FIR of ``of_length`` taps; its output is the pulse-amplitude estimate, here in
  units of its baseline resolution sigma_E (QETpy's ``energy_resolution``). Energies are in the
  same units, so the OF-alone trigger at threshold T turns on as an error function at E = T of
  width 1.
- Events arrive at random positions in the stream. The trigger finds the OF's peak within
  +-``peak_search_samples`` of the event and the network sees the ``window`` samples around it
  (the pulse onset a quarter into the window, give or take ``window_jitter`` samples), minus a
  running baseline: the rounded mean of the ``baseline_samples`` before the window. The network
  accepts a new window every sample, so it must not care exactly where the pulse sits.
- LFN: an explicit *model*, not data (no public LFN spectrum exists). Each episode is a new
  realisation, with no single pulse shape: a sum of eight sinusoids with random frequencies in
  ``lfn_band_hz``, amplitudes and phases under a Gaussian burst envelope of width ``lfn_burst_ms``
  near the event, or (a share ``lfn_slow_fraction``) slow excursions: the same without an
  envelope, in ``lfn_slow_band_hz``. Each is scaled so that its noise-free OF peak is
  ``lfn_of_min_sigma`` plus an exponential of mean ``lfn_of_scale_sigma`` (sigma_E units): LFN
  amplitudes overlap low-energy pulses, and a few are far above threshold.
- Digitisation: rounded to ADC counts and saturated at ``adc_bits`` signed bits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property

import numpy as np

from ...artifacts import FixedFormat
from .config import CdmsLfnData, PulseShape

CLASS_NAMES = ("background", "signal")


class EventKind(IntEnum):
    """What made each window (``Windows.kind``, the dataset's ``kind`` truth)."""

    NOISE = 0
    LFN = 1
    SIGNAL = 2


CHUNK = 2000
SINUSOIDS = 8


def noise_psd(cfg: CdmsLfnData, n: int | None = None) -> np.ndarray:
    """Two-sided PSD (ADC counts^2 / Hz) over ``n`` bins (default ``trace_length``): white + 1/f below the knee."""
    n = cfg.trace_length if n is None else n
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


@dataclass(frozen=True, kw_only=True)
class Windows:
    """The network's windows (ADC counts, baseline subtracted) with the truth kept for analysis."""

    x: np.ndarray  # (n, window) float32, integer ADC counts
    label: np.ndarray  # (n,) int8: 1 signal, 0 background (LFN or noise)
    kind: np.ndarray  # (n,) int8: EventKind
    energy_sigma: np.ndarray  # (n,) float32: pulse energy in sigma_E (NaN for background)
    of_peak_sigma: np.ndarray  # (n,) float32: the OF's peak near the event, sigma_E units
    onset: np.ndarray  # (n,) int32: pulse onset sample in the window (-1 for background)


@dataclass(frozen=True)
class Geometry:
    """Where things sit in each event's stretch of stream."""

    cfg: CdmsLfnData
    of_onset: int

    @property
    def pre(self) -> int:
        """The onset's nominal sample in the window."""
        return self.cfg.window // 4

    @cached_property
    def anchors(self) -> tuple[int, int]:
        """The range of event positions for which search, window and baseline stay inside the stream."""
        c = self.cfg
        r, j = c.peak_search_samples, c.window_jitter
        lo = max(self.of_onset + r, c.baseline_samples + self.pre + j + r)
        hi = min(c.trace_length - c.of_length + self.of_onset - r, c.trace_length - c.window + self.pre - j - r)
        return lo, hi


def _sinusoids(band: tuple[float, float], n: int, length: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` sums of random sinusoids in ``band`` (Hz): smooth, band-limited, each a new shape."""
    t = np.arange(length) / fs
    freq = rng.uniform(*band, size=(n, SINUSOIDS, 1))
    amp = rng.rayleigh(size=(n, SINUSOIDS, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, SINUSOIDS, 1))
    return (amp * np.sin(2 * np.pi * freq * t[None, None, :] + phase)).sum(axis=1)


def lfn_shapes(cfg: CdmsLfnData, anchors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unscaled LFN episodes near each anchor sample: bursts, or (``lfn_slow_fraction``) slow excursions."""
    n, length, fs = len(anchors), cfg.trace_length, cfg.sample_rate_hz
    slow = rng.random(n) < cfg.lfn_slow_fraction
    out = _sinusoids(cfg.lfn_band_hz, n, length, fs, rng)
    out[slow] = _sinusoids(cfg.lfn_slow_band_hz, int(slow.sum()), length, fs, rng)
    centre = anchors + rng.uniform(-cfg.window / 2, cfg.window / 2, size=n)
    width = rng.uniform(*cfg.lfn_burst_ms, size=n) * 1e-3 * fs
    envelope = np.exp(-0.5 * ((np.arange(length)[None, :] - centre[:, None]) / width[:, None]) ** 2)
    return np.where(slow[:, None], out, out * envelope)


def digitise(x: np.ndarray, adc_bits: int) -> np.ndarray:
    """Round to ADC counts and saturate at the ADC's signed range."""
    lo, hi = -(2 ** (adc_bits - 1)), 2 ** (adc_bits - 1) - 1
    return np.clip(np.round(x), lo, hi).astype(np.float32)


def _gen_noise(cfg: CdmsLfnData, n: int, rng: np.random.Generator) -> np.ndarray:
    from qetpy import gen_noise

    return np.asarray(gen_noise(noise_psd(cfg), fs=cfg.sample_rate_hz, n_traces=n, rng=rng)).reshape(n, -1)


def _search(y: np.ndarray, centre: np.ndarray, r: int) -> np.ndarray:
    """Index of each row's maximum of ``y`` within ``centre`` +- ``r``."""
    idx = centre[:, None] + np.arange(-r, r + 1)[None, :]
    return idx[np.arange(len(y)), np.take_along_axis(y, idx, axis=1).argmax(axis=1)]


def _chunk(cfg: CdmsLfnData, of: OptimalFilter, geo: Geometry, kind, energy, anchor, rng) -> tuple[np.ndarray, ...]:
    n = len(kind)
    r = cfg.peak_search_samples
    x = _gen_noise(cfg, n, rng)
    sig = np.flatnonzero(kind == EventKind.SIGNAL)
    x[sig] += pulse_templates(cfg, cfg.trace_length, anchor[sig]) * (energy[sig] * of.resolution)[:, None]
    lfn = np.flatnonzero(kind == EventKind.LFN)
    if lfn.size:
        shapes = lfn_shapes(cfg, anchor[lfn], rng)
        y = of.apply(shapes)
        centre = anchor[lfn] - of.onset
        idx = centre[:, None] + np.arange(-r, r + 1)[None, :]
        near = np.take_along_axis(y, idx, axis=1)
        up, down = near.max(axis=1), -near.min(axis=1)
        sign = np.where(up >= down, 1.0, -1.0)  # the trigger looks for positive peaks: turn the larger one up
        target = cfg.lfn_of_min_sigma + rng.exponential(cfg.lfn_of_scale_sigma, size=lfn.size)
        x[lfn] += shapes * (sign * target * of.resolution / np.maximum(up, down))[:, None]
    x = digitise(x, cfg.adc_bits).astype(np.float64)
    y = of.apply(x) / of.resolution
    peak_at = _search(y, anchor - of.onset, r)
    of_peak = y[np.arange(n), peak_at]
    start = peak_at + of.onset - geo.pre + rng.integers(-cfg.window_jitter, cfg.window_jitter + 1, size=n)
    rows = np.arange(n)[:, None]
    window = x[rows, start[:, None] + np.arange(cfg.window)[None, :]]
    baseline = x[rows, start[:, None] + np.arange(-cfg.baseline_samples, 0)[None, :]].mean(axis=1)
    window = digitise(window - np.round(baseline)[:, None], cfg.adc_bits)
    onset = np.where(kind == EventKind.SIGNAL, anchor - start, -1)
    return window, of_peak, onset


def simulate(cfg: CdmsLfnData, n: int, rng: np.random.Generator, *, progress=None) -> Windows:
    """``n`` events: signal, LFN and noise in the card's shares, each at a random position in its stream."""
    of = OptimalFilter.build(cfg)
    geo = Geometry(cfg, of.onset)
    p_noise, p_sig = cfg.noise_fraction, cfg.signal_fraction
    kind = rng.choice(
        [EventKind.NOISE, EventKind.LFN, EventKind.SIGNAL], size=n, p=[p_noise, 1 - p_noise - p_sig, p_sig]
    )
    kind = kind.astype(np.int8)
    energy = np.where(kind == EventKind.SIGNAL, rng.uniform(*cfg.energy_range_sigma, size=n), np.nan)
    lo, hi = geo.anchors
    anchor = rng.integers(lo, hi + 1, size=n)
    x = np.empty((n, cfg.window), dtype=np.float32)
    of_peak = np.empty(n)
    onset = np.empty(n, dtype=np.int32)
    for s in range(0, n, CHUNK):
        sl = slice(s, min(s + CHUNK, n))
        x[sl], of_peak[sl], onset[sl] = _chunk(cfg, of, geo, kind[sl], energy[sl], anchor[sl], rng)
        if progress is not None:
            progress(sl.stop, n)
    return Windows(
        x=x,
        label=(kind == EventKind.SIGNAL).astype(np.int8),
        kind=kind,
        energy_sigma=energy.astype(np.float32),
        of_peak_sigma=of_peak.astype(np.float32),
        onset=onset,
    )


def input_format(cfg: CdmsLfnData) -> FixedFormat:
    """The ADC word as a fixed-point type: signed, ``adc_bits - 1`` integer bits, no fraction."""
    return FixedFormat(1, cfg.adc_bits - 1, 0)


def description(cfg: CdmsLfnData) -> str:
    return (
        f"{cfg.window}-sample phonon windows at {cfg.sample_rate_hz / 1e3:g} kHz around each optimal-filter peak, "
        f"{cfg.adc_bits}-bit ADC; {cfg.pulse_shape.value} pulses (rise {cfg.rise_time_us:g} us, fall "
        f"{cfg.fall_time_us:g} us) vs LFN ({cfg.lfn_band_hz[0]:g}-{cfg.lfn_band_hz[1]:g} Hz bursts, "
        f"{cfg.lfn_slow_band_hz[0]:g}-{cfg.lfn_slow_band_hz[1]:g} Hz excursions) and noise"
    )
