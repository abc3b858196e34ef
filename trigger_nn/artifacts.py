"""The files stages hand each other: small frozen dataclasses saved as JSON.

Every artifact carries ``schema_version``; a file of another version, or one
missing, is an :class:`ArtifactError` naming the file and the stage that writes it.
Files are written to a temporary name and moved into place, so an interrupted
stage never leaves an artifact that looks valid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
import types
import typing
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from pathlib import Path
from typing import Any, NamedTuple, Self

import numpy as np

from .errors import ArtifactError

#: 2: every stage's artifact records what it was made from (``made_from``) and stores paths relative to itself
SCHEMA_VERSION = 3


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; move it into place only if the block succeeds.

    Works for files and directories alike: whatever the block creates at the yielded
    path replaces ``final`` (an old directory is removed first).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent)) / final.name
    try:
        yield tmp
        if tmp.exists():
            if final.is_dir() and not final.is_symlink():
                _rmtree(final)
            os.replace(tmp, final)
    finally:
        _rmtree(tmp.parent)


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _decode(tp: Any, value: Any, base: Path | None) -> Any:
    """Rebuild a value of type ``tp`` from its JSON form (nested dataclasses, tuples, Paths).

    A relative path is taken from ``base``, the folder of the file it was read from.
    """
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields"):
        return tp(*value)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _decode(args[0], value, base)
    if dataclasses.is_dataclass(tp):
        return _from_dict(tp, value, base)
    if tp is Path:
        return base / value if base is not None else Path(value)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, base) for v in value)
        return tuple(_decode(a, v, base) for a, v in zip(args, value, strict=True))
    if origin is dict:
        _, vt = typing.get_args(tp)
        return {k: _decode(vt, v, base) for k, v in value.items()}
    return value


def _from_dict(cls: type, data: dict[str, Any], base: Path | None = None) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {f.name: _decode(hints[f.name], data[f.name], base) for f in dataclasses.fields(cls) if f.name in data}
    return cls(**kwargs)


def to_plain(value: Any, *, base: Path | None = None) -> Any:
    """Dataclasses, Paths, Enums, tuples and NumPy scalars as plain JSON types.

    Paths inside ``base`` are written relative to it, so that a project folder can be moved or copied.
    """
    if dataclasses.is_dataclass(value):
        return {f.name: to_plain(getattr(value, f.name), base=base) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        if base is None:
            return str(value)
        with contextlib.suppress(ValueError):
            return str(value.absolute().relative_to(base.absolute()))
        return str(value.absolute())
    if isinstance(value, tuple | list):
        return [to_plain(v, base=base) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v, base=base) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def load_keras_model(path: Path) -> Any:
    """Load a quantised Keras model (HGQ2 layers); a file that does not load is an ArtifactError naming it."""
    from ._deps import setup_environment

    setup_environment()
    import hgq  # noqa: F401  (registers the HGQ2 layers with Keras)
    import keras
    import qkeras  # noqa: F401  (HGQ2's QKeras-style quantizers, which its QKeras-API layers save; not qlayers)

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"model {path} does not exist: it is written by `trigger-nn train`; run that first")
    if not zipfile.is_zipfile(path):  # Keras says "File not found" of a truncated archive
        raise ArtifactError(
            f"model {path} is not a whole .keras file (a zip archive: truncated, or not a model); "
            "re-run `trigger-nn train`"
        )
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as err:  # Keras raises many types for a bad file
        raise ArtifactError(f"model {path} does not load as a Keras model: {err}") from err


class Artifact:
    """Mixin: JSON save/load with a schema version, written atomically."""

    #: the stage that writes this artifact, for error messages
    written_by: typing.ClassVar[str] = "?"

    def to_dict(self, *, base: Path | None = None) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "kind": type(self).__name__, **to_plain(self, base=base)}

    def save(self, path: Path) -> Path:
        """Written as JSON; paths inside the file's folder are stored relative to it."""
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(base=path.parent), indent=2, sort_keys=False) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> Self:
        path = Path(path)
        if not path.is_file():
            raise ArtifactError(
                f"{path} does not exist: it is written by `trigger-nn {cls.written_by}`; run that stage first"
            )
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ArtifactError(f"{path} is not readable JSON ({err}); re-run `trigger-nn {cls.written_by}`") from err
        if data.get("schema_version") != SCHEMA_VERSION or data.get("kind") != cls.__name__:
            raise ArtifactError(
                f"{path} is a {data.get('kind')!r} of schema {data.get('schema_version')!r}, expected "
                f"{cls.__name__!r} of schema {SCHEMA_VERSION}; re-run `trigger-nn {cls.written_by}`"
            )
        try:
            return _from_dict(cls, data, path.parent)
        except (KeyError, TypeError, ValueError) as err:
            raise ArtifactError(f"{path} is incomplete ({err}); re-run `trigger-nn {cls.written_by}`") from err


class FixedFormat(NamedTuple):
    """A fixed-point word as HGQ2's ``kif`` quantisers take it: sign bit (0/1), integer bits, fraction bits.

    ``fixed<W,I>`` in ap_fixed's notation is ``FixedFormat(1, I - 1, W - I)``; ``ufixed<W,I>`` is
    ``FixedFormat(0, I, W - I)``.
    """

    keep_negative: int
    integer_bits: int
    frac_bits: int

    @property
    def width(self) -> int:
        return self.keep_negative + self.integer_bits + self.frac_bits

    def describe(self) -> str:
        return f"{'' if self.keep_negative else 'u'}fixed<{self.width},{self.keep_negative + self.integer_bits}>"


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """What an artifact was made from: the card sections its stage read, the artifacts it read, its files.

    ``card`` is the sha256 of those card sections, ``sections`` that of each (to name the one that
    changed); ``inputs`` maps each artifact read (its path in the project) to the sha256 of its bytes;
    ``files`` maps each file this artifact describes to its sha256. ``trigger_nn.provenance`` writes and
    checks these.
    """

    card: str
    inputs: dict[str, str]
    files: dict[str, str]
    sections: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class BusFormat:
    """One flat bus of equal-width fixed-point words, as da4ml's ``<name>_wrapper`` has them.

    Element ``j`` occupies bits ``[(j+1)*width-1 : j*width]``; its value is the
    (two's-complement if ``signed``) integer in those bits times ``2**-frac_bits``.
    """

    n_elements: int
    width: int
    frac_bits: int
    signed: bool

    @property
    def bus_width(self) -> int:
        return self.n_elements * self.width

    @property
    def lsb(self) -> float:
        return 2.0**-self.frac_bits

    def to_words(self, values: np.ndarray) -> np.ndarray:
        """Raw integer words (int64, shape ``(n, n_elements)``) of values that lie on this grid."""
        values = np.asarray(values, dtype=np.float64).reshape(-1, self.n_elements)
        scaled = values * 2.0**self.frac_bits
        words = np.round(scaled).astype(np.int64)
        if not np.array_equal(words, scaled):
            bad = np.argwhere(words != scaled)[0]
            raise ValueError(
                f"value {values[tuple(bad)]!r} at {tuple(bad)} is not a multiple of the bus LSB 2**-{self.frac_bits}"
            )
        lo, hi = self.word_range()
        if words.min(initial=lo) < lo or words.max(initial=hi) > hi:
            raise ValueError(f"words outside [{lo}, {hi}] do not fit {self.width}-bit elements")
        return words

    def from_words(self, words: np.ndarray) -> np.ndarray:
        return np.asarray(words, dtype=np.float64).reshape(-1, self.n_elements) * self.lsb

    def word_range(self) -> tuple[int, int]:
        if self.signed:
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        return 0, (1 << self.width) - 1

    def pack(self, words: np.ndarray) -> int:
        """One row of words as the bus's integer value (element 0 in the least significant bits)."""
        mask = (1 << self.width) - 1
        bus = 0
        for j, w in enumerate(np.asarray(words).reshape(-1).tolist()):
            bus |= (int(w) & mask) << (j * self.width)
        return bus

    def unpack(self, bus: int) -> np.ndarray:
        """The bus's integer value as one row of words (sign-extended if ``signed``)."""
        mask = (1 << self.width) - 1
        out = np.empty(self.n_elements, dtype=np.int64)
        for j in range(self.n_elements):
            w = (bus >> (j * self.width)) & mask
            if self.signed and w >> (self.width - 1):
                w -= 1 << self.width
            out[j] = w
        return out

    def npz_fields(self, prefix: str) -> dict[str, np.ndarray]:
        """This format as ``<prefix>_n_elements`` ... arrays, for a ``.npz`` file beside the words."""
        return {
            f"{prefix}_n_elements": np.int64(self.n_elements),
            f"{prefix}_width": np.int64(self.width),
            f"{prefix}_frac_bits": np.int64(self.frac_bits),
            f"{prefix}_signed": np.bool_(self.signed),
        }

    @classmethod
    def from_npz(cls, npz: Any, prefix: str) -> BusFormat:
        return cls(
            n_elements=int(npz[f"{prefix}_n_elements"]),
            width=int(npz[f"{prefix}_width"]),
            frac_bits=int(npz[f"{prefix}_frac_bits"]),
            signed=bool(npz[f"{prefix}_signed"]),
        )

    def describe(self) -> str:
        return f"{self.n_elements} x {'s' if self.signed else 'u'}{self.width} (LSB 2^-{self.frac_bits})"

    def fixed_point(self) -> str:
        """One word's format as HLS writes it: ``ap_fixed<width, integer bits>`` (``ap_ufixed`` unsigned)."""
        return f"ap_{'' if self.signed else 'u'}fixed<{self.width},{self.width - self.frac_bits}>"


@dataclass(frozen=True, kw_only=True)
class WordVectors:
    """Input words and the output words expected of them, with both buses' formats (golden files, cosim jobs)."""

    inp_words: np.ndarray
    out_words: np.ndarray
    input_format: BusFormat
    output_format: BusFormat

    def npz_fields(self) -> dict[str, np.ndarray]:
        return {
            "inp_words": self.inp_words,
            "out_words": self.out_words,
            **self.input_format.npz_fields("inp"),
            **self.output_format.npz_fields("out"),
        }

    @staticmethod
    def fields_from_npz(npz: Any) -> dict[str, Any]:
        """The constructor's arguments for these four fields, read from an open ``.npz``."""
        return {
            "inp_words": np.asarray(npz["inp_words"], dtype=np.int64),
            "out_words": np.asarray(npz["out_words"], dtype=np.int64),
            "input_format": BusFormat.from_npz(npz, "inp"),
            "output_format": BusFormat.from_npz(npz, "out"),
        }


class VectorKind(IntEnum):
    """Where a verify vector came from."""

    EDGE = 0  # the input word's corners (zeros, extremes, one step inside, alternating, one-hot)
    TEST_SET = 1  # an input of the held-out test set
    RANDOM = 2  # random words over the whole input range


def compact_ints(a: np.ndarray) -> np.ndarray:
    """Integers in the narrowest dtype that holds every one of them (int8 words of an 8-bit bus, say)."""
    lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
    narrowest = next(
        t for t in (np.int8, np.int16, np.int32, np.int64) if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max
    )
    return a.astype(narrowest)


@dataclass(frozen=True, kw_only=True)
class VerifyVectors:
    """``verify/vectors.npz``: every vector verify sent, with the reference's outputs (values and bus words).

    ``test_index`` is the vector's row in the test set, -1 for edge and random vectors; ``out_words`` is -1
    where a reference value does not lie on the output bus's grid.
    """

    inp_words: np.ndarray
    kinds: np.ndarray  # VectorKind per vector (int8)
    test_index: np.ndarray
    reference: np.ndarray
    out_words: np.ndarray

    def save(self, path: Path) -> Path:
        """Words in the narrowest integers that hold them: a million cdms_lfn vectors compress in 6 s to 88 MB
        (as int64, 18 s to 108 MB; uncompressed int16 would be 147 MB)."""
        arrays = {k.name: getattr(self, k.name) for k in dataclasses.fields(self)}
        arrays |= {k: compact_ints(arrays[k]) for k in ("inp_words", "test_index", "out_words")}
        with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> VerifyVectors:
        path = Path(path)
        if not path.is_file():
            raise ArtifactError(f"{path} does not exist: it is written by `trigger-nn verify`; run that stage first")
        try:
            with np.load(path) as z:
                arrays = {k.name: z[k.name] for k in dataclasses.fields(cls)}
                return cls(**arrays | {k: arrays[k].astype(np.int64) for k in ("inp_words", "test_index", "out_words")})
        except (OSError, KeyError, ValueError) as err:
            raise ArtifactError(f"{path} is unreadable or incomplete ({err}); re-run `trigger-nn verify`") from err

    def count(self, kind: VectorKind) -> int:
        return int(np.sum(self.kinds == kind))

    def of_kind(self, kind: VectorKind) -> np.ndarray:
        """Indices of the vectors of one kind, in the order verify sent them."""
        return np.flatnonzero(self.kinds == kind)

    def test_set_outputs(self) -> tuple[np.ndarray, np.ndarray]:
        """The reference outputs (what the verified firmware gave) on the test-set vectors, and their rows.

        One output per vector comes as a flat array; several (one logit per class) as (vectors, outputs).
        """
        rows = self.of_kind(VectorKind.TEST_SET)
        out = self.reference[rows]
        return (out.reshape(-1) if out.shape[1:] in ((), (1,)) else out), self.test_index[rows]


@dataclass(frozen=True, kw_only=True)
class StageArtifact(Artifact):
    """An artifact a stage of the flow writes: it records what it was made from (None: not recorded, so stale)."""

    made_from: Provenance | None = None


@dataclass(frozen=True, kw_only=True)
class DatasetInfo(StageArtifact):
    """``data/dataset.h5`` and what is in it."""

    written_by: typing.ClassVar[str] = "simulate"
    path: Path
    task: str
    n_train: int
    n_test: int
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    seed: int
    description: str


@dataclass(frozen=True, kw_only=True)
class ImportRecord(Artifact):
    """What `trigger-nn import` read, and how the rebuilt model compared with QKeras' own predictions."""

    written_by: typing.ClassVar[str] = "import"
    sources: dict[str, str]  # file -> sha256
    keras_version: str
    layers: tuple[str, ...]  # "name (Kind)"
    input_kif: FixedFormat
    input_format_from: str
    vectors: int
    qkeras_vectors: int  # vectors with QKeras' predictions, compared with the rebuilt model's
    qkeras_mismatches: int
    dropped_final_activation: str | None = None  # "softmax" / "sigmoid": the firmware outputs the logits
    qkeras_outputs: str = "outputs"  # what QKeras' predictions were: "outputs" (compared bit for bit), "logits"
    # (bit for bit) or "probabilities" (through the dropped float function: arg-max and ordering equal)


@dataclass(frozen=True, kw_only=True)
class TrainResult(StageArtifact):
    """``train/model.keras`` and its physics metrics on the held-out set (Keras reference)."""

    written_by: typing.ClassVar[str] = "train"
    model_path: Path
    epochs_run: int
    metrics: dict[str, float]
    ebops: float | None  # None where HGQ2 did not train the model (an import, the committed model)
    seconds: float
    committed_model: Path | None = None  # the committed model copied in (``--committed-model``); None: trained here

    def load_model(self) -> Any:
        """The trained quantised Keras model; a file that does not load is an ArtifactError naming it."""
        return load_keras_model(self.model_path)


@dataclass(frozen=True, kw_only=True)
class StagePlan:
    """The pipeline da4ml cut, timed with the family's delay model (``firmware.timing``): estimates, not sign-off."""

    stage_logic_ns: tuple[float, ...]  # the slowest path through each stage's logic, flip-flops not counted
    cutoff_levels: float | None  # adder levels per stage where the card set the cut; None: cut to fit the clock
    slowest_stage_ns: float  # flip-flops + logic of the slowest stage
    usable_period_ns: float  # the clock period less the clock uncertainty
    clock_period_ns: float
    latency_budget_ns: float

    @property
    def timing_margin_ns(self) -> float:
        """Time left over in the slowest stage: negative means it is not expected to close timing."""
        return self.usable_period_ns - self.slowest_stage_ns

    @property
    def latency_cycles(self) -> int:
        return len(self.stage_logic_ns)

    @property
    def latency_ns(self) -> float:
        return self.latency_cycles * self.clock_period_ns

    @property
    def budget_cycles(self) -> int:
        return math.floor(self.latency_budget_ns / self.clock_period_ns + 1e-9)

    @property
    def margin_cycles(self) -> int:
        return self.budget_cycles - self.latency_cycles


@dataclass(frozen=True, kw_only=True)
class ResourceEstimate:
    """The design's size on the card's part before any synthesis (``firmware.resources``): estimates, not counts.

    ``luts`` is da4ml's cost times a factor fitted on Yosys' mapped LUT counts (``calibration`` says which);
    ``ffs`` the pipeline's register bits (an upper bound on its flip-flops); ``dsps`` 0, da4ml's distributed
    arithmetic being adders. ``limit_luts`` is the limit it was checked against, ``limit_from`` where that
    limit comes from; ``pre_trace_cost`` the cost estimated from the model before da4ml traced it.
    """

    da4ml_cost: float
    luts: int
    ffs: int
    dsps: int
    calibration: str
    limit_luts: int
    limit_from: str
    pre_trace_cost: float | None = None


@dataclass(frozen=True, kw_only=True)
class CompileResult(StageArtifact):
    """The HLS project (``hls/``) and da4ml's Verilog (``rtl/``) and VHDL (``vhdl/``) made from the trained model."""

    written_by: typing.ClassVar[str] = "compile"
    hls_dir: Path
    hls_writer: str = "hls4ml"  # or "da4ml", for networks of table layers (firmware/hls.py)
    rtl_dir: Path
    vhdl_dir: Path
    top: str  # ``<name>_top``: the network with its valid strobe and reset (firmware/top.py)
    input_format: BusFormat
    output_format: BusFormat
    pipeline_stages: int
    clock_period_ns: float
    da4ml_cost: float
    da4ml_reg_bits: int
    source_hash: str
    widest_value_bits: int = 0  # the widest value anywhere in the traced logic (sign + integer + fraction bits)
    exact_logic: Path | None = None  # da4ml's traced logic, for an exact (integer) reference
    stages: StagePlan
    resources: ResourceEstimate | None = None  # None: compiled before the estimate was recorded


@dataclass(frozen=True, kw_only=True)
class ImplementationCheck:
    """How one implementation compared with the Python reference."""

    implementation: str
    how: str
    vectors: int
    mismatches: int
    first_mismatch: str | None = None
    first_differing_layer: str | None = None  # from hls4ml's layer tracing against the Keras model's layers


@dataclass(frozen=True, kw_only=True)
class VerifyResult(StageArtifact):
    written_by: typing.ClassVar[str] = "verify"
    reference: str
    n_random: int
    n_edge: int
    checks: tuple[ImplementationCheck, ...]
    vectors_path: Path
    # when the reference is exact integer arithmetic: where the float32 Keras model differs from it (not a failure)
    keras_float32_mismatches: int | None = None
    # inputs outside the word: the reference on them against the reference on the wrapped words the bus carries
    out_of_range_vectors: int = 0
    out_of_range_mismatches: int = 0

    def vectors(self) -> VerifyVectors:
        return VerifyVectors.load(self.vectors_path)

    @property
    def passed(self) -> bool:
        return self.out_of_range_mismatches == 0 and all(c.mismatches == 0 and c.vectors > 0 for c in self.checks)


@dataclass(frozen=True, kw_only=True)
class StreamRun:
    """One cocotb run of ``<name>_top`` in one simulator (the VHDL in GHDL), checked vector by vector."""

    simulator: str
    language: str
    idle_gaps: bool
    vectors: int
    cycles: int
    mismatches: int
    latency_cycles: int
    ii_cycles: int
    failure: str | None = None


@dataclass(frozen=True, kw_only=True)
class TestbenchRun:
    """One run of a self-checking HDL testbench (firmware/hdl_testbench.py): its own verdict line."""

    language: str
    simulator: str
    vectors: int
    cycles: int
    passed: bool
    verdict: str


@dataclass(frozen=True, kw_only=True)
class CosimResult(StageArtifact):
    """What the cocotb testbench measured on the Verilog in Verilator (the headline figures), on the VHDL in GHDL,
    and what the self-checking HDL testbenches in ``testbench_dir`` said."""

    written_by: typing.ClassVar[str] = "cosim"
    simulator: str
    vectors: int
    cycles: int
    mismatches: int
    latency_cycles: int
    expected_latency_cycles: int
    ii_cycles: int
    clock_period_ns: float
    latency_budget_ns: float
    input_interval_budget_cycles: int
    first_mismatch: str | None = None
    failure: str | None = None
    idle_gap_vectors: int = 0  # the second run, with seeded random idle cycles between inputs (0: not run)
    idle_gap_cycles: int = 0
    idle_gap_mismatches: int = 0
    idle_gap_failure: str | None = None
    waves: tuple[Path, ...] = ()
    vhdl_runs: tuple[StreamRun, ...] = ()
    testbench_dir: Path | None = None
    testbenches: tuple[TestbenchRun, ...] = ()

    @property
    def latency_ns(self) -> float:
        return self.latency_cycles * self.clock_period_ns

    @property
    def margin_ns(self) -> float:
        return self.latency_budget_ns - self.latency_ns


@dataclass(frozen=True, kw_only=True)
class TriggerRun:
    """One stream through the whole-trigger firmware in Verilator (cocotb), checked sample by sample."""

    name: str
    samples: int
    cycles: int
    mismatches: dict[str, int]  # per output (OF word, score, candidate, trigger, peak word, offset, score)
    first_mismatch: str | None
    latency_cycles: tuple[int, int]  # the smallest and largest over every sample
    samples_per_s: float


@dataclass(frozen=True, kw_only=True)
class TriggerSynth:
    """Yosys' counts of the whole-trigger block and of its parts."""

    whole: ResourceCounts
    fir: ResourceCounts  # the FIR alone: its own da4ml pipeline, synthesised alone
    top_logic: ResourceCounts  # the top module's own cells: candidate logic, sample, pipeline and valid registers
    seconds: float


@dataclass(frozen=True, kw_only=True)
class TriggerResult(StageArtifact):
    """The task's whole trigger as one streaming firmware block, and its check against the integer model.

    ``applies`` is False (and ``reason`` says why) for a task whose trigger is the network alone.
    """

    written_by: typing.ClassVar[str] = "trigger"
    applies: bool
    reason: str = ""
    top: str = ""
    src_dir: Path | None = None
    fir_rtl_dir: Path | None = None  # the FIR alone as da4ml's pipelined Verilog (for its resources)
    fir_top: str = ""
    operating_point: str = ""  # where the threshold and cut come from
    threshold_sigma: float = 0.0
    threshold_word: int = 0
    score_cut: float = 0.0  # on the network's logit
    score_cut_word: int = 0
    coefficient_bits: int = 0
    frac_bits: int = 0
    resolution_loss: float = 0.0
    stream: str = ""  # what was streamed
    candidates: int = 0
    triggers: int = 0
    runs: tuple[TriggerRun, ...] = ()
    diagnosis: str | None = None  # the part a mismatch points at
    expected_latency_cycles: int = 0
    clock_period_ns: float = 0.0
    latency_budget_ns: float = 0.0
    fir_cost: float = 0.0
    network_cost: float = 0.0
    cost: float = 0.0
    reg_bits: int = 0
    build_s: float = 0.0

    @property
    def passed(self) -> bool:
        lat = self.expected_latency_cycles
        return all(not any(r.mismatches.values()) and r.latency_cycles == (lat, lat) for r in self.runs) and (
            lat * self.clock_period_ns <= self.latency_budget_ns
        )


@dataclass(frozen=True, kw_only=True)
class ResourceCounts:
    """Mapped cells of a synthesised design."""

    luts: int
    ffs: int
    carries: int
    dsps: int
    brams: int
    cells: dict[str, int]


@dataclass(frozen=True, kw_only=True)
class LogicDepth:
    """The longest register-to-register path of a mapped netlist, in cells, and what the delay model makes of it."""

    luts: int  # LUTs (and inverters) passed through
    carries: int  # carry-chain blocks passed through
    cells: int  # every cell on the path
    estimated_ns: float  # flip-flops + LUTs + carry blocks, with the family's delay model (firmware.timing)
    usable_period_ns: float  # the clock period less the clock uncertainty

    @property
    def margin_ns(self) -> float:
        return self.usable_period_ns - self.estimated_ns


@dataclass(frozen=True)
class HlsSynthesisReport:
    """Vitis HLS C synthesis estimates, with the C/RTL co-simulation's measurement when it ran.

    The synthesis figures are estimates before Vivado; the cosim figures are measured on the RTL for the
    test bench's vectors (None without a cosim report; the II is None when cosim ran one transaction).
    ``ii_cycles`` and the cosim figures are the worst case (Interval-max, max latency).
    """

    tool_version: str
    part: str
    top: str
    target_clock_ns: float
    estimated_clock_ns: float
    latency_best_cycles: int
    latency_worst_cycles: int
    ii_cycles: int
    luts: int
    ffs: int
    dsps: int
    bram_18k: int
    cosim_latency_cycles: int | None
    cosim_ii_cycles: int | None
    report_path: Path
    cosim_report_path: Path | None


@dataclass(frozen=True)
class VivadoReport:
    """Vivado's out-of-context place and route of the da4ml Verilog: resources and timing after routing.

    ``carries`` counts CARRY8 (UltraScale) or CARRY4 (7 series) cells, as ``carry_kind`` says; BRAM is in
    36 kb tiles, halves included.
    """

    tool_version: str
    device: str
    luts: int
    ffs: int
    carries: int
    carry_kind: str
    dsps: int
    bram_tiles: float
    wns_ns: float
    clock_period_ns: float
    report_dir: Path

    @property
    def achieved_period_ns(self) -> float:
        """The shortest period the routed design would meet (da4ml's ``actual_period``: period minus WNS)."""
        return self.clock_period_ns - self.wns_ns

    @property
    def fmax_mhz(self) -> float:
        return 1000.0 / self.achieved_period_ns


@dataclass(frozen=True, kw_only=True)
class SynthResult(ResourceCounts, StageArtifact):
    """What a synthesis run counted, with the tool, the target and where its log is."""

    written_by: typing.ClassVar[str] = "synth"
    tool: str
    part: str
    family: str
    seconds: float
    log_path: Path
    depth: LogicDepth  # the slowest pipeline stage's logic
    source_hash: str  # of the compiled design it synthesised
    vendor_scripts_checked: tuple[str, ...] = ()  # dry-run in Tcl (firmware.vendor.check_script)
    vitis_hls: HlsSynthesisReport | None = None  # where Vitis HLS ran: C synthesis and C/RTL co-simulation
    vivado: VivadoReport | None = None  # where Vivado ran: out-of-context place and route
    trigger: TriggerSynth | None = None  # the whole-trigger block, where the task has one (stage `trigger`)


@dataclass(frozen=True, kw_only=True)
class ScanPoint(Artifact):
    """One design of a scan as its worker left it: what was measured on it, or why the flow refused it."""

    written_by: typing.ClassVar[str] = "scan"
    beta: float
    clock_period_ns: float
    card_hash: str  # of the card less its scan section: a changed card makes the point stale
    network: str = ""  # the point's network in one line (card.describe_network)
    status: str  # "ok", or "refused" with the flow's message
    message: str = ""
    metric_name: str = ""
    metric: float | None = None  # the task's headline figure, on firmware outputs
    metric_error: float | None = None  # its statistical error, where the task measures one (``Headline.error_key``)
    vectors: int = 0  # test-set vectors verified bit-exact (C simulation and Verilog)
    luts: int | None = None  # Yosys synth_xilinx
    ffs: int | None = None
    dsps: int | None = None
    ebops: float | None = None
    latency_cycles: int | None = None  # da4ml's pipeline depth (what cosim measures; not co-simulated in a scan)
    latency_ns: float | None = None
    stage_margin_ns: float | None = None  # Yosys' slowest stage against the clock, with the delay model
    seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class StageTiming:
    stage: str
    seconds: float


@dataclass(frozen=True, kw_only=True)
class Timings(Artifact):
    """Wall-clock seconds of each stage's last run, kept for the report."""

    written_by: typing.ClassVar[str] = "build"
    stages: dict[str, float] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> dict[str, float]:
        """The recorded times; none where the file is missing or was written by another version (bookkeeping only)."""
        try:
            return dict(cls.load(path).stages)
        except ArtifactError:
            return {}
