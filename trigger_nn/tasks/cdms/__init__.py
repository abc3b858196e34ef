"""SuperCDMS-style phonon streams: reject low-frequency-noise (LFN) episodes, keep low-energy pulses.

``config`` is the card section; ``simulation`` the pulse, noise, LFN and OF models; ``stream`` the
continuous streams and the accidental rates; ``chain`` the trigger as the FPGA runs it, in integers;
``windows`` the network's training and test windows, cut where the chain's candidates are;
``thresholds`` the thresholds at an accidental-rate budget; ``physics`` the report's figures;
``recorded`` a user's own recording (``data.user``) and labelled traces (``data.user_windows``) in place
of the simulated streams.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...artifacts import DatasetInfo, TriggerResult
from ...dataset import Dataset, Split
from ..protocol import Headline, Physics, Reference, TrainedFromData
from . import physics, simulation, windows
from .chain import Chain
from .config import CdmsLfnData

if TYPE_CHECKING:
    from ...card import Card

log = logging.getLogger(__name__)


def _progress(what: str, unit: str):
    def report(done: int, total: int) -> None:
        log.info("  %s: %d/%d %s", what, done, total, unit)

    return report


class CdmsTask(TrainedFromData):
    data_type = CdmsLfnData

    def dataset(self, data: CdmsLfnData, seed: int) -> Dataset:
        def split(w: windows.Windows, extra: dict[str, np.ndarray]) -> Split:
            truth = {"kind": w.kind, "energy_sigma": w.energy_sigma, "of_peak_sigma": w.of_peak_sigma} | extra
            return Split(x=w.x, y=w.label, truth=truth)

        chain = Chain.build(data)
        log.info("cutting %d training windows from streams at the OF's %.2f sigma_E candidates", data.n_train,
                 windows.THRESHOLDS_SIGMA[0])  # fmt: skip
        train = windows.training_windows(data, seed, chain, progress=_progress("training windows", "windows"))
        log.info("scanning %d measurement-stream segments over %d thresholds", windows.measurement_segments(data),
                 len(windows.THRESHOLDS_SIGMA))  # fmt: skip
        scan = windows.measurement_scan(data, seed, chain, progress=_progress("measurement stream", "segments"))
        return Dataset(
            train=split(train, {}),
            test=split(windows.test_windows(scan), windows.scan_truth(scan)),
            input_kif=simulation.input_format(data),
            class_names=simulation.CLASS_NAMES,
        )

    def describe(self, data: CdmsLfnData) -> str:
        if data.user is not None:
            from . import recorded

            return recorded.describe(data)
        return simulation.description(data)

    def headline(self, data: CdmsLfnData) -> Headline:
        return Headline(label="threshold reduction (E50, OF + NN vs the best classical trigger)",
                        key="threshold_reduction", error_key="threshold_reduction_error")  # fmt: skip

    def evaluate(
        self,
        data: CdmsLfnData,
        test: Split,
        info: DatasetInfo,
        scores: np.ndarray,
        rows: np.ndarray,
        plots: Path,
        reference: Reference | None = None,
    ) -> Physics:
        return physics.evaluate(data, test, info, scores, rows, plots, reference)

    def stream_trigger(self, card: Card, model: Any, test: Split, info: DatasetInfo, scores: np.ndarray,
                       rows: np.ndarray, out_dir: Path) -> TriggerResult | None:  # fmt: skip
        from . import trigger_firmware

        point = physics.nn_operating_point(card.data, test, info, scores, rows)
        return trigger_firmware.build_and_check(
            card.data, card.firmware, model, threshold_sigma=point.threshold_sigma, score_cut=-float(point.cut),
            operating_point=f"OF + NN at {point.budget_hz:g} Hz of accidental triggers (the report's)",
            out_dir=out_dir, name=card.name, seed=card.seed,
        )  # fmt: skip
