#!/usr/bin/env python
"""Build, train and save small Google-QKeras 0.9.0 reference models.

This script is NOT part of trigger_nn and must not run in the project venv
(HGQ2 there ships its own, unrelated, module called ``qkeras``).  It runs in
a separate environment with Google's QKeras 0.9.0 on TensorFlow/tf-keras
(Keras 2); see README.md next to this file:

    TF_USE_LEGACY_KERAS=1 /work/qkeras-env/bin/python tests/data/qkeras/make_references.py

For every model in MODELS it writes, under ``<out>/<name>/``:

* ``model.json``            ``model.to_json()`` (re-indented, same content)
* ``weights.h5``            ``model.save_weights(..., save_format="h5")``
* ``model.h5``              ``model.save(...h5)`` (architecture + weights + optimizer)
* ``reference.npz``         ``x`` (float32, N inputs on a fixed-point grid) and
                            ``y`` (float32, ``model.predict(x)`` in QKeras)
* ``quantized_weights.npz`` ``"<layer>/kernel"``, ``"<layer>/bias"``: the weights
                            after the layer's own kernel/bias quantiser
* ``manifest.json``         description, shapes, input grid, versions, sha256

and under ``<out>/unsupported/<case>/`` small ``model.h5`` files that an
importer has to refuse (recurrent layers, power-of-two quantisers,
``alpha="auto_po2"``), plus ``unsupported/manifest.json``.

Everything is seeded; on the pinned versions (requirements.txt) the numbers
are reproducible run to run on CPU.
"""

from __future__ import annotations

import os

# Must be set before TensorFlow is imported: route tf.keras to tf_keras
# (Keras 2).  QKeras 0.9.0 is written against tf.keras 2.x.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_DETERMINISTIC_OPS"] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = ""  # CPU only, for reproducibility

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import qkeras  # noqa: E402
import tensorflow as tf  # noqa: E402
from qkeras import (  # noqa: E402
    QLSTM,
    QActivation,
    QConv1D,
    QConv2D,
    QDense,
    QSimpleRNN,
    binary,
    quantized_bits,
    quantized_po2,
    quantized_sigmoid,
    ternary,
)
from qkeras.quantizers import get_quantizer  # noqa: E402
from qkeras.utils import _add_supported_quantized_objects  # noqa: E402

keras = tf.keras
layers = tf.keras.layers

SEED = 20240611
N_REF = 1000
HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    tf.keras.utils.set_random_seed(seed)


def versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for dist in ("QKeras", "tensorflow", "tf_keras", "keras", "tensorflow-model-optimization", "numpy", "h5py"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[dist] = None
    out["qkeras.__version__"] = qkeras.__version__
    out["tf.keras.__version__"] = getattr(tf.keras, "__version__", None)
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def snap(x: np.ndarray, grid: dict) -> np.ndarray:
    """Round to the grid 2**-frac_bits and clip to its (ap_fixed-like) range."""
    f = grid["frac_bits"]
    b = grid["bits"]
    if grid["signed"]:
        lo, hi = -(2 ** (b - 1)), 2 ** (b - 1) - 1
    else:
        lo, hi = 0, 2**b - 1
    k = np.clip(np.round(np.asarray(x, np.float64) * 2.0**f), lo, hi)
    return (k * 2.0**-f).astype(np.float32)


def check_on_grid(x: np.ndarray, grid: dict) -> None:
    k = x.astype(np.float64) * 2.0 ** grid["frac_bits"]
    assert np.all(k == np.round(k)), "input not on grid"
    b = grid["bits"]
    lo, hi = (-(2 ** (b - 1)), 2 ** (b - 1) - 1) if grid["signed"] else (0, 2**b - 1)
    assert k.min() >= lo and k.max() <= hi, "input outside grid range"


def qbits_range(bits: int, integer: int, symmetric: bool = False):
    """(min, max, lsb) of a signed quantized_bits(bits, integer, alpha=1)."""
    lsb = 2.0 ** (integer - (bits - 1))
    hi = 2.0**integer - lsb
    lo = -(2.0**integer) + (lsb if symmetric else 0.0)
    return lo, hi, lsb


def input_quantizer(bits: int, integer: int, tie_scale: float) -> dict:
    """``first_q`` of a model whose first layer is QActivation("quantized_bits(bits,integer,alpha=1)") "q_in"."""
    lo, hi, lsb = qbits_range(bits, integer)
    quantizer = f"quantized_bits({bits},{integer},alpha=1)"
    return {"layer": "q_in", "quantizer": quantizer, "lo": lo, "hi": hi, "lsb": lsb, "tie_scale": tie_scale}


def reference_inputs(rng, typical, shape, grid, first_q):
    """N_REF inputs on ``grid``, in four consecutive row groups.

    * typical : rows from the training distribution, snapped to the grid
    * ties    : every element an exact half-LSB tie of the first quantiser
                (odd multiples of lsb/2 inside its range), so tf.round's
                half-to-even matters
    * edges   : typical rows where ~40% of the elements are replaced by values
                at/near the first quantiser's saturation edges (max, max +- lsb/2,
                max + lsb, min, min - lsb/2, ...)
    * uniform : uniform over the whole grid range (includes saturation)
    ``first_q`` = dict(lo, hi, lsb) of the first quantiser seen by the input.
    """
    n_typ, n_tie, n_edge = 600, 200, 100
    n_uni = N_REF - n_typ - n_tie - n_edge
    lo, hi, lsb = first_q["lo"], first_q["hi"], first_q["lsb"]
    parts = [snap(typical(n_typ), grid)]

    # exact ties: (2k+1) * lsb/2 inside [lo, hi]
    kmin = int(np.ceil(lo / lsb))
    kmax = int(np.floor(hi / lsb)) - 1
    scale_k = first_q.get("tie_scale", None)
    if scale_k is None:
        k = rng.integers(kmin, kmax + 1, size=(n_tie,) + shape)
    else:  # concentrate ties where the data lives
        k = np.clip(np.round(rng.normal(0.0, scale_k, size=(n_tie,) + shape)), kmin, kmax).astype(np.int64)
    parts.append(snap((2 * k + 1) * (lsb / 2.0), grid))

    edge_vals = np.array(
        [
            hi,
            hi - lsb / 2,
            hi + lsb / 2,
            hi + lsb,
            hi - lsb,
            hi + 2 * lsb,
            lo,
            lo + lsb / 2,
            lo - lsb / 2,
            lo - lsb,
            lo + lsb,
            -lsb / 2,
            lsb / 2,
            0.0,
        ]
    )
    e = typical(n_edge)
    mask = rng.random(e.shape) < 0.4
    e = np.where(mask, rng.choice(edge_vals, size=e.shape), e)
    parts.append(snap(e, grid))

    b, f = grid["bits"], grid["frac_bits"]
    glo, ghi = (-(2 ** (b - 1)), 2 ** (b - 1) - 1) if grid["signed"] else (0, 2**b - 1)
    parts.append((rng.integers(glo, ghi + 1, size=(n_uni,) + shape) * 2.0**-f).astype(np.float32))
    x = np.concatenate(parts).astype(np.float32)
    check_on_grid(x, grid)
    groups = {
        "typical": [0, n_typ],
        "ties": [n_typ, n_typ + n_tie],
        "edges": [n_typ + n_tie, n_typ + n_tie + n_edge],
        "uniform": [n_typ + n_tie + n_edge, N_REF],
    }
    return x, groups


def quantized_weights(model) -> dict:
    """Kernel/bias as QKeras' own quantiser objects compute them."""
    out = {}
    for layer in model.layers:
        for wname, qattr in (
            ("kernel", "kernel_quantizer_internal"),
            ("recurrent_kernel", "recurrent_quantizer_internal"),
            ("bias", "bias_quantizer_internal"),
        ):
            q = getattr(layer, qattr, None)
            w = getattr(layer, wname, None)
            if q is None or w is None:
                continue
            out[f"{layer.name}/{wname}"] = np.asarray(q(w)).astype(np.float32)
    return out


def quantizer_summary(model) -> dict:
    """str() of every quantiser (the QKeras short form) per layer."""
    out = {}
    for layer in model.layers:
        if hasattr(layer, "get_quantization_config"):
            cfg = layer.get_quantization_config()
            cfg = cfg if isinstance(cfg, dict) else {"activation": cfg}
            # "<function linear at 0x7f...>" -> "linear" (stable across runs)
            out[layer.name] = {k: re.sub(r"<function (\w+) at 0x[0-9a-f]+>", r"\1", str(v)) for k, v in cfg.items()}
        elif layer.__class__.__name__ == "BatchNormalization":
            out[layer.name] = {"note": "plain tf.keras BatchNormalization (float)"}
    return out


class _QActivationLoader(QActivation):
    """QActivation that also accepts the dict form QKeras writes for
    ``QActivation(<quantizer object>)`` (QKeras 0.9.0 itself cannot reload it)."""

    def __init__(self, activation, **kwargs):
        if isinstance(activation, dict):
            activation = get_quantizer(activation)
        super().__init__(activation, **kwargs)


def custom_objects(loader_shim: bool = True) -> dict:
    co = {}
    _add_supported_quantized_objects(co)
    if loader_shim:
        co["QActivation"] = _QActivationLoader
    return co


def save_all(name, model, x, groups, y_train_fn, description, grid, first_q, out_dir, extra_manifest=None):
    d = out_dir / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)

    json_path = d / "model.json"
    json_path.write_text(json.dumps(json.loads(model.to_json()), indent=1) + "\n")
    model.save_weights(str(d / "weights.h5"), save_format="h5")
    model.save(str(d / "model.h5"), save_format="h5")

    y = model.predict(x, batch_size=250, verbose=0).astype(np.float32)
    y_call = model(x, training=False).numpy()
    assert np.array_equal(y, y_call), f"{name}: predict != call"
    np.savez_compressed(d / "reference.npz", x=x, y=y)

    qw = quantized_weights(model)
    np.savez_compressed(d / "quantized_weights.npz", **qw)

    # ---- self-checks on the written files --------------------------------
    co = custom_objects()
    m_h5 = keras.models.load_model(str(d / "model.h5"), custom_objects=co, compile=False)
    assert np.array_equal(m_h5.predict(x, batch_size=250, verbose=0), y), f"{name}: model.h5 reload differs"
    m_js = keras.models.model_from_json(json_path.read_text(), custom_objects=co)
    m_js.load_weights(str(d / "weights.h5"))
    assert np.array_equal(m_js.predict(x, batch_size=250, verbose=0), y), (
        f"{name}: model.json+weights.h5 reload differs"
    )
    # qkeras' own utility must agree with the per-layer quantiser calls
    saved = qkeras.utils.model_save_quantized_weights(m_js)
    for lname, entry in saved.items():
        layer = m_js.get_layer(lname)
        names = [w.name.split("/")[-1].split(":")[0] for w in layer.weights]
        for wn, wv in zip(names, entry["weights"], strict=True):
            key = f"{lname}/{wn}"
            if key in qw:
                assert np.array_equal(np.asarray(wv, np.float32), qw[key]), key
    for layer in model.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            mm = layer.moving_mean.numpy()
            mv = layer.moving_variance.numpy()
            assert np.abs(mm).min() > 1e-3 and np.abs(mv - 1).min() > 1e-3, (
                f"{name}/{layer.name}: BN moving stats look untrained"
            )

    train_metric = y_train_fn(model) if y_train_fn else None

    files = ["model.json", "weights.h5", "model.h5", "reference.npz", "quantized_weights.npz"]
    manifest = {
        "name": name,
        "description": description,
        "input_shape": list(model.input_shape[1:]),
        "output_shape": list(model.output_shape[1:]),
        "input_grid": grid,
        "first_input_quantizer": first_q,
        "n": int(x.shape[0]),
        "row_groups": groups,
        "layers": [{"name": lay.name, "class_name": lay.__class__.__name__} for lay in model.layers],
        "quantizers": quantizer_summary(model),
        "quantized_weight_keys": sorted(qw),
        "training_metric": train_metric,
        "versions": versions(),
        "seed": SEED,
        "files": {f: {"bytes": (d / f).stat().st_size, "sha256": sha256(d / f)} for f in files},
    }
    if extra_manifest:
        manifest.update(extra_manifest)
    (d / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    print(
        f"[{name}] y range [{y.min():.4g}, {y.max():.4g}], metric {train_metric}, "
        f"files {sum(v['bytes'] for v in manifest['files'].values())} B"
    )
    return manifest


# --------------------------------------------------------------------------
# synthetic data
# --------------------------------------------------------------------------


def calo_clusters(rng, n):
    """5x5 calorimeter clusters (GeV), 3 classes: narrow EM, wide hadronic,
    two-prong.  Returns (x[n,25], labels[n])."""
    labels = rng.integers(0, 3, size=n)
    e_tot = rng.uniform(2.0, 40.0, size=n)
    yy, xx = np.mgrid[-2:3, -2:3].astype(np.float64)
    out = np.empty((n, 5, 5))
    for i in range(n):
        cx, cy = rng.uniform(-0.5, 0.5, size=2)
        if labels[i] == 0:
            s = rng.uniform(0.35, 0.6)
            prof = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        elif labels[i] == 1:
            s = rng.uniform(1.0, 1.6)
            prof = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        else:
            a = rng.uniform(0, np.pi)
            dx, dy = 1.1 * np.cos(a), 1.1 * np.sin(a)
            s = rng.uniform(0.35, 0.6)
            prof = np.exp(-((xx - cx - dx) ** 2 + (yy - cy - dy) ** 2) / (2 * s * s)) + rng.uniform(0.4, 1.0) * np.exp(
                -((xx - cx + dx) ** 2 + (yy - cy + dy) ** 2) / (2 * s * s)
            )
        out[i] = e_tot[i] * prof / prof.sum()
    out += rng.normal(0.0, 0.15, size=out.shape)  # electronic noise
    return out.reshape(n, 25), labels


def phonon_pulses(rng, n):
    """32-sample phonon pulse windows; target = pulse amplitude."""
    t = np.arange(32, dtype=np.float64)
    amp = rng.uniform(0.3, 12.0, size=n)
    t0 = rng.uniform(2.0, 10.0, size=n)
    tr = rng.uniform(0.5, 1.25, size=n)
    tf_ = rng.uniform(4.0, 10.0, size=n)
    dt = np.clip(t[None, :] - t0[:, None], 0.0, None)
    shape = np.exp(-dt / tf_[:, None]) - np.exp(-dt / tr[:, None])
    shape /= shape.max(axis=1, keepdims=True)
    x = amp[:, None] * shape + rng.normal(0.0, 0.25, size=(n, 32))
    return x[..., None], amp


def patterns_8x8(rng, n):
    """8x8 images of 4 pattern classes: horizontal bar, vertical bar,
    diagonal, blob; amplitude 1..6 plus noise."""
    labels = rng.integers(0, 4, size=n)
    out = np.zeros((n, 8, 8))
    yy, xx = np.mgrid[0:8, 0:8].astype(np.float64)
    for i in range(n):
        a = rng.uniform(1.0, 6.0)
        r, c = rng.integers(1, 7, size=2)
        if labels[i] == 0:
            out[i, r, :] = a
        elif labels[i] == 1:
            out[i, :, c] = a
        elif labels[i] == 2:
            k = rng.integers(-2, 3)
            out[i] = a * (np.abs(xx - yy - k) < 0.5)
        else:
            out[i] = a * np.exp(-((xx - c) ** 2 + (yy - r) ** 2) / 2.0)
    out += rng.normal(0.0, 0.3, size=out.shape)
    return out[..., None], labels


def sparse_features(rng, n):
    """16 features ~ N(0, 3); 2 classes from a sparse +-1 linear rule."""
    x = rng.normal(0.0, 3.0, size=(n, 16))
    w = np.array([1, -1, 0, 1, 0, 0, -1, 1, 0, 1, -1, 0, 0, 1, 0, -1], float)
    lab = (x @ w + 0.5 * np.abs(x[:, 2]) > 1.0).astype(int)
    return x, lab


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------


def build_dense_tagger():
    inp = keras.Input(shape=(25,), name="cluster")
    h = QActivation(quantized_bits(12, 5, alpha=1), name="q_in")(inp)
    # The bias in front of a BatchNormalization gets no gradient; start it
    # non-zero so that its quantisation (and its folding into BN) is tested.
    h = QDense(
        32,
        kernel_quantizer=quantized_bits(8, 0, alpha=1),
        bias_quantizer=quantized_bits(8, 3, alpha=1),
        bias_initializer=keras.initializers.RandomUniform(-1.0, 1.0, seed=7),
        name="dense1",
    )(h)
    h = layers.BatchNormalization(name="bn1")(h)
    h = QActivation("quantized_relu(8,3)", name="relu1")(h)
    h = QDense(
        16,
        kernel_quantizer=quantized_bits(6, 0, alpha=1, symmetric=1),
        bias_quantizer=quantized_bits(6, 2, alpha=1),
        name="dense2",
    )(h)
    h = QActivation("quantized_relu(6,2)", name="relu2")(h)
    h = QDense(
        3,
        kernel_quantizer=quantized_bits(8, 1, alpha=1),
        bias_quantizer=quantized_bits(8, 3, alpha=1),
        name="dense_out",
    )(h)
    out = QActivation(quantized_bits(16, 6, alpha=1), name="q_out")(h)
    return keras.Model(inp, out, name="dense_tagger")


def build_cnn1d():
    inp = keras.Input(shape=(32, 1), name="waveform")
    h = QActivation("quantized_bits(10,4,alpha=1)", name="q_in")(inp)
    h = QConv1D(
        4, 5, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1), name="conv1"
    )(h)
    h = QActivation("quantized_relu(6,3)", name="relu1")(h)
    h = layers.MaxPooling1D(2, name="pool1")(h)
    h = QConv1D(
        4, 3, kernel_quantizer="quantized_bits(6,0,alpha=1)", bias_quantizer="quantized_bits(6,2,alpha=1)", name="conv2"
    )(h)
    h = QActivation("quantized_relu(6,3)", name="relu2")(h)
    h = layers.AveragePooling1D(2, name="pool2")(h)
    h = layers.Flatten(name="flatten")(h)
    # fixed power-of-two float alpha: y = 0.5 * quantized_bits(8,1)(w)
    h = QDense(
        8, kernel_quantizer=quantized_bits(8, 1, alpha=0.5), bias_quantizer=quantized_bits(8, 3, alpha=1), name="dense1"
    )(h)
    h = QActivation("quantized_relu(8,3)", name="relu3")(h)
    out = QDense(
        1,
        kernel_quantizer=quantized_bits(8, 2, alpha=1),
        bias_quantizer=quantized_bits(8, 4, alpha=1),
        name="dense_out",
    )(h)
    return keras.Model(inp, out, name="cnn1d")


def build_cnn2d():
    model = keras.Sequential(name="cnn2d")
    model.add(keras.Input(shape=(8, 8, 1), name="image"))
    model.add(QActivation(quantized_bits(8, 3, alpha=1), name="q_in"))
    model.add(
        QConv2D(
            3,
            (3, 3),
            kernel_quantizer=quantized_bits(6, 0, alpha=1),
            bias_quantizer=quantized_bits(6, 2, alpha=1),
            name="conv1",
        )
    )
    model.add(QActivation("quantized_relu(6,2)", name="relu1"))
    model.add(layers.MaxPooling2D((2, 2), name="pool1"))
    model.add(layers.Flatten(name="flatten"))
    model.add(
        QDense(
            4,
            kernel_quantizer=quantized_bits(8, 1, alpha=1),
            bias_quantizer=quantized_bits(8, 3, alpha=1),
            name="dense_out",
        )
    )
    model.add(QActivation(quantized_bits(12, 4, alpha=1), name="q_out"))
    return model


def build_binary_ternary():
    inp = keras.Input(shape=(16,), name="features")
    h = QDense(16, kernel_quantizer=ternary(alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="dense_tern")(
        inp
    )
    h = QActivation("quantized_relu(4,2)", name="relu1")(h)
    h = QDense(8, kernel_quantizer=binary(alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="dense_bin")(h)
    h = QActivation("quantized_tanh(6)", name="tanh1")(h)
    out = QDense(
        2,
        kernel_quantizer=quantized_bits(8, 2, alpha=1),
        bias_quantizer=quantized_bits(8, 3, alpha=1),
        name="dense_out",
    )(h)
    return keras.Model(inp, out, name="binary_ternary")


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------


def accuracy_fn(x, labels):
    def f(model):
        p = model.predict(x, batch_size=500, verbose=0)
        return {"accuracy": round(float((p.argmax(1) == labels).mean()), 4)}

    return f


def make_dense_tagger(out_dir):
    seed_everything(SEED + 1)
    rng = np.random.default_rng(SEED + 1)
    grid = {"bits": 14, "frac_bits": 7, "signed": True}
    xtr, ltr = calo_clusters(rng, 6000)
    xtr = snap(xtr, grid)
    model = build_dense_tagger()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(xtr, ltr, epochs=6, batch_size=64, shuffle=True, verbose=0)
    xte, lte = calo_clusters(rng, 1000)
    first_q = input_quantizer(12, 5, 300)
    x, groups = reference_inputs(rng, lambda n: calo_clusters(rng, n)[0], (25,), grid, first_q)
    return save_all(
        "dense_tagger",
        model,
        x,
        groups,
        accuracy_fn(snap(xte, grid), lte),
        "5x5 calorimeter cluster (flattened, GeV) -> 3-class tagger logits. "
        "QActivation(quantized_bits(12,5)) input, QDense(32)+BatchNormalization"
        "+quantized_relu(8,3), QDense(16, symmetric kernel)+quantized_relu(6,2), "
        "QDense(3)+QActivation(quantized_bits(16,6)). q_in/q_out were built "
        "with quantiser OBJECTS (serialised as dicts in the JSON); relu1/relu2 "
        "with STRINGS.",
        grid,
        first_q,
        out_dir,
        {
            "float_alpha": None,
            "notes": [
                "dense2 kernel: quantized_bits(6,0,alpha=1,symmetric=1) -> values in [-31/32, 31/32]",
                "bn1 is a plain (float) keras BatchNormalization, epsilon 1e-3",
                "QActivation q_in/q_out config['activation'] is a dict "
                "{module, class_name, config, registered_name}; QKeras 0.9.0 "
                "cannot reload that itself (see README)",
            ],
        },
    )


def make_cnn1d(out_dir):
    seed_everything(SEED + 2)
    rng = np.random.default_rng(SEED + 2)
    grid = {"bits": 12, "frac_bits": 6, "signed": True}
    xtr, atr = phonon_pulses(rng, 4000)
    xtr = snap(xtr, grid)
    model = build_cnn1d()
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="mse")
    model.fit(xtr, atr, epochs=10, batch_size=64, shuffle=True, verbose=0)
    xte, ate = phonon_pulses(rng, 1000)
    xte = snap(xte, grid)

    def metric(m):
        p = m.predict(xte, batch_size=500, verbose=0)[:, 0]
        return {"rmse": round(float(np.sqrt(np.mean((p - ate) ** 2))), 4)}

    first_q = input_quantizer(10, 4, 100)
    x, groups = reference_inputs(rng, lambda n: phonon_pulses(rng, n)[0], (32, 1), grid, first_q)
    return save_all(
        "cnn1d",
        model,
        x,
        groups,
        metric,
        "32-sample phonon waveform window -> pulse amplitude (linear output, "
        "no output quantiser). QConv1D(4,5)+quantized_relu(6,3)+MaxPooling1D(2), "
        "QConv1D(4,3)+quantized_relu(6,3)+AveragePooling1D(2), Flatten, "
        "QDense(8, kernel alpha=0.5)+quantized_relu(8,3), QDense(1).",
        grid,
        first_q,
        out_dir,
        {
            "float_alpha": {
                "layer": "dense1",
                "quantizer": "kernel_quantizer",
                "value": 0.5,
                "semantics": "q = 0.5 * quantized_bits(8,1)(w): w is "
                "rounded/clipped unscaled, then multiplied "
                "by alpha",
            },
            "notes": [
                "conv2 quantisers were given as strings, conv1 as objects; both serialise to the same dict form",
                "valid padding, stride 1, channels_last",
            ],
        },
    )


def make_cnn2d(out_dir):
    seed_everything(SEED + 3)
    rng = np.random.default_rng(SEED + 3)
    grid = {"bits": 10, "frac_bits": 5, "signed": True}
    xtr, ltr = patterns_8x8(rng, 4000)
    xtr = snap(xtr, grid)
    model = build_cnn2d()
    model.compile(
        optimizer=keras.optimizers.Adam(5e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(xtr, ltr, epochs=6, batch_size=64, shuffle=True, verbose=0)
    xte, lte = patterns_8x8(rng, 1000)
    first_q = input_quantizer(8, 3, 30)
    x, groups = reference_inputs(rng, lambda n: patterns_8x8(rng, n)[0], (8, 8, 1), grid, first_q)
    return save_all(
        "cnn2d",
        model,
        x,
        groups,
        accuracy_fn(snap(xte, grid), lte),
        "8x8x1 image -> 4 pattern-class logits (Sequential model). "
        "QActivation(quantized_bits(8,3)), QConv2D(3,(3,3))+quantized_relu(6,2), "
        "MaxPooling2D(2,2), Flatten, QDense(4)+QActivation(quantized_bits(12,4)).",
        grid,
        first_q,
        out_dir,
        {
            "float_alpha": None,
            "notes": [
                "keras.Sequential: model.json class_name is 'Sequential' and "
                "its config has no inbound_nodes (layers in order, the first "
                "entry is the InputLayer)"
            ],
        },
    )


def make_binary_ternary(out_dir):
    seed_everything(SEED + 4)
    rng = np.random.default_rng(SEED + 4)
    grid = {"bits": 16, "frac_bits": 10, "signed": True}
    lo, hi = -32.0, 32.0 - 2.0**-10
    xtr, ltr = sparse_features(rng, 6000)
    xtr = snap(xtr, grid)
    model = build_binary_ternary()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(xtr, ltr, epochs=8, batch_size=64, shuffle=True, verbose=0)
    xte, lte = sparse_features(rng, 1000)
    # No input quantiser: "ties" rows use the coarse grid 2**-3 so that the
    # ternary sums land on half-LSB ties (odd multiples of 0.125) of relu1's
    # quantized_relu(4,2) (lsb 0.25) often; "edges" use the grid's own limits.
    first_q = {
        "layer": None,
        "quantizer": None,
        "note": "no input quantiser; first quantiser is relu1 = "
        "quantized_relu(4,2) (lsb 0.25) after the ternary QDense. "
        "'ties' rows are odd multiples of 2**-3.",
        "lo": lo,
        "hi": hi,
        "lsb": 0.25,
        "tie_scale": 12,
    }
    x, groups = reference_inputs(rng, lambda n: sparse_features(rng, n)[0], (16,), grid, first_q)
    return save_all(
        "binary_ternary",
        model,
        x,
        groups,
        accuracy_fn(snap(xte, grid), lte),
        "16 features (no input quantiser; inputs on a signed 16-bit grid with "
        "6 integer bits incl. sign = frac_bits 10) -> QDense(16, ternary(alpha=1) "
        "kernel)+quantized_relu(4,2) -> QDense(8, binary(alpha=1) kernel)+"
        "quantized_tanh(6) (hard tanh mode: use_real_tanh=False) -> QDense(2).",
        grid,
        first_q,
        out_dir,
        {
            "float_alpha": None,
            "notes": [
                "ternary(alpha=1): threshold None -> fixed 0.33: q = sign(w) if |w| >= 0.33 else 0",
                "binary(alpha=1): q = +1 if w >= 0 else -1 (0 maps to +1)",
                "quantized_tanh(6) default (use_real_tanh=False): clip(round(32*clip(x,-1,1))/32, -1, 31/32)",
            ],
        },
    )


def build_dense_auto_po2():
    model = keras.Sequential(name="dense_auto_po2")
    model.add(keras.Input(shape=(16,), name="features"))
    model.add(QActivation(quantized_bits(10, 4, alpha=1), name="q_in"))
    # no alpha: QDense turns it into alpha="auto_po2", symmetric (QKeras' default for kernels)
    model.add(
        QDense(16, kernel_quantizer=quantized_bits(6, 0), bias_quantizer=quantized_bits(8, 3, alpha=1), name="dense1")
    )
    model.add(QActivation("quantized_relu(6,2)", name="relu1"))
    model.add(
        QDense(
            4,
            kernel_quantizer=quantized_bits(4, 1, alpha="auto_po2"),
            bias_quantizer=quantized_bits(8, 3, alpha=1),
            name="dense_out",
        )
    )
    return model


def make_dense_auto_po2(out_dir):
    seed_everything(SEED + 5)
    rng = np.random.default_rng(SEED + 5)
    grid = {"bits": 12, "frac_bits": 6, "signed": True}
    xtr, ltr = sparse_features(rng, 6000)
    xtr = snap(xtr, grid)
    model = build_dense_auto_po2()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(xtr, ltr % 4, epochs=6, batch_size=64, shuffle=True, verbose=0)
    xte, lte = sparse_features(rng, 1000)
    first_q = input_quantizer(10, 4, 12)
    x, groups = reference_inputs(rng, lambda n: sparse_features(rng, n)[0], (16,), grid, first_q)
    return save_all(
        "dense_auto_po2",
        model,
        x,
        groups,
        accuracy_fn(snap(xte, grid), lte % 4),
        "16 features -> QActivation(quantized_bits(10,4)) -> QDense(16, kernel "
        "quantized_bits(6,0) given WITHOUT alpha, which QKeras saves as "
        "alpha='auto_po2', symmetric) + quantized_relu(6,2) -> QDense(4, kernel "
        "quantized_bits(4,1,alpha='auto_po2')). Per-output-channel power-of-two "
        "scales found by QKeras' least-squares search from the weights.",
        grid,
        first_q,
        out_dir,
        {"float_alpha": None, "notes": []},
    )


def build_sign_weights_sigmoid():
    inp = keras.Input(shape=(16,), name="features")
    h = QActivation(quantized_bits(10, 4, alpha=1), name="q_in")(inp)
    # kernels given without alpha: QDense turns binary()/ternary() into alpha="auto_po2", QKeras' default
    h = QDense(12, kernel_quantizer=ternary(), bias_quantizer=quantized_bits(8, 3, alpha=1), name="dense_tern")(h)
    h = QActivation("quantized_relu(6,2)", name="relu1")(h)
    h = QDense(
        8,
        kernel_quantizer=binary(),
        bias_quantizer=quantized_bits(8, 3, alpha=1),
        activation=quantized_sigmoid(6),
        name="dense_bin",
    )(h)
    h = QDense(
        1,
        kernel_quantizer=quantized_bits(8, 2, alpha=1),
        bias_quantizer=quantized_bits(8, 3, alpha=1),
        name="dense_out",
    )(h)
    out = QActivation("quantized_sigmoid(8)", name="q_out")(h)
    return keras.Model(inp, out, name="sign_weights_sigmoid")


def make_sign_weights_sigmoid(out_dir):
    seed_everything(SEED + 6)
    rng = np.random.default_rng(SEED + 6)
    grid = {"bits": 12, "frac_bits": 6, "signed": True}
    xtr, ltr = sparse_features(rng, 6000)
    xtr = snap(xtr, grid)
    model = build_sign_weights_sigmoid()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    model.fit(xtr, ltr.astype(np.float32), epochs=6, batch_size=64, shuffle=True, verbose=0)
    xte, lte = sparse_features(rng, 1000)

    def metric(m):
        p = m.predict(snap(xte, grid), batch_size=500, verbose=0)[:, 0]
        return {"accuracy": round(float(((p > 0.5) == lte).mean()), 4)}

    first_q = input_quantizer(10, 4, 12)
    x, groups = reference_inputs(rng, lambda n: sparse_features(rng, n)[0], (16,), grid, first_q)
    return save_all(
        "sign_weights_sigmoid",
        model,
        x,
        groups,
        metric,
        "16 features -> QActivation(quantized_bits(10,4)) -> QDense(12, kernel ternary() given WITHOUT "
        "alpha, saved as alpha='auto_po2') + quantized_relu(6,2) -> QDense(8, kernel binary() without alpha, "
        "activation quantized_sigmoid(6)) -> QDense(1) -> QActivation('quantized_sigmoid(8)'). The hard "
        "sigmoid is clip(0.5x+0.5, 0, 1) rounded to bits fraction bits; the auto_po2 scales are QKeras' "
        "per-output-channel least-squares powers of two.",
        grid,
        first_q,
        out_dir,
        {
            "float_alpha": None,
            "notes": [
                "binary auto_po2: scale = 2**round(log2(mean(w*k)/mean(k*k))) per output channel, k = sign(w)",
                "ternary auto_po2: scale0 = po2(2*max|w|/3), then 5 x (q = sign(w)*(|scale*round(w/scale)| >= "
                "scale/2), scale = po2(lsq(w, q)))",
                "quantized_sigmoid(b): clip(round(2**b * clip(0.5x+0.5, 0, 1)) / 2**b, 0, 1 - 2**-b)",
            ],
        },
    )


def build_dense_softmax():
    inp = keras.Input(shape=(16,), name="features")
    h = QActivation(quantized_bits(10, 4, alpha=1), name="q_in")(inp)
    h = QDense(12, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1),
               name="dense1")(h)  # fmt: skip
    h = QActivation("quantized_relu(6,2)", name="relu1")(h)
    h = QDense(4, kernel_quantizer=quantized_bits(8, 2, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1),
               name="dense_out")(h)  # fmt: skip
    out = keras.layers.Activation("softmax", name="softmax")(h)
    return keras.Model(inp, out, name="dense_softmax")


def make_dense_softmax(out_dir):
    """A classifier as the hls4ml community publishes them: a float softmax after the last QDense. Besides
    QKeras' probabilities (reference.npz) it writes logits.npz: the same x and QKeras' own logits (the output
    of dense_out), for an importer that drops the softmax."""
    seed_everything(SEED + 7)
    rng = np.random.default_rng(SEED + 7)
    grid = {"bits": 12, "frac_bits": 6, "signed": True}
    xtr, ltr = sparse_features(rng, 6000)
    xtr = snap(xtr, grid)
    model = build_dense_softmax()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.SparseCategoricalCrossentropy())
    model.fit(xtr, ltr % 4, epochs=6, batch_size=64, shuffle=True, verbose=0)
    xte, lte = sparse_features(rng, 1000)
    first_q = input_quantizer(10, 4, 12)
    x, groups = reference_inputs(rng, lambda n: sparse_features(rng, n)[0], (16,), grid, first_q)
    logits = keras.Model(model.input, model.get_layer("dense_out").output)
    y_logits = logits.predict(x, batch_size=250, verbose=0).astype(np.float32)
    manifest = save_all(
        "dense_softmax",
        model,
        x,
        groups,
        accuracy_fn(snap(xte, grid), lte % 4),
        "16 features -> QActivation(quantized_bits(10,4)) -> QDense(12) + quantized_relu(6,2) -> QDense(4) -> "
        "Activation('softmax'), a float softmax over the logits. logits.npz: QKeras' logits (dense_out's output).",
        grid,
        first_q,
        out_dir,
        {"float_alpha": None, "notes": ["y in reference.npz are probabilities; logits.npz holds the logits"]},
    )
    d = out_dir / "dense_softmax"
    np.savez_compressed(d / "logits.npz", x=x, y=y_logits)
    manifest["files"]["logits.npz"] = {"bytes": (d / "logits.npz").stat().st_size, "sha256": sha256(d / "logits.npz")}
    (d / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    return manifest


def build_dense_po2():
    inp = keras.Input(shape=(16,), name="features")
    h = QActivation(quantized_bits(10, 4, alpha=1), name="q_in")(inp)
    h = QDense(12, kernel_quantizer=quantized_po2(4), bias_quantizer=quantized_bits(8, 3, alpha=1), name="dense1")(h)
    h = QActivation("quantized_relu(6,2)", name="relu1")(h)
    h = QDense(8, kernel_quantizer=quantized_po2(5, max_value=1), bias_quantizer=quantized_bits(8, 3, alpha=1),
               name="dense2")(h)  # fmt: skip
    h = QActivation("quantized_relu(6,2)", name="relu2")(h)
    out = QDense(2, kernel_quantizer=quantized_po2(4, log2_rounding="floor"),
                 bias_quantizer=quantized_bits(8, 3, alpha=1), name="dense_out")(h)  # fmt: skip
    return keras.Model(inp, out, name="dense_po2")


def make_dense_po2(out_dir):
    seed_everything(SEED + 8)
    rng = np.random.default_rng(SEED + 8)
    grid = {"bits": 12, "frac_bits": 6, "signed": True}
    xtr, ltr = sparse_features(rng, 6000)
    xtr = snap(xtr, grid)
    model = build_dense_po2()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(xtr, ltr, epochs=6, batch_size=64, shuffle=True, verbose=0)
    xte, lte = sparse_features(rng, 1000)
    first_q = input_quantizer(10, 4, 12)
    x, groups = reference_inputs(rng, lambda n: sparse_features(rng, n)[0], (16,), grid, first_q)
    return save_all(
        "dense_po2",
        model,
        x,
        groups,
        accuracy_fn(snap(xte, grid), lte),
        "16 features -> QActivation(quantized_bits(10,4)) -> QDense(12, kernel quantized_po2(4)) + "
        "quantized_relu(6,2) -> QDense(8, kernel quantized_po2(5, max_value=1)) + quantized_relu(6,2) -> "
        "QDense(2, kernel quantized_po2(4, log2_rounding='floor')): power-of-two weights +-2**e.",
        grid,
        first_q,
        out_dir,
        {"float_alpha": None, "notes": ["quantized_po2: sign(w) * 2**clip(round(log2(min(|w|, max_value))))"]},
    )


def make_unsupported(out_dir):
    root = out_dir / "unsupported"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    cases = {}

    def save(case, model, contains, why):
        seed_everything(SEED + 100 + len(cases))
        d = root / case
        d.mkdir()
        model.compile(optimizer="adam", loss="mse")
        xs = np.random.default_rng(SEED).normal(size=(64,) + tuple(model.input_shape[1:]))
        ys = np.random.default_rng(SEED + 1).normal(size=(64,) + tuple(model.output_shape[1:]))
        model.fit(xs, ys, epochs=1, batch_size=32, verbose=0)
        model.save(str(d / "model.h5"), save_format="h5")
        # the file must at least reload in QKeras itself
        keras.models.load_model(str(d / "model.h5"), custom_objects=custom_objects(), compile=False)
        cases[case] = {
            "file": f"{case}/model.h5",
            "contains": contains,
            "why_unsupported": why,
            "bytes": (d / "model.h5").stat().st_size,
            "sha256": sha256(d / "model.h5"),
        }

    # QKeras 0.9.0's QSimpleRNNCell/QLSTMCell/QGRUCell call
    # tensorflow.python.util.nest.is_sequence, which TF >= 2.16 no longer has
    # (renamed is_nested).  Runtime alias only; the saved files are unaffected.
    from tensorflow.python.util import nest as _tf_nest

    if not hasattr(_tf_nest, "is_sequence"):
        _tf_nest.is_sequence = _tf_nest.is_nested

    weights = {
        "kernel_quantizer": quantized_bits(6, 0, alpha=1),
        "recurrent_quantizer": quantized_bits(6, 0, alpha=1),
        "bias_quantizer": quantized_bits(6, 2, alpha=1),
    }
    recurrent = [  # built one at a time, in this order: each one's initial weights follow the last one's fit
        ("qsimplernn", lambda: QSimpleRNN(4, **weights, state_quantizer=quantized_bits(8, 2, alpha=1), name="rnn"),
         "QSimpleRNN(4)"),
        ("qlstm", lambda: QLSTM(3, **weights, name="lstm"), "QLSTM(3)"),
    ]  # fmt: skip
    seed_everything(SEED + 50)
    for case, layer, what in recurrent:
        inp = keras.Input(shape=(8, 4), name="seq")
        h = layer()(inp)
        out = QDense(
            1,
            kernel_quantizer=quantized_bits(6, 0, alpha=1),
            bias_quantizer=quantized_bits(6, 2, alpha=1),
            name="dense_out",
        )(h)
        kind = what.split("(")[0]
        save(
            case,
            keras.Model(inp, out, name=case),
            f"{what} over an (8,4) sequence, then QDense(1)",
            f"recurrent layer ({kind})",
        )

    inp = keras.Input(shape=(8,), name="x")
    h = QActivation("quantized_bits(8,3,alpha=1)", name="q_in")(inp)
    h = QDense(4, kernel_quantizer=quantized_bits(8, 2, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1),
               name="dense")(h)  # fmt: skip
    out = QActivation("quantized_relu_po2(4)", name="relu_po2")(h)
    save(
        "quantized_relu_po2_activation",
        keras.Model(inp, out, name="relu_po2"),
        "QDense(4) then QActivation('quantized_relu_po2(4)')",
        "power-of-two (logarithmic) activation quantiser",
    )

    # alpha='auto_po2' (and a kernel quantiser given without alpha, which QKeras saves as it) is
    # imported: see dense_auto_po2, a model with reference predictions. quantized_po2 weights too: dense_po2.

    manifest = {
        "description": "Small QKeras 0.9.0 models (model.h5 only) that "
        "the importer must refuse with a clear message. "
        "No reference predictions.",
        "cases": cases,
        "versions": versions(),
        "seed": SEED,
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"[unsupported] {len(cases)} cases")
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: the folder of this script)")
    ap.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="subset of: dense_tagger cnn1d cnn2d binary_ternary dense_auto_po2 sign_weights_sigmoid dense_softmax "
        "dense_po2 unsupported",
    )
    args = ap.parse_args(argv)
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    assert tf.keras.__name__.startswith("tf_keras") or "tf_keras" in str(tf.keras), (
        "tf.keras must be tf_keras (TF_USE_LEGACY_KERAS=1)"
    )
    makers = {
        "dense_tagger": make_dense_tagger,
        "cnn1d": make_cnn1d,
        "cnn2d": make_cnn2d,
        "binary_ternary": make_binary_ternary,
        "dense_auto_po2": make_dense_auto_po2,
        "sign_weights_sigmoid": make_sign_weights_sigmoid,
        "dense_softmax": make_dense_softmax,
        "dense_po2": make_dense_po2,
        "unsupported": make_unsupported,
    }
    todo = args.only or list(makers)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in todo:
        makers[name](args.out)
    print("versions:", json.dumps(versions()))


if __name__ == "__main__":
    main()
