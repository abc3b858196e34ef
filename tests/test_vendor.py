"""The vendor-tool path of ``trigger-nn synth`` without the vendor tools.

Vitis HLS and Vivado are not installed here. Their report readers are checked on files in the tools'
formats (``tests/data/vendor``, see its README) and on broken copies of them; the scripts hls4ml and
da4ml write for a small model are dry-run in a real Tcl interpreter (``check_script``); and the command
lines are checked against the ones hls4ml and da4ml themselves run.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trigger_nn.artifacts import HlsSynthesisReport, VivadoReport
from trigger_nn.card import FirmwareConfig, MlpConfig
from trigger_nn.compile import build_firmware
from trigger_nn.errors import ToolError
from trigger_nn.firmware import hls, vendor
from trigger_nn.firmware.top import BUILD_SCRIPTS
from trigger_nn.firmware.vendor import HlsBuildOptions, VendorTool

DATA = Path(__file__).parent / "data" / "vendor"
CSYNTH = "hls/tiny_trigger_prj/solution1/syn/report/tiny_trigger_csynth.xml"
COSIM = "hls/tiny_trigger_prj/solution1/sim/report/tiny_trigger_cosim.rpt"
UTIL = "rtl/output_tiny_trigger/reports/tiny_trigger_post_route_util.rpt"
TIMING = "rtl/output_tiny_trigger/reports/tiny_trigger_post_route_timing.rpt"
FW = FirmwareConfig(pipeline_cutoff=2.0)
TOP = "tiny"


@dataclass(frozen=True)
class Project:
    hls: Path
    rtl: Path
    vhdl: Path


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A small HGQ2 network written as `trigger-nn compile` writes it: hls4ml's project and da4ml's Verilog."""
    import keras
    from hgq.utils import trace_minmax

    from trigger_nn.nets import build_model

    root = tmp_path_factory.mktemp("vendor")
    keras.utils.set_random_seed(3)
    model = build_model(MlpConfig(hidden_units=(3,), weight_bits=4), input_shape=(4,), input_kif=(1, 3, 2))
    x = np.random.default_rng(0).integers(-32, 32, size=(256, 4)) / 4
    trace_minmax(model, x.astype(np.float32), batch_size=256)
    build_firmware(model, root / "hls", root / "rtl", FW, name=TOP, vhdl_dir=root / "vhdl")
    return Project(hls=root / "hls", rtl=root / "rtl", vhdl=root / "vhdl")


def _copy(tmp_path: Path) -> Path:
    """A writable copy of the fixtures, to break."""
    return Path(shutil.copytree(DATA, tmp_path / "vendor"))


def _edit(path: Path, change: Callable[[str], str]) -> None:
    text = path.read_text()
    new = change(text)
    assert new != text, f"the edit changed nothing in {path}"
    path.write_text(new)


# ---------------------------------------------------------------------------------------------------------------
# Readers on vendor-format fixtures


def test_hls_report_gives_the_synthesis_estimates_and_the_cosim_measurement() -> None:
    report = vendor.read_hls_report(DATA / "hls")
    assert report == HlsSynthesisReport(
        tool_version="2023.2",
        part="xcvu13p-flga2577-2-e",
        top="tiny_trigger",
        target_clock_ns=5.0,
        estimated_clock_ns=3.412,
        latency_best_cycles=4,
        latency_worst_cycles=4,
        ii_cycles=1,
        luts=1873,
        ffs=412,
        dsps=0,
        bram_18k=0,
        cosim_latency_cycles=4,
        cosim_ii_cycles=1,
        report_path=DATA / CSYNTH,
        cosim_report_path=DATA / COSIM,
    )


def test_hls_report_without_cosim_has_no_cosim_figures_unless_they_are_required(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    (data / COSIM).unlink()
    report = vendor.read_hls_report(data / "hls")
    assert (report.cosim_latency_cycles, report.cosim_ii_cycles, report.cosim_report_path) == (None, None, None)
    assert report.latency_worst_cycles == 4
    with pytest.raises(ToolError, match=r"tiny_trigger_cosim\.rpt does not exist"):
        vendor.read_hls_report(data / "hls", require_cosim=True)


def test_cosim_of_one_transaction_has_a_latency_but_no_ii(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    ones, nas = "|" + f"{1:>15}|" * 3, "|" + f"{'NA':>15}|" * 3  # cells padded as Vitis pads them
    _edit(data / COSIM, lambda t: t.replace(ones, nas))
    report = vendor.read_hls_report(data / "hls")
    assert (report.cosim_latency_cycles, report.cosim_ii_cycles) == (4, None)


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (CSYNTH, lambda t: t[: len(t) // 2], r"tiny_trigger_csynth\.xml is not well-formed XML"),
        (
            CSYNTH,
            lambda t: t.replace("<Interval-max>1</Interval-max>", ""),
            r"tiny_trigger_csynth\.xml lacks PerformanceEstimates/SummaryOfOverallLatency/Interval-max",
        ),
        (
            CSYNTH,
            lambda t: t.replace("<Worst-caseLatency>4<", "<Worst-caseLatency>undef<"),
            r"tiny_trigger_csynth\.xml: Worst-caseLatency is 'undef', not a whole number",
        ),
        (CSYNTH, lambda t: t.replace("<DSP>0</DSP>", ""), r"tiny_trigger_csynth\.xml has no DSP"),
        (
            COSIM,
            lambda t: t.replace(
                "      Pass|              4|              4|              4|",
                "      Fail|" + f"{'NA':>15}|" * 3,
            ),
            r"co-simulation did not pass \(Fail\) according to .*tiny_trigger_cosim\.rpt",
        ),
        (COSIM, lambda t: t[: t.index("Pass|") + 20], r"tiny_trigger_cosim\.rpt: the row .* has 3 cells, not 9"),
        (COSIM, lambda t: t.replace("   Verilog|      Pass", "   Verilog|        NA"), r"gives NA for every RTL"),
        ("hls/tiny_trigger_prj/hls.app", lambda t: t[:200], r"hls\.app is not well-formed XML"),
        ("hls/project.tcl", lambda t: t.replace('set backend "vitis"', ""), r"project\.tcl lacks"),
    ],
    ids=[
        "csynth-cut-short",
        "csynth-element-missing",
        "csynth-latency-undef",
        "csynth-no-dsp",
        "cosim-failed",
        "cosim-row-cut",
        "cosim-all-na",
        "app-cut-short",
        "project-no-backend",
    ],
)
def test_a_broken_hls_report_is_a_tool_error_naming_the_file(
    tmp_path: Path, file: str, change: Callable[[str], str], message: str
) -> None:
    data = _copy(tmp_path)
    _edit(data / file, change)
    with pytest.raises(ToolError, match=message):
        vendor.read_hls_report(data / "hls")


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        (CSYNTH, r"tiny_trigger_csynth\.xml does not exist"),
        ("hls/tiny_trigger_prj/hls.app", r"has no hls\.app \(or vivado_hls\.app\)"),
        ("hls/tiny_trigger_prj", r"tiny_trigger_prj does not exist: .*`vitis-run --tcl build_prj\.tcl --mode hls`"),
        ("hls/project.tcl", r"hls/project\.tcl does not exist"),
    ],
)
def test_a_missing_hls_file_is_named(tmp_path: Path, missing: str, message: str) -> None:
    data = _copy(tmp_path)
    target = data / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(ToolError, match=message):
        vendor.read_hls_report(data / "hls")


def test_vivado_report_gives_the_routed_resources_and_timing() -> None:
    report = vendor.read_vivado_report(DATA / "rtl")
    assert report == VivadoReport(
        tool_version="2023.2",
        device="xcvu13p-flga2577-2-e",
        luts=1520,
        ffs=388,
        carries=97,
        carry_kind="CARRY8",
        dsps=0,
        bram_tiles=0.0,
        wns_ns=0.412,
        clock_period_ns=5.0,
        report_dir=(DATA / UTIL).parent,
    )
    assert report.achieved_period_ns == pytest.approx(4.588)
    assert report.fmax_mhz == pytest.approx(1000 / 4.588)


def test_a_part_without_uram_is_read_where_da4mls_parser_gives_up(tmp_path: Path) -> None:
    from da4ml._cli.report import parse_utilization_vivado

    data = _copy(tmp_path)
    _edit(data / UTIL, lambda t: re.sub(r"^\| URAM .*\n", "", t, flags=re.M))
    with pytest.raises(IndexError):  # da4ml 0.6 needs every one of its ten rows, URAM included
        parse_utilization_vivado((data / UTIL).read_text())
    assert vendor.read_vivado_report(data / "rtl") == dataclasses.replace(
        vendor.read_vivado_report(DATA / "rtl"), report_dir=(data / UTIL).parent
    )


def test_a_7_series_report_counts_carry4_from_the_primitives(tmp_path: Path) -> None:
    def seven_series(text: str) -> str:
        text = text.replace("CLB LUTs  ", "Slice LUTs").replace("CLB Registers  ", "Slice Registers")
        text = re.sub(r"^\| CARRY8 +\|.*\|.*\|.*\|.*\|.*\|\n", "", text, flags=re.M)  # the site row, 6 cells
        return re.sub(r"^\| CARRY8 +\| +97 \| +CLB \|$", "| CARRY4   |  120 |          CarryLogic |", text, flags=re.M)

    data = _copy(tmp_path)
    _edit(data / UTIL, seven_series)
    report = vendor.read_vivado_report(data / "rtl")
    assert (report.carries, report.carry_kind, report.luts, report.ffs) == (120, "CARRY4", 1520, 388)


def test_half_a_bram_tile_is_counted(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    _edit(data / UTIL, lambda t: t.replace("| Block RAM Tile |    0 |", "| Block RAM Tile |  0.5 |"))
    assert vendor.read_vivado_report(data / "rtl").bram_tiles == 0.5


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (UTIL, lambda t: t[: t.rindex("4. ARITHMETIC")], r"post_route_util\.rpt has no 'DSPs' row"),
        (
            UTIL,
            lambda t: t[t.index("Utilization Design Information") :],
            r"post_route_util\.rpt has no '\| Tool Version",
        ),
        (
            TIMING,
            lambda t: t[: t.index("      0.412")],
            r"post_route_timing\.rpt: the Design Timing Summary table is not",
        ),
        (TIMING, lambda t: t.replace("      0.412  ", "         NA  ", 1), r"post_route_timing\.rpt: WNS is None"),
        (TIMING, lambda t: t.replace("      0.412  ", "        inf  ", 1), r"post_route_timing\.rpt: WNS is inf"),
        (TIMING, lambda t: t[: t.index("sys_clk  {")], r"post_route_timing\.rpt has no clock in its"),
        (TIMING, lambda t: t.replace("Design Timing Summary", "Design Summary"), r"has no 'Design Timing Summary'"),
    ],
    ids=[
        "util-cut-short",
        "util-no-header",
        "timing-cut-in-summary",
        "timing-wns-na",
        "timing-wns-inf",
        "timing-no-clock",
        "not-timing",
    ],
)
def test_a_broken_vivado_report_is_a_tool_error_naming_the_file(
    tmp_path: Path, file: str, change: Callable[[str], str], message: str
) -> None:
    data = _copy(tmp_path)
    _edit(data / file, change)
    with pytest.raises(ToolError, match=message):
        vendor.read_vivado_report(data / "rtl")


@pytest.mark.parametrize("missing", [UTIL, TIMING])
def test_a_missing_vivado_report_is_named(tmp_path: Path, missing: str) -> None:
    data = _copy(tmp_path)
    (data / missing).unlink()
    expected = (
        re.escape(f"{Path(missing).name} does not exist") + r".*`vivado -mode batch -source build_vivado_prj\.tcl`"
    )
    with pytest.raises(ToolError, match=expected):
        vendor.read_vivado_report(data / "rtl")


# ---------------------------------------------------------------------------------------------------------------
# Command lines, against what hls4ml and da4ml run


def test_vitis_command_and_build_options_are_what_hls4ml_build_uses(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hls4ml's real ``build()``, with a stand-in ``vitis-run`` on PATH that records how it was called."""
    from hls4ml.converters import link_existing_project

    copy = Path(shutil.copytree(project.hls, tmp_path / "hls"))
    hls.relocate(copy, copy)
    record, bin_dir = tmp_path / "record", tmp_path / "bin"
    record.mkdir()
    bin_dir.mkdir()
    fake = bin_dir / "vitis-run"
    fake.write_text(
        '#!/bin/sh\nprintf "%s\\n" "$@" > "$RECORD/argv"\npwd > "$RECORD/cwd"\ncp build_opt.tcl "$RECORD/"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(shutil.which('sh') or '/bin/sh').parent}")
    monkeypatch.setenv("RECORD", str(record))

    options = vendor.SYNTH_AND_COSIM
    link_existing_project(str(copy)).build(**dataclasses.asdict(options), log_to_stdout=False)

    assert ["vitis-run", *(record / "argv").read_text().splitlines()] == vendor.vitis_hls_command(copy)
    assert Path((record / "cwd").read_text().strip()) == copy.resolve()
    assert (record / "build_opt.tcl").read_text() == options.tcl()
    assert options.tcl() != HlsBuildOptions(cosim=False).tcl()


def test_vivado_command_is_how_da4ml_calls_vivado(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """da4ml's HLS-flavour script ends by running Vivado on its implementation script: the same command line."""
    import da4ml.codegen.hls

    template = Path(da4ml.codegen.hls.__file__).parent / "source" / "build_vitis_prj.tcl"
    script = tmp_path / "prj" / template.name
    script.parent.mkdir()
    shutil.copyfile(template, script)
    for name, value in {"PROJECT_NAME": TOP, "DEVICE": FW.part, "CLOCK_PERIOD": "5", "CLOCK_UNCERTAINTY": "0"}.items():
        monkeypatch.setenv(name, value)
    execs = [c for c in vendor.check_script(script, VendorTool.VITIS_HLS) if c.command == "exec"]
    assert len(execs) == 1
    assert execs[0].args[:5] == ("vivado", "-mode", "batch", "-source", "build_vivado_hls_prj.tcl")
    assert vendor.vivado_command(project.rtl) == [*execs[0].args[:4], "build_vivado_prj.tcl"]
    with pytest.raises(ToolError, match=r"build_vivado_prj\.tcl does not exist"):
        vendor.vivado_command(tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# Dry runs of the real scripts


def test_dry_run_of_hls4mls_script_asks_for_the_cards_part_top_synthesis_and_cosim(project: Project) -> None:
    calls = vendor.check_hls_project(project.hls, part=FW.part, top=TOP, clock_period_ns=FW.clock_period_ns)
    commands = [c.command for c in calls]
    order = [commands.index(c) for c in ("open_project", "set_top", "set_part", "csynth_design", "cosim_design")]
    assert order == sorted(order)
    assert "csim_design" not in commands and "export_design" not in commands  # as SYNTH_AND_COSIM asks
    first = {c.command: c for c in reversed(calls)}
    assert first["open_project"].args == ("-reset", f"{TOP}_prj")
    assert first["set_top"].args == (TOP,) and first["set_part"].args == (FW.part,)
    assert first["create_clock"].option("-period") == str(FW.clock_period_ns)
    assert first["set_top"].script == (project.hls / "build_prj.tcl").resolve() and first["set_top"].line
    added = [f for c in calls if c.command == "add_files" for f in c.files]
    assert (project.hls / "firmware" / f"{TOP}.cpp").resolve() in added
    assert all(f.exists() for f in added)
    assert (calls[-1].command, calls[-1].args) == ("exit", ("0",))
    assert not (project.hls / f"{TOP}_prj").exists()  # the dry run wrote only in its scratch copy


def test_dry_run_follows_the_build_options(project: Project) -> None:
    options = HlsBuildOptions(reset=False, csim=True, synth=False, cosim=False)
    calls = vendor.check_script(
        project.hls / "build_prj.tcl", VendorTool.VITIS_HLS, overrides={"build_opt.tcl": options.tcl()}
    )
    commands = [c.command for c in calls]
    assert "csim_design" in commands
    assert "csynth_design" not in commands and "cosim_design" not in commands
    assert next(c for c in calls if c.command == "open_project").args == (f"{TOP}_prj",)


def test_dry_run_of_da4mls_script_implements_the_shipped_top_out_of_context(project: Project) -> None:
    calls = vendor.check_vivado_project(project.rtl, part=FW.part, top=f"{TOP}_top", clock_period_ns=5.0)
    by = {c.command: c for c in reversed(calls)}
    assert by["create_project"].option("-part") == FW.part
    # the top level with the valid strobe and the reset, as packaged, not da4ml's bare pipeline
    assert by["synth_design"].option("-top") == f"{TOP}_top" and by["synth_design"].option("-mode") == "out_of_context"
    src = (project.rtl / "src").resolve()
    read = {f for c in calls if c.command == "read_verilog" for f in c.files}
    assert read == set(src.glob("*.v")) | set((src / "static").glob("*.v"))
    assert by["read_xdc"].files == (src / f"{TOP}.xdc",) and by["read_xdc"].option("-mode") == "out_of_context"
    written = {c.option("-file") for c in calls if c.command.startswith("report_")}
    assert {str(p) for p in vendor.vivado_report_paths(project.rtl.resolve())} <= written
    commands = [c.command for c in calls]
    assert commands.index("synth_design") < commands.index("place_design") < commands.index("route_design")
    assert not (project.rtl / f"output_{TOP}").exists()
    for script in (hdl / name for hdl in (project.rtl, project.vhdl) for name in BUILD_SCRIPTS):  # Quartus too
        assert 'set top_module "${project_name}_top"' in script.read_text(), script


def test_project_checks_list_what_is_wrong(project: Project, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"set_part gets \('xcvu13p-flga2577-2-e',\), not \('xcku5p-ffvb676-2-e',\)"):
        vendor.check_hls_project(project.hls, part="xcku5p-ffvb676-2-e", top=TOP, clock_period_ns=5.0)
    with pytest.raises(ToolError, match=r"create_clock -period is 5\.0, not the card's 4\.0 ns"):
        vendor.check_hls_project(project.hls, part=FW.part, top=TOP, clock_period_ns=4.0)
    hls_copy = Path(shutil.copytree(project.hls, tmp_path / "hls"))
    (hls_copy / "firmware" / f"{TOP}.cpp").unlink()
    with pytest.raises(ToolError, match=rf"build_prj\.tcl:\d+: add_files reads .*firmware/{TOP}\.cpp, which does not"):
        vendor.check_hls_project(hls_copy, part=FW.part, top=TOP, clock_period_ns=5.0)

    top = f"{TOP}_top"
    with pytest.raises(ToolError, match=r"tiny\.xdc creates clocks of \[5\.0\] ns, not one of the card's 4\.0 ns"):
        vendor.check_vivado_project(project.rtl, part=FW.part, top=top, clock_period_ns=4.0)
    with pytest.raises(ToolError, match=r"synth_design is .*, not `-top wrong -mode out_of_context`"):
        vendor.check_vivado_project(project.rtl, part=FW.part, top="wrong", clock_period_ns=5.0)
    rtl_copy = Path(shutil.copytree(project.rtl, tmp_path / "rtl"))
    xdc = rtl_copy / "src" / f"{TOP}.xdc"
    xdc.write_text(xdc.read_text().split("# tiny_top's control ports")[0])  # as da4ml wrote it
    with pytest.raises(ToolError, match=r"constrains no clock or I/O delay on the ports \['rst', 'inp_valid', 'out"):
        vendor.check_vivado_project(rtl_copy, part=FW.part, top=top, clock_period_ns=5.0)
    xdc.unlink()
    with pytest.raises(ToolError, match=r"no read_xdc: the design would be untimed"):
        vendor.check_vivado_project(rtl_copy, part=FW.part, top=top, clock_period_ns=5.0)


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("open_project p\nif {1} {\n    set_top t\n", r"broken\.tcl:2: .*missing close-brace"),
        (
            "open_project p\nset_top t\nsynth_design -top t\n",
            r'broken\.tcl:3: .*invalid command name "synth_design": neither a Tcl command nor one of the \d+ vitis_hls',
        ),
        ("proc step {} {\n    set x [expr {1 +}]\n}\nstep\n", r"broken\.tcl:4: .*missing operand"),
        (
            "open_project p\nputs {ERROR: no sources}\nexit 3\n",
            r"broken\.tcl:3: .*exits with code 3.*\nERROR: no sources",
        ),
    ],
    ids=["syntax", "unknown-command", "error-in-proc", "exit-code"],
)
def test_a_tcl_error_names_the_script_and_line(tmp_path: Path, script: str, message: str) -> None:
    path = tmp_path / "broken.tcl"
    path.write_text(script)
    with pytest.raises(ToolError, match=message):
        vendor.check_script(path, VendorTool.VITIS_HLS)


def test_a_dry_run_starts_no_process_and_passes_argv(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "run.tcl"
    path.write_text(f"exec touch {{{marker}}}\nread_xdc [lindex $argv 0]\n")
    calls = vendor.check_script(path, VendorTool.VIVADO, argv=["clocks.xdc"])
    assert [(c.command, c.args) for c in calls] == [("exec", ("touch", str(marker))), ("read_xdc", ("clocks.xdc",))]
    assert calls[1].files == (tmp_path.resolve() / "clocks.xdc",) and calls[1].line == 2
    assert not marker.exists()
    path.write_text("set f [open {|touch marker} r]\n")
    with pytest.raises(ToolError, match=r"run\.tcl:1: .*a dry run starts no process"):
        vendor.check_script(path, VendorTool.VIVADO)
    with pytest.raises(ToolError, match=r"nope\.tcl does not exist"):
        vendor.check_script(tmp_path / "nope.tcl", VendorTool.VIVADO)


def test_vendor_figures_reach_the_report_beside_yosys(tmp_path: Path) -> None:
    from trigger_nn.artifacts import LogicDepth, SynthResult
    from trigger_nn.report import _vendor, _vendor_lines

    depth = LogicDepth(luts=8, carries=18, cells=26, estimated_ns=5.05, usable_period_ns=4.5)
    synth = SynthResult(
        luts=1, ffs=1, carries=1, dsps=0, brams=0, cells={}, tool="Yosys", part="p", family="xcup", seconds=1.0,
        log_path=tmp_path / "yosys.log", depth=depth, source_hash="h",
        vendor_scripts_checked=("hls/build_prj.tcl", "rtl/build_vivado_prj.tcl"),
        vitis_hls=vendor.read_hls_report(DATA / "hls"), vivado=vendor.read_vivado_report(DATA / "rtl"),
    )  # fmt: skip
    assert SynthResult.load(synth.save(tmp_path / "synth.json")) == synth  # the vendor reports survive JSON
    found = _vendor(synth)
    assert found["vivado"]["fmax_mhz"] == pytest.approx(1000 / 4.588) and "note" not in found
    lines = "\n".join(_vendor_lines(found))
    assert "latency 4-4 cycles, II 1" in lines and "C/RTL cosim latency 4 cycles, II 1" in lines
    assert "1520 LUTs, 388 FFs, 97 CARRY8" in lines and "WNS +0.412 ns at 5 ns (Fmax 218 MHz)" in lines
    without = _vendor(dataclasses.replace(synth, vitis_hls=None, vivado=None))
    assert without["scripts_checked"] == ["hls/build_prj.tcl", "rtl/build_vivado_prj.tcl"]
    assert "not run here" in "\n".join(_vendor_lines(without))


# ---------------------------------------------------------------------------------------------------------------
# The IP-XACT packaging script, Verilog and VHDL


def test_the_ip_packaging_scripts_package_the_top_level_with_its_formats(project: Project) -> None:
    from trigger_nn.firmware.vendor import ip

    compiled = json.loads((project.rtl / "metadata.json").read_text())
    for hdl, reader in ((project.rtl, "read_verilog"), (project.vhdl, "read_vhdl")):
        inp, out = _bus_formats(hdl)
        calls = ip.check_ip_script(hdl, TOP, part=FW.part, inp=inp, out=out)
        commands = [c.command for c in calls]
        src = (hdl / "src").resolve()
        read = {f for c in calls if c.command == reader for f in c.files}
        assert read == {p for p in src.rglob("*") if p.suffix in (".v", ".vhd")} and f"{TOP}_top" in str(read)
        assert commands.index("ipx::package_project") < commands.index("ipx::check_integrity")
        assert commands[-2:] == ["ipx::save_core", "close_project"]
        values = {
            c.args[2]: c.args[1]
            for c in calls
            if c.command == "set_property" and c.args[0] == "value" and len(c.args) == 3
        }
        assert values["LATENCY_CYCLES"] == str(compiled["latency"])
        assert values["INP_WORD_BITS"] == str(inp.width) and values["OUT_FRAC_BITS"] == str(out.frac_bits)
        assert values["FREQ_HZ"] == "200000000" and values["POLARITY"] == "ACTIVE_HIGH"


def _bus_formats(hdl: Path) -> tuple[Any, Any]:
    from da4ml.types import Pipeline

    from trigger_nn.firmware.rtl import bus_format

    pipe = Pipeline.load(hdl / "model" / "pipeline.json")
    return bus_format(pipe.inp_qint), bus_format(pipe.out_qint)


def test_an_ip_script_without_a_bus_format_is_refused(project: Project, tmp_path: Path) -> None:
    from trigger_nn.firmware.vendor import ip

    rtl_copy = Path(shutil.copytree(project.rtl, tmp_path / "rtl"))
    inp, out = _bus_formats(project.rtl)
    _edit(
        rtl_copy / "package_ip.tcl",
        lambda t: re.sub(r"set_property description [^\n]*model_out -of_objects[^\n]*\n", "", t),
    )
    with pytest.raises(
        ToolError, match=rf"the description of model_out does not give its format {re.escape(out.fixed_point())}"
    ):
        ip.check_ip_script(rtl_copy, TOP, part=FW.part, inp=inp, out=out)
    with pytest.raises(ToolError, match=r"create_project is .*, not for the card's part xcku5p"):
        ip.check_ip_script(project.rtl, TOP, part="xcku5p-ffvb676-2-e", inp=inp, out=out)
