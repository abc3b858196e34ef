"""The network's windows, cut from continuous streams where the FPGA's candidate logic puts them.

The network decides on the window the trigger chain presents at a candidate's peak (``chain.Chain``),
so it is trained and tested on exactly those: no offline peak search, no artificial jitter.

Training windows
    Streams (``SEGMENT_SECONDS`` each, seeds from ``TRAIN_SEED_OFFSET + seed``) with pulses at
    ``TRAIN_SIGNAL_RATE_HZ`` (energies uniform in the card's ``energy_range_sigma``) and LFN episodes at
    ``TRAIN_LFN_RATE_HZ``, raised over the measurement stream's so a few minutes of stream give tens of
    thousands of candidates (an assumption, chosen for balance: at the default card's lowest threshold
    about half of the pulse and LFN candidates are pulses; another pulse lies within 1 ms of a pulse
    for 10 % of them). Candidates of the chain at the lowest threshold of the scan grid
    (``THRESHOLDS_SIGMA[0]``), segment after segment until ``n_train``. Label 1 if the candidate is
    matched to a pulse (``stream.match``), 0 if to an LFN episode. Noise candidates are left out: a
    noise excursion is shaped like a pulse of its amplitude (the OF's own output, conditioned on its
    value, is the template plus independent noise), so no shape can tell them apart and the threshold,
    not the network, must handle them; trained on them as background, the network learns to reject
    small pulses (measured: E50 of OF + NN 4.76 sigma_E against 4.26 for the best classical trigger on
    the default card; its cut removed the low-energy pulses with the noise).

Test windows and the measurement
    The measurement stream (``stream_seconds`` in ``SEGMENT_SECONDS`` segments, seeds from the card's
    seed, LFN at ``lfn_rate_hz``, pulses injected at ``thresholds.INJECTION_RATE_HZ``) scanned over
    ``THRESHOLDS_SIGMA`` with the classical vetoes (``thresholds.scan_streams``). Every distinct
    candidate peak of any grid threshold gives one test window; the scan (every threshold's candidate
    rows, their truth and veto statistics, pointing at their windows) goes with the test set, so the
    report adds the firmware's network score as one more veto and sets the operating points.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .chain import Chain
from .config import CdmsLfnData
from .simulation import EventKind
from .stream import StreamConfig, match, stream_segment
from .thresholds import INJECTION_ENERGY_SIGMA, INJECTION_RATE_HZ, Scan, classical_vetoes, scan_streams

log = logging.getLogger(__name__)

THRESHOLDS_SIGMA = np.round(np.arange(3.5, 12.0 + 1e-9, 0.05), 2)  # the scan grid, sigma_E
SEGMENT_SECONDS = 20.0
TRAIN_SIGNAL_RATE_HZ = 50.0
TRAIN_LFN_RATE_HZ = 10.0
TRAIN_SEED_OFFSET = 1_000_000  # training segments never share a seed with measurement segments
SCAN_PREFIX = "scan_"
# for the memory estimate (``CdmsLfnData.dataset_bytes``), measured on the default card: 50,029 scan rows
# and ~1,100 distinct peaks in 20 s
SCAN_ROWS_PER_SECOND = 2600
SCAN_ROW_BYTES = 80
TEST_WINDOWS_PER_SECOND = 60


@dataclass(frozen=True, kw_only=True)
class Windows:
    """Windows (float32 integer ADC counts) with their labels and truth."""

    x: np.ndarray  # (n, window + 1): the window, then the OF amplitude code (``Chain.network_inputs``)
    label: np.ndarray  # int8: 1 pulse, 0 LFN (or, in the test windows, noise)
    kind: np.ndarray  # int8 EventKind
    energy_sigma: np.ndarray  # float32: the matched pulse's energy, NaN otherwise
    of_peak_sigma: np.ndarray  # float32: the OF word at the peak, sigma_E


def segments(seconds: float) -> int:
    return max(1, int(np.ceil(seconds / SEGMENT_SECONDS - 1e-9)))


def measurement_segments(data: CdmsLfnData) -> int:
    """The measurement's segments: ``stream_seconds`` of simulation, or the recording's measurement part."""
    if data.user is None:
        return segments(data.stream_seconds)
    from .recorded import part_segments

    return part_segments(data, "measure", measurement_config(data, 0).n_samples)


def measurement_config(data: CdmsLfnData, seed: int) -> StreamConfig:
    """One segment of the measurement stream (segment i has seed ``seed + i``); a recording's in 20 s segments."""
    seconds = SEGMENT_SECONDS if data.user is not None else min(SEGMENT_SECONDS, data.stream_seconds)
    return StreamConfig(data=data, seconds=seconds, seed=seed,
                        signal_rate_hz=INJECTION_RATE_HZ, lfn_rate_hz=data.lfn_rate_hz,
                        energy_range_sigma=INJECTION_ENERGY_SIGMA)  # fmt: skip


def training_windows(data: CdmsLfnData, seed: int, chain: Chain | None = None, *, progress=None) -> Windows:
    """``n_train`` candidate windows from training streams (module docstring), in stream order.

    A recording (``data.user``): its training part, pulses injected, until ``n_train`` or its end; or the
    user's labelled traces (``data.user_windows``; ``recorded.training_windows``).
    """
    chain = Chain.build(data) if chain is None else chain
    if data.user_windows is not None:
        from .recorded import training_windows as labelled_traces

        return labelled_traces(data, chain)
    config = StreamConfig(data=data, seconds=SEGMENT_SECONDS, seed=TRAIN_SEED_OFFSET + seed,
                          signal_rate_hz=TRAIN_SIGNAL_RATE_HZ, lfn_rate_hz=TRAIN_LFN_RATE_HZ, part="train")  # fmt: skip
    last = None
    if data.user is not None:
        from .recorded import part_segments

        last = part_segments(data, "train", config.n_samples)
    parts: list[Windows] = []
    got, seg = 0, 0
    while got < data.n_train and (last is None or seg < last):
        stream = stream_segment(config, seg)
        y = chain.fir.output(stream.adc)
        cand = chain.candidates(y, float(THRESHOLDS_SIGMA[0]))
        matched = match(cand, stream.truth, chain.of)
        keep = matched.kind != EventKind.NOISE
        is_sig = matched.kind[keep] == EventKind.SIGNAL
        energy = np.where(is_sig, stream.truth.energy_sigma[np.maximum(matched.truth_index[keep], 0)], np.nan)
        x = chain.network_inputs(stream.adc, y, cand.peak_sample[keep])
        parts.append(Windows(x=x, label=is_sig.astype(np.int8),
                             kind=matched.kind[keep], energy_sigma=energy.astype(np.float32),
                             of_peak_sigma=cand.peak_sigma[keep].astype(np.float32)))  # fmt: skip
        got += int(keep.sum())
        seg += 1
        if progress is not None:
            progress(min(got, data.n_train), data.n_train)
    if data.user is not None:
        _check_recorded_training(data, parts)
    n = data.n_train
    return Windows(**{k: np.concatenate([getattr(p, k) for p in parts])[:n] for k in Windows.__dataclass_fields__})


def _check_recorded_training(data: CdmsLfnData, parts: list[Windows]) -> None:
    """A recording's training part gave both classes (it has known LFN episodes); fewer than asked is logged."""
    from ...errors import DataError

    label = np.concatenate([p.label for p in parts]) if parts else np.zeros(0, np.int8)
    n_lfn = int(np.sum(label == 0))
    if n_lfn == 0:
        raise DataError(
            f"{data.user.path}: the recording's training part (its first {data.user.train_fraction:.0%}) gave no "
            "LFN candidates to train the network's background class on; list the known LFN episodes "
            "(data.user.event_sample with data.user.event_kind 1), or give labelled traces as data.user_windows"
        )
    if len(label) < data.n_train:
        log.warning("the recording's training part gave %d candidate windows (%d LFN), fewer than data.n_train "
                    "(%d): the network is trained on those", len(label), n_lfn, data.n_train)  # fmt: skip


def measurement_scan(data: CdmsLfnData, seed: int, chain: Chain | None = None, *, progress=None) -> Scan:
    """The measurement stream scanned over ``THRESHOLDS_SIGMA`` with the classical vetoes, windows kept."""
    chain = Chain.build(data) if chain is None else chain
    return scan_streams(measurement_config(data, seed), THRESHOLDS_SIGMA, classical_vetoes(data, chain.of),
                        segments=measurement_segments(data), chain=chain, keep_windows=True,
                        progress=progress)  # fmt: skip


def test_windows(scan: Scan) -> Windows:
    """One window per distinct candidate peak of the scan, with the truth of its rows (they agree)."""
    assert scan.windows is not None, "scan_streams(keep_windows=True) keeps the windows"
    n = len(scan.windows)
    first = np.full(n, -1, dtype=np.int64)
    first[scan.window[::-1]] = np.arange(len(scan.window))[::-1]  # each window's first row
    kind = scan.kind[first]
    pulse = scan.pulse[first]
    energy = np.where(pulse >= 0, scan.pulse_energy[np.maximum(pulse, 0)], np.nan)
    return Windows(x=scan.windows, label=(kind == EventKind.SIGNAL).astype(np.int8), kind=kind,
                   energy_sigma=energy.astype(np.float32),
                   of_peak_sigma=scan.peak_sigma[first].astype(np.float32))  # fmt: skip


def scan_truth(scan: Scan) -> dict[str, np.ndarray]:
    """The scan's arrays as test-set truth entries (``SCAN_PREFIX`` + name)."""
    return {SCAN_PREFIX + k: v for k, v in scan.arrays().items()}


def scan_from_truth(data: CdmsLfnData, seed: int, truth: dict[str, np.ndarray]) -> Scan:
    """The scan ``scan_truth`` stored, with its stream config rebuilt from the card."""
    arrays = {k[len(SCAN_PREFIX) :]: v for k, v in truth.items() if k.startswith(SCAN_PREFIX)}
    return Scan.from_arrays(measurement_config(data, seed), arrays)
