"""Stage `train`: ``data/dataset.h5`` -> ``train/model.keras`` + ``train/training.json``.

The saved model is the Python reference every firmware output is compared with.
Metrics here are the Keras reference's on the held-out test set.

With ``training.committed_model`` (``--committed-model``) nothing is trained: the model committed beside
the card (``models/<name>/model.keras``, written by ``trigger-nn golden``) is copied in. Training is
deterministic on one machine but not across CPUs (float sums in another order), so this is how any
machine builds exactly the committed firmware.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from . import provenance
from ._deps import setup_environment
from .artifacts import DatasetInfo, TrainResult, atomic_path, load_keras_model
from .card import Card
from .dataset import read_dataset
from .errors import ArtifactError
from .nets import build_model
from .tasks import Pretrained, get_task
from .tasks.common import multiclass_summary, summary

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


@contextmanager
def private_keras_seeds(seed: int) -> Iterator[None]:
    """Keras' unseeded initialisers draw their seeds from Python's global ``random``, which other threads of
    the process may draw from too (a Dask worker's event loop): the same scan point trained in two Dask runs
    got different weights. Here they come from a generator of their own, seeded as ``seed_everything`` seeds
    the global one, so a run alone gets the same seeds as before (checked: the same firmware)."""
    from keras.src.random import seed_generator

    plain, own = seed_generator.make_default_seed, random.Random(seed)
    seed_generator.make_default_seed = lambda: own.randint(1, int(1e9))
    try:
        yield
    finally:
        seed_generator.make_default_seed = plain


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
    provenance.check_inputs(card, project, "train")
    (project / "train" / "training.json").unlink(missing_ok=True)
    pretrained = get_task(card.task).pretrained(card.data)
    if pretrained is not None:
        return _copy_in(card, pretrained, project)
    info = DatasetInfo.load(project / "data" / "dataset.json")
    ds = read_dataset(info.path)
    if card.training.committed_model:
        return _committed(card, project, ds)
    seed_everything(card.seed)
    import keras
    from hgq.utils import trace_minmax

    t0 = time.perf_counter()
    n_classes = len(ds.class_names)
    n_outputs = 1 if n_classes == 2 else n_classes  # two classes: one logit; more: one logit each
    with private_keras_seeds(card.seed):
        model = build_model(card.network, input_shape=info.input_shape, input_kif=ds.input_kif, n_outputs=n_outputs)
        tr = card.training
        if n_outputs == 1:
            loss, metric = (
                keras.losses.BinaryCrossentropy(from_logits=True),
                keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0),
            )
        else:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        model.compile(optimizer=keras.optimizers.Adam(tr.learning_rate), loss=loss, metrics=[metric])
        callbacks = [epoch_logger(tr.epochs)]
        if tr.validation_split > 0:
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=tr.patience, restore_best_weights=True)
            )
        log.info("training %s on %d windows for up to %d epochs", card.network.architecture, len(ds.train.y), tr.epochs)
        history = model.fit(
            ds.train.x,
            ds.train.y.astype(np.float32 if n_outputs == 1 else np.int64),
            sample_weight=_unit_mean(ds.train.truth.get("weight")),  # per-event weights, where the task has them
            epochs=tr.epochs,
            batch_size=tr.batch_size,
            validation_split=tr.validation_split,
            shuffle=True,
            callbacks=callbacks,
            verbose=0,
        )
    # WRAP activations need their integer bits set from representative data (docs/toolchain.md).
    ebops = float(trace_minmax(model, ds.train.x, batch_size=4096))
    found = _test_metrics(model, ds)

    model_path = project / "train" / "model.keras"
    with atomic_path(model_path) as tmp:
        model.save(tmp)
    result = TrainResult(
        model_path=model_path,
        epochs_run=len(history.history["loss"]),
        metrics=found,
        ebops=ebops,
        seconds=time.perf_counter() - t0,
        made_from=provenance.record(card, project, "train"),
    )
    result.save(project / "train" / "training.json")
    return result


def _test_metrics(model: Any, ds: Any) -> dict[str, float]:
    """The reference's physics metrics on the held-out test set."""
    scores = model.predict(ds.test.x, batch_size=4096, verbose=0).reshape(len(ds.test.x), -1)
    weights = ds.test.truth.get("weight")
    if scores.shape[1] == 1:
        found = summary(scores.reshape(-1), ds.test.y, background=ds.class_names[0], signal=ds.class_names[-1],
                        weights=weights)  # fmt: skip
    else:
        found = multiclass_summary(scores, ds.test.y, weights=weights)
    log.info("test AUC %.4f, %s", found["auc"], ", ".join(f"{k}={v:.4f}" for k, v in found.items() if k != "auc"))
    return found


def committed_model_path(card: Card) -> Path:
    """``models/<name>/model.keras`` beside the card: the model ``trigger-nn golden`` committed."""
    from .golden import golden_dir

    return golden_dir(card) / "model.keras"


def _committed(card: Card, project: Path, ds: Any) -> TrainResult:
    """The committed model as the reference, byte for byte: copied, not trained (nor re-calibrated)."""
    t0 = time.perf_counter()
    source = committed_model_path(card)
    if not source.is_file():
        raise ArtifactError(
            f"the card asks for the committed model, but there is none at {source}: build the card once with "
            "training, run `trigger-nn golden CARD` and commit the files, or build without --committed-model"
        )
    model_path = project / "train" / "model.keras"
    with atomic_path(model_path) as tmp:
        shutil.copyfile(source, tmp)
    log.info("no training: the committed model %s is the reference", source)
    result = TrainResult(
        model_path=model_path,
        epochs_run=0,
        metrics=_test_metrics(load_keras_model(model_path), ds),
        ebops=None,
        seconds=time.perf_counter() - t0,
        committed_model=source,
        made_from=provenance.record(card, project, "train", external=[source]),
    )
    result.save(project / "train" / "training.json")
    return result


def _unit_mean(weights: np.ndarray | None) -> np.ndarray | None:
    """Event weights scaled to mean 1: Keras divides the weighted loss by the batch size, not by the weights'
    sum, so weights of 1e-4 (cross-sections, say) would shrink the data's loss against the EBOPs term."""
    return None if weights is None else np.asarray(weights, dtype=np.float64) / np.mean(weights)


def _copy_in(card: Card, pretrained: Pretrained, project: Path) -> TrainResult:
    """A model that comes trained is the reference as it is: copied in, not trained."""
    t0 = time.perf_counter()
    model_path = project / "train" / "model.keras"
    with atomic_path(model_path) as tmp:
        shutil.copyfile(pretrained.model, tmp)
    log.info("no training: %s copied in as the reference", pretrained.model)
    result = TrainResult(
        model_path=model_path,
        epochs_run=0,
        metrics=pretrained.metrics,
        ebops=None,
        seconds=time.perf_counter() - t0,
        made_from=provenance.record(card, project, "train"),
    )
    result.save(project / "train" / "training.json")
    return result
