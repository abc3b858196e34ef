"""Stage `simulate`: model card -> ``<project>/data/dataset.h5`` (+ ``dataset.json``).

The card's task picks the simulator (or, for ECL, the user's own cluster file).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from . import baselines
from .artifacts import DatasetInfo
from .card import Card, CdmsLfnData, EclPhotonData, ImportedModel
from .data import cdms, ecl
from .data.dataset import Dataset, Split, write_dataset

log = logging.getLogger(__name__)


def _rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Separate streams for train and test, so changing n_train leaves the test set alone."""
    train, test = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return train, test


def _progress(done: int, total: int) -> None:
    if done == total or done % 10000 < 2000:
        log.info("  %d/%d events", done, total)


def _cdms(data: CdmsLfnData, seed: int) -> Dataset:
    def split(w: cdms.Windows) -> Split:
        truth = {"kind": w.kind, "energy_sigma": w.energy_sigma, "of_peak_sigma": w.of_peak_sigma, "onset": w.onset}
        return Split(x=w.x, y=w.label, truth=truth)

    train_rng, test_rng = _rngs(seed)
    train = cdms.simulate(data, data.n_train, train_rng, progress=_progress)
    test = cdms.simulate(data, data.n_test, test_rng, progress=_progress)
    return Dataset(train=split(train), test=split(test), input_kif=cdms.input_kif(data), class_names=cdms.CLASS_NAMES)


def _ecl_split(data: EclPhotonData, x: np.ndarray, y: np.ndarray, image_mev: np.ndarray, **truth: np.ndarray) -> Split:
    """The network's input, its label, and the truth with the baselines' shower shapes of the same clusters."""
    shapes = baselines.shower_shapes(image_mev, data.crystal_size_cm)
    return Split(x=x, y=y, truth=truth | shapes)


def _ecl_simulated(data: EclPhotonData, seed: int) -> Dataset:
    def split(c: ecl.Clusters) -> Split:
        return _ecl_split(
            data,
            c.x,
            c.label,
            c.image_mev,
            energy_gev=c.energy_gev,
            source=c.source,
            opening_angle_rad=c.opening_angle,
            separation_cm=c.separation_cm,
        )

    train_rng, test_rng = _rngs(seed)
    train = ecl.simulate(data, data.n_train, train_rng, progress=_progress)
    test = ecl.simulate(data, data.n_test, test_rng, progress=_progress)
    return Dataset(train=split(train), test=split(test), input_kif=ecl.input_kif(data), class_names=ecl.CLASS_NAMES)


def _ecl_user(data: EclPhotonData, seed: int) -> Dataset:
    from .data.user import read_clusters

    assert data.user is not None
    clusters = read_clusters(data.user, data.image_size)
    n = len(clusters.is_photon)
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * data.user.test_fraction))
    parts = {"test": order[:n_test], "train": order[n_test:]}
    log.info("read %d user clusters from %s: %d for training, %d for testing", n, data.user.path, n - n_test, n_test)
    unknown = np.full(n, np.nan, dtype=np.float32)
    splits = {
        name: _ecl_split(
            data,
            ecl.digitise(clusters.images_mev[idx], data),
            clusters.is_photon[idx],
            clusters.images_mev[idx],
            energy_gev=clusters.energy_gev[idx],
            source=np.full(len(idx), -1, dtype=np.int8),
            opening_angle_rad=unknown[idx],
            separation_cm=unknown[idx],
        )
        for name, idx in parts.items()
    }
    return Dataset(**splits, input_kif=ecl.input_kif(data), class_names=ecl.CLASS_NAMES)


def run(card: Card, project: Path) -> DatasetInfo:
    data = card.data
    if isinstance(data, ImportedModel):
        from . import importer

        return importer.dataset(card, project)
    if isinstance(data, CdmsLfnData):
        log.info("simulating %d training and %d test events (%s)", data.n_train, data.n_test, card.task)
        ds = _cdms(data, card.seed)
        description = cdms.description(data)
    elif isinstance(data, EclPhotonData):
        if data.user is None:
            log.info("simulating %d training and %d test clusters (%s)", data.n_train, data.n_test, card.task)
            ds = _ecl_simulated(data, card.seed)
        else:
            ds = _ecl_user(data, card.seed)
        description = ecl.description(data)
    else:
        raise AssertionError(f"no simulator for task {card.task!r}")
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
        description=description,
    )
    info.save(project / "data" / "dataset.json")
    return info
