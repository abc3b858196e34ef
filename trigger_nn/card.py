"""Model cards: the user's one input. The only place YAML is read.

A card names the task and its data settings, the network and its quantisation,
the training, and the firmware target. Every section is a frozen, keyword-only
dataclass; its field defaults are the project's defaults (there are no others).
Unknown keys and wrong types are errors that name the key and suggest the
nearest valid one.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import yaml

from .artifacts import to_plain
from .errors import CardError


class IOType(StrEnum):
    IO_PARALLEL = "io_parallel"


class Strategy(StrEnum):
    LATENCY = "latency"
    DISTRIBUTED_ARITHMETIC = "distributed_arithmetic"


@dataclass(frozen=True, kw_only=True)
class CdmsLfnData:
    """SuperCDMS-style phonon waveform windows: signal pulses vs low-frequency noise (LFN).

    Amplitudes are in units of the baseline noise RMS; the ADC word is ``adc_bits``
    signed bits with ``noise_rms_adc`` counts of noise.
    """

    n_train: int = 30000
    n_test: int = 12000
    window: int = 64
    sample_rate_hz: float = 625e3
    trace_length: int = 1024
    rise_time_us: float = 20.0
    fall_time_us: float = 100.0
    onset_range: tuple[float, float] = (0.2, 0.6)
    baseline_samples: int = 8
    signal_amplitude_sigma: tuple[float, float] = (1.5, 30.0)
    noise_rms_adc: float = 2.0
    adc_bits: int = 8
    noise_knee_hz: float = 5000.0
    lfn_band_hz: tuple[float, float] = (300.0, 3000.0)
    lfn_amplitude_sigma: tuple[float, float] = (1.5, 30.0)
    lfn_burst_ms: tuple[float, float] = (0.2, 2.0)


#: task name -> its data section; the task decides which simulator runs.
TASKS: dict[str, type] = {"cdms_lfn": CdmsLfnData}


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """A quantised MLP (HGQ2 layers): trainable per-weight bit widths, EBOPs-regularised."""

    architecture: str = "mlp"
    hidden_units: tuple[int, ...] = (16, 8)
    weight_bits: int = 6
    beta: float = 2e-6


ARCHITECTURES = ("mlp",)


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 3e-3
    validation_split: float = 0.15
    patience: int = 6


@dataclass(frozen=True, kw_only=True)
class FirmwareConfig:
    """The firmware target. Times in ns; the input interval is the time between new inputs."""

    part: str = "xcvu13p-flga2577-2-e"
    clock_period_ns: float = 5.0
    latency_budget_ns: float = 1600.0
    input_interval_ns: float = 1600.0
    io_type: IOType = IOType.IO_PARALLEL
    strategy: Strategy = Strategy.LATENCY
    pipeline_cutoff: float = 5.0

    @property
    def input_interval_cycles(self) -> int:
        """The II budget: whole clock cycles available between two inputs."""
        return math.floor(self.input_interval_ns / self.clock_period_ns + 1e-9)


@dataclass(frozen=True, kw_only=True)
class VerifyConfig:
    n_vectors: int = 10000


@dataclass(frozen=True, kw_only=True)
class CosimConfig:
    n_vectors: int = 10000


@dataclass(frozen=True, kw_only=True)
class Card:
    name: str
    task: str
    seed: int = 1234
    data: Any = None
    network: NetworkConfig = field(default_factory=NetworkConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    firmware: FirmwareConfig = field(default_factory=FirmwareConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    cosim: CosimConfig = field(default_factory=CosimConfig)
    source: Path | None = None

    def project_dir(self, root: Path) -> Path:
        return Path(root) / self.name


# The card's name becomes a Verilog module (da4ml) and a C++ function (hls4ml): it may be neither language's keyword.
RESERVED_NAMES = frozenset(
    """always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign default defparam
    design disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive endspecify endtable
    endtask event for force forever fork function generate genvar highz0 highz1 if ifnone incdir include initial inout
    input instance integer join large liblist library localparam macromodule medium module nand negedge nmos nor
    noshowcancelled not notif0 notif1 or output parameter pmos posedge primitive pull0 pull1 pulldown pullup
    pulsestyle_ondetect pulsestyle_onevent rcmos real realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1
    scalared showcancelled signed small specify specparam strong0 strong1 supply0 supply1 table task time tran tranif0
    tranif1 tri tri0 tri1 triand trior trireg unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor
    bit byte logic int shortint longint class interface package program struct union enum typedef void return break
    continue const static virtual extern import export string chandle alias bool char double float long short auto
    delete new this true false namespace template typename public private protected operator friend inline switch
    goto do sizeof volatile register""".split()
)


def _suggest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}valid keys: {', '.join(sorted(valid))}"


def _check_value(where: str, tp: Any, value: Any) -> Any:
    """Coerce ``value`` to ``tp`` where that is lossless (int -> float, list -> tuple), else raise."""
    origin = typing.get_origin(tp)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise CardError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_check_value(f"{where}[{i}]", args[0], v) for i, v in enumerate(value))
        if len(value) != len(args):
            raise CardError(f"{where}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_check_value(f"{where}[{i}]", a, v) for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        return _check_value(where, next(a for a in args if a is not type(None)), value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            raise CardError(f"{where}: {value!r} is not one of {', '.join(m.value for m in tp)}") from None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CardError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise CardError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CardError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise CardError(f"{where}: expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, str):
            raise CardError(f"{where}: expected a path, got {value!r}")
        return Path(value)
    raise AssertionError(f"unhandled card type {tp!r} at {where}")


def _build(cls: type, data: Any, where: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CardError(f"{where}: expected a mapping of keys to values, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise CardError(f"{where}: unknown key {key!r}; {_suggest(str(key), list(fields))}")
        kwargs[key] = _check_value(f"{where}.{key}", hints[key], value)
    return cls(**kwargs)


def _validate(card: Card, where: str) -> None:
    fw, d, net, tr = card.firmware, card.data, card.network, card.training
    positive = {
        "firmware.clock_period_ns": fw.clock_period_ns,
        "firmware.latency_budget_ns": fw.latency_budget_ns,
        "firmware.input_interval_ns": fw.input_interval_ns,
        "firmware.pipeline_cutoff": fw.pipeline_cutoff,
        "training.epochs": tr.epochs,
        "training.batch_size": tr.batch_size,
        "training.learning_rate": tr.learning_rate,
        "verify.n_vectors": card.verify.n_vectors,
        "cosim.n_vectors": card.cosim.n_vectors,
        "network.weight_bits": net.weight_bits,
    }
    for key, value in positive.items():
        if value <= 0:
            raise CardError(f"{where}: {key} must be positive, got {value!r}")
    if fw.input_interval_cycles < 1:
        raise CardError(
            f"{where}: firmware.input_interval_ns ({fw.input_interval_ns}) is shorter than one clock period "
            f"({fw.clock_period_ns} ns)"
        )
    if net.architecture not in ARCHITECTURES:
        raise CardError(f"{where}: network.architecture {net.architecture!r} is not one of {', '.join(ARCHITECTURES)}")
    if not net.hidden_units or any(u <= 0 for u in net.hidden_units):
        raise CardError(f"{where}: network.hidden_units must be a non-empty list of positive integers")
    if not 0.0 <= tr.validation_split < 1.0:
        raise CardError(f"{where}: training.validation_split must be in [0, 1), got {tr.validation_split}")
    if isinstance(d, CdmsLfnData):
        if d.window < 4 or d.window > d.trace_length:
            raise CardError(f"{where}: data.window must be in [4, data.trace_length={d.trace_length}]")
        if not 1 <= d.baseline_samples <= d.onset_range[0] * d.window:
            raise CardError(
                f"{where}: data.baseline_samples must be between 1 and the earliest onset "
                f"(onset_range[0] x window = {d.onset_range[0] * d.window:g} samples)"
            )
        if not 2 <= d.adc_bits <= 24:
            raise CardError(f"{where}: data.adc_bits must be in [2, 24] (da4ml buses take words up to 32 bits)")
        for key in ("n_train", "n_test"):
            if getattr(d, key) < 10:
                raise CardError(f"{where}: data.{key} must be at least 10")
        for key in ("onset_range", "signal_amplitude_sigma", "lfn_band_hz", "lfn_amplitude_sigma", "lfn_burst_ms"):
            lo, hi = getattr(d, key)
            if not 0 <= lo <= hi:
                raise CardError(f"{where}: data.{key} must be [low, high] with 0 <= low <= high, got {[lo, hi]}")
        if d.onset_range[1] >= 1.0:
            raise CardError(f"{where}: data.onset_range is a fraction of the window; its high end must be < 1")
        for key in ("rise_time_us", "fall_time_us", "noise_rms_adc", "sample_rate_hz"):
            if getattr(d, key) <= 0:
                raise CardError(f"{where}: data.{key} must be positive")


def card_from_dict(raw: Any, *, where: str = "card") -> Card:
    if not isinstance(raw, dict):
        raise CardError(f"{where}: a model card is a YAML mapping (name: ..., task: ...), got {type(raw).__name__}")
    sections = {
        "network": NetworkConfig,
        "training": TrainingConfig,
        "firmware": FirmwareConfig,
        "verify": VerifyConfig,
        "cosim": CosimConfig,
    }
    valid = ["name", "task", "seed", "data", *sections]
    for key in raw:
        if key not in valid:
            raise CardError(f"{where}: unknown key {key!r}; {_suggest(str(key), valid)}")
    for key in ("name", "task"):
        if key not in raw:
            raise CardError(f"{where}: missing required key {key!r}")
    name = _check_value(f"{where}.name", str, raw["name"])
    if not name or not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise CardError(f"{where}.name: {name!r} must start with a letter and hold only letters, digits and _")
    if name.lower() in RESERVED_NAMES:
        raise CardError(
            f"{where}.name: {name!r} is a Verilog or C++ keyword and cannot name the generated module; "
            f"try {name + '_nn'!r}"
        )
    task = _check_value(f"{where}.task", str, raw["task"])
    if task not in TASKS:
        raise CardError(f"{where}.task: unknown task {task!r}; {_suggest(task, list(TASKS))}")
    kwargs: dict[str, Any] = {
        "name": name,
        "task": task,
        "data": _build(TASKS[task], raw.get("data"), f"{where}.data"),
    }
    if "seed" in raw:
        kwargs["seed"] = _check_value(f"{where}.seed", int, raw["seed"])
    for key, cls in sections.items():
        kwargs[key] = _build(cls, raw.get(key), f"{where}.{key}")
    card = Card(**kwargs)
    _validate(card, where)
    return card


def load_card(path: Path) -> Card:
    """Read and validate a model card; every problem is a :class:`CardError` naming the file and key."""
    path = Path(path)
    if not path.is_file():
        raise CardError(f"model card {path} does not exist (cards live in models/*.yaml)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise CardError(f"{path} is not valid YAML: {err}") from err
    card = card_from_dict(raw, where=str(path))
    return dataclasses.replace(card, source=path)


def card_to_dict(card: Card) -> dict[str, Any]:
    """The card with every default filled in, as plain JSON types (for the report)."""
    plain = to_plain(card)
    del plain["source"]
    return plain
