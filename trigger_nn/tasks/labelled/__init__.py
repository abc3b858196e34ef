"""Any labelled data: a user's events of any shape from a ROOT, HDF5 or NPZ file, two classes or more.

``config`` is the card section; ``events`` reads and checks the file and puts the values on the input
word; ``physics`` the figures of merit (ROC, AUC, efficiencies at fixed background pass rates, and for
several classes the confusion matrix and each class's efficiency), weighted where the card names weights.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ...artifacts import DatasetInfo
from ...dataset import Dataset, Split
from ..protocol import Headline, Physics, Reference, TrainedFromData
from . import physics
from .config import LabelledData
from .events import read_events

log = logging.getLogger(__name__)


class LabelledTask(TrainedFromData):
    data_type = LabelledData

    def dataset(self, data: LabelledData, seed: int) -> Dataset:
        from sklearn.model_selection import train_test_split

        ev = read_events(data)
        index = np.arange(len(ev.y))
        try:
            train, test = train_test_split(index, test_size=data.test_fraction, random_state=seed, stratify=ev.y)
        except ValueError as err:  # a class too small to be in both
            from ...errors import DataError

            counts = np.bincount(ev.y)
            raise DataError(
                f"{data.file}: cannot keep every class in both the training and the test set ({err}); the "
                f"classes hold {', '.join(f'{n}: {c}' for n, c in zip(ev.class_names, counts, strict=True))} "
                "events: add events of the small classes"
            ) from None
        log.info(
            "%s: %d events of shape %s, classes %s; %d to train, %d to test",
            data.file,
            len(ev.y),
            ev.x.shape[1:],
            ", ".join(f"{n} {c}" for n, c in zip(ev.class_names, np.bincount(ev.y), strict=True)),
            len(train),
            len(test),
        )

        def split(rows: np.ndarray) -> Split:
            truth = {"weight": ev.weight[rows]}
            if ev.variable is not None:
                truth["variable"] = ev.variable[rows]
            return Split(x=ev.x[rows], y=ev.y[rows], truth=truth)

        return Dataset(train=split(train), test=split(test), input_kif=data.input_kif, class_names=ev.class_names)

    def describe(self, data: LabelledData) -> str:
        return f"labelled events from {data.file} on the input word {data.input_word}"

    def headline(self, data: LabelledData) -> Headline:
        return Headline(label="AUC (for several classes: the mean of each class against the rest)", key="auc")

    def evaluate(
        self,
        data: LabelledData,
        test: Split,
        info: DatasetInfo,
        scores: np.ndarray,
        rows: np.ndarray,
        plots: Path,
        reference: Reference | None = None,
    ) -> Physics:
        return physics.evaluate(data, test, info.class_names, scores, rows, plots)
