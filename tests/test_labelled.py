"""The `labelled` task: a user's own labelled events of any shape, read, checked, trained and built.

The end-to-end test writes a three-class NPZ of 6 x 6 images and builds a 2-D CNN on it, firmware
included (real hls4ml, da4ml, Verilator, cocotb); the others are the reader's messages and the figures.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest

from trigger_nn.artifacts import VerifyResult
from trigger_nn.cli import main
from trigger_nn.dataset import Split, read_dataset
from trigger_nn.errors import CardError, DataError
from trigger_nn.tasks.data_files import write_arrays as write
from trigger_nn.tasks.labelled import LabelledTask, physics
from trigger_nn.tasks.labelled.config import LabelledData, OutOfRange, parse_word
from trigger_nn.tasks.labelled.events import read_events

CLASSES = ("noise", "blob", "line")


def images(n: int = 1500, seed: int = 3) -> dict[str, np.ndarray]:
    """Three classes of 6 x 6 count images: noise, noise and a blob, noise and a lit row."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.poisson(3.0, (n, 6, 6)).astype(np.float64)
    r, c = np.mgrid[:6, :6]
    for i in np.flatnonzero(y == 1):
        r0, c0 = rng.uniform(1.5, 4.5, 2)
        x[i] += rng.uniform(20, 100) * np.exp(-((r - r0) ** 2 + (c - c0) ** 2) / 2.0)
    for i in np.flatnonzero(y == 2):
        x[i, rng.integers(1, 5)] += rng.uniform(10, 50)
    return {"image": np.minimum(x, 255), "label": y, "energy": x.sum(axis=(1, 2))}


CARD = """\
name: tiny_images
task: labelled
data:
  file: events.npz
  inputs: [image]
  labels: label
  class_names: [noise, blob, line]
  input_word: ufixed<8,8>
  plot_variable: energy
network:
  architecture: cnn2d
  filters: [3]
  kernel_size: 3
  strides: 1
  pool_size: 2
  dense_units: [6]
training:
  epochs: 25
  batch_size: 64
verify:
  n_vectors: 3000
cosim:
  n_vectors: 500
"""


def test_a_multiclass_npz_of_images_builds_verifies_and_reports(tmp_path: Path) -> None:
    np.savez(tmp_path / "events.npz", **images())
    (tmp_path / "card.yaml").write_text(CARD)
    assert main(["build", str(tmp_path / "card.yaml"), "--projects", str(tmp_path / "projects")]) == 0
    project = tmp_path / "projects" / "tiny_images"
    report = json.loads((project / "report.json").read_text())
    assert report["verdict"] == "PASS"
    for check in report["verification"]["implementations"]:
        assert check["vectors"] >= 3000 and check["mismatches"] == 0
    assert report["latency"]["mismatches"] == 0 and report["latency"]["vectors"] == 500
    fw = report["physics"]["firmware"]
    assert fw["vectors"] == 450  # 30 % of 1500 events, every one through the firmware
    assert fw["accuracy"] > 0.8 and fw["auc"] > 0.9  # it learnt the three classes
    # the confusion matrix, worked out here from the firmware's verified logits and the test labels
    logits, rows = VerifyResult.load(project / "verify.json").vectors().test_set_outputs()
    y = read_dataset(project / "data" / "dataset.h5").test.y[rows]
    expected = np.array([np.bincount(logits[y == c].argmax(axis=1), minlength=3) / np.sum(y == c) for c in range(3)])
    assert logits.shape == (450, 3) and np.allclose(fw["confusion_matrix"], expected)
    assert [fw[f"{c}_efficiency"] for c in CLASSES] == pytest.approx(np.diag(expected).tolist())
    md = (project / "report.md").read_text()
    assert "| true class \\ firmware's class | noise | blob | line |" in md
    assert "Efficiencies in bins of 'energy'" in md
    for plot in ("confusion.png", "roc.png", "efficiency_vs_variable.png"):
        assert (project / "plots" / plot).is_file()


def features(n: int = 60) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"a": rng.integers(-8, 8, n) * 0.25, "b": rng.integers(-8, 8, n) * 0.25, "y": np.arange(n) % 2}


@pytest.mark.parametrize("suffix", [".root", ".h5", ".npz"])
def test_scalar_branches_make_a_feature_vector_in_every_format(tmp_path: Path, suffix: str) -> None:
    data = features()
    path = write(tmp_path / f"events{suffix}", data)
    ev = read_events(LabelledData(file=path, inputs=("a", "b"), input_word="fixed<6,3>"))
    assert ev.x.shape == (60, 2) and ev.class_names == ("class_0", "class_1")
    assert np.array_equal(ev.x[:, 1], data["b"]) and np.array_equal(ev.y, data["y"])


def test_values_are_taken_down_to_the_words_step(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = features()
    data["a"] = data["a"] + 0.1  # between steps of 0.125
    path = write(tmp_path / "e.npz", data)
    with caplog.at_level(logging.INFO):
        ev = read_events(LabelledData(file=path, inputs=("a",), labels="y", input_word="fixed<6,3>"))
    assert np.array_equal(ev.x[:, 0], np.floor(data["a"] / 0.125) * 0.125)
    assert "60 of 60 input values are not on the fixed<6,3> grid (step 0.125)" in caplog.text


def test_values_outside_the_word_are_refused_or_saturated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = features()
    data["a"][5] = 9.0  # fixed<6,3> holds [-4, 3.875]
    path = write(tmp_path / "e.npz", data)
    card = LabelledData(file=path, inputs=("a", "b"), input_word="fixed<6,3>")
    message = "1 values in 1 events lie outside the input word fixed<6,3> ([-4, 3.875]; the first in event 5: 9)"
    with pytest.raises(DataError, match=re.escape(message) + ".*data.out_of_range: saturate"):
        read_events(card)
    ev = read_events(LabelledData(**{**card.__dict__, "out_of_range": OutOfRange.SATURATE}))
    assert ev.x[5, 0] == 3.875 and "held at the word's ends" in caplog.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"a": np.r_[np.nan, np.zeros(59)]}, "array 'a+b' holds 1 NaN or infinite input values in 1 events"),
        ({"y": np.arange(60) % 2 + 0.5}, "labels that are not class numbers 0, 1, ...: found 0.5, 1.5"),
        ({"y": (np.arange(60) % 2) * 2}, "no event of class 1 (classes found: 0, 2)"),
        ({"y": np.zeros(60)}, "has only class 0"),
        ({"y": np.r_[np.arange(59) % 2, 2e8]}, "no event of class 2 (classes found: 0, 1, 2e+08)"),
        ({"w": -np.ones(60)}, "weights must be >= 0 and not all 0"),
        ({"b": np.zeros((60, 3))}, "array 'b' holds 3 values per event; data.inputs needs one"),
        ({"y": np.arange(59) % 2}, "arrays have different lengths: 'a' has 60 events but 'y' has 59"),
    ],
)
def test_bad_events_name_the_problem(tmp_path: Path, change: dict, message: str) -> None:
    data = {**features(), "w": np.ones(60), **change}
    path = write(tmp_path / "e.npz", data)
    with pytest.raises(DataError, match=re.escape(message)):
        read_events(LabelledData(file=path, inputs=("a", "b"), weights="w", input_word="fixed<6,3>"))


def test_a_missing_array_names_the_nearest_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path / "e.h5", {**features(), "label": np.arange(60) % 2})
    with pytest.raises(DataError, match=r"no dataset 'lable' \(did you mean 'label'\?\).*Set data.labels in the card"):
        read_events(LabelledData(file=path, inputs=("a",), labels="lable"))
    with pytest.raises(DataError, match=r"the event file .*nope.npz does not exist; check data.file"):
        read_events(LabelledData(file=tmp_path / "nope.npz"))


def test_class_names_must_match_the_classes(tmp_path: Path) -> None:
    path = write(tmp_path / "e.npz", features())
    with pytest.raises(DataError, match=r"has 2 classes but data.class_names names 3"):
        read_events(LabelledData(file=path, inputs=("a",), class_names=("x", "y", "z")))


@pytest.mark.parametrize(
    ("word", "kif"), [("fixed<8,8>", (1, 7, 0)), ("ufixed<8,8>", (0, 8, 0)), ("fixed<16,6>", (1, 5, 10))]
)
def test_input_words_in_ap_fixed_notation(word: str, kif: tuple) -> None:
    assert parse_word(word, "w") == kif


def test_a_bad_input_word_is_named() -> None:
    with pytest.raises(CardError, match=r"'float32' is not an input word; write fixed<W,I>"):
        parse_word("float32", "card.data.input_word")
    with pytest.raises(CardError, match=r"has 40 bits"):
        parse_word("fixed<40,8>", "card.data.input_word")


@pytest.mark.parametrize("classes", [("bkg", "sig"), ("a", "b", "c")])
def test_weights_count_in_the_efficiencies(tmp_path: Path, classes: tuple[str, ...]) -> None:
    """An event of weight 2 counts as two events of weight 1: in the ROC, the confusion matrix, every efficiency."""
    rng = np.random.default_rng(1)
    n, k = 300, len(classes)
    y = np.arange(n) % k
    scores = (y + rng.normal(0, 0.8, n)) if k == 2 else np.eye(k)[y] + rng.normal(0, 0.8, (n, k))
    w = rng.integers(1, 3, n).astype(float)
    repeat = np.repeat(np.arange(n), w.astype(int))
    card = LabelledData(file=tmp_path / "x.npz", weights="w")

    def run(rows: np.ndarray, weights: np.ndarray) -> dict:
        test = Split(x=np.zeros((len(rows), 1)), y=y[rows], truth={"weight": weights})
        out = tmp_path / f"plots{len(rows)}"
        out.mkdir()
        return physics.evaluate(card, test, classes, scores[rows], np.arange(len(rows)), out).metrics

    weighted, repeated = run(np.arange(n), w), run(repeat, np.ones(len(repeat)))
    assert weighted.pop("vectors") == n and repeated.pop("vectors") == len(repeat)
    if k > 2:
        assert np.allclose(weighted.pop("confusion_matrix"), repeated.pop("confusion_matrix"))
    assert weighted == pytest.approx(repeated)


def test_the_split_keeps_every_class_in_both_sets_and_follows_the_seed(tmp_path: Path) -> None:
    data = {**features(90), "y": np.arange(90) % 3}
    card = LabelledData(file=write(tmp_path / "e.npz", data), inputs=("a", "b"), input_word="fixed<6,3>")
    ds = LabelledTask().dataset(card, seed=5)
    assert len(ds.test.y) == 27 and np.bincount(ds.test.y).tolist() == [9, 9, 9]
    assert np.bincount(ds.train.y).tolist() == [21, 21, 21]
    again = LabelledTask().dataset(card, seed=5)
    assert np.array_equal(again.test.x, ds.test.x) and ds.input_kif == (1, 2, 3)


def test_a_class_missing_from_the_verified_events_is_named(tmp_path: Path) -> None:
    test = Split(x=np.zeros((4, 1)), y=np.array([0, 1, 0, 1]), truth={"weight": np.ones(4)})
    with pytest.raises(DataError, match=r"none of the 4 test events .* is of class 'c'.*raise verify.n_vectors"):
        physics.evaluate(LabelledData(file=tmp_path / "x.npz"), test, ("a", "b", "c"), np.zeros((4, 3)), np.arange(4),
                         tmp_path)  # fmt: skip
