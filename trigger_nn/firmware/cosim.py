"""Co-simulate da4ml's Verilog in Verilator, or its VHDL in GHDL, with cocotb: stream vectors, check them, measure
latency and II.

Input: ``rtl_dir/src/*.v`` and ``rtl_dir/src/static/*.v`` (da4ml's ``RTLModel.write()``, with ``<name>_top``), or the
same in VHDL (``*.vhd``), raw input words and the Python reference's raw output words.
Output, under ``work_dir``: ``build-<hash>/`` and ``build-<hash>.log`` (the Verilator model, reused while
the sources, top, tools and build options are unchanged) and ``run/`` (``job.npz``, ``result.json``,
``results.xml``, ``sim.log``, ``dump.vcd`` with ``waves``; Verilator only). One run at a time per ``work_dir``.
The testbench is :mod:`trigger_nn.firmware.tb_stream`, in the package itself: cocotb's runner hands the
simulator this interpreter's ``sys.path`` as ``$PYTHONPATH`` and its executable, so the simulator's embedded Python
sees the same site-packages (an editable install's finder included) and imports the testbench by its dotted name
from the same copy of ``trigger_nn`` as the caller; an install that is not editable co-simulates too.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import _deps
from ..artifacts import BusFormat, WordVectors
from ..errors import ToolError
from ..hashing import files_hash
from . import resources

if TYPE_CHECKING:
    from cocotb_tools.runner import Runner

log = logging.getLogger(__name__)

#: the testbench module (imported by the simulator's Python), and how it finds its job and where it writes its result
TEST_MODULE = "trigger_nn.firmware.tb_stream"
JOB_ENV = "TRIGGER_NN_COSIM_JOB"
RESULT_ENV = "TRIGGER_NN_COSIM_RESULT"
#: how far past the expected latency the testbench searches by default
LATENCY_SEARCH_MARGIN_CYCLES = 16
SIMULATOR = "verilator"
#: the VHDL simulator (Debian's package; its mcode back end runs without a C compiler)
VHDL_SIMULATOR = "ghdl"
#: lint warnings in generated code are reported in the build log, not fatal; sources without a timescale get this one
BUILD_ARGS = ("-Wno-fatal", "--no-public-flat-rw", "--public-depth", "1")
#: da4ml's VHDL is VHDL-2008
VHDL_ARGS = ("--std=08",)
TIMESCALE = ("1ns", "1ps")
_BUILD_OK = "build.ok"
_LOG_TAIL_LINES = 40


@dataclass(frozen=True, kw_only=True)
class StreamVerdict:
    """What the testbench concluded: its JSON result file, written in the simulator and read back here.

    ``latency_cycles`` and ``ii_cycles`` are -1 when the run could not measure them;
    ``failure`` says why the run did not pass, ``first_mismatch`` names the first wrong vector.
    """

    vectors: int
    cycles: int
    mismatches: int
    latency_cycles: int
    expected_latency: int
    ii_cycles: int
    first_mismatch: str | None
    failure: str | None

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> StreamVerdict:
        return cls(**json.loads(Path(path).read_text()))


@dataclass(frozen=True, kw_only=True)
class CosimMeasurement(StreamVerdict):
    """One co-simulation run: the testbench's verdict and where its log (and waves) are."""

    log_path: Path
    waves_path: Path | None = None

    @property
    def passed(self) -> bool:
        """Every vector right, at the expected latency."""
        return self.failure is None


def _check_testbench_file(results_xml: Path) -> None:
    """The simulator must have run this package's testbench, not another installed copy's.

    cocotb records the test's source file in ``results.xml``; nothing is checked when it is not there
    (no results: the caller reports that).
    """
    expected = Path(__file__).resolve().with_name(TEST_MODULE.rpartition(".")[2] + ".py")
    try:
        files = {p.get("value") for p in ET.parse(results_xml).getroot().iter("property") if p.get("name") == "file"}
    except (OSError, ET.ParseError):
        return
    base = Path(os.environ.get("COCOTB_RESULTS_RELATIVE_TO", ""))  # cocotb writes the file relative to it if set
    for name in files - {None}:
        ran = (base / name).resolve()
        if ran != expected:
            raise ToolError(
                f"the simulator's Python ran the testbench {ran}, not {expected}: it imported another copy of "
                "trigger_nn (from $PYTHONPATH or a relative entry of sys.path); run with one copy on the path"
            )


def place_memory_files(src_dir: Path, run_dir: Path) -> None:
    """Copy da4ml's lookup-table contents where the simulator looks for them: ``$readmemh`` opens its file
    relative to the simulator's working directory, and a table it cannot open stays all zeros."""
    for mem in sorted((Path(src_dir) / "memfiles").glob("*.mem")):
        shutil.copyfile(mem, Path(run_dir) / mem.name)


def verilog_sources(rtl_dir: Path) -> list[Path]:
    """da4ml's Verilog files, sorted; ``static/lookup_table.v`` only when the design has lookup-table memories."""
    src = Path(rtl_dir) / "src"
    memfiles = src / "memfiles"
    has_tables = memfiles.is_dir() and any(memfiles.iterdir())
    sources = sorted(src.glob("*.v")) + sorted(
        p for p in (src / "static").glob("*.v") if has_tables or p.name != "lookup_table.v"
    )
    if not sources:
        raise ToolError(f"no Verilog sources in {src}: write the design first (da4ml RTLModel.write())")
    return sources


def vhdl_sources(vhdl_dir: Path) -> list[Path]:
    """da4ml's VHDL files in an order GHDL can analyse them one by one: the library cells, the stages, the
    pipeline, its wrapper, then ``<name>_top``; ``static/lookup_table.vhd`` only with lookup-table memories."""
    src = Path(vhdl_dir) / "src"
    memfiles = src / "memfiles"
    has_tables = memfiles.is_dir() and any(memfiles.iterdir())
    static = sorted(p for p in (src / "static").glob("*.vhd") if has_tables or p.name != "lookup_table.vhd")
    tops = sorted(src.glob("*_top.vhd"))
    wrappers = sorted(src.glob("*_wrapper.vhd"))
    stages = sorted(src.glob("*_stage*.vhd"))
    pipelines = sorted(set(src.glob("*.vhd")) - set(tops) - set(wrappers) - set(stages))
    sources = static + stages + pipelines + wrappers + tops
    if not tops:
        raise ToolError(f"no VHDL top level (*_top.vhd) in {src}: re-run `trigger-nn compile`")
    return sources


def _tool_versions(simulator: str) -> str:
    versions = [f"cocotb {importlib.metadata.version('cocotb')}"]
    try:
        proc = subprocess.run([simulator, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise ToolError(f"`{simulator} --version` failed ({err}); run `make install`") from err
    versions.append(proc.stdout.strip())
    return "\n".join(versions)


def source_hash(sources: list[Path], *, top: str, waves: bool, simulator: str = SIMULATOR) -> str:
    """sha256 of the source names and contents, the top, the tool versions and the build options."""
    extra = (top, f"waves={waves}", repr(BUILD_ARGS), repr(VHDL_ARGS), repr(TIMESCALE), _tool_versions(simulator))
    return files_hash(sources, Path(os.path.commonpath(sources)), extra=extra)


def _log_tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(lines[-_LOG_TAIL_LINES:])


def _check_words(name: str, words: np.ndarray, fmt: BusFormat) -> np.ndarray:
    words = np.asarray(words)
    if words.ndim != 2 or words.shape[1] != fmt.n_elements or words.shape[0] == 0:
        raise ValueError(f"{name} has shape {words.shape}; expected (n_vectors >= 1, {fmt.n_elements}) for {fmt}")
    if not np.issubdtype(words.dtype, np.integer):
        raise ValueError(f"{name} must hold raw integer words, not {words.dtype}; use BusFormat.to_words()")
    lo, hi = fmt.word_range()
    if words.min() < lo or words.max() > hi:
        raise ValueError(f"{name} has words outside [{lo}, {hi}], which do not fit {fmt.describe()}")
    return words.astype(np.int64)


def build_verilator_model(runner: Runner, *, sources: list[Path], top: str, build_dir: Path, waves: bool) -> bool:
    """Build the Verilator model into ``build_dir`` unless a finished build is there; True if it built."""
    if (build_dir / _BUILD_OK).is_file() and (build_dir / top).is_file():
        return False
    resources.check_build_memory(sources, top, resources.COSIM_BUILD)
    return _build(
        runner,
        "Verilator",
        sources=sources,
        top=top,
        build_dir=build_dir,
        waves=waves,
        build_args=list(BUILD_ARGS),
        timescale=TIMESCALE,
    )


def build_ghdl_library(runner: Runner, *, sources: list[Path], top: str, build_dir: Path) -> bool:
    """Analyse the VHDL into a GHDL library in ``build_dir`` unless a finished one is there; True if it built."""
    if (build_dir / _BUILD_OK).is_file():
        return False
    return _build(
        runner,
        "GHDL",
        sources=sources,
        top=top,
        build_dir=build_dir,
        waves=False,
        build_args=list(VHDL_ARGS),
        timescale=None,
    )


def _build(runner: Runner, tool: str, *, sources: list[Path], top: str, build_dir: Path, **options: object) -> bool:
    log_path = build_dir.parent / f"{build_dir.name}.log"
    try:
        runner.build(
            sources=sources,
            hdl_toplevel=top,
            build_dir=build_dir,
            clean=True,  # a build dir without the marker is a half-finished one
            always=True,
            log_file=log_path,
            **options,
        )
    except (RuntimeError, SystemExit, ValueError) as err:
        raise ToolError(
            f"{tool} could not build {top} from {sources[0].parent} ({err}); last lines of {log_path}:\n"
            f"{_log_tail(log_path)}"
        ) from err
    (build_dir / _BUILD_OK).write_text(build_dir.name + "\n")
    return True


def run_cosim(
    *,
    rtl_dir: Path,
    top: str,
    inp_words: np.ndarray,
    out_words: np.ndarray,
    input_format: BusFormat,
    output_format: BusFormat,
    expected_latency: int,
    work_dir: Path,
    max_latency: int | None = None,
    idle_gaps: bool = False,
    seed: int = 0,
    waves: bool = False,
    run_name: str = "run",
    simulator: str = SIMULATOR,
) -> CosimMeasurement:
    """Stream ``inp_words`` through the design in Verilator (or GHDL) and compare with ``out_words``, bit for bit.

    Parameters
    ----------
    rtl_dir : Path
        da4ml's RTL project (``RTLModel.write()`` output, Verilog or VHDL), with ``src/`` inside.
    top : str
        The top level, ``<name>_top`` (firmware/top.py: ports ``clk``, ``rst``, ``inp_valid``, ``model_inp``,
        ``out_valid``, ``model_out``).
    inp_words, out_words : np.ndarray
        Raw integer words, shapes ``(n_vectors, input_format.n_elements)`` and
        ``(n_vectors, output_format.n_elements)``; ``out_words`` is the Python reference's output.
    input_format, output_format : BusFormat
        How the words sit on ``model_inp`` and ``model_out``.
    expected_latency : int
        Pipeline depth in cycles; a different measured latency fails the run.
    work_dir : Path
        Where the build (cached by a hash of the sources) and the run's files go.
    max_latency : int, optional
        Largest latency the testbench searches; ``expected_latency + 16`` by default.
    idle_gaps : bool
        Insert seeded random idle cycles between some vectors.
    seed : int
        Seed of the idle gaps and of cocotb.
    waves : bool
        Record ``<run_name>/dump.vcd`` (a separate, traced build).
    run_name : str
        The folder of ``work_dir`` this run's job, result, log and waves go to.
    simulator : str
        ``"verilator"`` for the Verilog, ``"ghdl"`` for the VHDL (no waves).

    Returns
    -------
    CosimMeasurement
        ``passed`` is False, with ``failure`` and ``first_mismatch``, on a mismatch or a wrong latency;
        this function does not raise for those.

    Raises
    ------
    ToolError
        Verilator could not build the design, or the simulation produced no result.
    ValueError
        The words do not match their bus formats, or the latency bounds are inconsistent.
    """
    rtl_dir, work_dir = Path(rtl_dir).resolve(), Path(work_dir).resolve()
    inp_words = _check_words("inp_words", inp_words, input_format)
    out_words = _check_words("out_words", out_words, output_format)
    if inp_words.shape[0] != out_words.shape[0]:
        raise ValueError(f"inp_words has {inp_words.shape[0]} vectors but out_words has {out_words.shape[0]}")
    if max_latency is None:
        max_latency = expected_latency + LATENCY_SEARCH_MARGIN_CYCLES
    if not 0 <= expected_latency <= max_latency:
        raise ValueError(f"expected_latency={expected_latency} must lie in [0, max_latency={max_latency}]")
    for name in (JOB_ENV, RESULT_ENV):
        if name in os.environ:  # cocotb's runner lets the calling environment override extra_env
            raise ToolError(f"${name} is set in the environment; unset it, run_cosim sets it for the simulator")

    vhdl = simulator == VHDL_SIMULATOR
    if vhdl:
        _deps.require_ghdl()
        waves = False
    else:
        _deps.require_verilator()
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    sources = vhdl_sources(rtl_dir) if vhdl else verilog_sources(rtl_dir)
    build_dir = work_dir / f"build-{source_hash(sources, top=top, waves=waves, simulator=simulator)[:16]}"
    run_dir = work_dir / run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    job_path, result_path = run_dir / "job.npz", run_dir / "result.json"
    results_xml, log_path = run_dir / "results.xml", run_dir / "sim.log"
    waves_path = run_dir / "dump.vcd" if waves else None
    for stale in (result_path, results_xml, log_path):
        stale.unlink(missing_ok=True)
    words = WordVectors(
        inp_words=inp_words, out_words=out_words, input_format=input_format, output_format=output_format
    )
    np.savez(
        job_path,
        **words.npz_fields(),
        expected_latency=np.int64(expected_latency),
        max_latency=np.int64(max_latency),
        idle_gaps=np.bool_(idle_gaps),
        seed=np.int64(seed),
    )

    place_memory_files(Path(rtl_dir) / "src", run_dir)
    runner = get_runner(simulator)
    start = time.perf_counter()
    if vhdl:
        built = build_ghdl_library(runner, sources=sources, top=top, build_dir=build_dir)
        # `ghdl -r` runs in run_dir and finds the analysed library where the build put it
        test_args = [*VHDL_ARGS, f"--workdir={build_dir}"]
    else:
        built = build_verilator_model(runner, sources=sources, top=top, build_dir=build_dir, waves=waves)
        test_args = ["--trace-file", str(waves_path)] if waves_path is not None else []
    build_s = time.perf_counter() - start
    try:
        runner.test(
            test_module=TEST_MODULE,
            hdl_toplevel=top,
            hdl_toplevel_lang="vhdl" if vhdl else "verilog",
            build_dir=build_dir,
            test_dir=run_dir,  # the simulator's working directory
            results_xml=str(results_xml),
            extra_env={JOB_ENV: str(job_path), RESULT_ENV: str(result_path)},
            seed=seed,
            waves=waves,
            test_args=test_args,
            log_file=log_path,
        )
    except SystemExit:
        # under pytest the runner exits on a failed cocotb test; the result file says what failed
        pass
    except (RuntimeError, ValueError) as err:
        raise ToolError(
            f"cocotb could not run {top} ({err}); last lines of {log_path}:\n{_log_tail(log_path)}"
        ) from err
    sim_s = time.perf_counter() - start - build_s

    _check_testbench_file(results_xml)
    if not result_path.is_file():
        raise ToolError(
            f"the simulation of {top} wrote no result ({result_path}); last lines of {log_path}:\n{_log_tail(log_path)}"
        )
    verdict = StreamVerdict.load(result_path)
    try:
        n_tests, n_failed = get_results(results_xml)
    except RuntimeError:
        n_tests, n_failed = 0, 0
    failure = verdict.failure
    if failure is None and (n_tests == 0 or n_failed):
        failure = f"cocotb reported {n_failed} of {n_tests} tests failed; see {log_path}"
    measurement = CosimMeasurement(
        **(dataclasses.asdict(verdict) | {"failure": failure}), log_path=log_path, waves_path=waves_path
    )
    log.info(
        "cosim %s (%s): %d vectors, %d wrong, latency %d cycles, II %d (%s %.0f s, simulation %.0f s)",
        top,
        simulator,
        measurement.vectors,
        measurement.mismatches,
        measurement.latency_cycles,
        measurement.ii_cycles,
        "build" if built else "cached build",
        build_s,
        sim_s,
    )
    return measurement
