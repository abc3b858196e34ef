"""Vendor tools for ``trigger-nn synth``: Vitis HLS on ``<project>/hls/``, Vivado on ``<project>/rtl/``.

Inputs are the scripts the writers leave: hls4ml's ``hls/build_prj.tcl`` (which sources ``project.tcl``
and ``build_opt.tcl``) and da4ml's ``rtl/build_vivado_prj.tcl``. Outputs read back:

- ``hls/<top>_prj/solution1/syn/report/<top>_csynth.xml`` (C synthesis estimates) and
  ``hls/<top>_prj/solution1/sim/report/<top>_cosim.rpt`` (C/RTL co-simulation), through hls4ml's reader;
- ``rtl/output_<top>/reports/<top>_post_route_{util,timing}.rpt`` (out-of-context implementation),
  through da4ml's parsers.

Neither tool is installed where this project is developed, so :func:`run_vitis_hls` and :func:`run_vivado`
are kept thin. What runs anywhere: the readers, and :func:`check_script`, a *dry run* of a vendor script in
a real Tcl interpreter where the vendor commands are recorded instead of executed. A dry run proves the
script is valid Tcl, asks for the right part, top and steps, and reads files that exist; it does not prove
that the vendor tool accepts every option, nor that synthesis succeeds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import ToolError

log = logging.getLogger(__name__)


class VendorTool(StrEnum):
    VITIS_HLS = "vitis_hls"
    VIVADO = "vivado"


#: The vendor commands a dry run records instead of executing: every command hls4ml's and da4ml's scripts
#: (and da4ml's .xdc) call, and their close relatives. Any other command that is not Tcl's is an error.
VENDOR_COMMANDS: dict[VendorTool, frozenset[str]] = {
    VendorTool.VITIS_HLS: frozenset(
        {
            "open_project",
            "close_project",
            "open_solution",
            "close_solution",
            "set_top",
            "add_files",
            "set_part",
            "create_clock",
            "set_clock_uncertainty",
            "config_array_partition",
            "config_compile",
            "config_schedule",
            "config_interface",
            "config_export",
            "config_rtl",
            "config_dataflow",
            "config_op",
            "csim_design",
            "csynth_design",
            "cosim_design",
            "export_design",
        }
    ),
    VendorTool.VIVADO: frozenset(
        {
            "create_project",
            "open_project",
            "close_project",
            "current_project",
            "current_fileset",
            "set_property",
            "get_property",
            "add_files",
            "read_verilog",
            "read_vhdl",
            "read_xdc",
            "get_files",
            "get_ports",
            "get_clocks",
            "get_cells",
            "get_nets",
            "create_clock",
            "set_clock_uncertainty",
            "set_input_delay",
            "set_output_delay",
            "synth_design",
            "opt_design",
            "place_design",
            "phys_opt_design",
            "route_design",
            "write_checkpoint",
            "open_checkpoint",
            "write_verilog",
            "report_utilization",
            "report_timing_summary",
            "report_timing",
            "report_power",
            "report_drc",
            "report_clock_utilization",
            "report_design_analysis",
        }
    ),
}

#: What a recorded command returns where a script uses the result (Vivado's object queries). ``get_*``
#: commands return the pattern they were given, standing in for the objects it names.
_RESULTS: dict[str, str] = {"current_project": "project_1", "current_fileset": "sources_1"}

#: Files a vendor command leaves that the script itself reads next (hls4ml's cosim step sources
#: ``run_sim.tcl``, edits ``<top>.tcl`` and prints the report). The dry run creates them, empty, in its
#: scratch copy of the project; ``{project}`` is the folder ``open_project`` named.
_PRODUCTS: dict[str, tuple[str, ...]] = {
    "open_project": ("{project}/",),
    "open_solution": ("{project}/{solution}/",),
    "csynth_design": ("{project}/{solution}/syn/verilog/", "{project}/{solution}/syn/report/"),
    "cosim_design": (
        "{project}/{solution}/sim/verilog/{top}.tcl",
        "{project}/{solution}/sim/verilog/run_sim.tcl",
        "{project}/{solution}/sim/report/{top}_cosim.rpt",
    ),
}

#: Commands that read design or constraint files, with their options that take a value (so the value is not
#: taken for a file). Every other word not starting with '-' is a file, or a Tcl list of files.
_FILE_READERS: dict[str, frozenset[str]] = {
    "add_files": frozenset({"-cflags", "-csimflags", "-fileset", "-of_objects"}),
    "read_verilog": frozenset({"-library"}),
    "read_vhdl": frozenset({"-library"}),
    "read_xdc": frozenset({"-mode", "-cells", "-ref"}),
}

#: Folders and files of earlier real runs, left out of a dry run's scratch copy.
_VENDOR_OUTPUTS = shutil.ignore_patterns("*_prj", "output_*", ".Xil", "*.dcp", "*.so", "vivado*.log", "vivado*.jou")


@dataclass(frozen=True)
class TclCall:
    """One vendor command a script called in a dry run, with the words the vendor tool would have received.

    ``script`` and ``line`` locate the call (None where Tcl cannot tell); ``cwd`` is the working folder at the
    call; ``files`` are the files a file-reading command names, as absolute paths. Paths are the project's,
    not the dry run's scratch copy. ``exit`` and ``exec`` calls are recorded too: the dry run ends the script
    at ``exit`` and never starts a process.
    """

    command: str
    args: tuple[str, ...]
    script: Path | None
    line: int | None
    cwd: Path
    files: tuple[Path, ...] = ()

    def option(self, name: str) -> str | None:
        """The word after option ``name`` (e.g. ``-part``), or None when the call has no such option."""
        for i, word in enumerate(self.args[:-1]):
            if word == name:
                return self.args[i + 1]
        return None

    def positionals(self) -> tuple[str, ...]:
        """The words that are neither options nor, for the commands that read files, option values."""
        valued = _FILE_READERS.get(self.command, frozenset())
        out, skip = [], False
        for word in self.args:
            if skip:
                skip = False
            elif word in valued:
                skip = True
            elif not word.startswith("-"):
                out.append(word)
        return tuple(out)

    @property
    def where(self) -> str:
        return f"{self.script}:{self.line}" if self.script and self.line else str(self.script or "<unknown>")


@dataclass(frozen=True, kw_only=True)
class HlsBuildOptions:
    """The switches of hls4ml's ``build()``, which ``build_prj.tcl`` reads from ``build_opt.tcl``.

    Vitis 2024.2 has no ``vitis_hls`` and its ``vitis-run`` passes no arguments to a script, so hls4ml 1.2+
    writes these to a file instead of Vivado HLS's ``reset=1 csim=0 ...`` argv. The defaults are what
    ``trigger-nn synth`` needs: a fresh project, C synthesis and C/RTL co-simulation (the C simulation and
    its comparison already ran in ``trigger-nn verify``).
    """

    reset: bool = True
    csim: bool = False
    synth: bool = True
    cosim: bool = True
    validation: bool = False
    export: bool = False
    vsynth: bool = False
    fifo_opt: bool = False

    def tcl(self) -> str:
        """``build_opt.tcl`` as hls4ml 1.3's ``VitisBackend.build`` writes it, byte for byte."""
        body = "".join(f"    {f.name:<10} {int(getattr(self, f.name))}\n" for f in dataclasses.fields(self))
        return "array set opt {\n" + body + "}\n"


SYNTH_AND_COSIM = HlsBuildOptions()


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


# ---------------------------------------------------------------------------------------------------------------
# Command lines and runs


#: hls4ml 1.3's ``VitisBackend.build`` runs this in the HLS project (Vitis 2022.2 and older lack ``vitis-run``:
#: hls4ml issue #1463; there ``vitis_hls -f build_prj.tcl`` runs the same script).
VITIS_HLS_ARGV = ("vitis-run", "--tcl", "build_prj.tcl", "--mode", "hls")
#: da4ml's flows call Vivado so (``build_vitis_prj.tcl``); run in the RTL project on its own script.
VIVADO_ARGV = ("vivado", "-mode", "batch", "-source", "build_vivado_prj.tcl")


def vitis_hls_command(hls_dir: Path) -> list[str]:
    """The command hls4ml's ``build()`` runs for the Vitis back-end; run it in ``hls_dir``."""
    _require_file(Path(hls_dir) / "build_prj.tcl", "hls4ml writes it with the project (`trigger-nn compile`)")
    return list(VITIS_HLS_ARGV)


def vivado_command(rtl_dir: Path) -> list[str]:
    """The command that runs da4ml's implementation script, as da4ml's own flows call Vivado; run it in ``rtl_dir``."""
    _require_file(Path(rtl_dir) / "build_vivado_prj.tcl", "da4ml writes it with the Verilog (`trigger-nn compile`)")
    return list(VIVADO_ARGV)


def run_vitis_hls(hls_dir: Path, log_path: Path, *, options: HlsBuildOptions = SYNTH_AND_COSIM) -> HlsSynthesisReport:
    """Write ``build_opt.tcl`` (as hls4ml's ``build()`` does), run Vitis HLS, and read its reports."""
    hls_dir = Path(hls_dir)
    command = vitis_hls_command(hls_dir)
    _require_tool(command, hls_dir, "Vitis HLS")
    (hls_dir / "build_opt.tcl").write_text(options.tcl())
    _run(command, hls_dir, Path(log_path), "Vitis HLS")
    return read_hls_report(hls_dir, require_cosim=options.cosim)


def run_vivado(rtl_dir: Path, log_path: Path) -> VivadoReport:
    """Run da4ml's out-of-context synthesis, place and route in Vivado, and read the post-route reports."""
    rtl_dir = Path(rtl_dir)
    command = vivado_command(rtl_dir)
    _require_tool(command, rtl_dir, "Vivado")
    _run(command, rtl_dir, Path(log_path), "Vivado")
    return read_vivado_report(rtl_dir)


def _require_tool(command: list[str], cwd: Path, what: str) -> None:
    if shutil.which(command[0]) is None:
        raise ToolError(
            f"{command[0]} is not on PATH, so {what} cannot run: source the AMD tools' settings64.sh "
            f"(hls4ml 1.3 runs Vitis HLS through vitis-run, which Vitis 2022.2 lacks), or run "
            f"`{' '.join(command)}` in {cwd} on a machine that has them"
        )


def _run(command: list[str], cwd: Path, log_path: Path, what: str) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log.info("%s: running `%s` in %s (log: %s)", what, " ".join(command), cwd, log_path)
    with open(log_path, "w") as out:
        proc = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        raise ToolError(f"{what} failed (exit {proc.returncode}) in {cwd}; last lines of {log_path}:\n{tail}")


# ---------------------------------------------------------------------------------------------------------------
# Vitis HLS reports: hls4ml's reader (parse_vivado_report, and the private _parse_project_script and
# _find_solutions of hls4ml 1.3.0, pinned in pyproject.toml). It prints where it should raise, so its
# preconditions are checked here first and each failure names its file.

_CSYNTH_VALUES = (
    "ReportVersion/Version",
    "UserAssignments/Part",
    "UserAssignments/TopModelName",
    "UserAssignments/TargetClockPeriod",
    "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod",
    "PerformanceEstimates/SummaryOfOverallLatency/Best-caseLatency",
    "PerformanceEstimates/SummaryOfOverallLatency/Worst-caseLatency",
    "PerformanceEstimates/SummaryOfOverallLatency/Interval-min",
    "PerformanceEstimates/SummaryOfOverallLatency/Interval-max",
    "AreaEstimates/Resources/BRAM_18K",
    "AreaEstimates/Resources/FF",
    "AreaEstimates/Resources/LUT",
)
_COSIM_ROW = re.compile(r"^\|\s*(VHDL|Verilog)\s*\|", re.M)


def read_hls_report(hls_dir: Path, *, require_cosim: bool = False) -> HlsSynthesisReport:
    """The C synthesis report (and the cosim report when there is one) of the HLS project in ``hls_dir``."""
    from hls4ml.report.vivado_report import _find_solutions, _parse_project_script, parse_vivado_report

    hls_dir = Path(hls_dir)
    project_tcl = hls_dir / "project.tcl"
    _require_file(project_tcl, "hls4ml writes it with the project (`trigger-nn compile`)")
    try:
        prj_name, top = _parse_project_script(str(hls_dir))
    except (IndexError, UnboundLocalError) as err:  # a line without quotes; no `set backend` line
        raise ToolError(
            f'{project_tcl} lacks the `set project_name "..."` and `set backend "..."` lines hls4ml writes'
        ) from err
    if prj_name is None:
        raise ToolError(f'{project_tcl} has no `set project_name "..."` line; re-run `trigger-nn compile`')
    prj_dir = hls_dir / prj_name
    if not prj_dir.is_dir():
        raise ToolError(
            f"{prj_dir} does not exist: Vitis HLS has not built this project; run "
            f"`{' '.join(VITIS_HLS_ARGV)}` in {hls_dir}"
        )
    try:
        solutions = _find_solutions(str(prj_dir))
    except ET.ParseError as err:
        raise ToolError(f"{prj_dir}'s hls.app is not well-formed XML ({err}); re-run Vitis HLS") from err
    if not solutions:
        raise ToolError(
            f"{prj_dir} has no hls.app (or vivado_hls.app) naming an existing solution folder; "
            "hls4ml's reader finds the solution through it. Re-run Vitis HLS"
        )
    solution = prj_dir / solutions[0]
    csynth = solution / "syn" / "report" / f"{top}_csynth.xml"
    root = _csynth_root(csynth)
    cosim = solution / "sim" / "report" / f"{top}_cosim.rpt"
    if cosim.is_file():
        _check_cosim(cosim)
    elif require_cosim:
        raise ToolError(f"{cosim} does not exist: C/RTL co-simulation did not run or did not finish; see the log")

    with contextlib.redirect_stdout(io.StringIO()) as chatter:  # hls4ml prints what it does not find
        try:
            report = parse_vivado_report(str(hls_dir))
        except Exception as err:  # hls4ml raises bare errors from inside its parser
            raise ToolError(
                f"hls4ml's reader failed on the reports in {solution}: {type(err).__name__}: {err}"
            ) from err
    log.debug("hls4ml's report reader: %s", chatter.getvalue().strip())
    syn: dict[str, Any] = report["CSynthesisReport"]
    if "DSP" not in syn:
        raise ToolError(f"{csynth} has no DSP (or DSP48E) count under AreaEstimates/Resources")

    cosim_latency = cosim_ii = None
    if cosim.is_file():
        result: dict[str, Any] = report.get("CosimReport", {})
        if result.get("Status") != "Pass":
            raise ToolError(
                f"C/RTL co-simulation did not pass ({result.get('Status')}) according to {cosim}: the RTL "
                "disagrees with the C++ on the test bench's vectors, or the simulation failed; see the log"
            )
        cosim_latency = _cycles(result["LatencyMax"], "the co-simulated latency", cosim)
        ii = str(result["IntervalMax"])  # NA (or 0 from the transaction file) after a single transaction
        cosim_ii = None if ii in ("NA", "0") else _cycles(ii, "the co-simulated interval", cosim)

    return HlsSynthesisReport(
        tool_version=_text(root, "ReportVersion/Version"),
        part=_text(root, "UserAssignments/Part"),
        top=_text(root, "UserAssignments/TopModelName"),
        target_clock_ns=_number(syn["TargetClockPeriod"], "TargetClockPeriod", csynth),
        estimated_clock_ns=_number(syn["EstimatedClockPeriod"], "EstimatedClockPeriod", csynth),
        latency_best_cycles=_cycles(syn["BestLatency"], "Best-caseLatency", csynth),
        latency_worst_cycles=_cycles(syn["WorstLatency"], "Worst-caseLatency", csynth),
        ii_cycles=_cycles(syn["IntervalMax"], "Interval-max", csynth),
        luts=_cycles(syn["LUT"], "LUT", csynth),
        ffs=_cycles(syn["FF"], "FF", csynth),
        dsps=_cycles(syn["DSP"], "DSP", csynth),
        bram_18k=_cycles(syn["BRAM_18K"], "BRAM_18K", csynth),
        cosim_latency_cycles=cosim_latency,
        cosim_ii_cycles=cosim_ii,
        report_path=csynth,
        cosim_report_path=cosim if cosim.is_file() else None,
    )


def _csynth_root(path: Path) -> ET.Element:
    _require_file(path, "C synthesis did not run or did not finish; see the Vitis HLS log")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ToolError(f"{path} is not well-formed XML ({err}): the file is cut short, or not a Vitis report") from err
    missing = [p for p in _CSYNTH_VALUES if not (root.findtext(p) or "").strip()]
    if root.find("AreaEstimates/AvailableResources") is None:
        missing.append("AreaEstimates/AvailableResources")
    if missing:
        raise ToolError(
            f"{path} lacks {', '.join(missing)}: not a Vitis HLS csynth report, or one laid out differently"
        )
    return root


def _check_cosim(path: Path) -> None:
    """A result row of the cosim table has 9 cells: RTL, status, 3 latencies, 3 intervals, total cycles."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if _COSIM_ROW.match(line)]
    if not lines:
        raise ToolError(f"{path} has no VHDL or Verilog result row: the report is cut short or not from cosim")
    for line in lines:
        cells = line.strip().strip("|").split("|")
        if len(cells) != 9:
            raise ToolError(f"{path}: the row {line.strip()!r} has {len(cells)} cells, not 9: the report is cut short")
    if all(line.split("|")[2].strip() == "NA" for line in lines):  # hls4ml's reader fails on it (KeyError 'RTL')
        raise ToolError(f"{path} gives NA for every RTL: co-simulation did not run; see the Vitis HLS log")


def _text(root: ET.Element, path: str) -> str:
    return (root.findtext(path) or "").strip()


def _cycles(value: Any, what: str, path: Path) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ToolError(
            f"{path}: {what} is {value!r}, not a whole number: Vitis could not bound it (a loop without a "
            "fixed trip count, a non-pipelined top) or the report is damaged"
        ) from None


def _number(value: Any, what: str, path: Path) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ToolError(f"{path}: {what} is {value!r}, not a number") from None


# ---------------------------------------------------------------------------------------------------------------
# Vivado reports (da4ml's parsers, from the private module da4ml._cli.report of da4ml 0.6, pinned in
# pyproject.toml; their AssertionError/IndexError become errors naming the file, and a fallback reads the
# reports they cannot: parts without URAM, 7-series names and CARRY4, half BRAM tiles)

_SITE_ROW = re.compile(r"^\|\s*([^|]*?)\**\s*\|\s*(\d+(?:\.\d+)?)\s*\|", re.M)
_PRIMITIVE_ROW = re.compile(r"^\|\s*(\w+)\s*\|\s*(\d+)\s*\|\s*[\w ]+?\s*\|\s*$", re.M)
_CLOCK_ROW = re.compile(r"^\s*(\S+)\s+\{[\d. ]+\}\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s*$", re.M)


def vivado_report_paths(rtl_dir: Path) -> tuple[Path, Path]:
    """The post-route utilization and timing reports da4ml's script writes (and :func:`read_vivado_report` reads)."""
    rtl_dir = Path(rtl_dir)
    name = _rtl_project_name(rtl_dir)
    reports = rtl_dir / f"output_{name}" / "reports"
    return reports / f"{name}_post_route_util.rpt", reports / f"{name}_post_route_timing.rpt"


def read_vivado_report(rtl_dir: Path) -> VivadoReport:
    """Resources and timing of the routed design from da4ml's Vivado flow in ``rtl_dir``."""
    util_path, timing_path = vivado_report_paths(rtl_dir)
    for path in (util_path, timing_path):
        if not path.is_file():
            raise ToolError(
                f"{path} does not exist: Vivado has not implemented this design (or stopped before routing); "
                f"run `{' '.join(VIVADO_ARGV)}` in {rtl_dir} and see its log"
            )
    util = util_path.read_text(errors="replace")
    version = re.search(r"Tool Version\s*:\s*Vivado v\.?(\S+)", util)
    device = re.search(r"^\|\s*Device\s*:\s*(\S+)", util, re.M)
    if version is None or device is None:
        raise ToolError(f"{util_path} has no '| Tool Version : Vivado v...' and '| Device : ...' header lines")
    luts, ffs, carries, carry_kind, dsps, bram = _utilization(util, util_path)
    wns, period = _timing(timing_path.read_text(errors="replace"), timing_path)
    return VivadoReport(
        tool_version=version[1],
        device=device[1],
        luts=luts,
        ffs=ffs,
        carries=carries,
        carry_kind=carry_kind,
        dsps=dsps,
        bram_tiles=bram,
        wns_ns=wns,
        clock_period_ns=period,
        report_dir=util_path.parent,
    )


def _rtl_project_name(rtl_dir: Path) -> str:
    script = rtl_dir / "build_vivado_prj.tcl"
    _require_file(script, "da4ml writes it with the Verilog (`trigger-nn compile`)")
    m = re.search(r'^set project_name "([^"]+)"', script.read_text(), re.M)
    if m is None:
        raise ToolError(f'{script} has no `set project_name "..."` line; da4ml\'s script layout changed')
    return m[1]


def _utilization(text: str, path: Path) -> tuple[int, int, int, str, int, float]:
    from da4ml._cli.report import parse_utilization_vivado

    try:
        d = parse_utilization_vivado(text)
        return d["LUT"], d["FF"], d["CARRY8"], "CARRY8", d["DSP"], float(d["Block RAM Tile"])
    except IndexError:  # a row da4ml tracks is absent, or not a whole number
        log.debug("da4ml's utilization parser cannot read %s; reading its tables directly", path)

    rows: dict[str, float] = {}
    for name, used in _SITE_ROW.findall(text):
        rows.setdefault(name.strip(), float(used))

    def row(*names: str) -> float:
        for name in names:
            if name in rows:
                return rows[name]
        raise ToolError(
            f"{path} has no {' or '.join(repr(n) for n in names)} row: the report is cut short, "
            "or not from report_utilization"
        )

    luts, ffs = row("CLB LUTs", "Slice LUTs"), row("CLB Registers", "Slice Registers")
    dsps, bram = row("DSPs"), row("Block RAM Tile")
    if "CARRY8" in rows:
        carries, kind = rows["CARRY8"], "CARRY8"
    else:  # 7 series: CARRY4 appears only among the primitives, and only when used
        if "Ref Name" not in text:
            raise ToolError(f"{path} has neither a CARRY8 row nor the Primitives table: the report is cut short")
        primitives = {name: int(used) for name, used in _PRIMITIVE_ROW.findall(text)}
        carries, kind = primitives.get("CARRY4", 0), "CARRY4"
    return int(luts), int(ffs), int(carries), kind, int(dsps), bram


def _timing(text: str, path: Path) -> tuple[float, float]:
    from da4ml._cli.report import parse_timing_summary_vivado

    if "Design Timing Summary" not in text:
        raise ToolError(f"{path} has no 'Design Timing Summary' table: cut short, or not from report_timing_summary")
    try:
        summary = parse_timing_summary_vivado(text)
    except (AssertionError, IndexError, ValueError) as err:
        raise ToolError(
            f"{path}: the Design Timing Summary table is not laid out as Vivado writes it "
            f"(header, dashes, values): {type(err).__name__} {err}".rstrip()
        ) from err
    wns = summary.get("WNS(ns)")
    if not isinstance(wns, float | int) or not math.isfinite(wns):
        raise ToolError(
            f"{path}: WNS is {wns!r}, not a finite number: no clock reached the design's registers "
            "(check the .xdc's create_clock on port clk), or the report is cut short"
        )
    tail = text[text.find("Clock Summary") :] if "Clock Summary" in text else ""
    clock = _CLOCK_ROW.search(tail)
    if clock is None:
        raise ToolError(f"{path} has no clock in its 'Clock Summary' table: the report is cut short")
    return float(wns), float(clock[2])


def _require_file(path: Path, why: str) -> None:
    if not path.is_file():
        raise ToolError(f"{path} does not exist: {why}")


# ---------------------------------------------------------------------------------------------------------------
# Dry runs


def check_script(
    script: Path,
    tool: VendorTool,
    *,
    argv: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
) -> list[TclCall]:
    """Run ``script`` in Tcl 8.6 (Python's tkinter) as ``tool`` would, recording its vendor commands.

    The script runs in a scratch copy of its folder, with that copy as the working folder (where hls4ml and
    da4ml run the tools), ``info script`` its path there and ``argv`` set; ``overrides`` replaces files in the
    copy first (e.g. ``{"build_opt.tcl": options.tcl()}``). The commands in ``VENDOR_COMMANDS[tool]`` are
    recorded, not executed; ``exec`` starts nothing; ``exit`` ends the script. Returns the calls in order.
    A Tcl error, an unknown command or a non-zero ``exit`` raises ToolError naming the file and line.

    This is a dry run, not the vendor tool: it checks the script's Tcl and what it asks of the tool. It changes
    the process's working folder while the script runs (Tcl's ``cd`` is the process's), so run one at a time.
    """
    script = Path(script).resolve()
    _require_file(script, "write the project first (`trigger-nn compile`)")
    with tempfile.TemporaryDirectory(prefix="trigger_nn_dryrun_") as tmp:
        scratch = Path(tmp).resolve() / script.parent.name
        shutil.copytree(script.parent, scratch, symlinks=True, ignore=_VENDOR_OUTPUTS)
        for rel, text in (overrides or {}).items():
            (scratch / rel).write_text(text)
        return _DryRun(tool, origin=script.parent, scratch=scratch).source(scratch / script.name, argv)


_SETUP = r"""
namespace eval ::dryrun {}
set ::auto_noexec 1
set ::tcl_interactive 0
proc ::exit {{code 0}} {
    ::dryrun::record exit [info frame -1] $code
    return -code error -errorcode [list DRYRUN EXIT $code] "exit $code"
}
proc ::exec args { ::dryrun::record exec [info frame -1] {*}$args }
rename ::open ::dryrun::tcl_open
proc ::open {name args} {
    if {[string index $name 0] eq "|"} { error "a dry run starts no process: open $name" }
    ::dryrun::tcl_open $name {*}$args
}
rename ::puts ::dryrun::tcl_puts
proc ::puts args {
    set words $args
    if {[lindex $words 0] eq "-nonewline"} { set words [lrange $words 1 end] }
    if {[llength $words] == 1 || [lindex $words 0] in {stdout stderr}} {
        ::dryrun::echo [lindex $words end]
        return
    }
    ::dryrun::tcl_puts {*}$args
}
"""
_FILE_LINE = re.compile(r'\(file "([^"]+)" line (\d+)\)')
_UNKNOWN = re.compile(r'^invalid command name "([^"]*)"')


class _DryRun:
    """One Tcl interpreter with the vendor commands replaced by a recorder, for one script."""

    def __init__(self, tool: VendorTool, *, origin: Path, scratch: Path):
        import tkinter

        self.tool, self.origin, self.scratch = tool, origin, scratch
        self.calls: list[TclCall] = []
        self.output: list[str] = []
        self.state: dict[str, str] = {}
        self.tcl = tkinter.Tcl()
        self.tcl.eval("namespace eval ::dryrun {}")
        self.tcl.createcommand("::dryrun::record", self._record)
        self.tcl.createcommand("::dryrun::echo", self.output.append)
        self.tcl.eval(_SETUP)
        for name in sorted(VENDOR_COMMANDS[tool]):
            self.tcl.eval(f"proc ::{name} args {{ ::dryrun::record {name} [info frame -1] {{*}}$args }}")

    def _unscratch(self, text: str) -> str:
        return text.replace(str(self.scratch), str(self.origin))

    def _record(self, name: str, frame: str, *args: str) -> str:
        info = dict(zip(*[iter(self.tcl.splitlist(frame))] * 2, strict=True))
        cwd = Path(os.getcwd())
        words = tuple(self._unscratch(a) for a in args)
        here = Path(self._unscratch(str(cwd)))
        call = TclCall(
            command=name,
            args=words,
            script=Path(self._unscratch(info["file"])) if "file" in info else None,
            line=int(info["line"]) if "line" in info else None,
            cwd=here,
        )
        if name in _FILE_READERS:
            files = [here / item for word in call.positionals() for item in self.tcl.splitlist(word)]
            call = dataclasses.replace(call, files=tuple(files))
        self.calls.append(call)
        if self.tool is VendorTool.VITIS_HLS:
            self._hls_products(call, cwd)
        if name.startswith("get_") and args:
            return args[-1]
        return _RESULTS.get(name, "")

    def _hls_products(self, call: TclCall, cwd: Path) -> None:
        names = call.positionals()
        if call.command == "open_project" and names:
            self.state["project"] = str(cwd / names[-1])
        elif call.command == "open_solution" and names:
            self.state["solution"] = names[-1]
        elif call.command == "set_top" and names:
            self.state["top"] = names[0]
        for template in _PRODUCTS.get(call.command, ()):
            try:
                path = Path(template.format(**self.state))
            except KeyError:  # called before the project, solution or top was set: the tool would fail too
                continue
            if template.endswith("/"):
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()

    def source(self, script: Path, argv: Sequence[str]) -> list[TclCall]:
        self.tcl.call("set", "::argv", tuple(argv))
        self.tcl.call("set", "::argc", len(argv))
        self.tcl.call("set", "::argv0", self.tool.value)
        self.tcl.call("set", "::dryrun::script", str(script))
        cwd = os.getcwd()
        os.chdir(self.scratch)  # Tcl's cd is the process's: the script may change it, so it is restored after
        try:
            rc = int(self.tcl.eval("catch {source $::dryrun::script} ::dryrun::msg ::dryrun::opts"))
        finally:
            os.chdir(cwd)
        for line in self.output:
            log.debug("dry run of %s: %s", script.name, line)
        if rc != 1:
            return self.calls
        message = self._unscratch(self.tcl.eval("set ::dryrun::msg"))
        code = self.tcl.splitlist(self.tcl.eval("dict get $::dryrun::opts -errorcode"))
        info = self._unscratch(self.tcl.eval("dict get $::dryrun::opts -errorinfo"))
        origin = self.origin / script.name
        if tuple(code[:2]) == ("DRYRUN", "EXIT"):
            if int(code[2]) == 0:
                return self.calls
            last = self.calls[-1]
            said = "\n".join(self.output[-5:])
            raise ToolError(
                f"{last.where}: {origin.name} exits with code {code[2]} in the dry run; it printed:\n{said}"
            )
        site = _FILE_LINE.search(info)
        where = f"{site[1]}:{site[2]}" if site else str(origin)
        unknown = _UNKNOWN.match(message)
        if unknown:
            message += (
                f": neither a Tcl command nor one of the {len(VENDOR_COMMANDS[self.tool])} {self.tool} commands "
                "the dry run knows (trigger_nn.firmware.vendor.VENDOR_COMMANDS); if it is one, add it there"
            )
        raise ToolError(f"{where}: Tcl error in the dry run of {origin} for {self.tool}: {message}")


def check_hls_project(
    hls_dir: Path,
    *,
    part: str,
    top: str,
    clock_period_ns: float,
    options: HlsBuildOptions = SYNTH_AND_COSIM,
) -> list[TclCall]:
    """Dry-run ``build_prj.tcl`` as :func:`run_vitis_hls` would run it, and check what it asks of Vitis HLS.

    Checked: the part, top and clock; that every file it adds exists; that the requested steps are called;
    and that the project and top are where :func:`read_hls_report` will look. ToolError lists every problem.
    """
    hls_dir = Path(hls_dir).resolve()
    script = hls_dir / "build_prj.tcl"
    calls = check_script(script, VendorTool.VITIS_HLS, overrides={"build_opt.tcl": options.tcl()})
    first = _first_calls(calls)
    problems = _missing_files(calls)
    expected = {"set_top": (top,), "set_part": (part,), "open_project": (f"{top}_prj",)}
    for command, words in expected.items():
        got = first[command].positionals() if command in first else None
        if got != words:
            problems.append(f"{command} gets {got}, not {words}")
    period = first["create_clock"].option("-period") if "create_clock" in first else None
    if period is None or float(period) != clock_period_ns:
        problems.append(f"create_clock -period is {period}, not the card's {clock_period_ns} ns")
    for step, wanted in (
        ("csim_design", options.csim),
        ("csynth_design", options.synth),
        ("cosim_design", options.cosim),
    ):
        if wanted and step not in first:
            problems.append(f"{step} is never called, though {options} asks for it")
    if problems:
        raise ToolError(f"the dry run of {script} found:\n  - " + "\n  - ".join(problems))
    if options.cosim and not (hls_dir / "tb_data" / "tb_input_features.dat").is_file():
        log.warning(
            "%s has no tb_input_features.dat: Vitis co-simulation will run the test bench's one all-zero input, "
            "which gives a latency but no II, and compares the RTL with the C++ on that one vector only",
            hls_dir / "tb_data",
        )
    return calls


def check_vivado_project(rtl_dir: Path, *, part: str, top: str, clock_period_ns: float) -> list[TclCall]:
    """Dry-run ``build_vivado_prj.tcl`` (and the constraints it reads), and check what it asks of Vivado.

    Checked: the part; out-of-context synthesis of ``top``; that every Verilog file and constraint exists and
    every ``src/*.v`` is read; the clock period in the .xdc; and that the post-route reports go where
    :func:`read_vivado_report` reads them. ToolError lists every problem.
    """
    rtl_dir = Path(rtl_dir).resolve()
    script = rtl_dir / "build_vivado_prj.tcl"
    calls = check_script(script, VendorTool.VIVADO)
    first = _first_calls(calls)
    problems = _missing_files(calls)
    created = first["create_project"].option("-part") if "create_project" in first else None
    if created != part:
        problems.append(f"create_project -part is {created}, not the card's {part}")
    synth = first.get("synth_design")
    if synth is None or synth.option("-top") != top or synth.option("-mode") != "out_of_context":
        problems.append(f"synth_design is {synth.args if synth else None}, not `-top {top} -mode out_of_context`")
    read = {f.resolve() for c in calls if c.command == "read_verilog" for f in c.files}
    unread = sorted(str(p) for p in (rtl_dir / "src").glob("*.v") if p.resolve() not in read)
    if unread:
        problems.append(f"read_verilog never reads {', '.join(unread)}")
    xdcs = [f for c in calls if c.command == "read_xdc" for f in c.files]
    if not xdcs:
        problems.append("no read_xdc: the design would be untimed (no clock), so WNS would be NA")
    for xdc in (x for x in xdcs if x.is_file()):
        clocks = [c for c in check_script(xdc, VendorTool.VIVADO) if c.command == "create_clock"]
        periods = [float(c.option("-period") or "nan") for c in clocks]
        if periods != [clock_period_ns]:
            problems.append(f"{xdc} creates clocks of {periods} ns, not one of the card's {clock_period_ns} ns")
    written = {Path(c.option("-file") or "") for c in calls if c.command.startswith("report_")}
    for report in vivado_report_paths(rtl_dir):
        if report not in written:
            problems.append(f"no report is written to {report}, which read_vivado_report reads")
    if problems:
        raise ToolError(f"the dry run of {script} found:\n  - " + "\n  - ".join(problems))
    return calls


def _first_calls(calls: list[TclCall]) -> dict[str, TclCall]:
    first: dict[str, TclCall] = {}
    for call in calls:
        first.setdefault(call.command, call)
    return first


def _missing_files(calls: list[TclCall]) -> list[str]:
    return [f"{c.where}: {c.command} reads {f}, which does not exist" for c in calls for f in c.files if not f.exists()]
