"""Trigger tasks: one folder each, and the registry the card's ``task:`` names.

A task holds everything one detector problem needs — its card section, how its dataset is made
(a simulator or the user's files), its baselines and its figures of merit — behind the
:class:`~trigger_nn.tasks.protocol.Task` protocol. To add one: a folder beside these, and a line here.
"""

from __future__ import annotations

from ..errors import CardError, suggest
from .cdms import CdmsTask
from .ecl import EclTask
from .imported import ImportedTask
from .labelled import LabelledTask
from .protocol import Headline, Physics, Pretrained, Task, TaskData

#: task name (the card's ``task:``) -> the task
TASKS: dict[str, Task] = {
    "cdms_lfn": CdmsTask(),
    "ecl_photon": EclTask(),
    "imported": ImportedTask(),
    "labelled": LabelledTask(),
}


def get_task(name: str, where: str = "task") -> Task:
    """The registered task called ``name``; an unknown name is a CardError listing the valid ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise CardError(f"{where}: unknown task {name!r}; {suggest(name, TASKS, what='tasks')}") from None


__all__ = ["TASKS", "Headline", "Physics", "Pretrained", "Task", "TaskData", "get_task"]
