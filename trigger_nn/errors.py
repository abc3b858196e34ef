"""Errors a user can act on. Each message says what, why, what to try, and where."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest(name: str, valid: Iterable[str], *, what: str = "keys") -> str:
    """``did you mean 'x'? valid <what>: a, b, c`` for a name that is not one of ``valid``."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}valid {what}: {', '.join(valid)}"


class TriggerNNError(Exception):
    """Base of every error the command line reports as one clear message."""


class CardError(TriggerNNError, ValueError):
    """A model card is malformed, has an unknown key or a value of the wrong type."""


class DataError(TriggerNNError, ValueError):
    """A user's data file is unreadable, lacks a named branch, or holds values the flow cannot take."""


class ArtifactError(TriggerNNError, FileNotFoundError):
    """A stage's input file is missing, unreadable or of another schema version."""


class ModelFileError(TriggerNNError, ValueError):
    """A model file is missing, truncated, corrupt, or not of the format it claims to be."""


class ConversionError(TriggerNNError, RuntimeError):
    """The model cannot be converted to firmware exactly (unsupported layer, too-wide word)."""


class MismatchError(TriggerNNError, AssertionError):
    """An implementation disagrees with the Python reference on at least one vector."""


class BudgetError(TriggerNNError, RuntimeError):
    """The co-simulated design misses the card's latency or input-interval budget."""


class ToolError(TriggerNNError, RuntimeError):
    """An external tool (Verilator, g++, cocotb) failed or is missing."""


class BusyError(TriggerNNError, RuntimeError):
    """Another trigger-nn process is working in the same project folder."""
