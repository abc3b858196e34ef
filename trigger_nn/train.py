"""Stage `train`: ``data/dataset.h5`` -> ``train/model.keras`` + ``train/training.json``.

The saved model is the Python reference every firmware output is compared with.
Metrics here are the Keras reference's on the held-out test set.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics
from ._deps import setup_environment
from .artifacts import DatasetInfo, TrainResult, atomic_path
from .card import Card, ImportedModel
from .data.dataset import read_dataset
from .errors import ArtifactError
from .nets import build_model

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Same card and seed -> same weights: seed every RNG and make TensorFlow's kernels deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    # ops running side by side can sum gradients in either order: a last-bit difference in a bit width
    # (seen under load); one inter-op thread fixes the order. setup_environment() sets it for a TensorFlow
    # not yet started (TF_NUM_INTEROP_THREADS); one already running (a model loaded before) keeps its own.
    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        if os.environ.get("TF_NUM_INTEROP_THREADS") != "1":
            log.warning(
                "TensorFlow started before training with several inter-op threads: weights may differ in the last bit"
            )


def load_model(path: Path) -> Any:
    """Load a trained quantised model; a file that does not load is an ArtifactError naming it."""
    setup_environment()
    import hgq  # noqa: F401  (registers the HGQ2 layers with Keras)
    import keras

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"model {path} does not exist: it is written by `trigger-nn train`; run that first")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as err:  # Keras raises many types for a bad file
        raise ArtifactError(f"model {path} does not load as a Keras model: {err}") from err


def epoch_logger(epochs: int) -> Any:
    """A Keras callback logging one line per epoch (Keras' own bar is off: it floods CI logs)."""
    import keras

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            logs = logs or {}
            shown = " ".join(f"{k}={v:.4g}" for k, v in logs.items() if k in ("loss", "val_loss", "val_accuracy"))
            ebops = sum(float(getattr(layer, "ebops", 0.0)) for layer in self.model.layers)
            log.info("epoch %d/%d %s ebops=%.0f", epoch + 1, epochs, shown, ebops)

    return EpochLog()


def run(card: Card, project: Path) -> TrainResult:
    setup_environment()
    if isinstance(card.data, ImportedModel):
        from . import importer

        return importer.model(card, project)
    info = DatasetInfo.load(project / "data" / "dataset.json")
    ds = read_dataset(info.path)
    seed_everything(card.seed)
    import keras
    from hgq.utils import trace_minmax

    t0 = time.perf_counter()
    model = build_model(card.network, input_shape=info.input_shape, input_kif=ds.input_kif)
    tr = card.training
    model.compile(
        optimizer=keras.optimizers.Adam(tr.learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
    )
    callbacks = [epoch_logger(tr.epochs)]
    if tr.validation_split > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=tr.patience, restore_best_weights=True)
        )
    log.info("training %s on %d windows for up to %d epochs", card.network.architecture, len(ds.train.y), tr.epochs)
    history = model.fit(
        ds.train.x,
        ds.train.y.astype(np.float32),
        epochs=tr.epochs,
        batch_size=tr.batch_size,
        validation_split=tr.validation_split,
        shuffle=True,
        callbacks=callbacks,
        verbose=0,
    )
    # WRAP activations need their integer bits set from representative data (TOOLCHAIN.md trap 5).
    ebops = float(trace_minmax(model, ds.train.x, batch_size=4096))
    scores = model.predict(ds.test.x, batch_size=4096, verbose=0).reshape(-1)
    background, signal = ds.class_names[0], ds.class_names[-1]
    found = metrics.summary(scores, ds.test.y, background=background, signal=signal)
    log.info("test AUC %.4f, %s", found["auc"], ", ".join(f"{k}={v:.4f}" for k, v in found.items() if k != "auc"))

    model_path = project / "train" / "model.keras"
    with atomic_path(model_path) as tmp:
        model.save(tmp)
    result = TrainResult(
        model_path=model_path,
        epochs_run=len(history.history["loss"]),
        metrics=found,
        ebops=ebops,
        seconds=time.perf_counter() - t0,
    )
    result.save(project / "train" / "training.json")
    return result
