"""Dry runs of the vendor scripts, so that they are checked where neither vendor tool is installed.

:func:`check_script` is a *dry run* of a vendor script in a real Tcl interpreter where the vendor commands are
recorded instead of executed. A dry run proves the script is valid Tcl, asks for the right part, top and steps,
and reads files that exist; it does not prove that the vendor tool accepts every option, nor that synthesis
succeeds. :func:`check_hls_project` and :func:`check_vivado_project` dry-run hls4ml's and da4ml's scripts so.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import ToolError
from ..top import TOP_PORTS
from .reports import vivado_report_paths
from .run import SYNTH_AND_COSIM, HlsBuildOptions, VendorTool, _require_file

log = logging.getLogger(__name__)


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
            # IP packaging (vendor/ip.py)
            "ipx::package_project",
            "ipx::current_core",
            "ipx::infer_bus_interface",
            "ipx::get_bus_interfaces",
            "ipx::add_bus_parameter",
            "ipx::get_bus_parameters",
            "ipx::associate_bus_interfaces",
            "ipx::get_ports",
            "ipx::add_user_parameter",
            "ipx::get_user_parameters",
            "ipx::create_xgui_files",
            "ipx::update_checksums",
            "ipx::check_integrity",
            "ipx::save_core",
        }
    ),
}

#: What a recorded command returns where a script uses the result (Vivado's object queries). ``get_*``
#: commands return the pattern they were given, standing in for the objects it names.
_RESULTS: dict[str, str] = {"current_project": "project_1", "current_fileset": "sources_1", "ipx::current_core": "core"}

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
            if "::" in name:  # a namespaced command (ipx::...): its namespace first
                self.tcl.eval(f"namespace eval ::{name.rpartition('::')[0]} {{}}")
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
        if name.startswith("ipx::get_") and call.positionals():
            return call.positionals()[0]  # `ipx::get_ports model_inp -of_objects $core` stands for model_inp
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
                "the dry run knows (trigger_nn.firmware.vendor.tcl.VENDOR_COMMANDS); if it is one, add it there"
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


def check_da4ml_hls_project(hls_dir: Path, *, part: str, top: str, clock_period_ns: float) -> list[TclCall]:
    """Dry-run da4ml's ``build_vitis_prj.tcl`` (the HLS project of a network of table layers) and check it.

    Checked: the part, the top function (``<top>_fn``), the clock, that every file it adds exists and that
    C synthesis is called. ToolError lists every problem.
    """
    script = Path(hls_dir).resolve() / "build_vitis_prj.tcl"
    calls = check_script(script, VendorTool.VITIS_HLS)
    first = _first_calls(calls)
    problems = _missing_files(calls)
    for command, words in {"set_top": (f"{top}_fn",), "set_part": (part,)}.items():
        got = first[command].positionals() if command in first else None
        if got != words:
            problems.append(f"{command} gets {got}, not {words}")
    period = first["create_clock"].option("-period") if "create_clock" in first else None
    if period is None or float(period) != clock_period_ns:
        problems.append(f"create_clock -period is {period}, not the card's {clock_period_ns} ns")
    if "csynth_design" not in first:
        problems.append("csynth_design is never called")
    if problems:
        raise ToolError(f"the dry run of {script} found:\n  - " + "\n  - ".join(problems))
    return calls


def check_vivado_project(rtl_dir: Path, *, part: str, top: str, clock_period_ns: float) -> list[TclCall]:
    """Dry-run ``build_vivado_prj.tcl`` (and the constraints it reads), and check what it asks of Vivado.

    Checked: the part; out-of-context synthesis of ``top``; that every Verilog file and constraint exists and
    every ``src/*.v`` is read; the clock period in the .xdc, and a clock or I/O delay on every port of the top
    level; and that the post-route reports go where
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
        constraints = check_script(xdc, VendorTool.VIVADO)
        periods = [float(c.option("-period") or "nan") for c in constraints if c.command == "create_clock"]
        if periods != [clock_period_ns]:
            problems.append(f"{xdc} creates clocks of {periods} ns, not one of the card's {clock_period_ns} ns")
        constrained = {
            p.removesuffix("[*]") for c in constraints if c.command == "get_ports" for p in c.args[0].split()
        }
        if unconstrained := [p for p in TOP_PORTS if p not in constrained]:
            problems.append(f"{xdc} constrains no clock or I/O delay on the ports {unconstrained} of {top}")
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
