"""The card's architectures as Keras models: shapes, table layers, and a user's own builder."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from trigger_nn.card import CnnConfig, MlpConfig, PythonConfig
from trigger_nn.errors import CardError
from trigger_nn.firmware.hls import writer_for
from trigger_nn.nets import build_model

ADC = (1, 7, 0)  # signed 8-bit counts


def layer_types(model: object) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]  # type: ignore[attr-defined]


def test_cnn1d_reads_a_plain_window_as_one_channel() -> None:
    net = CnnConfig(architecture="cnn1d", filters=(3, 2), kernel_size=4, strides=2, pool_size=2, dense_units=(5,))
    model = build_model(net, input_shape=(40,), input_kif=ADC)
    assert model.input_shape == (None, 40) and model.output_shape == (None, 1)
    assert model.get_layer("channels").output.shape == (None, 40, 1)
    pooled_convolution = ["QConv1D", "MaxPooling1D"]
    assert layer_types(model)[2:] == [*pooled_convolution, *pooled_convolution, "Flatten", "QDense", "QDense"]
    assert writer_for(model) == "hls4ml"


def test_cnn2d_takes_images_and_gives_one_logit_per_class() -> None:
    net = CnnConfig(architecture="cnn2d", filters=(2,), kernel_size=3, strides=1, dense_units=())
    model = build_model(net, input_shape=(7, 7, 2), input_kif=(0, 8, 0), n_outputs=3)
    assert "channels" not in [layer.name for layer in model.layers]  # channels already last
    assert model.output_shape == (None, 3)


def test_table_layers_replace_every_dense_and_convolution() -> None:
    cnn = build_model(CnnConfig(architecture="cnn1d", filters=(2,), lut_layers=True), input_shape=(16,), input_kif=ADC)
    assert [t for t in layer_types(cnn) if t.startswith("Q")] == ["QConvT1D", "QDenseT", "QDenseT"]
    mlp = build_model(MlpConfig(hidden_units=(3,), lut_layers=True), input_shape=(8,), input_kif=ADC)
    assert [t for t in layer_types(mlp) if t.startswith("Q")] == ["QDenseT", "QDenseT"]
    assert writer_for(cnn) == writer_for(mlp) == "da4ml"  # hls4ml 1.3 cannot convert table layers


@pytest.mark.parametrize(
    ("architecture", "card"), [("cnn1d", "cdms_lfn"), ("cnn2d", "ecl_photon"), ("cnn2d", "ecl_photon_tc")]
)
def test_the_default_cnns_fit_the_default_cards_inputs(repo: Path, architecture: str, card: str) -> None:
    """The defaults build on each default card's events, and their estimated size fits the card's part."""
    from trigger_nn.card import load_card
    from trigger_nn.firmware import resources

    c = load_card(repo / "models" / f"{card}.yaml")
    shape = {"cdms_lfn": (65,), "ecl_photon": (7, 7), "ecl_photon_tc": (3, 3)}[card]  # their events' shapes
    model = build_model(CnnConfig(architecture=architecture), input_shape=shape, input_kif=ADC)
    resources.check_before_tracing(model, c.firmware)  # raises BudgetError over the part's LUTs


@pytest.mark.parametrize(
    ("net", "shape", "message"),
    [
        (CnnConfig(architecture="cnn1d"), (4, 4, 4), "cnn1d takes a waveform"),
        (CnnConfig(architecture="cnn2d"), (64,), "cnn2d takes an image"),
        (CnnConfig(filters=(2, 2, 2), kernel_size=5, strides=2), (12,), "used up after convolution 2 of 3"),
    ],
)
def test_a_network_that_does_not_fit_the_data_is_refused(net: CnnConfig, shape: tuple, message: str) -> None:
    with pytest.raises(CardError, match=re.escape(message)):
        build_model(net, input_shape=shape, input_kif=ADC)


BUILDER = '''
import keras
from hgq.layers import QDense
from trigger_nn.nets.mlp import input_quantizer_config


def residual(input_shape, input_kif, n_outputs, beta, weight_bits):
    """A network the card keys cannot express: a skip connection around a dense layer."""
    inp = keras.Input(input_shape)
    h = QDense(input_shape[0], activation="relu", iq_conf=input_quantizer_config(input_kif))(inp)
    return keras.Model(inp, QDense(n_outputs)(keras.layers.Add()([inp, h])))


def one_logit(input_shape, input_kif, n_outputs, beta, weight_bits):
    inp = keras.Input(input_shape)
    return keras.Model(inp, QDense(1, iq_conf=input_quantizer_config(input_kif))(inp))


def not_a_model(**kwargs):
    return "a string"
'''


@pytest.fixture
def builders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "my_nets.py").write_text(BUILDER)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_nets"
    sys.modules.pop("my_nets", None)


def test_a_python_builder_makes_what_the_card_keys_cannot(builders: str) -> None:
    model = build_model(PythonConfig(builder=f"{builders}:residual"), input_shape=(6,), input_kif=ADC, n_outputs=2)
    assert "Add" in layer_types(model) and model.output_shape == (None, 2)


@pytest.mark.parametrize(
    ("builder", "message"),
    [
        ("no_such_module:f", "cannot import 'no_such_module'"),
        ("my_nets:missing", "my_nets has no function 'missing'"),
        ("my_nets:not_a_model", "returned str, not a Keras model"),
    ],
)
def test_a_python_builder_that_fails_is_named(builders: str, builder: str, message: str) -> None:
    with pytest.raises(CardError, match=re.escape(message)):
        build_model(PythonConfig(builder=builder), input_shape=(6,), input_kif=ADC)


def test_a_python_builder_of_the_wrong_shape_is_named(builders: str) -> None:
    with pytest.raises(CardError, match=re.escape("the data need one from (6,) to (3,)")):
        build_model(PythonConfig(builder=f"{builders}:one_logit"), input_shape=(6,), input_kif=ADC, n_outputs=3)


def test_the_flow_trains_a_python_builders_network(builders: str, tmp_path: Path) -> None:
    """A card naming the builder: `train` builds, trains and saves it like the card's own architectures."""
    import keras

    from trigger_nn.cli import main
    from trigger_nn.tasks.data_files import write_arrays

    rng = np.random.default_rng(0)
    x = rng.integers(-8, 8, (400, 6)).astype(np.float64)
    write_arrays(tmp_path / "events.npz", {"x": x, "y": (x[:, 0] + x[:, 1] > 0).astype(int)})
    card = tmp_path / "card.yaml"
    card.write_text(
        "name: own_net\ntask: labelled\ndata: {file: events.npz, input_word: 'fixed<4,4>'}\n"
        f"network: {{architecture: python, builder: '{builders}:residual'}}\ntraining: {{epochs: 3}}\n"
    )
    for stage in ("simulate", "train"):
        assert main([stage, str(card), "--projects", str(tmp_path / "projects")]) == 0, stage
    model = keras.models.load_model(tmp_path / "projects" / "own_net" / "train" / "model.keras", compile=False)
    assert "Add" in layer_types(model) and model.output_shape == (None, 1)
