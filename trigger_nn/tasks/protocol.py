"""What a trigger task is to the stages: its card section, its dataset, its figures of merit.

The stages know a task only through :class:`Task`; nothing outside a task's folder looks at its
card section's type. A new task is one folder under ``tasks/`` and one line in ``tasks.TASKS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

import numpy as np

from ..artifacts import DatasetInfo, TriggerResult
from ..dataset import Dataset, Split

if TYPE_CHECKING:
    from ..card import Card


@dataclass(frozen=True, kw_only=True)
class TaskData:
    """Base of a task's card section (``data:``): a frozen, keyword-only dataclass whose defaults are the task's.

    The card reader builds it from YAML (unknown keys and wrong types are refused there), then calls
    :meth:`validate`, then :meth:`with_paths_from` with the card's folder.
    """

    #: keys the section no longer has, each with what replaced it (the card reader's error names it)
    retired: ClassVar[dict[str, str]] = {}

    def validate(self, where: str) -> None:
        """Refuse values the types allow but the task does not (a ``CardError`` naming ``where`` and the key)."""

    def with_paths_from(self, folder: Path, where: str) -> Self:
        """This section with relative file paths taken from the card's ``folder``; missing files name ``where``."""
        return self

    def dataset_bytes(self) -> int:
        """An estimate of the dataset's size in memory (bytes; 0: unknown), checked against the machine's at load."""
        return 0


#: the network's bit-exact Python reference: inputs (n, ...) to outputs (n,)
Reference = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, kw_only=True)
class Headline:
    """The one figure of merit a design scan ranks by (larger is better): its label and its key in the metrics,
    and the key of its statistical error where the task measures one (so a scan's tolerance can be read against it)."""

    label: str
    key: str
    error_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class Physics:
    """A task's part of the report: its figures of merit, its Markdown and its plots."""

    metrics: dict[str, Any]
    markdown: list[str]
    plots: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Pretrained:
    """A model that comes trained (an import): the ``train`` stage copies it in as the reference."""

    model: Path
    metrics: dict[str, float]


class Task(Protocol):
    """One trigger problem: how its data is made and how its firmware's decisions are judged."""

    #: the card's ``data:`` section of this task
    data_type: type[TaskData]

    def dataset(self, data: Any, seed: int) -> Dataset:
        """The network's inputs with their labels and truth, split into train and test (same seed, same data)."""
        ...

    def describe(self, data: Any) -> str:
        """One sentence on where the data comes from, for the report."""
        ...

    def pretrained(self, data: Any) -> Pretrained | None:
        """The model to use as it is, or None when the card's network is to be trained."""
        ...

    def headline(self, data: Any) -> Headline: ...

    def evaluate(
        self,
        data: Any,
        test: Split,
        info: DatasetInfo,
        scores: np.ndarray,
        rows: np.ndarray,
        plots: Path,
        reference: Reference | None = None,
    ) -> Physics:
        """Figures of merit of the firmware's ``scores`` on test-set ``rows``; plots go under ``plots``.

        The metrics hold ``vectors`` (how many scores they come from) and the headline's key.
        ``reference``: the network's verified Python reference (inputs to outputs), for figures on data
        beyond the test set; None where they are not wanted (a scan's points).
        """
        ...

    def scan_refusal(self, data: Any) -> str | None:
        """Why `trigger-nn scan` cannot scan this card, or None when it can."""
        ...

    def stream_trigger(self, card: Card, model: Any, test: Split, info: DatasetInfo, scores: np.ndarray,
                       rows: np.ndarray, out_dir: Path) -> TriggerResult | None:  # fmt: skip
        """The task's whole trigger (more than the network) built as one streaming block and checked against its
        integer model, at the operating point the firmware's ``scores`` give; None where the network alone is
        the trigger."""
        ...

    def compare(self, names: list[str], datas: list[Any], physics: list[dict[str, Any]], plots: Path) -> Physics | None:
        """Built cards of this task side by side (`trigger-nn compare`): their names, ``data`` sections and their
        reports' physics metrics, in the same order; None where the task has nothing to compare."""
        ...


class TrainedFromData:
    """What most tasks share: the card's network is trained on the task's dataset, and a scan can vary it."""

    def pretrained(self, data: Any) -> Pretrained | None:
        return None

    def stream_trigger(self, card: Card, model: Any, test: Split, info: DatasetInfo, scores: np.ndarray,
                       rows: np.ndarray, out_dir: Path) -> TriggerResult | None:  # fmt: skip
        return None

    def scan_refusal(self, data: Any) -> str | None:
        return None

    def compare(self, names: list[str], datas: list[Any], physics: list[dict[str, Any]], plots: Path) -> Physics | None:
        return None
