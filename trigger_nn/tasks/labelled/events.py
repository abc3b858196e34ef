"""A user's labelled events, read and checked, and put on the card's input word.

The file is read by ``tasks/data_files.py`` (as the ECL clusters are). What the flow cannot take is one
``DataError`` naming the file, the array and the card key: NaN, labels that are not classes 0 .. k-1,
negative weights, values the input word cannot hold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...artifacts import FixedFormat
from ...errors import DataError
from ..data_files import FileRoles, finite, numeric, read_arrays, same_length, values_text
from .config import LabelledData, OutOfRange

log = logging.getLogger(__name__)

ROLES = FileRoles(
    key="data.file", entry="event", tree_key="data.tree", npz_example="np.savez(path, x=inputs, y=labels)"
)

#: fewer events than this cannot be split into a training and a test set worth the name
MIN_EVENTS = 20


@dataclass(frozen=True, kw_only=True)
class Events:
    """The events as the flow takes them: inputs on the word's grid, classes, weights, the plot variable."""

    x: np.ndarray  # (n, ...) float32, on the input word's grid
    y: np.ndarray  # (n,) int64 classes 0 .. k-1
    weight: np.ndarray  # (n,) float64, all ones where the card names no weights
    variable: np.ndarray | None  # (n,) float64, or None
    class_names: tuple[str, ...]


def read_events(data: LabelledData) -> Events:
    roles = {name: "data.inputs" for name in data.inputs}
    roles[data.labels] = "data.labels"
    for name, key in ((data.weights, "data.weights"), (data.plot_variable, "data.plot_variable")):
        if name is not None:
            roles[name] = f"{key} (optional)"
    src, raw = read_arrays(Path(data.file), roles, ROLES, tree=data.tree)
    several = len(data.inputs) > 1
    arrays = {}
    for name, key in roles.items():
        per = "one value" if several or key != "data.inputs" else "a fixed-size array of values"
        arrays[name] = numeric(src, name, raw[name], per_entry=per)
        if (several or key != "data.inputs") and arrays[name].shape[1:] not in ((), (1,)):
            raise DataError(
                f"{src.at(name)} holds {int(np.prod(arrays[name].shape[1:]))} values per event; {key.split()[0]} "
                "needs one" + (" (several data.inputs are each one feature)" if key == "data.inputs" else "")
            )
    same_length(src, arrays)
    n = len(arrays[data.labels])
    if n < MIN_EVENTS:
        raise DataError(
            f"{src.path}: the file holds only {n} events; the flow needs at least {MIN_EVENTS} to train and test"
        )
    if several:
        x = np.stack([arrays[name].reshape(n).astype(np.float64) for name in data.inputs], axis=1)
    else:
        x = arrays[data.inputs[0]].astype(np.float64)
        if x.ndim == 1:
            x = x.reshape(n, 1)
    finite(src, data.inputs[0] if not several else "+".join(data.inputs), x, "input values")
    y, names = _classes(src.at(data.labels), arrays[data.labels].reshape(n), data.class_names)
    weight = np.ones(n)
    if data.weights is not None:
        weight = arrays[data.weights].reshape(n).astype(np.float64)
        finite(src, data.weights, weight, "weights")
        if (weight < 0).any() or not (weight > 0).any():
            first = int(np.argmax(weight < 0)) if (weight < 0).any() else 0
            raise DataError(
                f"{src.at(data.weights)}: weights must be >= 0 and not all 0 (the first bad one at index {first}: "
                f"{weight[first]:g}); fix them, or set data.weights: null"
            )
    variable = None
    if data.plot_variable is not None:
        variable = arrays[data.plot_variable].reshape(n).astype(np.float64)
        finite(src, data.plot_variable, variable, "values")
    x = on_word(x, data.input_kif, data, f"{src.path}: data.inputs")
    return Events(x=x.astype(np.float32), y=y, weight=weight, variable=variable, class_names=names)


def _classes(where: str, values: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer classes 0 .. k-1, every one present, k >= 2; their names from the card or class_0 ..."""
    found = np.unique(values)
    whole = np.all(np.isfinite(found)) and np.all(found == np.round(found))
    if not whole or found.min() < 0:
        raise DataError(
            f"{where} holds labels that are not class numbers 0, 1, ...: found {values_text(found)}; write each "
            "event's class as an integer from 0"
        )
    k = len(found)
    gaps = np.flatnonzero(found != np.arange(k))
    if k < 2 or len(gaps):
        what = "only class 0" if k < 2 else f"no event of class {int(gaps[0])}"
        raise DataError(
            f"{where} has {what} (classes found: {values_text(found)}); a classifier needs every class "
            "0 .. k-1 present, and at least two"
        )
    if names and len(names) != k:
        raise DataError(f"{where} has {k} classes but data.class_names names {len(names)}: {list(names)}")
    return values.astype(np.int64), tuple(names) or tuple(f"class_{c}" for c in range(k))


def word_range(kif: FixedFormat) -> tuple[float, float, float]:
    """The word's lowest and highest value and its step."""
    k, i, f = kif
    step = 2.0**-f
    return (-(2.0**i) if k else 0.0), 2.0**i - step, step


def on_word(x: np.ndarray, kif: FixedFormat, data: LabelledData, where: str) -> np.ndarray:
    """The values as the input bus carries them: taken down to the word's step; outside it, refused or saturated."""
    low, high, step = word_range(kif)
    outside = (x < low) | (x > high)
    if outside.any():
        events = outside.reshape(len(x), -1).any(axis=1)
        first = int(np.argmax(events))
        value = x[first].reshape(-1)[np.argmax(outside[first].reshape(-1))]
        message = (
            f"{where}: {int(outside.sum())} values in {int(events.sum())} events lie outside the input word "
            f"{data.input_word} ([{low:g}, {high:g}]; the first in event {first}: {value:g})"
        )
        if data.out_of_range == OutOfRange.ERROR:
            raise DataError(
                f"{message}; choose a wider data.input_word, rescale the inputs, or set data.out_of_range: saturate "
                "to hold them at the word's ends"
            )
        log.warning("%s: held at the word's ends (data.out_of_range: saturate)", message)
        x = np.clip(x, low, high)
    grid = np.floor(x / step) * step
    moved = int(np.sum(grid != x))
    if moved:
        log.info(
            "%d of %d input values are not on the %s grid (step %g): taken down to it, as the input bus truncates",
            moved,
            x.size,
            data.input_word,
            step,
        )
    return grid
