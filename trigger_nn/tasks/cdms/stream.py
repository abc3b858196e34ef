"""Continuous SuperCDMS-style phonon streams, the optimal-filter (OF) trigger run over them, and its accidental rates.

``simulation.py`` holds the models (pulse template, noise PSD, OF, LFN amplitudes). A trigger is judged on
continuous data, by its threshold at a given accidental-trigger rate in Hz (Wilson et al., JINST 17
P07010, arXiv:2204.13002; ``docs/physics.md``). This module makes such streams from the same model
(``CdmsLfnData``: sampling rate, noise PSD, pulse template, OF, LFN model, ADC) and measures rates.

The stream
    Gaussian noise with the task's PSD at every frequency, made in chunks by one long noise-shaping
    FIR (so chunks join without seams; a 20 s stream at 625 kHz, 12.5 M samples, is 50 MB of float32
    plus one chunk's working arrays, its OF output 100 MB of float64); signal pulses and LFN episodes
    at Poisson arrival times (rates in Hz); digitised (``simulation.digitise``).
    Pulses start on whole samples, so the noise-free OF peak of a
    pulse is its energy.

The OF as the FPGA runs it
    The FIR of ``OptimalFilter.kernel`` (``of_length`` taps), causal: the output at sample ``k`` uses
    the ADC samples ``k - of_length + 1 .. k`` and estimates the amplitude of a pulse that started at
    ``k - of_length + 1 + OptimalFilter.onset``. One output per sample, in units of sigma_E (QETpy's
    resolution). The delay line starts empty (zeros), so the first ``of_length - 1`` outputs are not
    used (``settle_samples``).

The candidate logic, as an FPGA would implement it (one comparator, an edge detector, a hold counter,
a running-maximum register):

1. Armed, a candidate starts at sample ``c`` where the output crosses the threshold upward:
   ``y[c - 1] < T <= y[c]``.
2. Hold: for ``hold`` samples (``c .. c + hold - 1``) the running maximum and its sample are kept; at
   the end of the hold the candidate (peak sample, peak value) is emitted.
3. Re-arm: after the hold, the logic re-arms at the first sample where the output is below the
   threshold; the next candidate needs a new upward crossing. Dead time = max(hold, time above T).

Why re-arm on "below threshold" and not after a fixed N samples: a pulse's OF output stays above
threshold for a time that grows with its energy, so a fixed N would either re-trigger on large
pulses or be long for all of them; re-arming below threshold fires once per excursion whatever its
length, and at rare excursions it counts exactly the upward crossings that Rice's formula predicts.
Why ``hold = 64`` samples (102.4 us, an assumption checked here): for the default card the OF's
response to a pulse rises from 0.1 % of its peak to the peak in 49 samples, so the hold holds the
true peak for pulses up to ~1000 times the threshold.

Matching candidates to the truth (``match``): the candidate's onset estimate (peak sample minus the
OF's delay) within ``window`` (32 samples, an assumption: half the hold, wider than the OF's timing
spread at threshold) of a signal's onset makes it that signal's; otherwise a candidate whose FIR
input span overlaps an LFN episode's extent (its envelope's centre +- 3 widths, an assumption) is
LFN; otherwise noise. Signals win over LFN where both match.

Rice's formula (``rice_rate``) gives the rate of upward crossings of the OF's output from its PSD
(``of_output_psd``); ``sampled_crossing_rate`` is the same count for the output as it is sampled
(one value per ADC sample), which is what the FPGA compares. For the default card the two differ by
8 % (Rice higher), and the candidate rate is lower again: the 256-tap OF's end taps are not zero,
so its output carries a small (0.5 % of the variance) broadband ripple that holds half of the
integral of f^2 S(f) (above 40 kHz). Rice's nu0 (9.3 kHz) is largely that ripple's, the samples
miss some of its crossings, and near threshold it makes clusters of crossings a few samples apart,
which the hold merges into one candidate (at 3 sigma_E: 1.00 : 0.92 : 0.78, Rice : sampled
crossings : candidates, measured on 20 s in ``tests/test_cdms_stream.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ...errors import CardError
from .config import CdmsLfnData
from .simulation import SINUSOIDS, EventKind, OptimalFilter, digitise, noise_psd, pulse_template

CHUNK_SAMPLES = 2**20  # 1.68 s at 625 kHz: ~8 MB of float64 per working array
NOISE_FIR_TAPS = 2**16  # 105 ms: resolves the PSD to 9.5 Hz; Hann-tapered, within 1 % of it above 50 Hz
HOLD_SAMPLES = 64  # assumption: see the module docstring
MATCH_SAMPLES = 32  # assumption: see the module docstring
LFN_EXTENT_WIDTHS = 3.0  # assumption: an LFN episode matches candidates within +- 3 envelope widths
LFN_SUPPORT_WIDTHS = 5.0  # an episode is added within +- 5 widths (its envelope there is 4e-6 of its peak)
PULSE_FALL_TIMES = 12.0  # a pulse is added for 12 of its longest fall times (its tail there is 6e-6 of peak)
CONFIDENCE = 0.6827  # the "1 sigma" central interval of the Poisson rates


@dataclass(frozen=True, kw_only=True)
class StreamConfig:
    """A continuous stream: its length, the Poisson rates of pulses and LFN episodes, the pulse spectrum.

    ``data`` is the card's section: the noise, pulse, OF and LFN models come from it. The rates are
    the stream's (the measurement stream takes the card's ``lfn_rate_hz``, an assumption: no public
    SuperCDMS LFN rate exists). ``energy_range_sigma`` (pulse energies, uniform, in sigma_E) defaults
    to the card's. Where the card names a recording (``data.user``), the stream is ``part`` of it, in
    segments of ``seconds``, with pulses injected at ``signal_rate_hz`` (``recorded.py``); ``lfn_rate_hz``
    is then the recording's own, whatever it is.
    """

    data: CdmsLfnData
    seconds: float = 20.0
    signal_rate_hz: float = 1.0
    lfn_rate_hz: float = 1.0
    energy_range_sigma: tuple[float, float] | None = None
    seed: int = 0
    part: Literal["train", "measure"] = "measure"

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise CardError(f"stream: seconds must be positive, got {self.seconds}")
        for key in ("signal_rate_hz", "lfn_rate_hz"):
            if getattr(self, key) < 0:
                raise CardError(f"stream: {key} must not be negative, got {getattr(self, key)}")
        for key in ("energies",):
            lo, hi = getattr(self, key)
            if not 0 < lo <= hi:
                raise CardError(f"stream: {key} must be [low, high] with 0 < low <= high, got {[lo, hi]}")

    @property
    def energies(self) -> tuple[float, float]:
        """The pulse-energy range in sigma_E (the card's unless given)."""
        return self.data.energy_range_sigma if self.energy_range_sigma is None else self.energy_range_sigma

    @property
    def n_samples(self) -> int:
        return int(round(self.seconds * self.data.sample_rate_hz))


@dataclass(frozen=True, kw_only=True)
class Truth:
    """What was put into the stream, sorted by ``sample``."""

    sample: np.ndarray  # int64: a pulse's onset sample, an LFN episode's envelope centre
    kind: np.ndarray  # int8: EventKind (SIGNAL or LFN)
    energy_sigma: np.ndarray  # pulse energy in sigma_E; NaN for LFN
    of_peak_sigma: np.ndarray  # the noise-free OF peak: the energy for pulses, the drawn target for LFN
    width_samples: np.ndarray  # an LFN episode's envelope width (Gaussian sigma); 0 for pulses
    injected: np.ndarray | None = None  # bool: put in by us; False for a recording's own events; None: all were

    @property
    def efficiency_pulses(self) -> np.ndarray:
        """Indices of the pulses of known energy (simulated, injected, or a recording's with an energy), which
        turn-on curves count."""
        mask = self.kind == EventKind.SIGNAL
        if self.injected is not None:
            mask &= self.injected | np.isfinite(self.energy_sigma)
        return np.flatnonzero(mask)


@dataclass(frozen=True, kw_only=True)
class Stream:
    """A digitised stream (ADC counts, float32 holding integers) and its truth."""

    config: StreamConfig
    adc: np.ndarray
    truth: Truth

    @property
    def seconds(self) -> float:
        return len(self.adc) / self.config.data.sample_rate_hz


# -- noise -------------------------------------------------------------------------------------------------------


def noise_density(cfg: CdmsLfnData, freqs: np.ndarray) -> np.ndarray:
    """The task's two-sided noise PSD (ADC counts^2 / Hz) at any frequencies: white + 1/f below the knee, 0 at DC.

    ``noise_psd`` gives it on an n-bin grid scaled so a trace of n samples has RMS ``noise_rms_adc``,
    so its level depends (slightly) on n. A stream needs one density: that of the ``trace_length``
    grid, the one QETpy's OF (``simulation.OptimalFilter``) is built on, so sigma_E means the same in both.
    A recording's (``data.user``) is measured on it (``recorded.MeasuredNoise``).
    """
    if cfg.user is not None:
        from .recorded import noise

        return noise(cfg).density(freqs)
    f1 = cfg.sample_rate_hz / cfg.trace_length
    white = noise_psd(cfg)[1] / (1.0 + cfg.noise_knee_hz / f1)
    f = np.abs(np.asarray(freqs, dtype=np.float64))
    out = np.zeros_like(f)
    nonzero = f > 0
    out[nonzero] = white * (1.0 + cfg.noise_knee_hz / f[nonzero])
    return out


def input_psd(cfg: CdmsLfnData, freqs: np.ndarray, *, digitised: bool = True) -> np.ndarray:
    """Two-sided PSD of the stream as the OF sees it: the noise, plus the ADC's rounding if ``digitised``.

    Rounding to whole counts adds white noise of variance 1/12 count^2 (the usual model; good when the
    noise RMS, here 2 counts, is above one count): 2 % of the white level for the default card.
    """
    psd = noise_density(cfg, freqs)
    rounding = digitised and cfg.user is None  # a recording's measured PSD holds its rounding already
    return psd + 1.0 / (12.0 * cfg.sample_rate_hz) if rounding else psd


def noise_shaping_filter(cfg: CdmsLfnData, taps: int = NOISE_FIR_TAPS) -> np.ndarray:
    """FIR that turns unit white noise into noise of PSD ``noise_density``: |H(f)|^2 = PSD(f) * fs.

    Frequency-sampled on a ``taps`` grid, centred and Hann-tapered (the 1/f part's response decays
    slowly; the taper keeps the PSD within 1 % of the model above 50 Hz, 0.05 % above 300 Hz, where
    the default OF keeps 99 % of its output noise).
    """
    f = np.fft.rfftfreq(taps, d=1.0 / cfg.sample_rate_hz)
    h = np.fft.fftshift(np.fft.irfft(np.sqrt(noise_density(cfg, f) * cfg.sample_rate_hz), taps))
    return h * np.hanning(taps)


def noise_autocovariance(cfg: CdmsLfnData, n: int, *, digitised: bool = True) -> np.ndarray:
    """The stream noise's autocovariance (ADC counts^2) at lags ``0 .. n - 1``: that of ``noise_shaping_filter``.

    Exact for the simulated stream (unit white noise through that FIR: the FIR's autocorrelation), plus
    the ADC's rounding (1/12 count^2 at lag 0) if ``digitised``. ``scipy.linalg.toeplitz`` of it is the
    covariance of any ``n`` consecutive samples, which the pulse-shape vetoes weight their residuals by.
    A recording's (``data.user``) is measured on it, rounding included (``recorded.MeasuredNoise``).
    """
    if cfg.user is not None:
        from .recorded import noise

        return noise(cfg).autocovariance(n)
    h = noise_shaping_filter(cfg)
    n_fft = 2 ** int(np.ceil(np.log2(2 * len(h))))
    acov = np.fft.irfft(np.abs(np.fft.rfft(h, n_fft)) ** 2, n_fft)[:n]
    if digitised:
        acov[0] += 1.0 / 12.0
    return acov


def stream_noise(cfg: CdmsLfnData, n_samples: int, rng: np.random.Generator, *, chunk: int = CHUNK_SAMPLES
                 ) -> Iterator[np.ndarray]:  # fmt: skip
    """Continuous Gaussian noise in chunks of ``chunk`` samples (the last shorter): white noise through one FIR.

    Each chunk carries the previous chunk's last ``taps - 1`` white samples, so the stream is one
    stationary process whatever the chunking.
    """
    from scipy.signal import fftconvolve

    h = noise_shaping_filter(cfg)
    white = rng.standard_normal(len(h) - 1)
    for start in range(0, n_samples, chunk):
        n = min(chunk, n_samples - start)
        white = np.concatenate([white[len(white) - (len(h) - 1) :], rng.standard_normal(n)])
        yield fftconvolve(white, h, mode="valid")


# -- LFN episodes -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LfnEpisodes:
    """LFN episodes as parameters, so any stretch of one can be drawn in any chunk.

    The model of ``simulation.py`` (a sum of ``SINUSOIDS`` sinusoids, frequencies uniform in the
    band, Rayleigh amplitudes, uniform phases; a share ``lfn_slow_fraction`` in the slow band). Every
    episode has a Gaussian envelope (so it starts and stops smoothly): bursts of width ``lfn_burst_ms``,
    slow excursions of width ``lfn_slow_ms`` (an assumption: the card's default 1-10 ms).
    """

    centre: np.ndarray  # (n,) int64 sample
    width: np.ndarray  # (n,) envelope sigma in samples
    freq: np.ndarray  # (n, SINUSOIDS) Hz
    amp: np.ndarray  # (n, SINUSOIDS)
    phase: np.ndarray  # (n, SINUSOIDS)
    scale: np.ndarray  # (n,) ADC counts per unit of the sum above (signed: the larger OF excursion is positive)
    target_sigma: np.ndarray  # (n,) the episode's largest noise-free OF excursion, sigma_E

    @property
    def start(self) -> np.ndarray:
        return self.centre - np.ceil(LFN_SUPPORT_WIDTHS * self.width).astype(np.int64)

    @property
    def stop(self) -> np.ndarray:
        return self.centre + np.ceil(LFN_SUPPORT_WIDTHS * self.width).astype(np.int64) + 1

    def waveform(self, i: int, lo: int, hi: int, fs: float, *, scaled: bool = True) -> np.ndarray:
        """Episode ``i`` at stream samples ``lo .. hi - 1`` (ADC counts if ``scaled``)."""
        k = np.arange(lo, hi, dtype=np.float64) - self.centre[i]
        carrier = self.amp[i] @ np.sin(2 * np.pi * self.freq[i][:, None] * (k / fs)[None, :] + self.phase[i][:, None])
        out = carrier * np.exp(-0.5 * (k / self.width[i]) ** 2)
        return out * self.scale[i] if scaled else out

    @classmethod
    def draw(cls, config: StreamConfig, of: OptimalFilter, centre: np.ndarray, rng: np.random.Generator
             ) -> LfnEpisodes:  # fmt: skip
        """Episodes at ``centre``, each scaled so its largest noise-free OF excursion is the card's amplitude draw.

        The target is ``lfn_of_min_sigma`` + exponential(``lfn_of_scale_sigma``), the largest OF excursion
        over the whole episode, its sign chosen so the larger excursion is upward.
        """
        from scipy.signal import fftconvolve

        cfg, fs, n = config.data, config.data.sample_rate_hz, len(centre)
        slow = rng.random(n) < cfg.lfn_slow_fraction
        band = np.where(slow[:, None], cfg.lfn_slow_band_hz, cfg.lfn_band_hz)  # (n, 2)
        ms = np.where(slow, rng.uniform(*cfg.lfn_slow_ms, size=n), rng.uniform(*cfg.lfn_burst_ms, size=n))
        episodes = cls(
            centre=np.asarray(centre, dtype=np.int64),
            width=ms * 1e-3 * fs,
            freq=rng.uniform(band[:, :1], band[:, 1:], size=(n, SINUSOIDS)),
            amp=rng.rayleigh(size=(n, SINUSOIDS)),
            phase=rng.uniform(0, 2 * np.pi, size=(n, SINUSOIDS)),
            scale=np.zeros(n),
            target_sigma=cfg.lfn_of_min_sigma + rng.exponential(cfg.lfn_of_scale_sigma, size=n),
        )
        for i, (lo, hi) in enumerate(zip(episodes.start, episodes.stop, strict=True)):
            y = fftconvolve(episodes.waveform(i, lo, hi, fs, scaled=False), of.kernel[::-1], mode="full")
            up, down = y.max(), -y.min()
            episodes.scale[i] = (1.0 if up >= down else -1.0) * episodes.target_sigma[i] * of.resolution / max(up, down)
        return episodes


# -- the stream ---------------------------------------------------------------------------------------------------


def arrivals(rate_hz: float, n_samples: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson arrival samples: a Poisson count, uniform times (the same process), sorted."""
    count = rng.poisson(rate_hz * n_samples / fs)
    return np.sort(np.floor(rng.uniform(0, n_samples, size=count)).astype(np.int64))


def simulate_stream(config: StreamConfig, *, chunk: int = CHUNK_SAMPLES) -> Stream:
    """A digitised continuous stream: noise, pulses and LFN episodes at Poisson times, and its truth.

    Noise, pulses and LFN draw from separate seeded generators, so changing one rate keeps the rest
    of the stream (same noise, same pulses) unchanged.
    """
    cfg, n_total = config.data, config.n_samples
    fs = cfg.sample_rate_hz
    of = OptimalFilter.build(cfg)
    noise_rng, signal_rng, lfn_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3))

    onset = arrivals(config.signal_rate_hz, n_total, fs, signal_rng)
    energy = signal_rng.uniform(*config.energies, size=len(onset))
    pulse_len = int(np.ceil(PULSE_FALL_TIMES * max(cfg.fall_time_us, cfg.fall_time2_us) * 1e-6 * fs))
    pulse = pulse_template(cfg, pulse_len, 0)
    lfn = LfnEpisodes.draw(config, of, arrivals(config.lfn_rate_hz, n_total, fs, lfn_rng), lfn_rng)

    adc = np.empty(n_total, dtype=np.float32)
    for a, x in zip(range(0, n_total, chunk), stream_noise(cfg, n_total, noise_rng, chunk=chunk), strict=True):
        b = a + len(x)
        for i in np.flatnonzero((onset < b) & (onset + pulse_len > a)):
            lo, hi = max(a, onset[i]), min(b, onset[i] + pulse_len)
            x[lo - a : hi - a] += energy[i] * of.resolution * pulse[lo - onset[i] : hi - onset[i]]
        for i in np.flatnonzero((lfn.start < b) & (lfn.stop > a)):
            lo, hi = max(a, lfn.start[i]), min(b, lfn.stop[i])
            x[lo - a : hi - a] += lfn.waveform(i, lo, hi, fs)
        adc[a:b] = digitise(x, cfg.adc_bits)

    kind = np.concatenate([np.full(len(onset), EventKind.SIGNAL), np.full(len(lfn.centre), EventKind.LFN)])
    sample = np.concatenate([onset, lfn.centre])
    order = np.argsort(sample, kind="stable")
    truth = Truth(
        sample=sample[order],
        kind=kind.astype(np.int8)[order],
        energy_sigma=np.concatenate([energy, np.full(len(lfn.centre), np.nan)])[order],
        of_peak_sigma=np.concatenate([energy, lfn.target_sigma])[order],
        width_samples=np.concatenate([np.zeros(len(onset)), lfn.width])[order],
    )
    return Stream(config=config, adc=adc, truth=truth)


def stream_segment(config: StreamConfig, seg: int) -> Stream:
    """Segment ``seg`` of the stream ``config`` starts: simulated (seed ``config.seed + seg``), or the recording's."""
    if config.data.user is None:
        return simulate_stream(dataclasses.replace(config, seed=config.seed + seg))
    from .recorded import recorded_segment

    return recorded_segment(config, seg)


# -- the OF over the stream ---------------------------------------------------------------------------------------


def settle_samples(of: OptimalFilter) -> int:
    """Outputs before the FIR's delay line has filled (they see the zeros it started with)."""
    return len(of.kernel) - 1


def causal_fir(x: np.ndarray, b: np.ndarray, *, chunk: int = CHUNK_SAMPLES) -> np.ndarray:
    """``y[k] = sum_j b[j] x[k - j]`` at every sample, the delay line starting with zeros (float64).

    Run in chunks, each with the previous chunk's last ``taps - 1`` samples in front (overlap-save).
    """
    from scipy.signal import fftconvolve

    taps = len(b)
    y = np.empty(len(x))
    x = np.asarray(x, dtype=np.float64)
    for a in range(0, len(x), chunk):
        e = min(a + chunk, len(x))
        head = x[max(0, a - taps + 1) : a]
        seg = np.concatenate([np.zeros(taps - 1 - len(head)), head, x[a:e]])
        y[a:e] = fftconvolve(seg, b, mode="valid")
    return y


def of_output(adc: np.ndarray, of: OptimalFilter, *, chunk: int = CHUNK_SAMPLES) -> np.ndarray:
    """The float OF as a causal FIR, one output per sample, in sigma_E; ``y[k] == of.apply(adc)[k - taps + 1] / res``.

    ``b[j] = kernel[taps - 1 - j] / resolution``: ``sum_j b[j] x[k - j] = sum_m g[m] x[k - taps + 1 + m]``.
    The FPGA's fixed-point FIR is ``chain.Fir``.
    """
    return causal_fir(adc, of.kernel[::-1] / of.resolution, chunk=chunk)


def onset_of_peak(peak_sample: np.ndarray, of: OptimalFilter) -> np.ndarray:
    """The onset of the pulse an OF output peak at ``peak_sample`` measures."""
    return np.asarray(peak_sample) - settle_samples(of) + of.onset


# -- candidates ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Candidates:
    """Trigger candidates: where the OF output crossed ``threshold_sigma``, and the peak in the hold after it."""

    crossing: np.ndarray  # int64 sample of the upward crossing
    peak_sample: np.ndarray  # int64 sample of the maximum within the hold
    peak_sigma: np.ndarray  # that maximum, sigma_E
    threshold_sigma: float
    hold: int

    def __len__(self) -> int:
        return len(self.crossing)


def upward_crossings(y: np.ndarray, threshold_sigma: float, *, start: int = 0, above: np.ndarray | None = None
                     ) -> np.ndarray:  # fmt: skip
    """Samples ``k > start`` with ``y[k - 1] < threshold <= y[k]``.

    ``above``: the samples ``k > start`` where ``y[k]`` reaches some lower threshold (``samples_above``),
    computed once for many thresholds; only those can cross a higher one.
    """
    if above is not None:
        return above[(y[above - 1] < threshold_sigma) & (y[above] >= threshold_sigma)]
    return np.flatnonzero((y[start:-1] < threshold_sigma) & (y[start + 1 :] >= threshold_sigma)) + start + 1


def samples_above(y: np.ndarray, lowest: float, *, start: int = 0) -> np.ndarray:
    """Samples ``k > start`` with ``y[k] >= lowest``: where any threshold from ``lowest`` up can be crossed."""
    return np.flatnonzero(y[start + 1 :] >= lowest) + start + 1


def find_candidates(y: np.ndarray, threshold_sigma: float, *, hold: int = HOLD_SAMPLES, start: int = 0,
                    above: np.ndarray | None = None) -> Candidates:  # fmt: skip
    """The FPGA's candidate logic (module docstring) on the OF output ``y``, from sample ``start`` on.

    Same result as the sample-by-sample state machine: after a candidate at crossing ``c`` the logic
    re-arms at the first sample ``>= c + hold`` below threshold, so the next candidate is the first
    crossing ``k`` with ``y[k - 1]`` at or after ``c + hold``. ``above``: see ``upward_crossings``.
    """
    if hold < 1:
        raise ValueError(f"hold must be at least one sample, got {hold}")
    up = upward_crossings(y, threshold_sigma, start=start, above=above)
    chosen = []
    i = 0
    while i < len(up):
        chosen.append(up[i])
        i = int(np.searchsorted(up, up[i] + hold + 1))
    crossing = np.asarray(chosen, dtype=np.int64)
    idx = np.minimum(crossing[:, None] + np.arange(hold)[None, :], len(y) - 1)  # the stream's end cuts the hold
    peak = idx[np.arange(len(idx)), y[idx].argmax(axis=1)] if len(idx) else crossing
    return Candidates(crossing=crossing, peak_sample=peak, peak_sigma=y[peak], threshold_sigma=threshold_sigma,
                      hold=hold)  # fmt: skip


# -- matching and rates -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Matched:
    """Each candidate's truth: its kind, and the index in ``Truth`` it is matched to (-1 for noise)."""

    kind: np.ndarray  # int8 EventKind
    truth_index: np.ndarray  # int64


def match(candidates: Candidates, truth: Truth, of: OptimalFilter, *, window: int = MATCH_SAMPLES) -> Matched:
    """Signal if the onset estimate is within ``window`` of a pulse's onset (the nearest); else LFN if the
    FIR's input span overlaps an episode's extent (+- ``LFN_EXTENT_WIDTHS`` widths); else noise."""
    onset = onset_of_peak(candidates.peak_sample, of)
    kind = np.full(len(onset), EventKind.NOISE, dtype=np.int8)
    index = np.full(len(onset), -1, dtype=np.int64)

    sig = np.flatnonzero(truth.kind == EventKind.SIGNAL)
    if len(sig) and len(onset):
        at = truth.sample[sig]
        right = np.minimum(np.searchsorted(at, onset), len(at) - 1)
        left = np.maximum(right - 1, 0)
        j = np.where(np.abs(at[right] - onset) < np.abs(at[left] - onset), right, left)  # the nearest pulse
        hit = np.abs(at[j] - onset) <= window
        kind[hit], index[hit] = EventKind.SIGNAL, sig[j[hit]]

    lfn = np.flatnonzero(truth.kind == EventKind.LFN)
    lo, hi = _lfn_extent(truth, lfn)
    for c in np.flatnonzero(kind == EventKind.NOISE):
        first, last = candidates.peak_sample[c] - settle_samples(of), candidates.peak_sample[c]
        over = np.flatnonzero((lo <= last) & (hi >= first))
        if len(over):
            kind[c] = EventKind.LFN
            index[c] = lfn[over[np.argmin(np.abs(truth.sample[lfn[over]] - last))]]
    return Matched(kind=kind, truth_index=index)


def _lfn_extent(truth: Truth, lfn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    half = np.ceil(LFN_EXTENT_WIDTHS * truth.width_samples[lfn]).astype(np.int64)
    return truth.sample[lfn] - half, truth.sample[lfn] + half


def poisson_interval(count: int, cl: float = CONFIDENCE) -> tuple[float, float]:
    """Garwood's central interval on a Poisson mean for an observed ``count`` (exact, from chi2 quantiles)."""
    from scipy.stats import chi2

    alpha = 1.0 - cl
    lo = 0.0 if count == 0 else chi2.ppf(alpha / 2, 2 * count) / 2
    return float(lo), float(chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2)


@dataclass(frozen=True)
class Rate:
    """A count in ``seconds`` of stream, as a rate in Hz with its Garwood 68 % interval."""

    count: int
    seconds: float

    @property
    def hz(self) -> float:
        return self.count / self.seconds

    @property
    def interval_hz(self) -> tuple[float, float]:
        lo, hi = poisson_interval(self.count)
        return lo / self.seconds, hi / self.seconds

    def __str__(self) -> str:
        lo, hi = self.interval_hz
        return f"{self.hz:.4g} Hz [{lo:.4g}, {hi:.4g}] ({self.count} in {self.seconds:.3g} s)"


@dataclass(frozen=True, kw_only=True)
class AccidentalRates:
    """Accidental triggers per second: noise, and LFN; and how many pulses were found.

    The noise rate counts noise candidates per second of stream outside every truth window (a
    noise excursion inside one is matched to that truth instead); the LFN rate counts LFN
    candidates per second of the whole stream (a few of them are noise excursions that fell inside
    an episode's extent: about the noise rate times ``lfn_window_fraction``).
    """

    noise: Rate
    lfn: Rate
    signals_found: int
    signals: int
    lfn_window_fraction: float
    matched: Matched = field(repr=False)


def accidental_rates(stream: Stream, candidates: Candidates, of: OptimalFilter, *, window: int = MATCH_SAMPLES
                     ) -> AccidentalRates:  # fmt: skip
    """Match ``candidates`` (found from ``settle_samples(of)`` on) to the truth and count them per second."""
    fs, n, first = stream.config.data.sample_rate_hz, len(stream.adc), settle_samples(of)
    truth = stream.truth
    matched = match(candidates, truth, of, window=window)

    # where a candidate's peak would be matched to a truth, in peak-sample coordinates
    covered = np.zeros(n + 1, dtype=np.int32)
    sig = truth.kind == EventKind.SIGNAL
    delay = settle_samples(of) - of.onset
    lo, hi = _lfn_extent(truth, np.flatnonzero(~sig))
    starts = np.concatenate([truth.sample[sig] + delay - window, lo])
    stops = np.concatenate([truth.sample[sig] + delay + window + 1, hi + settle_samples(of) + 1])
    np.add.at(covered, np.clip(starts, first, n), 1)
    np.add.at(covered, np.clip(stops, first, n), -1)
    inside = np.cumsum(covered[:n])[first:] > 0
    lfn_inside = np.zeros(n + 1, dtype=np.int32)
    np.add.at(lfn_inside, np.clip(lo, first, n), 1)
    np.add.at(lfn_inside, np.clip(hi + settle_samples(of) + 1, first, n), -1)

    seconds = (n - first) / fs
    return AccidentalRates(
        noise=Rate(int(np.sum(matched.kind == EventKind.NOISE)), float(np.sum(~inside)) / fs),
        lfn=Rate(int(np.sum(matched.kind == EventKind.LFN)), seconds),
        signals_found=len(np.unique(matched.truth_index[matched.kind == EventKind.SIGNAL])),
        signals=int(sig.sum()),
        lfn_window_fraction=float(np.mean(np.cumsum(lfn_inside[:n])[first:] > 0)),
        matched=matched,
    )


# -- Rice's formula -------------------------------------------------------------------------------------------------


def of_output_psd(cfg: CdmsLfnData, of: OptimalFilter | None = None, *, n_freq: int = 2**17 + 1,
                  digitised: bool = True, fir: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """One-sided PSD (sigma_E^2 / Hz) of the OF's output on the stream's noise, on ``n_freq`` points in [0, fs/2].

    ``2 |B(f)|^2 S(f)`` with B the frequency response of the causal FIR ``fir`` (sigma_E per ADC count;
    default the float OF's, ``kernel[::-1] / resolution``; ``chain.Fir`` gives the quantised one) and S
    ``input_psd`` (two-sided). Its integral is the output variance: ~0.99 sigma_E^2 for the default
    card, not exactly 1, because QETpy's resolution is computed on the ``of_length`` grid (whose PSD
    level differs slightly) and without the ADC's rounding.
    """
    if fir is None:
        of = OptimalFilter.build(cfg) if of is None else of
        fir = of.kernel[::-1] / of.resolution
    n_fft = 2 * (n_freq - 1)
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / cfg.sample_rate_hz)
    gain = np.abs(np.fft.rfft(fir, n_fft)) ** 2
    return freqs, 2.0 * gain * input_psd(cfg, freqs, digitised=digitised)


def rice_nu0(output_psd_one_sided: np.ndarray, freqs: np.ndarray) -> float:
    """Rice's zero-level upcrossing rate (Hz): ``sqrt(int f^2 S df / int S df)``."""
    m0 = np.trapezoid(output_psd_one_sided, freqs)
    m2 = np.trapezoid(freqs**2 * output_psd_one_sided, freqs)
    return float(np.sqrt(m2 / m0))


def rice_rate(threshold_sigma: float | np.ndarray, output_psd_one_sided: np.ndarray, freqs: np.ndarray
              ) -> float | np.ndarray:  # fmt: skip
    """Upward crossings per second of level ``threshold_sigma`` by Gaussian noise of this one-sided PSD (Rice).

    ``nu0 exp(-u^2 / (2 m0))`` with ``m0 = int S df`` the output variance: with S in sigma_E^2 / Hz
    and m0 = 1 this is ``nu0 exp(-u^2 / 2)``; using m0 keeps it right when the stream's noise is not
    exactly one sigma_E (``of_output_psd``).
    """
    m0 = np.trapezoid(output_psd_one_sided, freqs)
    return rice_nu0(output_psd_one_sided, freqs) * np.exp(-(np.asarray(threshold_sigma) ** 2) / (2.0 * m0))


def sampled_crossing_rate(threshold_sigma: float | np.ndarray, output_psd_one_sided: np.ndarray, freqs: np.ndarray,
                          sample_rate_hz: float) -> float | np.ndarray:  # fmt: skip
    """Expected ``y[k - 1] < u <= y[k]`` per second for Gaussian noise of this PSD sampled at ``sample_rate_hz``.

    Exact for the sampled process: ``fs P(Y0 < u <= Y1)`` with Y0, Y1 unit normals of correlation rho
    (the output's lag-one autocorrelation), which is ``2 fs T(u, sqrt((1 - rho) / (1 + rho)))`` (Owen's
    T). It tends to Rice's rate when the output's bandwidth is far below the sampling rate.
    """
    from scipy.special import owens_t

    m0 = np.trapezoid(output_psd_one_sided, freqs)
    rho = np.trapezoid(output_psd_one_sided * np.cos(2 * np.pi * freqs / sample_rate_hz), freqs) / m0
    u = np.asarray(threshold_sigma) / np.sqrt(m0)
    return 2.0 * sample_rate_hz * owens_t(u, np.sqrt((1.0 - rho) / (1.0 + rho)))
