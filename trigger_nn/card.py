"""Model cards: the user's one input. The only place YAML is read.

A card names the task and its data settings, the network and its quantisation,
the training, and the firmware target. Every section is a frozen, keyword-only
dataclass; its field defaults are the project's defaults (there are no others).
Unknown keys and wrong types are errors that name the key and suggest the
nearest valid one.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import yaml

from .artifacts import to_plain
from .errors import CardError, suggest
from .firmware.parts import check_part
from .tasks import TaskData, get_task


class IOType(StrEnum):
    IO_PARALLEL = "io_parallel"


class Strategy(StrEnum):
    LATENCY = "latency"
    DISTRIBUTED_ARITHMETIC = "distributed_arithmetic"


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
    pipeline_cutoff: float | None = None  # adder levels per stage (da4ml's delay units); None: cut to fit the clock

    @property
    def input_interval_cycles(self) -> int:
        """The II budget: whole clock cycles available between two inputs."""
        return math.floor(self.input_interval_ns / self.clock_period_ns + 1e-9)


@dataclass(frozen=True, kw_only=True)
class VerifyConfig:
    n_vectors: int = 10000


@dataclass(frozen=True, kw_only=True)
class CosimConfig:
    """Vectors streamed back to back, then again with random idle cycles; ``waves`` dumps a VCD of each run."""

    n_vectors: int = 10000
    idle_gaps: bool = True
    waves: bool = False


@dataclass(frozen=True, kw_only=True)
class ScanConfig:
    """`trigger-nn scan`: every HGQ2 resource-regulariser strength (network.beta) with every clock period."""

    beta: tuple[float, ...] = (1e-6, 1e-5, 1e-4)
    clock_period_ns: tuple[float, ...] = (5.0, 2.5)


@dataclass(frozen=True, kw_only=True)
class Card:
    name: str
    task: str
    seed: int = 1234
    data: TaskData
    network: NetworkConfig = field(default_factory=NetworkConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    firmware: FirmwareConfig = field(default_factory=FirmwareConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    cosim: CosimConfig = field(default_factory=CosimConfig)
    scan: ScanConfig = field(default_factory=ScanConfig)
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
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
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
            raise CardError(f"{where}: unknown key {key!r}; {suggest(str(key), list(fields))}")
        kwargs[key] = _check_value(f"{where}.{key}", hints[key], value)
    missing = [
        k for k, f in fields.items() if k not in kwargs and f.default is f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise CardError(f"{where}: missing required key {missing[0]!r}")
    return cls(**kwargs)


def _validate(card: Card, where: str) -> None:
    fw, d, net, tr = card.firmware, card.data, card.network, card.training
    positive = {
        "firmware.clock_period_ns": fw.clock_period_ns,
        "firmware.latency_budget_ns": fw.latency_budget_ns,
        "firmware.input_interval_ns": fw.input_interval_ns,
        "training.epochs": tr.epochs,
        "training.batch_size": tr.batch_size,
        "training.learning_rate": tr.learning_rate,
        "verify.n_vectors": card.verify.n_vectors,
        "cosim.n_vectors": card.cosim.n_vectors,
        "network.weight_bits": net.weight_bits,
    }
    if fw.pipeline_cutoff is not None:
        positive["firmware.pipeline_cutoff"] = fw.pipeline_cutoff
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
    for key, values, least in (("beta", card.scan.beta, 0.0), ("clock_period_ns", card.scan.clock_period_ns, 1e-9)):
        if not values or min(values) < least or len(set(values)) < len(values):
            raise CardError(
                f"{where}: scan.{key} must be a non-empty list of distinct values >= {least:g}, got {list(values)}"
            )
    check_part(fw.part, where)
    d.validate(where)


def card_from_dict(raw: Any, *, where: str = "card") -> Card:
    if not isinstance(raw, dict):
        raise CardError(f"{where}: a model card is a YAML mapping (name: ..., task: ...), got {type(raw).__name__}")
    sections = {
        "network": NetworkConfig,
        "training": TrainingConfig,
        "firmware": FirmwareConfig,
        "verify": VerifyConfig,
        "cosim": CosimConfig,
        "scan": ScanConfig,
    }
    valid = ["name", "task", "seed", "data", *sections]
    for key in raw:
        if key not in valid:
            raise CardError(f"{where}: unknown key {key!r}; {suggest(str(key), valid)}")
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
    kwargs: dict[str, Any] = {
        "name": name,
        "task": task,
        "data": _build(get_task(task, f"{where}.task").data_type, raw.get("data"), f"{where}.data"),
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
    card = dataclasses.replace(card, data=card.data.with_paths_from(path.parent, str(path)))
    return dataclasses.replace(card, source=path)


def card_to_dict(card: Card) -> dict[str, Any]:
    """The card with every default filled in, as plain JSON types (for the report)."""
    plain = to_plain(card)
    del plain["source"]
    return plain
