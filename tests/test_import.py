"""`trigger-nn import`: QKeras 0.9 models, saved by QKeras itself, rebuilt here and compared with its predictions.

The reference files in ``tests/data/qkeras/`` were made once by ``make_references.py`` in an
environment of their own (tf-keras, QKeras 0.9.0; see the README there): this environment has neither.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from trigger_nn import cli
from trigger_nn.card import load_card
from trigger_nn.errors import CardError, ConversionError, DataError
from trigger_nn.keras2 import files, quantizers, rebuild
from trigger_nn.tasks.imported import importer

DATA = Path(__file__).parent / "data" / "qkeras"
MODELS = sorted(p.parent.name for p in DATA.glob("*/reference.npz"))
FORMATS = {"json+h5": ("model.json", "weights.h5"), "h5": ("model.h5",)}


#: models that import only with a flag: dense_softmax ends in a float softmax, which the firmware leaves out
FLAGS = {"dense_softmax": {"drop_final_activation": True}}


def _import(tmp_path: Path, name: str, fmt: str, inputs: str = "reference.npz", **kw) -> Path:
    paths = [DATA / name / f for f in FORMATS[fmt]]
    return importer.run(
        paths[0], paths[1] if len(paths) > 1 else None, f"{name}_{fmt.replace('+', '_')}",
        models_dir=tmp_path / "models", inputs=DATA / name / inputs, **(FLAGS.get(name, {}) | kw),
    )  # fmt: skip


def _outputs(name: str) -> np.ndarray:
    """What the rebuilt model must output on reference.npz's x: QKeras' predictions, or its logits where the
    import drops the final softmax."""
    with np.load(DATA / name / ("logits.npz" if name in FLAGS else "reference.npz")) as ref:
        return ref["y"]


def test_the_reference_files_cover_what_the_issue_asks() -> None:
    assert {"dense_tagger", "cnn1d", "cnn2d", "binary_ternary", "dense_auto_po2", "sign_weights_sigmoid",
            "dense_softmax", "dense_po2"} <= set(MODELS)  # fmt: skip
    for name in MODELS:
        with np.load(DATA / name / "reference.npz") as ref:
            assert len(ref["x"]) >= 1000 and len(ref["y"]) == len(ref["x"])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", MODELS)
def test_an_imported_model_predicts_what_qkeras_predicted(tmp_path: Path, name: str, fmt: str) -> None:
    card_path = _import(tmp_path, name, fmt)  # raises MismatchError, writing nothing, on any differing vector
    record = json.loads((card_path.parent / card_path.stem / "import.json").read_text())
    assert record["qkeras_vectors"] >= 1000 and record["qkeras_mismatches"] == 0
    # and independently of the importer's own check: load what it wrote, predict, compare
    import keras

    card = load_card(card_path)
    model = keras.models.load_model(card.data.model, compile=False)
    with np.load(DATA / name / "reference.npz") as ref:
        ours = model.predict(ref["x"], batch_size=4096, verbose=0)
    expected = _outputs(name)
    np.testing.assert_array_equal(ours.reshape(expected.shape), expected)


@pytest.mark.parametrize("name", MODELS)
def test_weights_are_quantised_as_qkeras_quantises_them(name: str) -> None:
    k2 = files.read(DATA / name / "model.h5")
    ours = rebuild.quantised_weights(k2)
    with np.load(DATA / name / "quantized_weights.npz") as theirs:
        assert set(theirs.files) == set(ours)
        for key in theirs.files:
            np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)


def test_both_file_formats_read_the_same_model() -> None:
    a = files.read(DATA / "dense_tagger" / "model.json", DATA / "dense_tagger" / "weights.h5")
    b = files.read(DATA / "dense_tagger" / "model.h5")
    assert [(x.name, x.kind) for x in a.layers] == [(x.name, x.kind) for x in b.layers]
    for x, y in zip(a.layers, b.layers, strict=True):
        assert sorted(x.weights) == sorted(y.weights)
        for key in x.weights:
            np.testing.assert_array_equal(x.weights[key], y.weights[key])


def test_the_card_written_runs_through_the_flow_loader(tmp_path: Path) -> None:
    card_path = _import(tmp_path, "cnn1d", "h5")
    raw = yaml.safe_load(card_path.read_text())
    assert raw["task"] == "imported" and raw["data"]["model"] == "cnn1d_h5/model.keras"
    card = load_card(card_path)
    assert card.data.model.is_file() and card.data.inputs.is_file()
    with pytest.raises(CardError, match="already exists; give --force"):
        _import(tmp_path, "cnn1d", "h5")
    _import(tmp_path, "cnn1d", "h5", force=True)
    assert cli.main(["scan", str(card_path), "--projects", str(tmp_path / "projects"), "-q"]) == 1  # nothing to retrain


# --- what is refused, and how ----------------------------------------------------------------------------


def _cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(["import", *argv, "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err  # one line, no traceback
    return err


@pytest.mark.parametrize(
    ("file", "message"),
    [
        ("qsimplernn", r"\(QSimpleRNN\) is not supported: a recurrent layer"),
        ("qlstm", r"\(QLSTM\) is not supported: a recurrent layer"),
        (
            "quantized_relu_po2_activation",
            r"quantized_relu_po2.* is not supported: a power-of-two \(logarithmic\) ReLU",
        ),
    ],
)
def test_unsupported_layers_and_quantisers_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], file: str, message: str
) -> None:
    err = _cli_error(capsys, str(DATA / "unsupported" / file / "model.h5"), "-o", "bad", "--models", str(tmp_path),
                     "--input-format", "fixed<16,6>")  # fmt: skip
    assert err.startswith("trigger-nn import: error: ")
    assert re.search(message, err), err
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_truncated_h5_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whole = (DATA / "dense_tagger" / "model.h5").read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(whole[: len(whole) // 2])
    err = _cli_error(capsys, str(cut), "-o", "cut", "--models", str(tmp_path / "models"))
    assert "truncated or corrupt" in err and str(cut) in err
    assert not (tmp_path / "models").exists()


def test_a_corrupt_h5_and_wrong_files_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an HDF5 file at all" * 100)
    assert "not a readable HDF5 file" in _cli_error(capsys, str(junk), "-o", "x", "--models", str(tmp_path))
    weights_only = DATA / "dense_tagger" / "weights.h5"
    assert "holds weights only" in _cli_error(capsys, str(weights_only), "-o", "x", "--models", str(tmp_path))
    json_alone = DATA / "dense_tagger" / "model.json"
    assert "give its weights too" in _cli_error(capsys, str(json_alone), "-o", "x", "--models", str(tmp_path))
    with pytest.raises(ConversionError, match="has no kernel for it"):
        files_mismatched = files.read(DATA / "cnn1d" / "model.json", DATA / "dense_tagger" / "weights.h5")
        rebuild.rebuild(files_mismatched, (1, 5, 4))


def test_inputs_off_the_input_grid_are_refused(tmp_path: Path) -> None:
    with np.load(DATA / "binary_ternary" / "reference.npz") as ref:
        x = ref["x"] + 2.0**-14
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=x)
    with pytest.raises(DataError, match="off the input bus's grid"):
        importer.run(DATA / "binary_ternary" / "model.h5", None, "bt", models_dir=tmp_path,
                     inputs=bad, input_format="fixed<16,6>")  # fmt: skip
    for arrays, message in (
        ({"x": np.full((3, 16), np.nan)}, "NaN or infinite"),
        ({"x": np.zeros((3, 15))}, r"vectors of shape \(15,\), the model takes \(16,\)"),
        ({"inputs": np.zeros((3, 16))}, "no array 'x'"),
    ):
        np.savez(bad, **arrays)
        with pytest.raises(DataError, match=message):
            importer.run(DATA / "binary_ternary" / "model.h5", None, "bt", models_dir=tmp_path, inputs=bad)
    assert not (tmp_path / "bt.yaml").exists()


def test_a_model_without_input_quantiser_needs_the_input_word(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="no input quantiser, so the input word is unknown"):
        importer.run(DATA / "binary_ternary" / "model.h5", None, "bt", models_dir=tmp_path)


# --- the quantisers on their own -------------------------------------------------------------------------


def test_quantisers_saved_as_calls_and_as_configs_read_alike() -> None:
    a = quantizers.parse("quantized_bits(8,2,1,alpha=1)", "t")
    b = quantizers.parse({"class_name": "quantized_bits", "config": {"bits": 8, "integer": 2, "symmetric": 1}}, "t")
    assert isinstance(a, quantizers.Quantizer) and isinstance(b, quantizers.Quantizer)
    assert quantizers.data_format(a, "t") == quantizers.data_format(b, "t")
    fmt = quantizers.data_format(a, "t")
    assert (fmt.signed, fmt.integer, fmt.fraction, fmt.overflow_mode) == (True, 2, 5, "SAT_SYM")
    relu = quantizers.data_format(quantizers.parse("quantized_relu(6,2)", "t"), "t")
    assert (relu.signed, relu.integer, relu.fraction, str(relu)) == (False, 2, 4, "ufixed<6,2>")
    assert quantizers.parse("relu", "t") == "relu" and quantizers.parse(None, "t") is None


def test_the_narrowest_exact_format_of_constants() -> None:
    assert quantizers.holding_format(np.array([0.5, -0.75, 0.25])) == (1, 0, 2)
    assert quantizers.holding_format(np.array([3.0, -4.0])) == (1, 2, 0)
    assert quantizers.holding_format(np.array([0.0])) == (0, 0, 1)


def test_convergent_rounding_in_da4ml_matches_round_half_to_even() -> None:
    """Every 11-bit input word through da4ml's logic, against numpy's round (half to even, as tf.round)."""
    from da4ml.trace import FixedVariableArrayInput, comb_trace

    from trigger_nn.firmware.rtl import convergent_rounding

    words = np.arange(-(2**10), 2**10) / 16  # signed, 4 fraction bits
    for k, i, f, overflow in [(1, 2, 1, "SAT"), (0, 3, 0, "SAT"), (1, 1, 2, "SAT_SYM"), (0, 2, -1, "SAT")]:
        x = FixedVariableArrayInput((1,)).quantize(1, 6, 4)
        with convergent_rounding():
            logic = comb_trace(x, x.quantize(k, i, f, overflow, "RND_CONV"))
        low = -(2.0**i) * k + (2.0**-f if overflow == "SAT_SYM" else 0.0)
        expected = np.clip(np.round(words * 2.0**f) / 2.0**f, low, 2.0**i - 2.0**-f)
        np.testing.assert_array_equal(logic.predict(words.reshape(-1, 1)).ravel(), expected)


def test_unknown_and_unsupported_quantisers_say_why() -> None:
    with pytest.raises(ConversionError, match="unknown quantiser foo"):
        quantizers.parse("foo(3)", "layer x")
    with pytest.raises(ConversionError, match="alpha='auto', a float scale QKeras searches for at run time"):
        quantizers.parse("quantized_bits(8,0,alpha='auto')", "layer x")
    with pytest.raises(ConversionError, match="alpha='auto', a float scale"):
        quantizers.parse({"class_name": "ternary", "config": {"alpha": "auto"}}, "layer x")
    with pytest.raises(ConversionError, match="scales activations by alpha=auto_po2"):
        quantizers.data_format(quantizers.parse("quantized_bits(8,0,1,alpha='auto_po2')", "l"), "l")
    with pytest.raises(ConversionError, match="rounds stochastically"):
        quantizers.parse("quantized_bits(8,0,use_stochastic_rounding=True)", "layer x")
    with pytest.raises(ConversionError, match="real tanh, which would need a lookup table"):
        quantizers.data_format(quantizers.parse("quantized_tanh(8,use_real_tanh=True)", "l"), "l")
    with pytest.raises(ConversionError, match="real sigmoid, which would need a lookup table"):
        quantizers.data_format(quantizers.parse("quantized_sigmoid(8,use_real_sigmoid=True)", "l"), "l")
    with pytest.raises(ConversionError, match=r"power-of-two \(logarithmic\) ReLU on activations"):
        quantizers.parse("quantized_relu_po2(4)", "layer x")
    with pytest.raises(ConversionError, match="is symmetric: its lowest value is 2\\*\\*-bits"):
        quantizers.data_format(quantizers.parse("quantized_sigmoid(6,symmetric=True)", "l"), "l")


def test_the_hard_sigmoid_is_an_exact_affine_step_then_a_fraction_only_quantiser() -> None:
    sigmoid = quantizers.parse("quantized_sigmoid(6)", "t")
    assert isinstance(sigmoid, quantizers.Quantizer)
    assert str(quantizers.data_format(sigmoid, "t")) == "ufixed<6,0>"
    assert quantizers.affine_before(sigmoid) == (0.5, 0.5)
    assert quantizers.affine_before(quantizers.parse("quantized_tanh(6)", "t")) is None


@pytest.mark.parametrize("name", MODELS)
def test_an_imported_model_passes_verify_and_cosim(tmp_path: Path, name: str) -> None:
    """The whole flow on it, as `trigger-nn build` runs it: the firmware equals the rebuilt model bit for bit."""
    card_path = _import(tmp_path, name, "h5")
    card = yaml.safe_load(card_path.read_text())
    card["cosim"] = {"n_vectors": 300}  # the full 1,000 go through verify
    card_path.write_text(yaml.safe_dump(card))
    project = cli.run_stages(card_path, cli.STAGES, tmp_path / "projects")
    report = json.loads((project / "report.json").read_text())
    for check in report["verification"]["implementations"]:
        assert check["vectors"] >= 1000 and check["mismatches"] == 0, check
    lat = report["latency"]
    assert lat["mismatches"] == 0 and lat["vectors"] == 300
    assert lat["latency_cycles"] == lat["pipeline_depth_cycles"] and lat["ii_cycles"] == 1
    assert report["physics"]["firmware"]["qkeras_mismatches"] == 0
    assert report["resources"]["hgq2_ebops"] is None  # not trained here: no EBOPs, and no 0 standing in for them
    assert "HGQ2 EBOPs: none (an imported model" in (project / "report.md").read_text()
    # a dropped final softmax is said in the report: the firmware outputs the logits
    assert ("The firmware outputs the logits" in (project / "report.md").read_text()) == (name in FLAGS)
    shutil.rmtree(project)


def test_a_layer_outside_the_supported_set_is_named_with_what_it_would_take() -> None:
    def chain(*layers: files.Layer) -> files.Keras2Model:
        return files.Keras2Model(name="m", input_shape=(4,), layers=layers, keras_version="2.16.0")

    clipped = files.Layer(name="r", kind="ReLU", config={"max_value": 6.0})
    with pytest.raises(ConversionError, match=r"layer 'r' \(ReLU\): a clipped, leaky or shifted ReLU"):
        rebuild.rebuild(chain(clipped), (1, 3, 4))
    softmax = files.Layer(name="s", kind="Activation", config={"activation": "softmax"})
    flatten = files.Layer(name="f", kind="Flatten", config={})
    with pytest.raises(ConversionError, match="activation 'softmax' is a float function"):
        rebuild.rebuild(chain(softmax, flatten), (1, 3, 4))  # inside the network it would have to be computed
    depthwise = files.Layer(name="d", kind="QDepthwiseConv2D", config={})
    with pytest.raises(ConversionError, match="a depthwise convolution: HGQ2 has no depthwise layer"):
        rebuild.rebuild(chain(depthwise), (1, 3, 4))
    odd_pool = files.Layer(name="p", kind="AveragePooling1D", config={"pool_size": [3]})
    with pytest.raises(ConversionError, match="averages 3 values"):
        rebuild.rebuild(chain(odd_pool), (1, 3, 4))


# --- a final softmax, and power-of-two weights -----------------------------------------------------------


def test_a_final_softmax_is_refused_with_the_flag_that_drops_it(tmp_path: Path, capsys) -> None:
    err = _cli_error(capsys, str(DATA / "dense_softmax" / "model.h5"), "-o", "sm", "--models", str(tmp_path))
    assert "ends in a float softmax" in err and "--drop-final-activation" in err and "logits" in err
    assert not (tmp_path / "sm.yaml").exists()
    err = _cli_error(capsys, str(DATA / "dense_po2" / "model.h5"), "-o", "po", "--models", str(tmp_path),
                     "--drop-final-activation")  # fmt: skip
    assert "does not end in a float softmax or sigmoid" in err


@pytest.mark.parametrize("inputs", ["reference.npz", "logits.npz"])
def test_with_the_flag_y_may_be_qkeras_probabilities_or_its_logits(tmp_path: Path, inputs: str) -> None:
    card_path = _import(tmp_path, "dense_softmax", "h5", inputs=inputs)
    record = json.loads((card_path.parent / card_path.stem / "import.json").read_text())
    assert record["dropped_final_activation"] == "softmax" and record["qkeras_mismatches"] == 0
    assert record["qkeras_outputs"] == ("probabilities" if inputs == "reference.npz" else "logits")
    with np.load(DATA / "dense_softmax" / "reference.npz") as ref:
        # QKeras' probabilities are the float softmax of the logits the firmware outputs, and rank alike
        logits = _outputs("dense_softmax")
        p = importer.probabilities(logits, "softmax")
        np.testing.assert_allclose(p, ref["y"], atol=importer.PROBABILITY_TOLERANCE)
        assert np.array_equal(p.argmax(axis=1), ref["y"].argmax(axis=1))


def test_probabilities_of_other_logits_are_a_mismatch(tmp_path: Path) -> None:
    with np.load(DATA / "dense_softmax" / "reference.npz") as ref:
        x, y = ref["x"], ref["y"]
    np.savez(tmp_path / "swapped.npz", x=x, y=y[:, ::-1])  # the classes in the wrong order
    from trigger_nn.errors import MismatchError

    with pytest.raises(MismatchError, match="neither the rebuilt model's logits nor QKeras' softmax of them"):
        importer.run(DATA / "dense_softmax" / "model.h5", None, "swapped", models_dir=tmp_path / "models",
                     inputs=tmp_path / "swapped.npz", drop_final_activation=True)  # fmt: skip
    assert not (tmp_path / "models" / "swapped.yaml").exists()


def test_power_of_two_weights_follow_qkeras_rules() -> None:
    """quantized_po2: sign(w) 2**e, e = round(log2 |w|) in [-2**b, 2**b - 1], b = bits - 1 - (exponent sign)."""
    w = np.array([0.3, -0.7, 0.0, 1e-9, 100.0, -3.0, 1.9], dtype=np.float32)
    po2 = quantizers.parse("quantized_po2(4)", "t")  # b = 2: exponents -4..3
    np.testing.assert_array_equal(quantizers.quantize_weights(po2, w, "t"), [0.25, -0.5, 2**-4, 2**-4, 8.0, -4.0, 2.0])
    bounded = quantizers.parse("quantized_po2(5, max_value=1)", "t")  # no exponent sign: -16..15, |w| <= 1
    np.testing.assert_array_equal(quantizers.quantize_weights(bounded, w, "t"), [0.25, -0.5, 2**-16, 2**-16, 1, -1, 1])
    floor = quantizers.parse("quantized_po2(4, log2_rounding='floor')", "t")
    np.testing.assert_array_equal(quantizers.quantize_weights(floor, w, "t"), [0.25, -0.5, 2**-4, 2**-4, 8, -2, 1])
