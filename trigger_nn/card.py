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


class PulseShape(StrEnum):
    TWOPOLE = "twopole"
    THREEPOLE = "threepole"


@dataclass(frozen=True, kw_only=True)
class CdmsLfnData:
    """SuperCDMS-style phonon stream at 625 kHz: signal pulses, low-frequency noise (LFN) and plain noise.

    The trigger is an optimal filter (OF, an FIR of ``of_length`` taps) with an amplitude threshold;
    the network sees the ``window`` samples around each OF peak. Energies are in units of the OF's
    baseline resolution sigma_E (multiply by a detector's sigma_E in eV). The LFN is a model; its
    parameters are here. See ``trigger_nn/data/cdms.py``.
    """

    n_train: int = 30000
    n_test: int = 12000
    window: int = 64
    sample_rate_hz: float = 625e3
    trace_length: int = 1024
    pulse_shape: PulseShape = PulseShape.TWOPOLE
    rise_time_us: float = 20.0
    fall_time_us: float = 100.0
    fall_time2_us: float = 500.0
    fall2_fraction: float = 0.2
    noise_rms_adc: float = 2.0
    noise_knee_hz: float = 5000.0
    adc_bits: int = 8
    baseline_samples: int = 16
    of_length: int = 256
    peak_search_samples: int = 16
    window_jitter: int = 4
    signal_fraction: float = 0.5
    noise_fraction: float = 0.1
    energy_range_sigma: tuple[float, float] = (0.5, 15.0)
    lfn_band_hz: tuple[float, float] = (300.0, 3000.0)
    lfn_burst_ms: tuple[float, float] = (0.2, 2.0)
    lfn_slow_fraction: float = 0.3
    lfn_slow_band_hz: tuple[float, float] = (20.0, 300.0)
    lfn_of_min_sigma: float = 1.5
    lfn_of_scale_sigma: float = 2.0
    lfn_pass_target: float = 0.05
    of_threshold_floor_sigma: float = 4.0
    min_plateau_efficiency: float = 0.95


class Granularity(StrEnum):
    """What the ECL trigger network sees: single crystals, or the L1 trigger's 4 x 4-crystal trigger cells."""

    CRYSTAL = "crystal"
    TRIGGER_CELL = "trigger_cell"


@dataclass(frozen=True, kw_only=True)
class UserClusters:
    """A user's own ECL clusters instead of the simulation: a ROOT flat ntuple, an HDF5 or an NPZ file.

    ``image`` names one fixed-size array branch (or dataset) of ``image_size**2`` crystal energies per
    cluster, or ``image_size**2`` scalar branches in row-major order; energies in MeV, each image
    centred on its most energetic crystal. ``label`` is 1 for a single photon and 0 for a merged
    two-photon cluster; ``energy`` (GeV, optional) is only used for the report's rejection-vs-energy
    figures. A relative ``path`` is taken from the card's own folder.
    """

    path: Path
    tree: str = "clusters"
    image: tuple[str, ...] = ("image",)
    label: str = "is_photon"
    energy: str | None = "energy"
    test_fraction: float = 0.3


@dataclass(frozen=True, kw_only=True)
class EclPhotonData:
    """Belle II ECL barrel clusters: single photons vs merged two-photon clusters (pi0 / ALP -> gamma gamma).

    Energies of the parent (or of the single photon) are in GeV, detector sizes in cm, noise in MeV.
    The trigger word is ``adc_bits`` unsigned bits of ``lsb_mev`` each, read by the network as a
    fixed-point number with ``input_frac_bits`` fractional bits (the same wires, a power-of-two scale).
    The shower-shape parameters are a model, see ``trigger_nn/data/ecl.py``.
    """

    n_train: int = 40000
    n_test: int = 15000
    granularity: Granularity = Granularity.CRYSTAL
    image_size: int = 7
    tc_image_size: int = 3
    energy_range_gev: tuple[float, float] = (1.0, 8.0)
    alp_fraction: float = 0.25
    alp_mass_gev: float = 0.2
    crystal_size_cm: float = 5.0
    barrel_radius_cm: float = 125.0
    polar_range_deg: tuple[float, float] = (32.2, 128.7)
    moliere_radius_cm: float = 3.53
    core_fraction: float = 0.85
    core_radius_rm: float = 0.17
    tail_radius_rm: float = 1.0
    shape_fluctuation: float = 0.1
    spots_per_gev: float = 200.0
    resolution_stochastic: float = 0.013
    crystal_noise_mev: float = 2.0
    tc_noise_mev: float = 8.0
    background_occupancy: float = 0.02
    background_mean_mev: float = 20.0
    lsb_mev: float = 5.25
    adc_bits: int = 12
    input_frac_bits: int = 8
    user: UserClusters | None = None


@dataclass(frozen=True, kw_only=True)
class ImportedModel:
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


#: task name -> its data section; the task decides which simulator runs.
TASKS: dict[str, type] = {"cdms_lfn": CdmsLfnData, "ecl_photon": EclPhotonData, "imported": ImportedModel}


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
    data: Any = None
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
            raise CardError(f"{where}: unknown key {key!r}; {_suggest(str(key), list(fields))}")
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
    if isinstance(d, CdmsLfnData):
        _validate_cdms(d, where)
    if isinstance(d, EclPhotonData):
        _validate_ecl(d, where)


def _validate_cdms(d: CdmsLfnData, where: str) -> None:
    for key in ("n_train", "n_test"):
        if getattr(d, key) < 10:
            raise CardError(f"{where}: data.{key} must be at least 10")
    if not 2 <= d.adc_bits <= 24:
        raise CardError(f"{where}: data.adc_bits must be in [2, 24] (da4ml buses take words up to 32 bits)")
    for key in (
        "rise_time_us",
        "fall_time_us",
        "fall_time2_us",
        "noise_rms_adc",
        "noise_knee_hz",
        "sample_rate_hz",
        "lfn_of_scale_sigma",
        "of_threshold_floor_sigma",
    ):
        if getattr(d, key) <= 0:
            raise CardError(f"{where}: data.{key} must be positive")
    if d.rise_time_us >= d.fall_time_us:
        raise CardError(f"{where}: data.rise_time_us must be shorter than data.fall_time_us")
    for key in ("energy_range_sigma", "lfn_band_hz", "lfn_burst_ms", "lfn_slow_band_hz"):
        lo, hi = getattr(d, key)
        if not 0 < lo <= hi:
            raise CardError(f"{where}: data.{key} must be [low, high] with 0 < low <= high, got {[lo, hi]}")
    for key in ("fall2_fraction", "lfn_slow_fraction", "signal_fraction", "noise_fraction", "min_plateau_efficiency"):
        if not 0.0 <= getattr(d, key) <= 1.0:
            raise CardError(f"{where}: data.{key} must be in [0, 1]")
    if d.signal_fraction + d.noise_fraction >= 1.0 or d.signal_fraction == 0:
        raise CardError(
            f"{where}: data.signal_fraction + data.noise_fraction must leave room for LFN (sum < 1), and "
            "signal_fraction must be positive"
        )
    if not 0.0 < d.lfn_pass_target < 1.0:
        raise CardError(f"{where}: data.lfn_pass_target must be in (0, 1), got {d.lfn_pass_target}")
    if d.window < 8 or d.of_length < 8 or min(d.baseline_samples, d.peak_search_samples, d.window_jitter) < 0:
        raise CardError(f"{where}: data.window and data.of_length must be at least 8; sample counts not negative")
    if d.baseline_samples < 1:
        raise CardError(f"{where}: data.baseline_samples must be at least 1")
    margin = d.baseline_samples + 2 * (d.peak_search_samples + d.window_jitter)
    if d.trace_length < d.of_length + d.window + margin:
        raise CardError(
            f"{where}: data.trace_length ({d.trace_length}) must hold the OF ({d.of_length}), the window "
            f"({d.window}) and the baseline, search and jitter margins ({margin}): at least "
            f"{d.of_length + d.window + margin}"
        )


def _validate_ecl(d: EclPhotonData, where: str) -> None:
    if d.image_size < 5 or d.image_size % 2 == 0:
        raise CardError(f"{where}: data.image_size must be odd and at least 5 (E9/E25 need a 5 x 5 image)")
    if d.tc_image_size < 1 or d.tc_image_size % 2 == 0:
        raise CardError(f"{where}: data.tc_image_size must be odd and positive (centred on the hottest trigger cell)")
    lo, hi = d.energy_range_gev
    if not 0 < lo <= hi:
        raise CardError(f"{where}: data.energy_range_gev must be [low, high] with 0 < low <= high, got {[lo, hi]}")
    if not 0.0 <= d.alp_fraction <= 1.0:
        raise CardError(f"{where}: data.alp_fraction must be in [0, 1], got {d.alp_fraction}")
    if d.alp_fraction > 0 and not 0 < 2 * d.alp_mass_gev < lo:
        raise CardError(
            f"{where}: data.alp_mass_gev ({d.alp_mass_gev}) must be positive and below half the lowest parent "
            f"energy ({lo} GeV), or the ALP cannot be produced"
        )
    p_lo, p_hi = d.polar_range_deg
    if not 0 < p_lo < p_hi < 180:
        raise CardError(f"{where}: data.polar_range_deg must be [low, high] within (0, 180), got {[p_lo, p_hi]}")
    for key in (
        "crystal_size_cm",
        "barrel_radius_cm",
        "moliere_radius_cm",
        "core_radius_rm",
        "tail_radius_rm",
        "spots_per_gev",
        "lsb_mev",
    ):
        if getattr(d, key) <= 0:
            raise CardError(f"{where}: data.{key} must be positive")
    for key in (
        "shape_fluctuation",
        "resolution_stochastic",
        "crystal_noise_mev",
        "tc_noise_mev",
        "background_mean_mev",
    ):
        if getattr(d, key) < 0:
            raise CardError(f"{where}: data.{key} must not be negative")
    for key in ("core_fraction", "background_occupancy"):
        if not 0.0 <= getattr(d, key) <= 1.0:
            raise CardError(f"{where}: data.{key} must be in [0, 1]")
    if not 1 <= d.adc_bits <= 24 or not 0 <= d.input_frac_bits <= d.adc_bits:
        raise CardError(f"{where}: data.adc_bits must be in [1, 24] and data.input_frac_bits in [0, adc_bits]")
    if d.user is not None:
        if d.granularity is not Granularity.CRYSTAL:
            raise CardError(
                f"{where}: data.user holds crystal images; the trigger-cell view needs the trigger-cell grid, "
                "which a cropped image does not carry (set data.granularity: crystal)"
            )
        if not 0.0 < d.user.test_fraction < 1.0:
            raise CardError(f"{where}: data.user.test_fraction must be in (0, 1), got {d.user.test_fraction}")
        if len(d.user.image) not in (1, d.image_size**2):
            raise CardError(
                f"{where}: data.user.image names one array branch or {d.image_size**2} scalar branches "
                f"(image_size {d.image_size} squared), got {len(d.user.image)}"
            )
    elif min(d.n_train, d.n_test) < 10:
        raise CardError(f"{where}: data.n_train and data.n_test must be at least 10")


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
    user = getattr(card.data, "user", None)
    if user is not None and not user.path.is_absolute():
        data = dataclasses.replace(card.data, user=dataclasses.replace(user, path=path.parent / user.path))
        card = dataclasses.replace(card, data=data)
    if isinstance(card.data, ImportedModel):
        found = {k: path.parent / getattr(card.data, k) for k in ("model", "inputs")}
        for key, file in found.items():
            if not file.is_file():
                raise CardError(f"{path}: data.{key} {file} does not exist (written by `trigger-nn import`)")
        card = dataclasses.replace(card, data=dataclasses.replace(card.data, **found))
    return dataclasses.replace(card, source=path)


def card_to_dict(card: Card) -> dict[str, Any]:
    """The card with every default filled in, as plain JSON types (for the report)."""
    plain = to_plain(card)
    del plain["source"]
    return plain
