"""`trigger-nn import MODEL.keras`: a user's Keras 3 model of HGQ2 layers, saved by the test, built end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trigger_nn import cli
from trigger_nn.artifacts import FixedFormat
from trigger_nn.nets.mlp import input_quantizer_config

WORD = FixedFormat(1, 3, 4)  # fixed<8,4>: the trigger word the model's inputs arrive as


def _words(n: int, shape: tuple[int, ...], seed: int) -> np.ndarray:
    k, i, f = WORD
    return np.ldexp(np.random.default_rng(seed).integers(-(2 ** (i + f)), 2 ** (i + f), (n, *shape)), -f)


def _save(path: Path, *extra_layers) -> Path:
    """A small HGQ2 network as a user would write and save it (untrained weights are weights all the same)."""
    import keras
    from hgq.layers import QDense

    keras.utils.set_random_seed(7)
    inp = keras.Input(shape=(8,), name="features")
    h = QDense(6, activation="relu", iq_conf=input_quantizer_config(WORD), name="hidden")(inp)
    for layer in extra_layers:
        h = layer(h)
    out = QDense(2, name="logits")(h)
    keras.Model(inp, out, name="user_net").save(path)
    return path


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import keras

    root = tmp_path_factory.mktemp("k3")
    model_path = _save(root / "user_net.keras")
    x = _words(2000, (8,), seed=1)
    y = keras.models.load_model(model_path, compile=False).predict(x.astype(np.float32), verbose=0)
    np.savez(root / "vectors.npz", x=x, y=y)  # the user's own predictions, made by Keras 3 + HGQ2
    return model_path, root / "vectors.npz"


def test_a_keras3_hgq2_model_imports_and_passes_verify_and_cosim(saved: tuple[Path, Path], tmp_path: Path) -> None:
    model_path, vectors = saved
    argv = ["import", str(model_path), "-o", "user_net", "--models", str(tmp_path), "--inputs", str(vectors)]
    assert cli.main(argv) == 0
    record = json.loads((tmp_path / "user_net" / "import.json").read_text())
    assert record["qkeras_vectors"] == 2000 and record["qkeras_mismatches"] == 0
    assert record["layers"][-1] == "logits (QDense)" and record["keras_version"].startswith("3.")
    project = cli.run_stages(tmp_path / "user_net.yaml", cli.STAGES, tmp_path / "projects")
    report = json.loads((project / "report.json").read_text())
    assert report["verdict"] == "PASS"
    for implementation in report["verification"]["implementations"]:
        assert implementation["vectors"] >= 2000 and implementation["mismatches"] == 0, implementation
    assert report["latency"]["mismatches"] == 0 and report["latency"]["ii_cycles"] == 1


def test_a_float_keras_layer_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import keras

    model_path = _save(tmp_path / "float.keras", keras.layers.Dense(4, name="float_dense"))
    assert cli.main(["import", str(model_path), "-o", "f", "--models", str(tmp_path), "--input-format",
                     "fixed<8,4>", "-q"]) == 1  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "layer 'float_dense' (Dense) is a float Keras layer" in err, err
    assert not (tmp_path / "f.yaml").exists()


def test_a_float_activation_on_an_hgq2_layer_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hgq.layers import QDense

    model_path = _save(tmp_path / "soft.keras", QDense(3, activation="softmax", name="soft"))
    assert cli.main(["import", str(model_path), "-o", "s", "--models", str(tmp_path), "--input-format",
                     "fixed<8,4>", "-q"]) == 1  # fmt: skip
    assert "layer 'soft' (QDense): activation 'softmax' is a float function" in capsys.readouterr().err


def test_a_keras3_model_needs_its_input_word(saved: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    model_path, _ = saved
    assert cli.main(["import", str(model_path), "-o", "w", "--models", str(tmp_path), "-q"]) == 1
    assert "give --input-format fixed<W,I>" in capsys.readouterr().err
    not_a_model = tmp_path / "broken.keras"
    not_a_model.write_bytes(b"not a zip")
    assert cli.main(["import", str(not_a_model), "-o", "b", "--models", str(tmp_path), "-q"]) == 1
    assert "not a Keras 3 .keras file" in capsys.readouterr().err


QKERAS_API_MODEL = """
import sys
import keras
import numpy as np
from qkeras.qlayers import QActivation, QDense
from qkeras.quantizers import quantized_bits, quantized_relu

keras.utils.set_random_seed(3)
inp = keras.Input((8,), name="features")
h = QActivation(quantized_bits(8, 3, alpha=1))(inp)
h = QDense(4, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1))(h)
h = QActivation(quantized_relu(6, 2))(h)
out = QDense(2, kernel_quantizer=quantized_bits(8, 2, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1))(h)
model = keras.Model(inp, out)
model.save(sys.argv[1] + "/qkeras_api.keras")
x = np.load(sys.argv[1] + "/x.npy")
np.savez(sys.argv[1] + "/vectors.npz", x=x, y=model.predict(x.astype(np.float32), verbose=0))
"""


def test_a_model_of_hgq2_qkeras_api_layers_imports_and_verifies(tmp_path: Path) -> None:
    """HGQ2's QKeras-style API (its ``qkeras`` package) makes HGQ2 layers, saved as such: imported as they are.

    The model is made in a process of its own: importing ``qkeras.qlayers`` rewrites every HGQ2 layer class
    for the whole process (``nets.refuse_patched_hgq``).
    """
    np.save(tmp_path / "x.npy", _words(1000, (8,), seed=2))
    subprocess.run([sys.executable, "-c", QKERAS_API_MODEL, str(tmp_path)], check=True, capture_output=True)
    argv = ["import", str(tmp_path / "qkeras_api.keras"), "-o", "api_net", "--models", str(tmp_path)]
    assert cli.main([*argv, "--inputs", str(tmp_path / "vectors.npz")]) == 0
    record = json.loads((tmp_path / "api_net" / "import.json").read_text())
    assert record["qkeras_mismatches"] == 0 and any("(Quantizer)" in layer for layer in record["layers"])
    card = tmp_path / "api_net.yaml"
    for stage in ("simulate", "train", "compile", "verify"):
        assert cli.main([stage, str(card), "--projects", str(tmp_path / "projects")]) == 0, stage
    verified = json.loads((tmp_path / "projects" / "api_net" / "verify.json").read_text())
    assert [c["mismatches"] for c in verified["checks"]] == [0, 0] and verified["checks"][0]["vectors"] >= 1000


def test_a_network_built_after_hgq2s_qkeras_api_was_imported_is_refused() -> None:
    script = (
        "import qkeras.qlayers\n"
        "from trigger_nn.card import MlpConfig\n"
        "from trigger_nn.errors import CardError\n"
        "from trigger_nn.nets import build_model\n"
        "try:\n"
        "    build_model(MlpConfig(hidden_units=(3,)), input_shape=(4,), input_kif=(1, 3, 0))\n"
        "except CardError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    assert "HGQ2's QKeras-style API (qkeras.qlayers) was imported in this process" in out
