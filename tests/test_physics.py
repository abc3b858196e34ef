"""The CDMS report: OF alone, the classical vetoes and OF + NN at the card's accidental-rate budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trigger_nn.artifacts import DatasetInfo
from trigger_nn.card import card_from_dict
from trigger_nn.dataset import Dataset
from trigger_nn.errors import CardError
from trigger_nn.report import json_safe
from trigger_nn.tasks import get_task
from trigger_nn.tasks.cdms import physics
from trigger_nn.tasks.cdms.simulation import EventKind

SEED = 5
DATA = card_from_dict({"name": "m", "task": "cdms_lfn", "data": {"n_train": 100, "stream_seconds": 60}}).data


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return get_task("cdms_lfn").dataset(DATA, SEED)


def _evaluate(ds: Dataset, scores: np.ndarray, plots: Path, rows: np.ndarray | None = None):
    info = DatasetInfo(path=Path("unused.h5"), task="cdms_lfn", description="", n_train=len(ds.train.x),
                       n_test=len(ds.test.x), input_shape=ds.test.x.shape[1:], seed=SEED,
                       class_names=ds.class_names)  # fmt: skip
    rows = np.arange(len(scores)) if rows is None else rows
    return physics.evaluate(DATA, ds.test, info, scores[rows], rows, plots)


def test_a_network_that_knows_lfn_beats_the_classical_vetoes_and_one_that_knows_nothing_does_not(
    dataset: Dataset, tmp_path: Path
) -> None:
    kind = dataset.test.truth["kind"]
    oracle = _evaluate(dataset, (kind != EventKind.LFN).astype(np.float64), tmp_path)
    m = oracle.metrics
    nn, alone = m["triggers"]["OF + NN (firmware)"], m["triggers"]["OF alone"]
    assert nn["lfn_count"] == 0 and nn["total_hz"] <= DATA.accidental_budget_hz
    classical = [t for name, t in m["triggers"].items() if "NN" not in name]
    assert all(nn["e50_sigma"] <= t["e50_sigma"] + 0.2 for t in classical)
    best = min(classical, key=lambda t: t["e50_sigma"])
    assert m["threshold_reduction"] == pytest.approx(1 - nn["e50_sigma"] / best["e50_sigma"])
    assert nn["threshold_sigma"] < alone["threshold_sigma"]
    json.dumps(json_safe(m))  # the report writes it
    assert any(line.startswith("| OF + NN (firmware) |") for line in oracle.markdown)
    assert (tmp_path / "turn_on.png").is_file() and (tmp_path / "accidental_rates.png").is_file()

    blind = _evaluate(dataset, np.random.default_rng(0).random(len(kind)), tmp_path)
    nn = blind.metrics["triggers"]["OF + NN (firmware)"]
    assert nn["e50_sigma"] >= alone["e50_sigma"] - 0.3  # a random cut gains nothing over the OF alone


def test_every_candidate_window_must_have_a_firmware_score(dataset: Dataset, tmp_path: Path) -> None:
    n = len(dataset.test.x)
    with pytest.raises(CardError, match=f"set verify.n_vectors to at least {n}"):
        _evaluate(dataset, np.zeros(n), tmp_path, rows=np.arange(n - 1))
