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
import os
import re
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import yaml

from .artifacts import to_plain
from .errors import CardError, suggest
from .firmware.parts import Device, check_part
from .tasks import TaskData, get_task


class IOType(StrEnum):
    IO_PARALLEL = "io_parallel"


class Strategy(StrEnum):
    LATENCY = "latency"
    DISTRIBUTED_ARITHMETIC = "distributed_arithmetic"


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """What every architecture has: HGQ2 layers with trainable bit widths, EBOPs-regularised.

    ``lut_layers`` swaps every dense and convolution layer for HGQ2's table (LUT) layer: each input-output
    connection is a small learned function stored as a table of its input's values, summed, with no
    multipliers (QDenseT, QConvT1D, QConvT2D; HGQ-LUT, arXiv:2604.22293). Their tables see each input's
    bits, so they suit narrow words.
    """

    architecture: str = "mlp"
    weight_bits: int = 6  # the multipliers' weights; a table layer's tables take their own trained widths
    beta: float = 2e-6
    lut_layers: bool = False


@dataclass(frozen=True, kw_only=True)
class MlpConfig(NetworkConfig):
    """Dense layers on the flattened input."""

    hidden_units: tuple[int, ...] = (16, 8)


@dataclass(frozen=True, kw_only=True)
class CnnConfig(NetworkConfig):
    """Convolutions (ReLU, then max-pooling where ``pool_size`` > 1), flattened into dense layers.

    ``cnn1d`` takes waveforms (samples, channels last; a plain window is one channel), ``cnn2d`` images
    (rows, columns, channels last; a plain image is one channel).
    """

    architecture: str = "cnn1d"
    # defaults that fit every default card's input: a CDMS window (65 samples) and the ECL images (7 x 7
    # crystals, 3 x 3 trigger cells), each within the budget (tests/test_nets.py)
    filters: tuple[int, ...] = (4,)
    kernel_size: int = 3
    strides: int = 1
    pool_size: int = 1
    dense_units: tuple[int, ...] = (8,)


@dataclass(frozen=True, kw_only=True)
class PythonConfig(NetworkConfig):
    """A network the card keys cannot express: ``builder`` names ``package.module:function``, importable here.

    The function is called as ``function(input_shape=..., input_kif=(keep_negative, integer, fraction),
    n_outputs=..., beta=..., weight_bits=...)`` and returns an uncompiled Keras model of HGQ2 layers whose
    first quantizer is the input word; the flow trains it like the others.
    """

    architecture: str = "python"
    builder: str = ""


#: every architecture, and the section type holding its keys
ARCHITECTURES: dict[str, type[NetworkConfig]] = {
    "mlp": MlpConfig,
    "cnn1d": CnnConfig,
    "cnn2d": CnnConfig,
    "python": PythonConfig,
}


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 3e-3
    validation_split: float = 0.15
    patience: int = 6
    committed_model: bool = False  # no training: build models/<name>/model.keras, as committed (train.py)


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
    max_luts: int | None = None  # refuse a design whose estimated LUTs exceed this, below the part's own capacity
    allow_oversize: bool = False  # build a design estimated over its LUT limit anyway, with a warning

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
    """`trigger-nn scan`: every network with every HGQ2 resource-regulariser strength (network.beta) and clock.

    ``networks`` are whole network sections (their own ``beta`` is replaced by the scan's); none: the card's
    own. The scan's choice is the point of fewest Yosys LUTs whose figure of merit is within ``tolerance``
    (absolute, in the task's headline figure) of the best point's.
    """

    beta: tuple[float, ...] = (1e-6, 1e-5, 1e-4)
    clock_period_ns: tuple[float, ...] = (5.0, 2.5)
    networks: tuple[NetworkConfig, ...] = ()
    tolerance: float = 0.005


@dataclass(frozen=True, kw_only=True)
class Card:
    name: str
    task: str
    seed: int = 1234
    data: TaskData
    network: NetworkConfig = field(default_factory=MlpConfig)
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


#: the card's name: a Verilog and C++ identifier, ASCII only (str.isalnum() takes any alphabet's letters)
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: a Python function by its import path, ``package.module:function``
BUILDER_NAME = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
#: NumPy's and Keras' seeds are unsigned 32-bit integers
SEED_MAX = 2**32 - 1
#: HGQ2's weight quantiser keeps a weight's bits in [0, 23] (its kbi default constraint: float32's significand)
MAX_WEIGHT_BITS = 23
#: vectors verify and cosim send: 10**6 take about two minutes to verify (docs/toolchain.md, section 11)
MAX_VECTORS = 10_000_000
#: a number YAML 1.1 leaves a string: an exponent without a dot or its sign (``1e3``, ``2.5e3``)
DECIMAL = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?")


def _number(where: str, value: Any, *, integer: bool) -> int | float:
    """A YAML number, or a string that is a plain decimal number; an integer only where its value is whole."""
    raw = value
    if isinstance(value, str) and DECIMAL.fullmatch(value.strip()):
        value = Decimal(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise CardError(f"{where}: expected {'an integer' if integer else 'a number'}, got {raw!r}")
    if not integer:
        try:
            value = float(value)
        except OverflowError:  # an integer beyond float's range
            value = math.inf
        if not math.isfinite(value):
            raise CardError(f"{where}: expected a finite number, got {raw!r}")
        return value
    whole = value == value.to_integral_value() if isinstance(value, Decimal) else float(value).is_integer()
    if not whole:
        raise CardError(f"{where}: expected an integer, got {raw!r}")
    return int(value)


def _check_value(where: str, tp: Any, value: Any) -> Any:
    """Coerce ``value`` to ``tp`` where that is lossless (int -> float, list -> tuple, '1e3' -> 1000), else raise."""
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
    if tp is float or tp is int:
        return _number(where, value, integer=tp is int)
    if tp is bool:
        if not isinstance(value, bool):
            raise CardError(f"{where}: expected true or false, got {value!r}")
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
            retired = getattr(cls, "retired", {})
            if key in retired:
                raise CardError(f"{where}: {key!r} is no longer a key: {retired[key]}")
            raise CardError(f"{where}: unknown key {key!r}; {suggest(str(key), list(fields))}")
        kwargs[key] = _check_value(f"{where}.{key}", hints[key], value)
    missing = [
        k for k, f in fields.items() if k not in kwargs and f.default is f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise CardError(f"{where}: missing required key {missing[0]!r}")
    return cls(**kwargs)


def machine_memory_bytes() -> int:
    """This machine's physical memory, in bytes."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def describe_network(net: NetworkConfig) -> str:
    """The network in one line: its architecture, its own keys, and table layers where chosen."""
    common = {f.name for f in dataclasses.fields(NetworkConfig)}
    own = ", ".join(
        f"{f.name} {list(v) if isinstance(v := getattr(net, f.name), tuple) else v}"
        for f in dataclasses.fields(net)
        if f.name not in common
    )
    tables = "; HGQ2 table (LUT) layers in place of multipliers" if net.lut_layers else ""
    return f"{net.architecture} ({own}; weight_bits {net.weight_bits}, beta {net.beta:g}){tables}"


def layer_sizes(net: NetworkConfig) -> dict[str, tuple[int, ...]]:
    """The card's lists of units or filters, by key."""
    if isinstance(net, MlpConfig):
        return {"hidden_units": net.hidden_units}
    if isinstance(net, CnnConfig):
        return {"filters": net.filters, "dense_units": net.dense_units}
    return {}


def _network(raw: Any, where: str) -> NetworkConfig:
    """The network section, typed by its architecture; a key of another architecture is named as such."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise CardError(f"{where}: expected a mapping of keys to values, got {raw!r}")
    arch = _check_value(f"{where}.architecture", str, raw.get("architecture", "mlp"))
    if arch not in ARCHITECTURES:
        raise CardError(f"{where}.architecture: {arch!r} is not one of {', '.join(ARCHITECTURES)}")
    own = {f.name for f in dataclasses.fields(ARCHITECTURES[arch])}
    for key in raw:
        owners = [a for a, cls in ARCHITECTURES.items() if key in {f.name for f in dataclasses.fields(cls)}]
        if key not in own and owners:
            raise CardError(
                f"{where}.{key} belongs to architecture {' and '.join(owners)}, not to {arch!r} "
                f"(network.architecture); {arch}'s own keys: {', '.join(sorted(own - {'architecture'}))}"
            )
    return _build(ARCHITECTURES[arch], {**raw, "architecture": arch}, where)


def _scan(raw: Any, where: str) -> ScanConfig:
    """The scan section; its ``networks`` are network sections, each read as the card's own is."""
    if not isinstance(raw, dict) or "networks" not in raw:
        return _build(ScanConfig, raw, f"{where}.scan")
    nets = raw["networks"]
    if not isinstance(nets, list) or not nets:
        raise CardError(f"{where}.scan.networks: expected a non-empty list of network sections, got {nets!r}")
    rest = _build(ScanConfig, {k: v for k, v in raw.items() if k != "networks"}, f"{where}.scan")
    parsed = tuple(_network(net, f"{where}.scan.networks[{i}]") for i, net in enumerate(nets))
    return dataclasses.replace(rest, networks=parsed)


def _ranges(card: Card, device: Device) -> list[tuple[str, Any, bool, str]]:
    """Each numeric key of the card's own sections: (key, value, whether it is in range, the range)."""
    from .firmware import timing  # it imports this module

    fw, net, tr = card.firmware, card.network, card.training
    positive = {
        "firmware.clock_period_ns": fw.clock_period_ns,
        "firmware.latency_budget_ns": fw.latency_budget_ns,
        "firmware.input_interval_ns": fw.input_interval_ns,
        "firmware.pipeline_cutoff": fw.pipeline_cutoff,
        "firmware.max_luts": fw.max_luts,
        "training.epochs": tr.epochs,
        "training.batch_size": tr.batch_size,
        "training.learning_rate": tr.learning_rate,
        "verify.n_vectors": card.verify.n_vectors,
        "cosim.n_vectors": card.cosim.n_vectors,
    }
    delays = timing.delay_model(fw.part)
    shortest = (delays.register_ns + delays.lut_ns) / (1 - timing.CLOCK_UNCERTAINTY)
    return [
        *((key, value, value > 0, "positive") for key, value in positive.items() if value is not None),
        ("seed", card.seed, 0 <= card.seed <= SEED_MAX, f"in [0, {SEED_MAX}] (NumPy and Keras take 32-bit seeds)"),
        (
            "firmware.clock_period_ns",
            fw.clock_period_ns,
            fw.clock_period_ns >= shortest,
            f"at least {shortest:.2f} ns on {device.name}: a shorter period leaves no time for one LUT between "
            "flip-flops (firmware/timing.py's delay model, less the clock uncertainty)",
        ),
        (
            "firmware.max_luts",
            fw.max_luts,
            fw.max_luts is None or fw.max_luts <= device.luts,
            f"at most {device.name}'s {device.luts:,}",
        ),
        (
            "network.weight_bits",
            net.weight_bits,
            1 <= net.weight_bits <= MAX_WEIGHT_BITS,
            f"in [1, {MAX_WEIGHT_BITS}]: HGQ2 keeps a weight's bits within [0, {MAX_WEIGHT_BITS}] (float32's "
            "significand), and the logit word holds the weight's bits and more, where da4ml's buses take at most 32",
        ),
        *(
            (
                f"network.{key}[{i}]",
                units,
                0 < units <= device.luts,
                f"positive and at most the {device.luts:,} LUTs of {device.name} (each unit is logic of its own)",
            )
            for key, sizes in layer_sizes(net).items()
            for i, units in enumerate(sizes)
        ),
        *(
            (f"network.{key}", getattr(net, key), getattr(net, key) >= 1, "at least 1")
            for key in ("kernel_size", "strides", "pool_size")
            if isinstance(net, CnnConfig)
        ),
        ("network.beta", net.beta, net.beta >= 0, "at least 0 (the EBOPs regulariser's strength)"),
        ("training.patience", tr.patience, tr.patience >= 0, "at least 0 (epochs without improvement)"),
        ("verify.n_vectors", card.verify.n_vectors, card.verify.n_vectors <= MAX_VECTORS, f"at most {MAX_VECTORS:,}"),
        ("cosim.n_vectors", card.cosim.n_vectors, card.cosim.n_vectors <= MAX_VECTORS, f"at most {MAX_VECTORS:,}"),
    ]


def _validate(card: Card, where: str) -> None:
    fw, d, net, tr = card.firmware, card.data, card.network, card.training
    device = check_part(fw.part, where)
    for key, value, ok, need in _ranges(card, device):
        if not ok:
            raise CardError(f"{where}: {key} must be {need}, got {value!r}")
    if fw.input_interval_cycles < 1:
        raise CardError(
            f"{where}: firmware.input_interval_ns ({fw.input_interval_ns}) is shorter than one clock period "
            f"({fw.clock_period_ns} ns)"
        )
    if isinstance(net, MlpConfig) and not net.hidden_units:
        raise CardError(f"{where}: network.hidden_units must be a non-empty list of positive integers")
    if isinstance(net, CnnConfig) and not net.filters:
        raise CardError(f"{where}: network.filters must be a non-empty list of positive integers (one per convolution)")
    if isinstance(net, PythonConfig) and not BUILDER_NAME.fullmatch(net.builder):
        raise CardError(
            f"{where}: network.builder must name a Python function as package.module:function, got {net.builder!r}"
        )
    if not 0.0 <= tr.validation_split < 1.0:
        raise CardError(f"{where}: training.validation_split must be in [0, 1), got {tr.validation_split}")
    for key, values, least in (("beta", card.scan.beta, 0.0), ("clock_period_ns", card.scan.clock_period_ns, 1e-9)):
        if not values or min(values) < least or len(set(values)) < len(values):
            raise CardError(
                f"{where}: scan.{key} must be a non-empty list of distinct values >= {least:g}, got {list(values)}"
            )
    if not card.scan.tolerance >= 0:
        raise CardError(f"{where}: scan.tolerance must be at least 0, got {card.scan.tolerance}")
    for i, other in enumerate(card.scan.networks):
        _validate(dataclasses.replace(card, network=other, scan=ScanConfig()), f"{where}: scan.networks[{i}]")
    d.validate(where)
    need, have = d.dataset_bytes(), machine_memory_bytes()
    if need > have:
        raise CardError(
            f"{where}: data asks for a dataset of about {need / 2**30:,.1f} GiB in memory (its events, training's "
            f"copies of them, the simulation's working memory), more than this machine's {have / 2**30:,.1f} GiB; "
            "ask for fewer or smaller events"
        )


def card_from_dict(raw: Any, *, where: str = "card") -> Card:
    if not isinstance(raw, dict):
        raise CardError(f"{where}: a model card is a YAML mapping (name: ..., task: ...), got {type(raw).__name__}")
    sections = {
        "training": TrainingConfig,
        "firmware": FirmwareConfig,
        "verify": VerifyConfig,
        "cosim": CosimConfig,
        "scan": ScanConfig,
    }
    valid = ["name", "task", "seed", "data", "network", *sections]
    for key in raw:
        if key not in valid:
            raise CardError(f"{where}: unknown key {key!r}; {suggest(str(key), valid)}")
    for key in ("name", "task"):
        if key not in raw:
            raise CardError(f"{where}: missing required key {key!r}")
    name = _check_value(f"{where}.name", str, raw["name"])
    if not IDENTIFIER.fullmatch(name):
        raise CardError(
            f"{where}.name: {name!r} must start with a letter and hold only letters, digits and _, all ASCII "
            "(it names the Verilog module and the C++ function)"
        )
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
    kwargs["network"] = _network(raw.get("network"), f"{where}.network")
    for key, cls in sections.items():
        kwargs[key] = _build(cls, raw.get(key), f"{where}.{key}") if key != "scan" else _scan(raw.get(key), where)
    card = Card(**kwargs)
    _validate(card, where)
    return card


class _DuplicateKey(Exception):
    """A key given twice in one YAML mapping: its line and the first one's."""


class _CardLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML itself keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader refuses it
                continue
            if first is not None:
                raise _DuplicateKey(
                    f"line {line}: key {key!r} is given twice in one mapping (first on line {first}); YAML keeps "
                    "only the last one, so remove the other"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_card(path: Path) -> Card:
    """Read and validate a model card; every problem is a :class:`CardError` naming the file and key."""
    path = Path(path)
    if not path.is_file():
        raise CardError(f"model card {path} does not exist (cards live in models/*.yaml)")
    try:
        raw = yaml.load(path.read_text(), Loader=_CardLoader)  # a SafeLoader
    except _DuplicateKey as err:
        raise CardError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        raise CardError(f"{path} is not valid YAML: {err}") from err
    card = card_from_dict(raw, where=str(path))
    card = dataclasses.replace(card, data=card.data.with_paths_from(path.parent, str(path)))
    return dataclasses.replace(card, source=path)


def with_options(card: Card, *, committed_model: bool = False, verify_vectors: int | None = None) -> Card:
    """The card with the command line's overrides (``--committed-model``, ``--vectors``), validated as a card is:
    they change its sections, so a build made with them belongs to them (provenance)."""
    if committed_model:
        card = dataclasses.replace(card, training=dataclasses.replace(card.training, committed_model=True))
    if verify_vectors is not None:
        if verify_vectors < 1:
            raise CardError(f"--vectors must be at least 1, got {verify_vectors}")
        card = dataclasses.replace(card, verify=dataclasses.replace(card.verify, n_vectors=verify_vectors))
    _validate(card, f"{card.source or 'the card'} with the command line's options")
    return card


def card_to_dict(card: Card) -> dict[str, Any]:
    """The card with every default filled in, as plain JSON types (for the report)."""
    plain = to_plain(card)
    del plain["source"]
    return plain
