"""Reading back the reports of Vitis HLS and Vivado, so their figures reach ``synth.json`` and the report.

Outputs read back:

- ``hls/<top>_prj/solution1/syn/report/<top>_csynth.xml`` (C synthesis estimates) and
  ``hls/<top>_prj/solution1/sim/report/<top>_cosim.rpt`` (C/RTL co-simulation), through hls4ml's reader;
- ``rtl/output_<top>/reports/<top>_post_route_{util,timing}.rpt`` (out-of-context implementation),
  through da4ml's parsers.

The readers run anywhere, without the tools: they read files, and each failure names its file.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ...artifacts import HlsSynthesisReport, VivadoReport
from ...errors import ToolError
from .run import VITIS_HLS_ARGV, VIVADO_ARGV, _require_file

log = logging.getLogger(__name__)


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
