"""The card's ``data:`` section of the ``imported`` task: the files `trigger-nn import` wrote."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from ...errors import CardError
from ..protocol import TaskData


@dataclass(frozen=True, kw_only=True)
class ImportedModel(TaskData):
    """A Keras 2 / QKeras model brought in by ``trigger-nn import``: nothing to simulate, nothing to train.

    ``model`` is the rebuilt Keras 3 / HGQ2 model; ``inputs`` an ``.npz`` whose ``x`` are the vectors
    verify and cosim send (words of the input bus), with ``y_qkeras`` where QKeras' own predictions were
    given. Relative paths are taken from the card's folder.
    """

    model: Path
    inputs: Path
    source: str = ""  # the Keras 2 file(s) it was imported from

    #: what the import read and how it compared with QKeras (``artifacts.ImportRecord``), beside the model
    RECORD: typing.ClassVar[str] = "import.json"

    @property
    def record(self) -> Path:
        return self.model.parent / self.RECORD

    def with_paths_from(self, folder: Path, where: str) -> Self:
        found = {k: folder / getattr(self, k) for k in ("model", "inputs")}
        for key, file in found.items():
            if not file.is_file():
                raise CardError(f"{where}: data.{key} {file} does not exist (written by `trigger-nn import`)")
        return dataclasses.replace(self, **found)
