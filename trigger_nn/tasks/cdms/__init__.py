"""SuperCDMS-style phonon streams: reject low-frequency-noise (LFN) episodes, keep low-energy pulses.

``config`` is the card section, ``simulation`` the stream simulator and its optimal filter,
``physics`` the turn-on curves and the threshold at equal LFN pass rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...artifacts import DatasetInfo
from ...dataset import Dataset, Split
from ..common import simulate_splits
from ..protocol import Headline, Physics, TrainedFromData
from . import physics, simulation
from .config import CdmsLfnData


class CdmsTask(TrainedFromData):
    data_type = CdmsLfnData

    def dataset(self, data: CdmsLfnData, seed: int) -> Dataset:
        def split(w: simulation.Windows) -> Split:
            truth = {"kind": w.kind, "energy_sigma": w.energy_sigma, "of_peak_sigma": w.of_peak_sigma, "onset": w.onset}
            return Split(x=w.x, y=w.label, truth=truth)

        train, test = simulate_splits(simulation.simulate, data, seed, "events (cdms_lfn)")
        return Dataset(
            train=split(train),
            test=split(test),
            input_kif=simulation.input_format(data),
            class_names=simulation.CLASS_NAMES,
        )

    def describe(self, data: CdmsLfnData) -> str:
        return simulation.description(data)

    def headline(self, data: CdmsLfnData) -> Headline:
        return Headline(label="threshold reduction (E50, OF + NN vs OF)", key="threshold_reduction")

    def evaluate(
        self, data: CdmsLfnData, test: Split, info: DatasetInfo, scores: np.ndarray, rows: np.ndarray, plots: Path
    ) -> Physics:
        return physics.evaluate(data, test, info, scores, rows, plots)
