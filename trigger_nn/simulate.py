"""Stage `simulate`: model card -> ``<project>/data/dataset.h5`` (+ ``dataset.json``).

The card's task makes the dataset: its simulator, the user's own files, or an import's vectors.
"""

from __future__ import annotations

import logging
from pathlib import Path

from . import provenance
from .artifacts import DatasetInfo
from .card import Card
from .dataset import write_dataset
from .tasks import get_task

log = logging.getLogger(__name__)


def run(card: Card, project: Path) -> DatasetInfo:
    (project / "data" / "dataset.json").unlink(missing_ok=True)  # no stale description if this run stops half-way
    task = get_task(card.task)
    ds = task.dataset(card.data, card.seed)
    path = project / "data" / "dataset.h5"
    write_dataset(path, ds, attrs={"task": card.task, "seed": card.seed})
    info = DatasetInfo(
        path=path,
        task=card.task,
        n_train=len(ds.train.y),
        n_test=len(ds.test.y),
        input_shape=tuple(ds.train.x.shape[1:]),
        class_names=ds.class_names,
        seed=card.seed,
        description=task.describe(card.data),
        made_from=provenance.record(card, project, "simulate"),
    )
    info.save(project / "data" / "dataset.json")
    return info
