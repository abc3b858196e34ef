#!/usr/bin/env python
"""Build, train and save small QKerasV3 (``qkeras-v3`` on PyPI, QKeras for Keras 3) reference models.

Why: trigger_nn imports QKeras 0.9 (Keras 2) files, and QKerasV3 writes a different format: Keras 3 ``.keras``
zips whose layers are ``qkeras.qlayers.*``. These files, made by QKerasV3 itself with its own predictions,
let the importer be tested on that format without QKerasV3 (or TensorFlow) in the project venv.

NOT part of trigger_nn: it runs only in a separate environment (``requirements.txt`` next to this file). Never
install that environment into the project venv: HGQ2 there ships its own top-level package called ``qkeras``,
and QKerasV3 installs one of the same name. See README.md:

    /work/qkerasv3-env/bin/python tests/data/qkeras_v3/make_references.py

For each model it writes ``<name>/model.keras`` (``model.save``) and ``<name>/predictions.npz`` (``x``: 500
float32 input vectors on the word ``input_kif``; ``y``: QKerasV3's ``model.predict(x)``, float32; ``input_kif``
= [keep_negative, integer bits excluding the sign, fraction bits]). Everything is seeded and runs on one CPU
thread; the zip timestamps and Keras' ``date_saved`` are fixed, so two runs give byte-identical files.
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.pop("TF_USE_LEGACY_KERAS", None)  # Keras 3, not tf_keras
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_DETERMINISTIC_OPS"] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = ""  # CPU only, for reproducibility

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import types  # noqa: E402
import zipfile  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import qkeras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras.src.saving import saving_lib  # noqa: E402
from qkeras import QActivation, QConv1D, QDense, quantized_bits, quantized_relu  # noqa: E402

SEED = 20260314
N_REF = 500
HERE = Path(__file__).resolve().parent
# The input word: signed, 3 integer bits (sign excluded), 5 fraction bits = fixed<9,4>, x = k/32 in [-8, 8).
# It is one bit finer than the models' input quantiser quantized_bits(8,3) (lsb 1/16), so an odd k is an
# exact half-LSB tie of that quantiser and the largest words saturate it.
INPUT_KIF = (1, 3, 5)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
KERAS_DATE_SAVED = datetime.datetime(2026, 1, 1, 0, 0, 0)


def seed_everything(seed: int) -> None:
    # clear_session resets Keras' name counters (the optimizer is saved as "adam", not "adam_1"), so a model
    # comes out the same whether or not another one was built before it in this process (--only).
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)  # python, numpy and the backend


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for dist in ("qkeras-v3", "keras", "tensorflow", "numpy", "h5py"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[dist] = None
    out["qkeras.__version__"] = qkeras.__version__
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def on_word(k: np.ndarray) -> np.ndarray:
    """Integers k -> float32 words k * 2**-frac of INPUT_KIF, clipped to the word's range."""
    _, i, f = INPUT_KIF
    k = np.clip(k, -(2 ** (i + f)), 2 ** (i + f) - 1)
    return (k * 2.0**-f).astype(np.float32)


def draw_inputs(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    """``n`` inputs on INPUT_KIF: ~N(0, 2.5) snapped to the word (about half of the elements odd k: ties)."""
    _, _, f = INPUT_KIF
    return on_word(np.round(rng.normal(0.0, 2.5, size=(n, *shape)) * 2**f).astype(np.int64))


def reference_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """N_REF inputs on INPUT_KIF: rows [0,400) typical, [400,450) every element an odd k (a half-LSB tie of
    quantized_bits(8,3)), [450,500) uniform over the whole word (both saturation edges included)."""
    _, i, f = INPUT_KIF
    typical = draw_inputs(rng, 400, shape)
    ties = on_word(2 * rng.integers(-64, 64, size=(50, *shape)) + 1)
    uniform = on_word(rng.integers(-(2 ** (i + f)), 2 ** (i + f), size=(50, *shape)))
    uniform[0] = on_word(np.full(shape, 2 ** (i + f) - 1))  # max word: a tie of q_in's max, saturates
    uniform[1] = on_word(np.full(shape, -(2 ** (i + f))))  # min word
    x = np.concatenate([typical, ties, uniform])
    k = x.astype(np.float64) * 2**f
    assert np.array_equal(k, np.round(k)) and k.min() >= -(2 ** (i + f)) and k.max() < 2 ** (i + f)
    return x


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------


def build_dense() -> keras.Model:
    inp = keras.Input(shape=(16,), name="features")
    h = QActivation(quantized_bits(8, 3, alpha=1), name="q_in")(inp)  # a quantiser object
    h = QDense(
        8,
        kernel_quantizer=quantized_bits(6, 0, alpha=1),
        bias_quantizer=quantized_bits(6, 0, alpha=1),
        name="dense1",
    )(h)
    h = QActivation(quantized_relu(6, 2), name="relu1")(h)
    out = QDense(
        1,
        kernel_quantizer=quantized_bits(8, 2, alpha=1),
        bias_quantizer=quantized_bits(8, 2, alpha=1),
        name="dense_out",
    )(h)
    return keras.Model(inp, out, name="dense")


def build_conv1d() -> keras.Model:
    inp = keras.Input(shape=(32, 1), name="samples")
    h = QActivation("quantized_bits(8,3,alpha=1)", name="q_in")(inp)  # a string
    h = QConv1D(
        3,
        4,
        strides=2,
        kernel_quantizer=quantized_bits(6, 0, alpha=1),
        bias_quantizer=quantized_bits(6, 0, alpha=1),
        name="conv1",
    )(h)
    h = QActivation("quantized_relu(6,2)", name="relu1")(h)  # a string
    h = keras.layers.Flatten(name="flatten")(h)
    out = QDense(
        2,
        kernel_quantizer=quantized_bits(8, 2, alpha=1),
        bias_quantizer=quantized_bits(8, 2, alpha=1),
        name="dense_out",
    )(h)
    return keras.Model(inp, out, name="conv1d")


def dense_targets(x: np.ndarray) -> np.ndarray:
    """A fixed nonlinear function of the 16 features (the model is only meant to move off its init)."""
    w = np.linspace(-1.0, 1.0, 16)
    return (np.maximum(x @ w, 0.0) / 4.0 - 0.5).astype(np.float32)[:, None]


def conv1d_targets(x: np.ndarray) -> np.ndarray:
    """Two fixed summaries of the 32-sample window: its mean level and its early-minus-late difference."""
    s = x[..., 0]
    return np.stack([s.mean(axis=1), s[:, :16].mean(axis=1) - s[:, 16:].mean(axis=1)], axis=1).astype(np.float32)


MODELS: dict[str, tuple[Callable[[], keras.Model], tuple[int, ...], Callable[[np.ndarray], np.ndarray]]] = {
    "dense": (build_dense, (16,), dense_targets),
    "conv1d": (build_conv1d, (32, 1), conv1d_targets),
}


# --------------------------------------------------------------------------
# deterministic files
# --------------------------------------------------------------------------


@contextlib.contextmanager
def fixed_keras_date() -> Iterator[None]:
    """Keras writes ``date_saved`` = now into metadata.json; make it a constant for the duration."""

    class _FixedDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:
            return KERAS_DATE_SAVED

    saved = saving_lib.datetime
    saving_lib.datetime = types.SimpleNamespace(datetime=_FixedDatetime)  # type: ignore[assignment]
    try:
        yield
    finally:
        saving_lib.datetime = saved


def renumber_shared_objects(config_json: bytes) -> bytes:
    """Keras' ``shared_object_id`` (an object seen twice while saving, e.g. the dtype policy of every layer,
    or the kernel quantiser that QDense's QInitializer also holds) is the object's ``id()``, a memory address
    that changes run to run. Replace the ids by 1, 2, ... in order of first appearance: the loader only
    matches equal ids, so the meaning is unchanged. ``json.dumps`` as Keras does (checked to round-trip)."""
    text = config_json.decode()
    tree = json.loads(text)
    assert json.dumps(tree) == text, "config.json is not json.dumps(json.loads(...))-stable"
    ids: dict[int, int] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "shared_object_id" in node:
                node["shared_object_id"] = ids.setdefault(node["shared_object_id"], len(ids) + 1)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return json.dumps(tree).encode()


def normalise_zip(path: Path) -> None:
    """Rewrite a zip (``.keras``, ``.npz``) with every entry's timestamp fixed and, in a ``.keras``, the
    shared-object ids renumbered; names, order, other contents, compression and permissions stay as they were."""
    with zipfile.ZipFile(path) as zin:
        entries = [(info, zin.read(info)) for info in zin.infolist()]
    if path.suffix == ".keras":
        entries = [(i, renumber_shared_objects(d) if i.filename == "config.json" else d) for i, d in entries]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        for info, data in entries:
            new = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            new.compress_type = info.compress_type
            new.external_attr = info.external_attr
            new.create_system = 3
            zout.writestr(new, data)
    path.write_bytes(buf.getvalue())


def quantised_kernels(model: keras.Model) -> dict[str, np.ndarray]:
    out = {}
    for layer in model.layers:
        for name in ("kernel", "bias"):
            q = getattr(layer, f"{name}_quantizer_internal", None)
            if q is not None:
                out[f"{layer.name}/{name}"] = np.asarray(q(getattr(layer, name)))
    return out


def make(name: str, out_dir: Path, index: int) -> dict:
    build, shape, targets = MODELS[name]
    seed_everything(SEED + index)
    rng = np.random.default_rng(SEED + index)
    model = build()
    before = quantised_kernels(model)
    xtr = draw_inputs(rng, 4096, shape)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    history = model.fit(xtr, targets(xtr), epochs=5, batch_size=64, shuffle=True, verbose=0)
    after = quantised_kernels(model)
    for key in before:
        assert not np.array_equal(before[key], after[key]), f"{name}: {key} did not move in training"

    x = reference_inputs(rng, shape)
    y = np.asarray(model.predict(x, batch_size=250, verbose=0), dtype=np.float32)
    assert np.array_equal(y, np.asarray(model(x, training=False))), f"{name}: predict != call"

    d = out_dir / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    keras_path = d / "model.keras"
    with fixed_keras_date():
        model.save(keras_path)
    normalise_zip(keras_path)
    npz_path = d / "predictions.npz"
    np.savez_compressed(npz_path, x=x, y=y, input_kif=np.array(INPUT_KIF, dtype=np.int64))
    normalise_zip(npz_path)

    # the written file reloads in QKerasV3 to the same numbers
    reloaded = keras.saving.load_model(keras_path, compile=False)
    y2 = np.asarray(reloaded.predict(x, batch_size=250, verbose=0), dtype=np.float32)
    assert np.array_equal(y, y2), f"{name}: model.keras reload differs"

    files = {p.name: {"bytes": p.stat().st_size, "sha256": sha256(p)} for p in (keras_path, npz_path)}
    for fname, info in files.items():
        assert info["bytes"] < 200_000, f"{name}/{fname} is {info['bytes']} bytes"
    loss = [round(float(v), 5) for v in history.history["loss"]]
    print(f"[{name}] loss {loss}, y in [{y.min():.4g}, {y.max():.4g}], {len(np.unique(y))} distinct, files {files}")
    return files


def rounding_check() -> str:
    """Which way QKerasV3's quantized_bits and quantized_relu round exact half-LSB ties."""
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], dtype=np.float32) / 16  # ties of lsb 1/16
    qb = np.asarray(quantized_bits(8, 3, alpha=1)(x)) * 16
    qr = np.asarray(quantized_relu(6, 2)(x)) * 16  # lsb 2**(2-6) = 1/16 as well
    even = np.round(x * 16)
    assert np.array_equal(qb, even), f"quantized_bits ties {qb} are not half-to-even {even}"
    assert np.array_equal(qr, np.maximum(even, 0)), f"quantized_relu ties {qr} are not half-to-even"
    return f"half-to-even: quantized_bits(8,3) of {(x * 16).tolist()}/16 -> {qb.tolist()}/16"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: the folder of this script)")
    ap.add_argument("--only", nargs="*", default=None, help=f"subset of: {' '.join(MODELS)}")
    args = ap.parse_args(argv)
    assert keras.backend.backend() == "tensorflow" and keras.__version__.startswith("3."), "needs Keras 3 on TF"
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    print("rounding:", rounding_check())
    args.out.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(MODELS):
        if args.only is None or name in args.only:
            make(name, args.out, index)
    print("versions:", json.dumps(versions()))


if __name__ == "__main__":
    main()
