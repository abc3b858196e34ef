"""A model brought in by `trigger-nn import` (Keras 2 / QKeras): it comes trained, with its own input vectors.

``importer`` is the `trigger-nn import` command, ``config`` the card section it writes. In the flow,
its vectors are the test set (there is no training set) and its model is the reference as it is.
There are no labels, so the report section is the rebuilt model's equality with QKeras instead of a
figure of merit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...artifacts import DatasetInfo, FixedFormat, ImportRecord, TriggerResult
from ...dataset import Dataset, Split
from ..protocol import Headline, Physics, Pretrained, Reference
from .config import ImportedModel


class ImportedTask:
    data_type = ImportedModel

    def dataset(self, data: ImportedModel, seed: int) -> Dataset:
        with np.load(data.inputs) as f:
            x = np.asarray(f["x"], dtype=np.float32)
            kif = FixedFormat(*(int(v) for v in f["input_kif"]))
        y = np.zeros(len(x), dtype=np.int8)
        return Dataset(
            train=Split(x=x[:0], y=y[:0], truth={}),
            test=Split(x=x, y=y, truth={}),
            input_kif=kif,
            class_names=("output",),
        )

    def describe(self, data: ImportedModel) -> str:
        return f"vectors imported with the model ({data.source})"

    def pretrained(self, data: ImportedModel) -> Pretrained | None:
        metrics: dict[str, float] = {}
        if data.record.is_file():
            record = ImportRecord.load(data.record)
            metrics = {"qkeras_vectors": record.qkeras_vectors, "qkeras_mismatches": record.qkeras_mismatches}
        return Pretrained(model=data.model, metrics=metrics)

    def headline(self, data: ImportedModel) -> Headline:
        return Headline(label="AUC", key="auc")

    def stream_trigger(self, card: Any, model: Any, test: Split, info: DatasetInfo, scores: np.ndarray,
                       rows: np.ndarray, out_dir: Path) -> TriggerResult | None:  # fmt: skip
        return None  # an imported network is the whole trigger

    def compare(self, names: list[str], datas: list[Any], physics: list[dict[str, Any]], plots: Path) -> Physics | None:
        return None

    def evaluate(
        self,
        data: ImportedModel,
        test: Split,
        info: DatasetInfo,
        scores: np.ndarray,
        rows: np.ndarray,
        plots: Path,
        reference: Reference | None = None,
    ) -> Physics:
        record = ImportRecord.load(data.record) if data.record.is_file() else None
        compared = record.qkeras_vectors if record else 0
        mismatches = record.qkeras_mismatches if record else None
        dropped = record.dropped_final_activation if record else None
        how = {
            "outputs": "equal the original model's own predictions (QKeras', or Keras 3's for a .keras file)",
            "logits": "equal QKeras' own logits",
            "probabilities": f"give QKeras' own probabilities through the dropped float {dropped} (within "
            "float32 rounding, the same arg-max and order)",
        }[record.qkeras_outputs if record else "outputs"]
        qkeras = (
            f"the rebuilt model's outputs {how} on {compared} vectors ({mismatches} differ; `trigger-nn import`, "
            f"{data.record})"
            if compared
            else "no QKeras predictions were given to `trigger-nn import`, so its equality with QKeras is not measured"
        )
        lines = [
            f"An imported model ({data.source}): its vectors carry no labels, so there is no figure of merit. "
            f"Instead: {qkeras}; and the firmware's outputs equal the rebuilt model's (Bit-exact verification, above)."
        ]
        if dropped:
            lines += [
                "",
                f"**The firmware outputs the logits.** The model's final float {dropped} was left out at import "
                "(`--drop-final-activation`): it only turns logits into probabilities, and the trigger decides on "
                "the logits (the arg-max, and every cut on a sigmoid's probability, are the same on them).",
            ]
        return Physics(
            metrics={
                "vectors": int(len(rows)),
                "qkeras_vectors": compared,
                "qkeras_mismatches": mismatches,
                "dropped_final_activation": dropped,
            },
            markdown=lines,
        )

    def scan_refusal(self, data: ImportedModel) -> str | None:
        return (
            "an imported model comes trained, so there is no quantisation strength to scan; "
            "scan a card with a network to train"
        )
