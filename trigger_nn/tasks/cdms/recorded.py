"""A user's own recording in place of the simulated streams: read, checked, its noise measured, pulses injected.

The trigger and its figures are the simulation's (``stream``, ``chain``, ``thresholds``, ``physics``),
run on the user's samples instead of simulated ones; only where the samples come from changes.

The noise
    The optimal filter, its quantisation loss and the vetoes need the noise's PSD and covariance. On a
    recording they are measured, as SuperCDMS measures them: the recording cut into traces of
    ``NOISE_TRACE`` samples, the traces that overlap a known event left out, QETpy's ``autocuts`` (its
    outlier cuts on OF amplitude, chi^2, slope, baseline and range, made for choosing noise traces)
    keeping the quiet ones (``WIDE_CUTS``), and QETpy's ``calc_psd`` averaging their spectra (``MeasuredNoise``). The
    DC bin is set to zero: the OF is AC-coupled, and the vetoes take the baseline as zero.

The pulse template
    The card's pulse model (``data.pulse_shape``, rise and fall times: QETpy's template functions),
    which the user sets to their detector's fitted pulse shape. It builds the OF and is what is injected.

Efficiency: injected pulses
    Turn-on curves need pulses of known energy, which a recording lacks; so, as the field does, pulses
    of the template are added to the recording's samples (``thresholds.INJECTION_RATE_HZ`` at energies
    uniform in ``INJECTION_ENERGY_SIGMA``) and digitised again (``simulation.digitise``). Everything
    else in the recording stays as recorded: its own pulses, its LFN, its noise. Candidates that match
    a known pulse (``data.user.event_*``) are not accidental triggers; every other candidate not matched
    to an injected pulse is (noise, or LFN where it falls on a known episode).

Training
    From the recording's first ``train_fraction`` (the measurement never sees it): pulses injected at
    ``windows.TRAIN_SIGNAL_RATE_HZ`` are the signal class, candidates on known LFN episodes the
    background. Without known LFN episodes there is no background class to train on: the user gives
    them, or labelled traces (``data.user_windows``, ``training_windows``).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..data_files import FileRoles, finite, numeric, read_arrays, same_length
from .config import CdmsLfnData, UserStream, UserWindows
from .simulation import EventKind, OptimalFilter, digitise, pulse_template

log = logging.getLogger(__name__)

STREAM_ROLES = FileRoles(key="data.user.path", entry="sample", tree_key="data.user.tree",
                         npz_example="np.savez(path, adc=samples, event_sample=..., event_kind=...)")  # fmt: skip
EVENT_ROLES = FileRoles(key="data.user.path", entry="event", tree_key="data.user.events_tree",
                        npz_example="np.savez(path, adc=samples, event_sample=..., event_kind=...)")  # fmt: skip
WINDOW_ROLES = FileRoles(key="data.user_windows.path", entry="trace", tree_key="data.user_windows.tree",
                         npz_example="np.savez(path, traces=..., label=...)")  # fmt: skip

NOISE_TRACE = 1024  # samples per noise trace at least (1.6 ms at 625 kHz; the card's trace_length if longer)
MAX_NOISE_TRACES = 3000  # spread over the recording; more changes the PSD by less than its own statistical error
MIN_NOISE_TRACES = 50
#: autocuts' baseline and slope cuts (2 sigma by default) remove the noise's own slow wander, which the trigger
#: sees: on 60 s of the default card's simulated stream the kept traces' variance was 4.19 counts^2 against the
#: model's 4.31 (lag 1: 0.40 against 0.52); with these two at 10 sigma, 4.31 and 0.53
WIDE_CUTS = {"baseline": {"sigma": 10}, "slope": {"sigma": 10}}
#: a recording whose median is further from zero than this many noise RMS (and a count) has its pedestal left in
MAX_PEDESTAL_RMS = 0.25


@dataclass(frozen=True, kw_only=True, eq=False)
class Recording:
    """The user's samples (float32 holding integers) and the events known in them, sorted by sample."""

    adc: np.ndarray
    event_sample: np.ndarray  # int64
    event_kind: np.ndarray  # int8 EventKind (SIGNAL or LFN)
    event_width: np.ndarray  # float64: an LFN episode's envelope width (extent / LFN_EXTENT_WIDTHS); 0 for pulses
    event_energy: np.ndarray  # float64: a pulse's height in ADC counts; NaN where unknown, and for LFN
    path: Path

    @property
    def known_pulses(self) -> int:
        return int(np.sum(self.event_kind == EventKind.SIGNAL))

    @property
    def known_lfn(self) -> int:
        return int(np.sum(self.event_kind == EventKind.LFN))


def recording(data: CdmsLfnData) -> Recording:
    """The card's recording (``data.user``), read once per process and file version."""
    assert data.user is not None, "recording() is for cards with data.user"
    path = Path(data.user.path)
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    return _read(data.user, data.adc_bits, data.sample_rate_hz, stamp)


@functools.lru_cache(maxsize=2)
def _read(user: UserStream, adc_bits: int, fs: float, _stamp: int) -> Recording:
    from .stream import LFN_EXTENT_WIDTHS

    src, arrays = read_arrays(user.path, {user.adc: "data.user.adc"}, STREAM_ROLES, tree=user.tree)
    adc = _adc_samples(src, user.adc, numeric(src, user.adc, arrays[user.adc], per_entry="one value"), adc_bits,
                       "data.user.adc")  # fmt: skip
    if adc.ndim != 1:
        raise DataError(f"{src.at(user.adc)} has shape {adc.shape}; a recording is one channel: one value per sample")
    minimum = 4 * NOISE_TRACE * MIN_NOISE_TRACES  # room for the noise traces four times over: autocuts keeps ~2/3
    if len(adc) < minimum:
        raise DataError(
            f"{src.at(user.adc)} holds {len(adc)} samples ({len(adc) / fs:.3g} s at data.sample_rate_hz); the noise "
            f"PSD, the training part and the measurement need at least {minimum} ({minimum / fs:.3g} s)"
        )
    rms = float(np.std(adc[: min(len(adc), 10**6)]))
    pedestal = float(np.median(adc))
    if abs(pedestal) > MAX_PEDESTAL_RMS * max(rms, 1.0):
        raise DataError(
            f"{src.at(user.adc)} sits at a baseline of {pedestal:g} counts (its median; RMS {rms:.3g}): the OF is "
            "AC-coupled but the vetoes and the network's window take the baseline as zero, as the ADC's pedestal "
            "subtraction gives it; subtract the pedestal from the samples before writing the file"
        )
    sample, kind, width, energy = np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0), np.zeros(0)
    if user.event_sample is not None and user.event_kind is not None:
        roles = {user.event_sample: "data.user.event_sample", user.event_kind: "data.user.event_kind"}
        for name, key in ((user.event_width, "data.user.event_width"), (user.event_energy, "data.user.event_energy")):
            if name is not None:
                roles[name] = key
        src, ev = read_arrays(user.path, roles, EVENT_ROLES, tree=user.events_tree)
        ev = {k: numeric(src, k, v, per_entry="one value") for k, v in ev.items()}
        same_length(src, ev)
        for k, v in ev.items():
            if k != user.event_energy:  # an unknown energy is NaN
                finite(src, k, v, "values")
        sample = np.asarray(ev[user.event_sample])
        if np.any(sample != np.round(sample)) or np.any(sample < 0) or np.any(sample >= len(adc)):
            raise DataError(
                f"{src.at(user.event_sample)}: event samples must be whole sample numbers in [0, {len(adc)}) "
                f"(the recording's length), got {sample.min():g} to {sample.max():g}"
            )
        kind = np.asarray(ev[user.event_kind])
        bad = ~np.isin(kind, (int(EventKind.SIGNAL), int(EventKind.LFN)))
        if bad.any():
            raise DataError(
                f"{src.at(user.event_kind)}: {int(bad.sum())} events of kinds other than {int(EventKind.SIGNAL)} "
                f"(a pulse) and {int(EventKind.LFN)} (an LFN episode), e.g. {kind[bad][0]!r} at index "
                f"{int(np.argmax(bad))}; mark each known event as one of the two"
            )
        half = np.full(len(sample), user.lfn_extent_ms * 1e-3 * fs)
        if user.event_width is not None:
            half = np.asarray(ev[user.event_width], dtype=np.float64)
            if np.any(half <= 0):
                raise DataError(f"{src.at(user.event_width)}: LFN half-extents must be positive (samples)")
        sample, kind = sample.astype(np.int64), kind.astype(np.int8)
        width = np.where(kind == EventKind.LFN, half / LFN_EXTENT_WIDTHS, 0.0)
        energy = np.full(len(sample), np.nan)
        if user.event_energy is not None:
            energy = np.where(kind == EventKind.SIGNAL, np.asarray(ev[user.event_energy], dtype=np.float64), np.nan)
            if np.any(energy <= 0) or np.any(np.isinf(energy)):
                raise DataError(
                    f"{src.at(user.event_energy)}: a pulse's energy is its height in ADC counts, positive and finite "
                    "(NaN where unknown)"
                )
        order = np.argsort(sample, kind="stable")
        sample, kind, width, energy = sample[order], kind[order], width[order], energy[order]
    out = Recording(adc=adc, event_sample=sample, event_kind=kind, event_width=width, event_energy=energy,
                    path=Path(user.path))  # fmt: skip
    log.info("recording %s: %d samples (%.1f s), %d known pulses, %d known LFN episodes", user.path, len(adc),
             len(adc) / fs, out.known_pulses, out.known_lfn)  # fmt: skip
    return out


def _adc_samples(src, name: str, values: np.ndarray, adc_bits: int, key: str) -> np.ndarray:
    """Whole ADC counts within the card's signed ``adc_bits``, as float32."""
    finite(src, name, values.reshape(len(values), -1), "samples")
    lo, hi = -(2 ** (adc_bits - 1)), 2 ** (adc_bits - 1) - 1
    if values.dtype.kind == "f" and np.any(values != np.round(values)):
        raise DataError(
            f"{src.at(name)} holds fractional values; {key} must be whole ADC counts (what the FPGA receives)"
        )
    if values.min() < lo or values.max() > hi:
        raise DataError(
            f"{src.at(name)} spans {values.min():g} to {values.max():g} counts, outside the {adc_bits}-bit signed "
            f"ADC word [{lo}, {hi}] (data.adc_bits): set data.adc_bits to the recording's ADC"
        )
    return values.astype(np.float32)


# -- the noise --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class MeasuredNoise:
    """The recording's noise: quiet traces (``NOISE_TRACE`` samples) and the PSDs QETpy computes from them."""

    traces: np.ndarray  # (n, NOISE_TRACE) float64, the quiet ones
    offered: int  # traces away from known events, offered to autocuts
    fs: float

    @property
    def length(self) -> int:
        return self.traces.shape[1]

    def psd(self, n: int) -> np.ndarray:
        """Two-sided PSD (counts^2 / Hz) on an ``n``-bin grid: QETpy's ``calc_psd`` of the traces cut in ``n``."""
        return _psd(self, n)

    def density(self, freqs: np.ndarray) -> np.ndarray:
        """The PSD at any frequencies (linear between the bins of the traces' grid), zero at DC."""
        f = np.fft.rfftfreq(self.length, d=1.0 / self.fs)
        one_sided = self.psd(self.length)[: len(f)]
        out = np.interp(np.abs(np.asarray(freqs, dtype=np.float64)), f, one_sided)
        out[np.asarray(freqs) == 0] = 0.0
        return out

    def autocovariance(self, n: int) -> np.ndarray:
        """Autocovariance (counts^2) at lags ``0 .. n - 1``: averaged over every sample pair of the quiet traces.

        In the time domain, about the traces' common mean: a PSD on the traces' grid would lose the noise
        below its first bin (610 Hz for 1024 samples), whose slow wander the 256-sample vetoes see.
        """
        return _autocovariance(self, n)


@functools.lru_cache(maxsize=8)
def _autocovariance(noise: MeasuredNoise, n: int) -> np.ndarray:
    if n > noise.length // 2:
        raise ValueError(f"the measured autocovariance reaches lag {noise.length // 2}, not {n}")
    x = noise.traces - noise.traces.mean()
    spectrum = np.fft.rfft(x, 2 * noise.length, axis=1)
    total = np.fft.irfft(np.sum(np.abs(spectrum) ** 2, axis=0), 2 * noise.length)[:n]
    pairs = len(x) * (noise.length - np.arange(n))
    return total / pairs


@functools.lru_cache(maxsize=8)
def _psd(noise: MeasuredNoise, n: int) -> np.ndarray:
    from qetpy import calc_psd

    if n > noise.length:
        raise ValueError(f"noise traces are {noise.length} samples; a PSD on {n} bins needs longer ones")
    pieces = noise.traces[:, : noise.length - noise.length % n].reshape(-1, n)
    psd = calc_psd(pieces - pieces.mean(axis=1, keepdims=True), fs=noise.fs, folded_over=False)[1]
    psd[0] = 0.0
    return psd


def noise(data: CdmsLfnData) -> MeasuredNoise:
    """The recording's noise, measured once per process, recording and pulse template."""
    template = (data.pulse_shape.value, data.rise_time_us, data.fall_time_us, data.fall_time2_us, data.fall2_fraction)
    length = max(NOISE_TRACE, data.trace_length, 2 * data.of_length)
    return _measure(recording(data), data.sample_rate_hz, template, length)


@functools.lru_cache(maxsize=2)
def _measure(rec: Recording, fs: float, template: tuple, length: int) -> MeasuredNoise:
    """Quiet traces: away from every known event, then QETpy's autocuts with the card's template."""
    from qetpy import autocuts

    from .stream import LFN_EXTENT_WIDTHS, PULSE_FALL_TIMES

    shape, rise_us, fall_us, fall2_us, fraction2 = template
    is_lfn = rec.event_kind == EventKind.LFN
    lfn_reach = np.ceil(LFN_EXTENT_WIDTHS * rec.event_width).astype(np.int64)
    pulse_tail = int(np.ceil(PULSE_FALL_TIMES * max(fall_us, fall2_us if shape == "threepole" else 0) * 1e-6 * fs))
    first = rec.event_sample - np.where(is_lfn, lfn_reach, 0)
    last = rec.event_sample + np.where(is_lfn, lfn_reach, pulse_tail)
    n_traces = len(rec.adc) // length
    clear = np.ones(n_traces, dtype=bool)
    for a, b in zip(first // length, last // length, strict=True):
        clear[max(0, a) : min(n_traces, b + 1)] = False
    starts = np.flatnonzero(clear) * length
    if len(starts) > MAX_NOISE_TRACES:
        starts = starts[np.linspace(0, len(starts) - 1, MAX_NOISE_TRACES).astype(np.int64)]
    traces = rec.adc[starts[:, None] + np.arange(length)[None, :]].astype(np.float64)
    if shape == "twopole":
        params = [1.0, rise_us * 1e-6, fall_us * 1e-6]
    else:
        params = [1.0 - fraction2, fraction2, rise_us * 1e-6, fall_us * 1e-6, fall2_us * 1e-6]
    quiet = traces[:0]
    if len(traces) >= MIN_NOISE_TRACES:
        kept = autocuts(traces, fs=fs, template=params, cuts_dict=WIDE_CUTS)
        quiet = traces[np.asarray(kept, dtype=bool)]
    if len(quiet) < MIN_NOISE_TRACES:
        raise DataError(
            f"{rec.path}: only {len(quiet)} of {len(traces)} noise traces of {length} samples away from the "
            f"known events passed QETpy's autocuts; the noise PSD needs at least {MIN_NOISE_TRACES}: give a longer "
            "recording, or one with fewer events"
        )
    log.info("noise PSD from %d quiet traces of %d samples (QETpy's autocuts kept them of %d)", len(quiet),
             length, len(traces))  # fmt: skip
    return MeasuredNoise(traces=quiet, offered=len(traces), fs=fs)


# -- the recording as streams -------------------------------------------------------------------------------------


def part_bounds(data: CdmsLfnData, part: str) -> tuple[int, int]:
    """Samples ``[lo, hi)`` of the recording that are the training part or the measurement part."""
    assert data.user is not None
    n = len(recording(data).adc)
    split = 0 if data.user_windows is not None else int(round(data.user.train_fraction * n))
    return (0, split) if part == "train" else (split, n)


def part_segments(data: CdmsLfnData, part: str, segment_samples: int) -> int:
    lo, hi = part_bounds(data, part)
    return max(0, -(-(hi - lo) // segment_samples))


def recorded_segment(config, seg: int):
    """Segment ``seg`` of the recording's part ``config.part``, with the pulses ``config`` asks for injected.

    ``config`` is a ``stream.StreamConfig``: its ``seconds`` is the segment length, its rates and energies the
    injected pulses' (seeded by ``config.seed + seg``); the recording's own events come with the truth.
    """
    from .stream import LFN_EXTENT_WIDTHS, PULSE_FALL_TIMES, Stream, Truth, arrivals

    data = config.data
    rec = recording(data)
    lo, hi = part_bounds(data, config.part)
    a = lo + seg * config.n_samples
    b = min(hi, a + config.n_samples)
    if a >= b:
        raise ValueError(f"the recording's {config.part} part has no segment {seg}")
    fs = data.sample_rate_hz
    rng = np.random.default_rng(np.random.SeedSequence(config.seed + seg))
    onset = arrivals(config.signal_rate_hz, b - a, fs, rng)
    energy = rng.uniform(*config.energies, size=len(onset))
    x = rec.adc[a:b].astype(np.float64)
    resolution = OptimalFilter.build(data).resolution
    if len(onset):
        pulse_len = int(np.ceil(PULSE_FALL_TIMES * max(data.fall_time_us, data.fall_time2_us) * 1e-6 * fs))
        pulse = pulse_template(data, pulse_len, 0)
        for o, e in zip(onset, energy, strict=True):
            stop = min(len(x), o + pulse_len)
            x[o:stop] += e * resolution * pulse[: stop - o]
    reach = np.ceil(LFN_EXTENT_WIDTHS * rec.event_width).astype(np.int64) + data.of_length
    known = np.flatnonzero((rec.event_sample + reach >= a) & (rec.event_sample - reach < b))
    n_known = len(known)
    order = np.argsort(np.concatenate([onset, rec.event_sample[known] - a]), kind="stable")
    truth = Truth(
        sample=np.concatenate([onset, rec.event_sample[known] - a])[order],
        kind=np.concatenate([np.full(len(onset), EventKind.SIGNAL, np.int8), rec.event_kind[known]])[order],
        energy_sigma=np.concatenate([energy, rec.event_energy[known] / resolution])[order],
        of_peak_sigma=np.concatenate([energy, rec.event_energy[known] / resolution])[order],
        width_samples=np.concatenate([np.zeros(len(onset)), rec.event_width[known]])[order],
        injected=np.concatenate([np.ones(len(onset), bool), np.zeros(n_known, bool)])[order],
    )
    return Stream(config=config, adc=digitise(x, data.adc_bits), truth=truth)


def describe(data: CdmsLfnData) -> str:
    rec = recording(data)
    fs = data.sample_rate_hz
    lo, hi = part_bounds(data, "measure")
    train = "labelled traces (data.user_windows)" if data.user_windows is not None else f"its first {lo / fs:.1f} s"
    return (
        f"the recording {rec.path.name} ({len(rec.adc) / fs:.1f} s at {fs / 1e3:g} kHz, {data.adc_bits}-bit; "
        f"{rec.known_pulses} known pulses, {rec.known_lfn} known LFN episodes): the network trained on {train}, "
        f"the trigger measured on the remaining {(hi - lo) / fs:.1f} s with pulses of the card's "
        f"{data.pulse_shape.value} template injected; noise PSD measured on the recording (QETpy)"
    )


# -- labelled traces ------------------------------------------------------------------------------------------------


def training_windows(data: CdmsLfnData, chain):
    """The network's inputs on each labelled trace (``data.user_windows``), cut at the OF's largest output.

    The traces are run through the chain's FIR one after another: an output at least ``taps - 1`` samples
    into a trace sees that trace alone, so one pass over them all is each trace's own FIR.
    """
    from .windows import Windows

    spec: UserWindows | None = data.user_windows
    assert spec is not None
    roles = {spec.traces: "data.user_windows.traces", spec.label: "data.user_windows.label"}
    src, arrays = read_arrays(spec.path, roles, WINDOW_ROLES, tree=spec.tree)
    traces = numeric(src, spec.traces, arrays[spec.traces], per_entry="one trace of samples")
    label = numeric(src, spec.label, arrays[spec.label], per_entry="one label")
    same_length(src, {spec.traces: traces, spec.label: label})
    traces = _adc_samples(src, spec.traces, traces, data.adc_bits, "data.user_windows.traces")
    need = data.of_length + data.candidate_hold_samples
    if traces.ndim != 2 or traces.shape[1] < need:
        raise DataError(
            f"{src.at(spec.traces)} has shape {traces.shape}; it must be (traces, samples) with at least {need} "
            "samples each (data.of_length for the OF's register, data.candidate_hold_samples for its peak)"
        )
    finite(src, spec.label, label, "labels")
    if not np.all(np.isin(label, (0, 1))):
        raise DataError(f"{src.at(spec.label)}: labels must be 1 (a pulse) or 0 (LFN)")
    for value, name in ((0, "LFN"), (1, "pulse")):
        if not np.any(label == value):
            raise DataError(f"{src.at(spec.label)}: no {name} traces (label {value}); the network needs both classes")
    if len(traces) > data.n_train:
        traces, label = traces[: data.n_train], label[: data.n_train]
    n, length = traces.shape
    y = chain.fir.output(traces.reshape(-1))
    settle = chain.settle
    peak = settle + np.argmax(y.reshape(n, length)[:, settle:], axis=1) + np.arange(n) * length
    is_pulse = label.astype(np.int8)
    log.info("training windows: %d labelled traces of %d samples (%d pulses, %d LFN)", n, length,
             int(is_pulse.sum()), int(n - is_pulse.sum()))  # fmt: skip
    return Windows(x=chain.network_inputs(traces.reshape(-1), y, peak), label=is_pulse,
                   kind=np.where(is_pulse == 1, EventKind.SIGNAL, EventKind.LFN).astype(np.int8),
                   energy_sigma=np.full(n, np.nan, np.float32),
                   of_peak_sigma=chain.fir.sigma(y[peak]).astype(np.float32))  # fmt: skip
