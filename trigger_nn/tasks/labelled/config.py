"""The card's ``data:`` section of the ``labelled`` task: a user's labelled events from a file."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Self

from ...artifacts import FixedFormat
from ...errors import CardError
from ..protocol import TaskData

#: the input word as hls4ml and Vitis write it: ``fixed<W,I>`` (signed) or ``ufixed<W,I>``, W bits, I of them integer
WORD = re.compile(r"\s*(u?)fixed\s*<\s*(\d+)\s*,\s*(-?\d+)\s*>\s*")
#: the values travel as float32 (the dataset, Keras, verify), exact for 24 significant bits
MAX_WORD_BITS = 24


class OutOfRange(StrEnum):
    """What a value outside the input word does: refused (the default), or saturated to the word's ends and counted."""

    ERROR = "error"
    SATURATE = "saturate"


def parse_word(text: str, where: str) -> FixedFormat:
    """``fixed<W,I>`` -> (1, I - 1, W - I); ``ufixed<W,I>`` -> (0, I, W - I): sign, integer and fraction bits."""
    m = WORD.fullmatch(text)
    if not m:
        raise CardError(
            f"{where}: {text!r} is not an input word; write fixed<W,I> (signed) or ufixed<W,I> (unsigned): W bits "
            "in all, I of them above the binary point (ap_fixed's convention), e.g. fixed<8,8> for signed 8-bit counts"
        )
    unsigned, width, integer = m[1] == "u", int(m[2]), int(m[3])
    if not 1 <= width <= MAX_WORD_BITS or (not unsigned and width < 2):
        raise CardError(
            f"{where}: {text!r} has {width} bits; an input word has 1 to {MAX_WORD_BITS} bits (2 or more signed): "
            "the values travel as float32, exact to 24 bits"
        )
    if unsigned:
        return FixedFormat(0, integer, width - integer)
    return FixedFormat(1, integer - 1, width - integer)


@dataclass(frozen=True, kw_only=True)
class LabelledData(TaskData):
    """Labelled events of any shape (a feature vector, a multi-channel waveform, an image) from one file.

    ``inputs`` names one array (NPZ), dataset (HDF5) or fixed-size array branch (ROOT) of the events' values,
    events first and any shape after (channels last), or several scalar branches that make a feature vector.
    ``labels`` holds integer classes 0 .. k-1, each present; ``class_names`` names them in that order (class 0
    is the background of a two-class trigger). ``input_word`` is the firmware's input bus: values are taken
    down to its step (as the bus truncates) and values outside it are refused, or saturated where
    ``out_of_range: saturate``. ``weights`` (optional) weight each event in training and in every efficiency;
    ``plot_variable`` (optional) is a per-event quantity to plot efficiencies against (e.g. pT or energy).
    A relative ``file`` is taken from the card's own folder.
    """

    file: Path
    inputs: tuple[str, ...] = ("x",)
    labels: str = "y"
    class_names: tuple[str, ...] = ()
    input_word: str = "fixed<16,6>"
    out_of_range: OutOfRange = OutOfRange.ERROR
    weights: str | None = None
    plot_variable: str | None = None
    tree: str = "events"
    test_fraction: float = 0.3

    @property
    def input_kif(self) -> FixedFormat:
        return parse_word(self.input_word, "data.input_word")

    def validate(self, where: str) -> None:
        parse_word(self.input_word, f"{where}.data.input_word")
        if not 0.05 <= self.test_fraction <= 0.95:
            raise CardError(f"{where}: data.test_fraction must be in [0.05, 0.95], got {self.test_fraction}")
        if not self.inputs:
            raise CardError(f"{where}: data.inputs must name at least one array, dataset or branch")
        if len(set(self.class_names)) < len(self.class_names) or any(
            not re.fullmatch(r"[A-Za-z0-9_.+-]+", n) for n in self.class_names
        ):
            raise CardError(
                f"{where}: data.class_names must be distinct names of letters, digits and _.+- "
                f"(no spaces or commas), got {list(self.class_names)}"
            )
        named = [*self.inputs, self.labels, *(n for n in (self.weights, self.plot_variable) if n is not None)]
        twice = sorted({n for n in named if named.count(n) > 1})
        if twice:
            raise CardError(
                f"{where}: {twice[0]!r} is named twice among data.inputs, labels, weights and plot_variable; each "
                "needs its own array"
            )

    def with_paths_from(self, folder: Path, where: str) -> Self:
        return dataclasses.replace(self, file=Path(folder) / self.file) if not Path(self.file).is_absolute() else self
