"""A user's own CDMS recording in place of the simulation: its noise measured, pulses injected, the same
trigger and figures; labelled traces for training; and one clear message for each thing the flow cannot take.

The recordings here are written by the tests from the project's own simulator, so what the flow measures
on them can be checked against the model that made them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from trigger_nn.cli import main
from trigger_nn.errors import CardError, DataError
from trigger_nn.tasks.cdms import recorded, windows
from trigger_nn.tasks.cdms.chain import Chain
from trigger_nn.tasks.cdms.config import CdmsLfnData, UserStream, UserWindows
from trigger_nn.tasks.cdms.simulation import EventKind, OptimalFilter, noise_psd
from trigger_nn.tasks.cdms.stream import LFN_EXTENT_WIDTHS, StreamConfig, noise_autocovariance, simulate_stream

SMALL_KEYS = {"n_train": 3000, "window": 32, "trace_length": 256, "of_length": 128, "baseline_samples": 4}
SMALL = CdmsLfnData(**SMALL_KEYS)
EVENT_ARRAYS = ("event_sample", "event_kind", "event_width", "event_energy")


def write_recording(path: Path, data: CdmsLfnData, *, seconds: float, lfn_rate_hz: float = 5.0, seed: int = 11,
                    events: bool = True, **changes: np.ndarray) -> Path:  # fmt: skip
    """A stream of the simulator written as a user would: int16 samples, and the events' samples and kinds."""
    stream = simulate_stream(StreamConfig(data=data, seconds=seconds, signal_rate_hz=1.0, lfn_rate_hz=lfn_rate_hz,
                                          seed=seed))  # fmt: skip
    truth = stream.truth
    arrays = {"adc": stream.adc.astype(np.int16)}
    if events:  # each LFN episode's half-extent: the one the simulation matches candidates within
        half = np.where(truth.kind == EventKind.LFN, LFN_EXTENT_WIDTHS * truth.width_samples, 1.0)
        height = truth.energy_sigma * OptimalFilter.build(data).resolution  # ADC counts; NaN for LFN
        arrays |= {"event_sample": truth.sample, "event_kind": truth.kind, "event_width": half, "event_energy": height}
    np.savez(path, **(arrays | changes))
    return path


def with_recording(data: CdmsLfnData, path: Path, **user) -> CdmsLfnData:
    keys = {"event_sample": "event_sample", "event_kind": "event_kind", "event_width": "event_width"} | user
    return dataclasses.replace(data, user=UserStream(path=path, **keys))


def test_the_noise_measured_on_a_recording_is_the_noise_it_was_made_with(tmp_path: Path) -> None:
    data = CdmsLfnData()
    user = with_recording(data, write_recording(tmp_path / "rec.npz", data, seconds=30))
    measured = recorded.noise(user)
    assert len(measured.traces) >= 1000  # quiet traces QETpy's autocuts kept
    ratio = noise_psd(user, data.of_length)[1:] / noise_psd(data, data.of_length)[1:]
    # the recording holds the ADC's rounding (1/12 count^2, 2 % of the white level) that the model's PSD has not
    assert 0.99 < np.median(ratio) < 1.05
    assert abs(OptimalFilter.build(user).resolution / OptimalFilter.build(data).resolution - 1) < 0.02
    acov = noise_autocovariance(user, 4)
    assert np.allclose(acov, noise_autocovariance(data, 4), rtol=0.05)  # the slow wander kept (WIDE_CUTS)


def test_a_recording_gives_windows_of_its_own_events_and_a_measurement_on_its_other_part(tmp_path: Path) -> None:
    user = with_recording(SMALL, write_recording(tmp_path / "rec.npz", SMALL, seconds=30))
    chain = Chain.build(user)
    train = windows.training_windows(user, 7, chain)
    assert set(np.unique(train.kind)) == {EventKind.SIGNAL, EventKind.LFN}  # injected pulses, known LFN
    scan = windows.measurement_scan(user, 7, chain)
    assert scan.seconds == pytest.approx(15.0, abs=0.01)  # the recording's second half, less the OF's settling
    assert scan.segments == 1
    assert np.all(np.isfinite(scan.pulse_energy)) and len(scan.pulse_energy) > 100  # injected: known energies
    # the recording's own pulses (1 Hz) count in the turn-ons where their energy is given, beside the injected
    with_energies = windows.measurement_scan(with_recording(SMALL, user.user.path, event_energy="event_energy"), 7)
    assert 5 <= len(with_energies.pulse_energy) - len(scan.pulse_energy) <= 30


def test_labelled_traces_are_each_cut_at_their_own_OF_maximum(tmp_path: Path) -> None:
    """One pass of the FIR over traces laid end to end equals each trace's own FIR, trace by trace."""
    rng = np.random.default_rng(3)
    length = SMALL.of_length + SMALL.candidate_hold_samples + 40
    traces = np.round(rng.normal(0, 2, size=(40, length))).astype(np.int16)
    traces[::2, 150:] += np.round(30 * np.exp(-np.arange(length - 150) / 60)).astype(np.int16)  # pulse-like steps
    labels = np.arange(40) % 2 == 0
    rec = write_recording(tmp_path / "rec.npz", SMALL, seconds=3)
    np.savez(tmp_path / "traces.npz", traces=traces, label=labels.astype(np.int8))
    data = dataclasses.replace(with_recording(SMALL, rec), user_windows=UserWindows(path=tmp_path / "traces.npz"))
    chain = Chain.build(data)
    got = windows.training_windows(data, 7, chain)
    assert np.array_equal(got.label, labels.astype(np.int8))
    for i in (0, 1, 17):
        y = chain.fir.output(traces[i].astype(np.float32))
        peak = chain.settle + int(np.argmax(y[chain.settle :]))
        expected = chain.network_inputs(traces[i].astype(np.float32), y, np.array([peak]))[0]
        assert np.array_equal(got.x[i], expected)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"adc": np.full(3_000_000, 40, np.int16)}, "subtract the pedestal"),
        ({"adc": np.zeros(3_000_000) + 0.5}, "must be whole ADC counts"),
        ({"adc": np.r_[np.zeros(3_000_000, np.int16), 300]}, "outside the 8-bit signed ADC word"),
        ({"adc": np.zeros(1000, np.int16)}, "need at least"),
        ({"event_kind": np.full(3, 7)}, "mark each known event as one of the two"),
        ({"event_sample": np.array([1, 2, 5e9])}, "whole sample numbers"),
    ],
)
def test_a_recording_the_flow_cannot_take_is_one_message(tmp_path: Path, change: dict, message: str) -> None:
    events = {"event_sample": np.array([10, 20, 30]), "event_kind": np.array([2, 1, 2]), "event_width": np.ones(3)}
    path = tmp_path / "bad.npz"
    np.savez(path, **({"adc": np.zeros(3_000_000, np.int16)} | events | change))
    with pytest.raises(DataError, match=message):
        recorded.noise(with_recording(SMALL, path))


def test_a_recording_without_known_LFN_cannot_train_and_says_what_to_give(tmp_path: Path) -> None:
    user = with_recording(SMALL, write_recording(tmp_path / "rec.npz", SMALL, seconds=3, lfn_rate_hz=0.0))
    with pytest.raises(DataError, match="list the known LFN episodes"):
        windows.training_windows(user, 7)


def test_labelled_traces_alone_are_refused_for_want_of_a_stream(tmp_path: Path) -> None:
    data = dataclasses.replace(SMALL, user_windows=UserWindows(path=tmp_path / "traces.npz"))
    with pytest.raises(CardError, match="give the recording as data.user too"):
        data.validate("card")


CARD = {
    "name": "recorded",
    "task": "cdms_lfn",
    "seed": 7,
    "data": SMALL_KEYS | {"user": {"path": "recording.npz"} | {k: k for k in EVENT_ARRAYS}},
    "network": {"hidden_units": [8]},
    "training": {"epochs": 8, "batch_size": 128},
    "verify": {"n_vectors": 5000},
    "cosim": {"n_vectors": 1000},
}


def test_a_card_on_a_recording_builds_verifies_and_reports_the_trigger_on_it(tmp_path: Path) -> None:
    write_recording(tmp_path / "recording.npz", SMALL, seconds=50)
    card = tmp_path / "recorded.yaml"
    card.write_text(yaml.safe_dump(CARD))
    assert main(["build", str(card), "--projects", str(tmp_path / "projects")]) == 0
    project = tmp_path / "projects" / "recorded"
    report = json.loads((project / "report.json").read_text())
    assert report["verdict"] == "PASS"
    for impl in report["verification"]["implementations"]:
        assert impl["mismatches"] == 0
    phys = report["physics"]["firmware"]
    assert "the recording recording.npz" in phys["stream"]
    assert phys["vectors"] == report["dataset"]["n_test"]  # every candidate window through the firmware
    assert phys["triggers"]["OF alone"]["threshold_sigma"] > 0
    trig = report["trigger"]
    assert "the recording recording.npz" in trig["stream"]
    assert all(not any(r["mismatches"].values()) for r in trig["runs"])
    # every episode known with its extent: the noise triggers are noise, as rare as Rice's formula has them
    of_alone = phys["triggers"]["OF alone"]
    assert of_alone["noise_hz"] < 0.1
    md = (project / "report.md").read_text()
    assert "The LFN is the recording's own" in md and "the recording's own LFN and noise" in md
