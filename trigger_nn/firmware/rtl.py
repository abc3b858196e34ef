"""da4ml back-end: pipelined Verilog for the card's clock, and its Verilator emulation."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import BusFormat
from ..card import FirmwareConfig
from ..errors import ConversionError, ToolError
from . import resources
from . import top as top_level
from .vendor import ip

log = logging.getLogger(__name__)


def bus_format(qints: Any) -> BusFormat:
    """The wrapper's uniform bus, as da4ml's io_wrapper lays it out (max integer and fraction bits)."""
    from da4ml.types import minimal_kif

    ks, is_, fs = zip(*map(minimal_kif, qints), strict=True)
    width = max(is_) + max(ks) + max(fs)
    return BusFormat(n_elements=len(ks), width=int(width), frac_bits=int(max(fs)), signed=bool(max(ks)))


@contextlib.contextmanager
def convergent_rounding() -> Iterator[None]:
    """Let da4ml's tracer take ``RND_CONV`` (round half to even, QKeras' ``tf.round``), built from what it has.

    da4ml 0.6 quantizes with TRN and RND (half up) only. Dropping the bits below ``f``, half to even is
    truncation after adding half an LSB less one input LSB plus the bit that becomes the result's LSB:
    a remainder of exactly one half then rounds up only from an odd result.
    """
    from da4ml.trace import FixedVariable

    plain = FixedVariable.quantize

    def quantize(self: Any, k: Any, i: Any, f: Any, overflow_mode: str = "WRAP", round_mode: str = "TRN", **kw: Any):
        if round_mode.upper() != "RND_CONV":
            return plain(self, k, i, f, overflow_mode, round_mode, **kw)
        in_f = self.kif[2]
        if in_f <= f:  # nothing below the new LSB: no rounding
            return plain(self, k, i, f, overflow_mode, "TRN", **kw)
        odd = plain(self, 0, 1 - f, f, "WRAP", "TRN") * 2.0 ** (f - in_f)  # 0, or one old LSB where odd
        biased = self + odd + (2.0 ** (-f - 1) - 2.0 ** (-in_f)) if in_f > f + 1 else self + odd
        return plain(biased, k, i, f, overflow_mode, "TRN", **kw)

    FixedVariable.quantize = quantize  # type: ignore[method-assign]
    try:
        yield
    finally:
        FixedVariable.quantize = plain  # type: ignore[method-assign]


def conversion_error(err: Exception) -> ConversionError:
    """What da4ml's tracer raised, as a ConversionError; a layer type it has no replay for is named."""
    if isinstance(err, KeyError) and err.args and isinstance(err.args[0], type):
        return ConversionError(
            f"da4ml cannot convert the model: its tracer (HGQ2's da4ml plugin) has no replay for layer type "
            f"{err.args[0].__name__}. Build the network from HGQ2 layers (hgq.layers.Q*) that hls4ml and da4ml "
            "convert exactly"
        )
    return ConversionError(f"da4ml cannot convert the model into logic: {type(err).__name__}: {err}")


def trace(model: Any) -> Any:
    """The model's combinational logic (da4ml IR), or a ConversionError naming what failed."""
    from da4ml.converter import trace_model
    from da4ml.trace import comb_trace

    try:
        with convergent_rounding():
            inp, out = trace_model(model)
        return comb_trace(inp, out)
    except Exception as err:
        raise conversion_error(err) from err


def widest_value_bits(comb: Any) -> int:
    """Bits of the widest value the logic computes (inputs, every adder, outputs): what float32 must hold exactly."""
    from da4ml.types import minimal_kif

    return max(sum(minimal_kif(op.qint)) for op in comb.ops)


#: the widest value da4ml 0.6's compiled interpreter (DAIS) was seen to get right: from 35 bits on it wraps wrongly
DAIS_MAX_BITS = 34


def exact_predict(logic_path: Path, x: np.ndarray) -> tuple[np.ndarray, str]:
    """da4ml's interpreters on the traced logic: exact whatever the widths.

    The compiled one (DAIS) where every value fits its words; beyond that, da4ml's Python interpreter,
    one vector at a time (float64, exact to 53 bits; slower). Returns the outputs and which one ran.
    """
    from da4ml.types import CombLogic

    logic = CombLogic.load(logic_path)
    flat = np.ascontiguousarray(x, dtype=np.float64).reshape(len(x), -1)
    if widest_value_bits(logic) <= DAIS_MAX_BITS:
        out, name = logic.predict(flat), "integer interpreter (DAIS)"
    else:
        log.info("the logic holds values over %d bits: da4ml's Python interpreter, %d vectors", DAIS_MAX_BITS, len(x))
        out = np.array([logic(v) for v in flat], dtype=np.float64)
        name = f"Python interpreter (values over {DAIS_MAX_BITS} bits, where its compiled DAIS one is unreliable)"
    return np.asarray(out, dtype=np.float64).reshape(len(x), -1), name


_BUILD_OK = "build.ok"

#: the widest element da4ml's emulator (and so verify) takes on its input and output buses
MAX_BUS_ELEMENT_BITS = 32


def check_buses(pipeline: Any) -> None:
    """Refuse, before anything is written, input or output words wider than da4ml's emulator takes."""
    remedies = {
        "input": "narrow the input word (the task's data section, or the imported model's input quantizer)",
        "output": "narrow the output quantizer; for a network the card builds, lower network.weight_bits (the "
        "logit word holds the weights' bits, the inputs' and the sum's growth)",
    }
    for name, qint in (("input", pipeline.inp_qint), ("output", pipeline.out_qint)):
        width = bus_format(qint).width
        if width > MAX_BUS_ELEMENT_BITS:
            raise ConversionError(
                f"the {name} words are {width} bits wide; da4ml's emulator takes at most {MAX_BUS_ELEMENT_BITS} "
                f"bits per element: {remedies[name]}"
            )


def write_top(pipeline: Any, src_dir: Path, *, name: str, flavor: str) -> Path:
    """``<name>_top`` (valid strobe and reset, :mod:`.top`) beside da4ml's ``<name>_wrapper`` in ``src_dir``."""
    return top_level.write(
        src_dir,
        name,
        flavor=flavor,
        inp_bits=bus_format(pipeline.inp_qint).bus_width,
        out_bits=bus_format(pipeline.out_qint).bus_width,
        latency=len(pipeline.solutions),
    )


def write_hdl(pipeline: Any, out_dir: Path, fw: FirmwareConfig, *, top: str, flavor: str = "verilog") -> dict[str, Any]:
    """Write the pipelined Verilog (or VHDL) under ``out_dir``, with ``<top>_top`` and the IP packaging script
    (dry-run checked); da4ml's metadata."""
    from da4ml.codegen import RTLModel

    check_buses(pipeline)
    rtl = RTLModel(
        pipeline,
        top,
        out_dir,
        flavor=flavor,
        clock_period=fw.clock_period_ns,
        part_name=fw.part,
        print_latency=False,
    )
    rtl.write()
    write_top(pipeline, Path(out_dir) / "src", name=top, flavor=flavor)
    top_level.build_the_top(out_dir)
    inp, out = bus_format(pipeline.inp_qint), bus_format(pipeline.out_qint)
    ip.write(out_dir, top, flavor=flavor, part=fw.part, inp=inp, out=out, latency=len(pipeline.solutions),
             clock_period_ns=fw.clock_period_ns)  # fmt: skip
    ip.check_ip_script(out_dir, top, part=fw.part, inp=inp, out=out)
    meta = json.loads((out_dir / "metadata.json").read_text())
    if int(meta["latency"]) != len(pipeline.solutions):
        raise ConversionError(
            f"da4ml's metadata gives a latency of {meta['latency']} cycles for a pipeline of {len(pipeline.solutions)} "
            "stages; the valid strobe of the top level would not match the data"
        )
    return meta


class RTLEmulation:
    """da4ml's Verilator emulation of the Verilog written by :func:`write_hdl`.

    It is built in ``work_dir/build-<hash>`` from the saved pipeline, and its sources must equal
    the ones in ``rtl_dir/src`` byte for byte: otherwise what is checked is not what is shipped,
    and that is an error. The build is kept, keyed by the hash of those sources and the Verilator
    version, so a second verify of the same Verilog (a million vectors, say) starts at once. With
    ``load_only`` (a Dask worker's shard of verify) it only loads a finished build.
    """

    def __init__(self, rtl_dir: Path, work_dir: Path, fw: FirmwareConfig, *, top: str, load_only: bool = False):
        from da4ml.codegen import RTLModel
        from da4ml.types import Pipeline

        from .._deps import package_version
        from ..hashing import files_hash, tree_hash

        pipe = Pipeline.load(rtl_dir / "model" / "pipeline.json")
        shipped = sorted(p for p in (rtl_dir / "src").rglob("*") if p.is_file())
        key = files_hash(shipped, rtl_dir / "src", extra=(top, f"verilator {package_version('verilator')}"))
        build = Path(work_dir) / f"build-{key[:16]}"
        self._rtl = RTLModel(
            pipe,
            top,
            build,
            flavor="verilog",
            clock_period=fw.clock_period_ns,
            part_name=fw.part,
            print_latency=False,
        )
        if (build / _BUILD_OK).is_file():
            log.info("da4ml: the Verilator emulation of %s, built before from these sources", top)
            self._rtl._load_lib()  # da4ml 0.6: loads the one library the build left in sim/
            return
        if load_only:  # a Dask worker: the build is the main process's, and two builds in one folder would clash
            raise ToolError(f"no finished emulation build of {top} in {build}: a Dask worker must see the filesystem "
                            "of the process that built it")  # fmt: skip
        shutil.rmtree(work_dir, ignore_errors=True)  # earlier builds, and files left by a deeper design
        sources = (rtl_dir / "src").rglob("*.v")
        resources.check_build_memory(sources, f"the emulation of {top}", resources.EMULATION_BUILD)
        log.info("da4ml: building the Verilator emulation of %s (a minute for a large design)", top)
        try:
            self._rtl.compile(nproc=2)
        except Exception as err:
            raise ToolError(f"Verilator failed to build the emulation of {rtl_dir}: {err}") from err
        # what rtl_dir/src ships beside the wrapper the emulation drives
        write_top(pipe, build / "src", name=top, flavor="verilog")
        if tree_hash(build / "src") != tree_hash(rtl_dir / "src"):
            raise ToolError(
                f"the Verilog rebuilt from {rtl_dir / 'model/pipeline.json'} differs from {rtl_dir / 'src'}; "
                "re-run `trigger-nn compile`"
            )
        (build / _BUILD_OK).write_text(key + "\n")

    def predict(self, x: np.ndarray) -> np.ndarray:
        out = self._rtl.predict(np.ascontiguousarray(x, dtype=np.float64), n_threads=1)
        return np.asarray(out, dtype=np.float64).reshape(x.shape[0], -1)
