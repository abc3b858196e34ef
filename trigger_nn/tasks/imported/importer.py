"""`trigger-nn import`: a model file -> a Keras 3 / HGQ2 model and a model card.

A QKeras file — Keras 2 (MODEL.json WEIGHTS.h5, MODEL.h5) or QKerasV3 (MODEL.keras) — is read from the
file and rebuilt on HGQ2 layers (``keras2/``); a Keras 3 file of HGQ2 layers is taken as it is
(``keras3.py``), behind the input bus.

The import writes ``<models>/<name>/model.keras`` (the rebuilt model), ``inputs.npz`` (the vectors that
verify and cosim send, on the input bus's grid), ``import.json`` (what was read and how it compared with
QKeras) and the card ``<models>/<name>.yaml``; then `trigger-nn build` runs the flow on it, its
``simulate`` and ``train`` stages taking these files instead of simulating and training.

Where the inputs file holds QKeras' own predictions (``y``), the rebuilt model must give the same
numbers on every vector, or nothing is written.
"""

from __future__ import annotations

import hashlib
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ...artifacts import FixedFormat, ImportRecord, atomic_path
from ...card import RESERVED_NAMES
from ...errors import CardError, DataError, MismatchError
from ...keras2 import files
from ...keras2.quantizers import holding_format
from ...keras2.rebuild import final_probability, rebuild
from . import keras3
from .config import ImportedModel

log = logging.getLogger(__name__)

#: random vectors drawn over the input format when no inputs are given
DEFAULT_VECTORS = 10000


def parse_format(text: str) -> FixedFormat:
    """``fixed<W,I>`` / ``ufixed<W,I>`` (ap_fixed's width and integer bits, sign included) -> (k, i, f)."""
    found = re.fullmatch(r"\s*(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)\s*>\s*", text)
    if not found:
        raise CardError(f"--input-format {text!r}: expected fixed<W,I> or ufixed<W,I> (e.g. fixed<16,6>)")
    signed = not found.group(1)
    width, integer = int(found.group(2)), int(found.group(3))
    if width < 1 or width > 32:
        raise CardError(f"--input-format {text!r}: the word must be 1 to 32 bits wide (da4ml's input bus)")
    return FixedFormat(int(signed), integer - int(signed), width - integer)


def _first_quantizer_kif(k2: files.Keras2Model) -> FixedFormat | None:
    from ...keras2 import quantizers as qk

    first = k2.layers[0] if k2.layers else None
    if first is None or first.kind != "QActivation":
        return None
    q = qk.parse(first.config.get("activation"), f"layer {first.name!r}")
    if not isinstance(q, qk.Quantizer):
        return None
    return qk.data_format(q, f"layer {first.name!r}").fixed


@dataclass(frozen=True)
class SourceModel:
    """A model file as read, whatever its kind: what the rest of the import needs of it."""

    input_shape: tuple[int, ...]
    layers: tuple[str, ...]  # "name (kind)", in order
    keras_version: str
    input_kif: FixedFormat | None  # the word its first quantiser sets, where it has one
    input_kif_from: str
    no_word_reason: str  # why the input word must be given, where it has none
    final_activation: str | None  # a final float softmax/sigmoid the import may drop
    build: Callable[[FixedFormat, bool], Any]  # (input word, drop the final activation) -> the Keras 3 model


def _read_keras3(model_file: Path, weights_file: Path | None, drop_final_activation: bool) -> SourceModel | None:
    """A Keras 3 file of HGQ2 layers, taken as it is; None for any other file (QKerasV3 .keras included)."""
    if model_file.suffix != ".keras" or not model_file.is_file() or files.is_qkeras_v3(model_file):
        return None
    if weights_file is not None:
        raise CardError(f"{model_file}: a .keras file holds its weights; give it alone")
    if drop_final_activation:
        raise CardError("--drop-final-activation applies to QKeras files; in a Keras 3 model of HGQ2 layers, "
                        "end the network on the logits")  # fmt: skip
    k3 = keras3.read(model_file)
    keras3.check(k3)
    return SourceModel(
        input_shape=tuple(int(d) for d in k3.input_shape[1:]),
        layers=tuple(f"{layer.name} ({type(layer).__name__})" for layer in k3.layers),
        keras_version=keras3.keras_version(model_file),
        input_kif=None,
        input_kif_from="",
        no_word_reason="a Keras 3 model does not record the trigger word its inputs arrive as",
        final_activation=None,
        build=lambda kif, _drop: keras3.with_input_bus(k3, kif),
    )


def _read_qkeras(model_file: Path, weights_file: Path | None) -> SourceModel:
    """A QKeras file (Keras 2 JSON + HDF5, full HDF5, or QKerasV3 .keras), read from the file and rebuilt."""
    k2 = files.read(model_file, weights_file)
    first = _first_quantizer_kif(k2)
    return SourceModel(
        input_shape=k2.input_shape,
        layers=tuple(f"{layer.name} ({layer.kind})" for layer in k2.layers),
        keras_version=k2.keras_version,
        input_kif=first,
        input_kif_from=f"the model's first quantiser ({k2.layers[0].name})" if first is not None else "",
        no_word_reason="the model has no input quantiser, so the input word is unknown",
        final_activation=final_probability(k2),
        build=lambda kif, drop: rebuild(k2, kif, drop_final_activation=drop),
    )


def _read_inputs(path: Path, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with np.load(path) as f:
            names = set(f.files)
            x = np.asarray(f["x"], dtype=np.float64) if "x" in names else None
            y = np.asarray(f["y"]) if "y" in names else None
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a readable .npz file ({err})") from err
    if x is None:
        raise DataError(f"{path}: no array 'x' (the input vectors); it has {sorted(names)}")
    if tuple(x.shape[1:]) != shape:
        raise DataError(f"{path}: 'x' has vectors of shape {x.shape[1:]}, the model takes {shape}")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{path}: 'x' holds NaN or infinite values")
    if y is not None and len(y) != len(x):
        raise DataError(f"{path}: 'y' has {len(y)} rows for {len(x)} inputs")
    return x, y


def _on_grid(x: np.ndarray, kif: FixedFormat, where: str) -> None:
    k, i, f = kif
    low, high = -(2.0**i) * k, 2.0**i - 2.0**-f
    scaled = np.ldexp(x, f)
    bad = (scaled != np.round(scaled)) | (x < low) | (x > high)
    if np.any(bad):
        first = int(np.flatnonzero(bad.reshape(len(x), -1).any(axis=1))[0])
        raise DataError(
            f"{where}: input vector {first} holds values off the input bus's grid (LSB 2**-{f}, range [{low:g}, "
            f"{high:g}]); give --input-format for the trigger word they come on"
        )


def _random_words(kif: FixedFormat, shape: tuple[int, ...], n: int, seed: int) -> np.ndarray:
    k, i, f = kif
    low, high = -(2 ** (i + f)) * k, 2 ** (i + f) - 1
    return np.ldexp(np.random.default_rng(seed).integers(low, high + 1, (n, *shape)), -f).astype(np.float64)


def probabilities(logits: np.ndarray, function: str) -> np.ndarray:
    """The float function the import dropped, in float32 as Keras computes it: softmax over the last axis, or
    the logistic sigmoid."""
    z = np.asarray(logits, dtype=np.float32)
    if function == "sigmoid":
        return (np.float32(1) / (np.float32(1) + np.exp(-z))).astype(np.float32)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


#: how far QKeras' float32 probabilities may lie from ours (exp and the division round differently)
PROBABILITY_TOLERANCE = 1e-5


def _compare(ours: np.ndarray, y: np.ndarray, dropped: str | None, where: str) -> tuple[int, str]:
    """QKeras' predictions ``y`` against the rebuilt model's ``ours``: (vectors that differ, what ``y`` was).

    Bit for bit, unless the final float function was dropped and ``y`` is QKeras' probabilities: then they must
    equal that function of our logits within float32 rounding, with the same arg-max (softmax) or the same order
    of vectors (sigmoid), or nothing is written."""
    n = len(ours)
    theirs = y.astype(ours.dtype).reshape(ours.shape)
    differ = np.flatnonzero((ours != theirs).reshape(n, -1).any(axis=1))
    if dropped is None or differ.size == 0:
        if differ.size:
            i = int(differ[0])
            raise MismatchError(
                f"the rebuilt model differs from QKeras' predictions in {where} on {differ.size} of {n} vectors "
                f"(first: vector {i}, {ours[i].ravel()[:4]} vs {theirs[i].ravel()[:4]}); nothing written"
            )
        log.info("the rebuilt model equals QKeras' %s on all %d vectors", "logits" if dropped else "predictions", n)
        return 0, "logits" if dropped else "outputs"
    p = probabilities(ours, dropped).reshape(n, -1)
    t = theirs.reshape(n, -1)
    far = np.abs(p - t).max(axis=1) > PROBABILITY_TOLERANCE
    if dropped == "softmax":
        reordered = p.argmax(axis=1) != t.argmax(axis=1)
    else:  # QKeras' probabilities, taken in the order of our logits, must not fall
        order = np.argsort(ours.reshape(n), kind="stable")
        reordered = np.zeros(n, dtype=bool)
        reordered[order[1:]] = np.diff(t[order, 0]) < 0
    bad = np.flatnonzero(far | reordered)
    if bad.size:
        i = int(bad[0])
        raise MismatchError(
            f"{where}: 'y' is neither the rebuilt model's logits nor QKeras' {dropped} of them on {bad.size} of {n} "
            f"vectors (first: vector {i}, {dropped}(logits) {p[i][:4]} vs y {t[i][:4]}); nothing written"
        )
    log.info("QKeras' probabilities in %s equal the %s of the rebuilt model's logits on all %d vectors (within "
             "%g; same %s)", where, dropped, n, PROBABILITY_TOLERANCE,
             "arg-max" if dropped == "softmax" else "order")  # fmt: skip
    return 0, "probabilities"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(
    model_file: Path,
    weights_file: Path | None,
    name: str,
    *,
    models_dir: Path,
    inputs: Path | None = None,
    input_format: str | None = None,
    seed: int = 1234,
    force: bool = False,
    drop_final_activation: bool = False,
) -> Path:
    """Import one model; returns the card's path."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) or name.lower() in RESERVED_NAMES:
        raise CardError(
            f"-o {name!r}: a name starts with a letter, holds letters, digits and _ and is no Verilog/C++ keyword"
        )
    card_path, folder = models_dir / f"{name}.yaml", models_dir / name
    if not force and (card_path.exists() or folder.exists()):
        raise CardError(f"{card_path} or {folder} already exists; give --force to replace them")
    source = _read_keras3(Path(model_file), weights_file, drop_final_activation)
    if source is None:
        source = _read_qkeras(Path(model_file), weights_file)
    log.info("read %s: %d layers (Keras %s): %s", model_file, len(source.layers), source.keras_version,
             ", ".join(source.layers))  # fmt: skip

    x = y = None
    if inputs is not None:
        x, y = _read_inputs(inputs, source.input_shape)
    if input_format is not None:
        kif, origin = parse_format(input_format), f"--input-format {input_format}"
    elif x is not None:
        kif, origin = holding_format(x), f"the values of {inputs}"
    elif source.input_kif is not None:
        kif, origin = source.input_kif, source.input_kif_from
    else:
        raise CardError(
            f"{model_file}: {source.no_word_reason}: give --input-format fixed<W,I> (the trigger word) or "
            "--inputs FILE.npz"
        )
    if kif.width > 32:
        raise CardError(f"the input word ({origin}) is {kif.width} bits wide; da4ml's input bus takes at most 32")
    if x is None:
        x = _random_words(kif, source.input_shape, DEFAULT_VECTORS, seed)
        log.info("no --inputs: %d random words over the input format", len(x))
    _on_grid(x, kif, str(inputs) if inputs else "the inputs")
    dropped = source.final_activation if drop_final_activation else None
    if drop_final_activation and dropped is None:
        raise CardError(f"--drop-final-activation: {model_file} does not end in a float softmax or sigmoid")
    model = source.build(kif, drop_final_activation)
    mismatches, compared_as = 0, "outputs"
    if y is not None:
        ours = np.asarray(model.predict(x.astype(np.float32), batch_size=4096, verbose=0))
        mismatches, compared_as = _compare(ours, np.asarray(y), dropped, str(inputs))

    record = ImportRecord(
        sources={str(p): _sha256(Path(p)) for p in (model_file, weights_file) if p is not None},
        keras_version=source.keras_version,
        layers=source.layers,
        input_kif=kif,
        input_format_from=origin,
        vectors=len(x),
        qkeras_vectors=0 if y is None else len(x),
        qkeras_mismatches=mismatches,
        dropped_final_activation=dropped,
        qkeras_outputs=compared_as,
    )
    source_files = " ".join(str(p) for p in (model_file, weights_file) if p is not None)
    card = {
        "name": name,
        "task": "imported",
        "data": {"model": f"{name}/model.keras", "inputs": f"{name}/inputs.npz", "source": source_files},
        "firmware": {"part": "xcvu13p-flga2577-2-e", "clock_period_ns": 5.0, "latency_budget_ns": 1600.0},
        "verify": {"n_vectors": min(10000, len(x))},
        "cosim": {"n_vectors": min(10000, len(x))},
    }
    models_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder) as tmp:
        tmp.mkdir(parents=True)
        model.save(tmp / "model.keras")
        arrays = {"x": x, "input_kif": np.asarray(kif)} | ({"y_qkeras": y} if y is not None else {})
        np.savez_compressed(tmp / "inputs.npz", **arrays)
        record.save(tmp / ImportedModel.RECORD)
    with atomic_path(card_path) as tmp:
        tmp.write_text(f"# Imported by `trigger-nn import` from {source_files} (Keras {source.keras_version}).\n"
                       + yaml.safe_dump(card, sort_keys=False))  # fmt: skip
    log.info("wrote %s and %s/", card_path, folder)
    return card_path
