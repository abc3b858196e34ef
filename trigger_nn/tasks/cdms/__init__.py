"""SuperCDMS-style phonon streams: reject low-frequency-noise (LFN) episodes, keep low-energy pulses.

``config`` is the card section, ``simulation`` the stream simulator and its optimal filter,
``physics`` the turn-on curves and the threshold at equal LFN pass rate.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ...artifacts import DatasetInfo
from ...dataset import Dataset, Split
from ..common import log_progress, split_rngs
from ..protocol import Headline, Physics, Pretrained
from . import physics, simulation
from .config import CdmsLfnData

log = logging.getLogger(__name__)


class CdmsTask:
    data_type = CdmsLfnData

    def dataset(self, data: CdmsLfnData, seed: int) -> Dataset:
        def split(w: simulation.Windows) -> Split:
            truth = {"kind": w.kind, "energy_sigma": w.energy_sigma, "of_peak_sigma": w.of_peak_sigma, "onset": w.onset}
            return Split(x=w.x, y=w.label, truth=truth)

        log.info("simulating %d training and %d test events (cdms_lfn)", data.n_train, data.n_test)
        train_rng, test_rng = split_rngs(seed)
        train = simulation.simulate(data, data.n_train, train_rng, progress=log_progress)
        test = simulation.simulate(data, data.n_test, test_rng, progress=log_progress)
        return Dataset(
            train=split(train),
            test=split(test),
            input_kif=simulation.input_format(data),
            class_names=simulation.CLASS_NAMES,
        )

    def describe(self, data: CdmsLfnData) -> str:
        return simulation.description(data)

    def pretrained(self, data: CdmsLfnData) -> Pretrained | None:
        return None

    def headline(self, data: CdmsLfnData) -> Headline:
        return Headline(label="threshold reduction (E50, OF + NN vs OF)", key="threshold_reduction")

    def evaluate(
        self, data: CdmsLfnData, test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray, plots: Path
    ) -> Physics:
        return physics.evaluate(data, test, info, scores, rows, plots)

    def scan_refusal(self, data: CdmsLfnData) -> str | None:
        return None
