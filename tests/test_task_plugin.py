"""A new trigger task is one folder and one registry line: here, a toy task defined in this file alone.

The toy is a detector with four signed 6-bit channels, where a signal shifts every channel's mean.
Registered for the test only, it is built end to end by the real flow (hls4ml, da4ml, Verilator,
cocotb), and its own figure of merit appears in the report, computed from the verified firmware outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from trigger_nn.artifacts import DatasetInfo, FixedFormat, VerifyResult
from trigger_nn.card import load_card
from trigger_nn.cli import main
from trigger_nn.dataset import Dataset, Split, read_dataset
from trigger_nn.errors import CardError
from trigger_nn.tasks import TASKS, Headline, Physics, TaskData, get_task
from trigger_nn.tasks.protocol import TrainedFromData


@dataclass(frozen=True, kw_only=True)
class ToyData(TaskData):
    """The toy's card section: how many events, and how far the signal moves each channel (in LSBs)."""

    n_train: int = 2000
    n_test: int = 600
    shift: float = 6.0

    def validate(self, where: str) -> None:
        if self.shift <= 0:
            raise CardError(f"{where}: data.shift must be positive, got {self.shift}")


#: four channels, each a signed word of 6 bits with 2 of them fraction: [-8, 8) in steps of 0.25
WORD = FixedFormat(1, 3, 2)


class ToyTask(TrainedFromData):
    data_type = ToyData

    def dataset(self, data: ToyData, seed: int) -> Dataset:
        rng = np.random.default_rng(seed)

        def split(n: int) -> Split:
            y = rng.integers(0, 2, n).astype(np.int8)
            lsb = 2.0**-WORD.frac_bits
            counts = np.round(rng.normal(size=(n, 4)) * 8 + y[:, None] * data.shift)
            return Split(x=(np.clip(counts, -32, 31) * lsb).astype(np.float32), y=y, truth={})

        return Dataset(train=split(data.n_train), test=split(data.n_test), input_kif=WORD, class_names=("quiet", "hit"))

    def describe(self, data: ToyData) -> str:
        return f"toy: four Gaussian channels, the signal shifted by {data.shift:g} LSB"

    def headline(self, data: ToyData) -> Headline:
        return Headline(label="score separation", key="separation")

    def evaluate(self, data, test: Split, info: DatasetInfo, scores, rows, plots: Path, reference=None) -> Physics:
        hit = test.y[rows] == 1
        separation = float(np.mean(scores[hit]) - np.mean(scores[~hit]))
        return Physics(
            metrics={"vectors": int(len(rows)), "separation": separation},
            markdown=[f"Mean score of hits minus quiet events: {separation:.4f}."],
        )


CARD = {
    "name": "toy_trigger",
    "task": "toy",
    "seed": 3,
    "data": {"shift": 6.0},
    "network": {"hidden_units": [4], "weight_bits": 4},
    "training": {"epochs": 4, "batch_size": 128},
    "verify": {"n_vectors": 600},
    "cosim": {"n_vectors": 400},
}


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TASKS, "toy", ToyTask())


def test_a_task_defined_in_a_test_builds_end_to_end(toy_registered: None, tmp_path: Path) -> None:
    card = tmp_path / "toy.yaml"
    card.write_text(yaml.safe_dump(CARD))
    assert main(["build", str(card), "--projects", str(tmp_path / "projects")]) == 0

    project = tmp_path / "projects" / "toy_trigger"
    report = json.loads((project / "report.json").read_text())
    assert report["verification"]["passed"]
    assert all(c["mismatches"] == 0 and c["vectors"] > 0 for c in report["verification"]["implementations"])
    latency = report["latency"]
    assert latency["mismatches"] == 0 and latency["idle_gaps"]["mismatches"] == 0
    assert latency["latency_cycles"] == latency["pipeline_depth_cycles"] >= 1
    assert report["dataset"]["description"] == "toy: four Gaussian channels, the signal shifted by 6 LSB"

    # the toy's figure of merit, from the firmware outputs verify found bit-exact
    verified = VerifyResult.load(project / "verify.json")
    scores, rows = verified.vectors().test_set_outputs()
    test = read_dataset(project / "data" / "dataset.h5").test
    hit = test.y[rows] == 1
    expected = float(np.mean(scores[hit]) - np.mean(scores[~hit]))
    assert report["physics"]["firmware"]["separation"] == expected > 0
    assert "Mean score of hits minus quiet events" in (project / "report.md").read_text()


def test_a_task_card_section_validates_itself(toy_registered: None, tmp_path: Path) -> None:
    card = tmp_path / "toy.yaml"
    card.write_text(yaml.safe_dump(CARD | {"data": {"shift": -1.0}}))
    assert main(["simulate", str(card), "--projects", str(tmp_path)]) == 1
    card.write_text(yaml.safe_dump(CARD | {"data": {"shfit": 1.0}}))
    with pytest.raises(CardError, match="unknown key 'shfit'; did you mean 'shift'"):
        load_card(card)


def test_an_unknown_task_lists_the_registered_ones(toy_registered: None) -> None:
    with pytest.raises(CardError, match="unknown task 'toi'; did you mean 'toy'\\? valid tasks: .*ecl_photon.*toy"):
        get_task("toi")
