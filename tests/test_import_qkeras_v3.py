"""`trigger-nn import` of QKerasV3 models (QKeras for Keras 3, `qkeras-v3` on PyPI): read from the .keras file,
rebuilt on HGQ2 layers, equal to qkeras-v3's own predictions, then built and verified like any other.

The files in ``tests/data/qkeras_v3/`` were made by ``make_references.py`` there, in an environment of their
own (qkeras-v3 1.2.1; its README): this environment does not have qkeras-v3, whose ``qkeras`` package would
clash with HGQ2's.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from trigger_nn import cli
from trigger_nn.card import load_card
from trigger_nn.errors import ModelFileError
from trigger_nn.keras2 import files
from trigger_nn.tasks.imported import importer

DATA = Path(__file__).parent / "data" / "qkeras_v3"
MODELS = ("dense", "conv1d")


def _import(tmp_path: Path, name: str) -> Path:
    return importer.run(
        DATA / name / "model.keras", None, f"v3_{name}", models_dir=tmp_path / "models",
        inputs=DATA / name / "predictions.npz",
    )  # fmt: skip


@pytest.mark.parametrize("name", MODELS)
def test_a_qkeras_v3_model_predicts_what_qkeras_v3_predicted(tmp_path: Path, name: str) -> None:
    assert files.is_qkeras_v3(DATA / name / "model.keras")
    card_path = _import(tmp_path, name)  # raises MismatchError, writing nothing, on any differing vector
    record = json.loads((card_path.parent / card_path.stem / "import.json").read_text())
    assert record["qkeras_vectors"] == 500 and record["qkeras_mismatches"] == 0
    assert record["input_kif"] == [1, 3, 5]  # the word the inputs are written on (k / 32)
    import keras

    model = keras.models.load_model(load_card(card_path).data.model, compile=False)
    with np.load(DATA / name / "predictions.npz") as ref:
        ours = model.predict(ref["x"], batch_size=4096, verbose=0)
        np.testing.assert_array_equal(ours.reshape(ref["y"].shape), ref["y"])
        # the references hold halfway inputs, where round half to even and half up differ
        assert np.any(np.modf(ref["x"] * 16)[0] == 0.5)


def test_a_qkeras_v3_model_passes_verify_and_cosim(tmp_path: Path) -> None:
    card_path = _import(tmp_path, "conv1d")
    card = yaml.safe_load(card_path.read_text())
    card["cosim"] = {"n_vectors": 300}
    card_path.write_text(yaml.safe_dump(card))
    project = cli.run_stages(card_path, cli.STAGES, tmp_path / "projects")
    report = json.loads((project / "report.json").read_text())
    assert report["verdict"] == "PASS"
    for check in report["verification"]["implementations"]:
        assert check["vectors"] >= 500 and check["mismatches"] == 0, check
    assert report["latency"]["mismatches"] == 0 and report["latency"]["vectors"] == 300
    assert report["physics"]["firmware"]["qkeras_mismatches"] == 0


def test_a_keras3_file_without_qkeras_layers_is_not_read_as_qkeras(tmp_path: Path) -> None:
    import keras

    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    plain.save(tmp_path / "plain.keras")
    assert not files.is_qkeras_v3(tmp_path / "plain.keras")
    with pytest.raises(ModelFileError, match="without QKerasV3 layers"):
        files.read(tmp_path / "plain.keras")


def test_a_qkeras_v3_layer_whose_weights_are_unknown_is_named(tmp_path: Path) -> None:
    """A layer kind with weights this reader cannot name (here the QDense renamed) is refused, not guessed."""
    copy = tmp_path / "renamed.keras"
    with zipfile.ZipFile(DATA / "dense" / "model.keras") as src, zipfile.ZipFile(copy, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                data = data.replace(b'"class_name": "QDense"', b'"class_name": "QDenseBatchnorm"')
            dst.writestr(item, data)
    with pytest.raises(ModelFileError, match=r"layer 'dense1' \(QDenseBatchnorm\) has 2 weights this reader"):
        files.read(copy)
