"""Stage `cosim`: ``<name>_top`` under cocotb, streaming a new input every clock, then its own HDL testbenches.

Reads ``compile.json`` and ``verify/vectors.npz``; writes ``cosim/`` (builds, logs), ``testbench/`` (the
self-checking SystemVerilog and VHDL testbenches with the vectors as memory files, for the firmware
engineer's own simulator) and ``cosim.json``. Four cocotb runs: the Verilog in Verilator and the VHDL in
GHDL, each back to back and with idle gaps and a mid-stream reset; then both HDL testbenches (Verilator,
GHDL) on the same vectors. The latency is what the simulation shows: cycles from the clock edge that takes
an input off ``model_inp`` to the edge after which its result is on ``model_out`` with ``out_valid``;
times the clock period it is compared with the card's budget, and it must equal the pipeline depth da4ml
wrote, in both languages. The II is the interval at which back-to-back inputs were all answered correctly.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from . import provenance
from .artifacts import CompileResult, CosimResult, StreamRun, TestbenchRun, VerifyResult, atomic_path
from .card import Card
from .errors import BudgetError, MismatchError
from .firmware import hdl_testbench
from .firmware.cosim import SIMULATOR, VHDL_SIMULATOR, CosimMeasurement, place_memory_files, run_cosim

log = logging.getLogger(__name__)


def run(card: Card, project: Path) -> CosimResult:
    provenance.check_inputs(card, project, "cosim")
    (project / "cosim.json").unlink(missing_ok=True)  # no stale verdict if this run stops half-way
    compiled = CompileResult.load(project / "compile.json")
    verified = VerifyResult.load(project / "verify.json")
    if not verified.passed:
        raise MismatchError(f"{project / 'verify.json'} records mismatches; cosim runs only on a verified design")
    vectors = verified.vectors()
    n = min(card.cosim.n_vectors, len(vectors.inp_words))
    inp_words, out_words = vectors.inp_words[:n], vectors.out_words[:n]
    fw = card.firmware

    def stream(idle_gaps: bool, simulator: str = SIMULATOR) -> CosimMeasurement:
        how = "with random idle gaps and a reset" if idle_gaps else "back to back"
        vhdl = simulator == VHDL_SIMULATOR
        where = "the VHDL in GHDL" if vhdl else "Verilator"
        log.info("cosim: %d vectors %s through %s in %s (cocotb)", n, how, compiled.top, where)
        return run_cosim(
            rtl_dir=compiled.vhdl_dir if vhdl else compiled.rtl_dir,
            simulator=simulator,
            top=compiled.top,
            inp_words=inp_words,
            out_words=out_words,
            input_format=compiled.input_format,
            output_format=compiled.output_format,
            expected_latency=compiled.pipeline_stages,
            work_dir=project / "cosim",
            seed=card.seed,
            idle_gaps=idle_gaps,
            waves=card.cosim.waves,
            run_name=("vhdl_" if vhdl else "") + ("idle_gaps" if idle_gaps else "back_to_back"),
        )

    m = stream(idle_gaps=False)
    gaps = stream(idle_gaps=True) if card.cosim.idle_gaps else None
    vhdl_runs = tuple(
        _stream_run(stream(idle_gaps=g, simulator=VHDL_SIMULATOR), idle_gaps=g)
        for g in ((False, True) if card.cosim.idle_gaps else (False,))
    )
    testbench_dir = project / "testbench"
    testbenches = run_testbenches(compiled, card.name, inp_words, out_words, testbench_dir, project / "cosim")
    result = CosimResult(
        simulator="Verilator (cocotb)",
        vectors=m.vectors,
        cycles=m.cycles,
        mismatches=m.mismatches,
        latency_cycles=m.latency_cycles,
        expected_latency_cycles=compiled.pipeline_stages,
        ii_cycles=m.ii_cycles,
        clock_period_ns=fw.clock_period_ns,
        latency_budget_ns=fw.latency_budget_ns,
        input_interval_budget_cycles=fw.input_interval_cycles,
        first_mismatch=m.first_mismatch,
        failure=m.failure,
        idle_gap_vectors=gaps.vectors if gaps else 0,
        idle_gap_cycles=gaps.cycles if gaps else 0,
        idle_gap_mismatches=gaps.mismatches if gaps else 0,
        idle_gap_failure=gaps.failure if gaps else None,
        waves=tuple(r.waves_path for r in (m, gaps) if r is not None and r.waves_path is not None),
        vhdl_runs=vhdl_runs,
        testbench_dir=testbench_dir,
        testbenches=testbenches,
        made_from=provenance.record(card, project, "cosim"),
    )
    result.save(project / "cosim.json")
    log.info(
        "cosim: latency %d cycles = %g ns (budget %g ns, margin %g ns), II %d (budget %d), %d mismatches in %d vectors",
        result.latency_cycles,
        result.latency_ns,
        fw.latency_budget_ns,
        result.margin_ns,
        result.ii_cycles,
        fw.input_interval_cycles,
        result.mismatches,
        result.vectors,
    )
    check(result)
    return result


def _stream_run(m: CosimMeasurement, *, idle_gaps: bool) -> StreamRun:
    return StreamRun(
        simulator="GHDL (cocotb)",
        language="VHDL",
        idle_gaps=idle_gaps,
        vectors=m.vectors,
        cycles=m.cycles,
        mismatches=m.mismatches,
        latency_cycles=m.latency_cycles,
        ii_cycles=m.ii_cycles,
        failure=m.failure,
    )


def run_testbenches(
    compiled: CompileResult,
    name: str,
    inp_words: np.ndarray,
    out_words: np.ndarray,
    testbench_dir: Path,
    work_dir: Path,
) -> tuple[TestbenchRun, ...]:
    """Write ``testbench/`` (moved into place once written) and run both HDL testbenches from it."""
    sources = hdl_testbench.Sources.of(compiled.rtl_dir, compiled.vhdl_dir)
    with atomic_path(testbench_dir) as tmp:
        hdl_testbench.write(
            tmp,
            name,
            inp_words=inp_words,
            out_words=out_words,
            input_format=compiled.input_format,
            output_format=compiled.output_format,
            latency=compiled.pipeline_stages,
            sources=sources,
            shipped_dir=testbench_dir,
        )
        place_memory_files(compiled.rtl_dir / "src", tmp)  # da4ml's lookup tables, read from the working directory
    runs = []
    for run in hdl_testbench.RUNNERS:
        result = run(testbench_dir, name, sources, work_dir / "testbench", latency=compiled.pipeline_stages)
        log.info("cosim: the %s testbench in %s: %s", result.language, result.simulator, result.verdict)
        runs.append(result)
    return tuple(runs)


def check(result: CosimResult) -> None:
    """The gate: any mismatch, a latency other than the pipeline's, or a budget missed fails the stage."""
    if result.mismatches:
        raise MismatchError(
            f"the Verilog in cosim differs from the reference on {result.mismatches} of {result.vectors} vectors; "
            f"first: {result.first_mismatch}"
        )
    if result.latency_cycles >= 0 and result.latency_cycles != result.expected_latency_cycles:
        raise MismatchError(
            f"cosim measured a latency of {result.latency_cycles} cycles but da4ml's pipeline is "
            f"{result.expected_latency_cycles} stages deep: the wrapper or the testbench is not what was compiled"
        )
    if result.failure:  # anything else the testbench found: an unmeasurable latency, a cocotb failure
        raise MismatchError(f"the cocotb testbench failed: {result.failure}")
    if result.idle_gap_mismatches or result.idle_gap_failure:
        raise MismatchError(
            f"with random idle cycles between inputs the Verilog gave {result.idle_gap_mismatches} wrong outputs in "
            f"{result.idle_gap_vectors} vectors: {result.idle_gap_failure}"
        )
    for run in result.vhdl_runs:
        how = "with idle gaps and a reset" if run.idle_gaps else "back to back"
        if run.mismatches or run.failure:
            raise MismatchError(
                f"the VHDL in {run.simulator}, {how}, gave {run.mismatches} wrong outputs in {run.vectors} vectors: "
                f"{run.failure}"
            )
        if run.latency_cycles != result.latency_cycles:
            raise MismatchError(
                f"the VHDL's latency is {run.latency_cycles} cycles in {run.simulator}, the Verilog's "
                f"{result.latency_cycles}: the two languages are not the same design"
            )
    for tb in result.testbenches:
        if not tb.passed:
            raise MismatchError(
                f"the {tb.language} testbench in {result.testbench_dir} failed in {tb.simulator}: {tb.verdict}"
            )
    if result.latency_ns > result.latency_budget_ns:
        raise BudgetError(
            f"latency {result.latency_cycles} cycles x {result.clock_period_ns} ns = {result.latency_ns} ns exceeds "
            f"the budget of {result.latency_budget_ns} ns by {-result.margin_ns} ns; "
            "cut fewer stages (drop firmware.pipeline_cutoff to cut by the clock, or raise it) or use a smaller network"
        )
    if result.ii_cycles > result.input_interval_budget_cycles:
        raise BudgetError(
            f"the design takes a new input every {result.ii_cycles} cycles, but the card's input interval allows "
            f"{result.input_interval_budget_cycles}"
        )
