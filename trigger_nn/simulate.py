"""Stage `simulate`: model card -> ``<project>/data/dataset.h5`` (+ ``dataset.json``)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .artifacts import DatasetInfo
from .card import Card, CdmsLfnData
from .data import cdms
from .data.dataset import Dataset, Split, write_dataset

log = logging.getLogger(__name__)


def _split(w: cdms.Windows) -> Split:
    return Split(x=w.x, y=w.label, truth={"amplitude_sigma": w.amplitude_sigma, "onset": w.onset})


def run(card: Card, project: Path) -> DatasetInfo:
    data = card.data
    assert isinstance(data, CdmsLfnData), "only the cdms_lfn task has a simulator so far"
    # Separate streams for train and test, so changing n_train leaves the test set alone.
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(card.seed).spawn(2))
    log.info("simulating %d training and %d test windows (%s)", data.n_train, data.n_test, card.task)
    train = cdms.simulate(data, data.n_train, train_rng)
    test = cdms.simulate(data, data.n_test, test_rng)
    ds = Dataset(train=_split(train), test=_split(test), input_kif=cdms.input_kif(data), class_names=cdms.CLASS_NAMES)
    path = project / "data" / "dataset.h5"
    write_dataset(path, ds, attrs={"task": card.task, "seed": card.seed})
    info = DatasetInfo(
        path=path,
        task=card.task,
        n_train=data.n_train,
        n_test=data.n_test,
        input_shape=(data.window,),
        class_names=cdms.CLASS_NAMES,
        seed=card.seed,
        description=(
            f"{data.window}-sample phonon windows at {data.sample_rate_hz / 1e3:g} kHz, {data.adc_bits}-bit ADC; "
            f"two-pole pulses (rise {data.rise_time_us:g} us, fall {data.fall_time_us:g} us) vs LFN bursts "
            f"({data.lfn_band_hz[0]:g}-{data.lfn_band_hz[1]:g} Hz)"
        ),
    )
    info.save(project / "data" / "dataset.json")
    return info
