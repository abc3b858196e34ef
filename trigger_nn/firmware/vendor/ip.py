"""A Vivado IP-XACT package of ``<name>_top``: the script, written beside the HDL, and its dry-run check.

``package_ip.tcl`` (in ``rtl/`` for the Verilog, ``vhdl/`` for the VHDL) makes a Vivado IP
(``ip/component.xml``, IP-XACT) of the top level: the sources, the clock and reset interfaces, each
bus's fixed-point format in its port's description and as read-only user parameters, the latency and
the clock. Vivado is not here, so :func:`check_ip_script` dry-runs it in Tcl (:mod:`.tcl`) and checks
what it asks of Vivado; a machine with Vivado runs ``vivado -mode batch -source package_ip.tcl``.
"""

from __future__ import annotations

from pathlib import Path

from ...artifacts import BusFormat
from ...errors import ToolError
from .. import top as top_level
from .run import VendorTool
from .tcl import TclCall, check_script

SCRIPT = "package_ip.tcl"
VENDOR = "trigger-nn"
LIBRARY = "trigger"


def parameters(inp: BusFormat, out: BusFormat, *, latency: int, clock_period_ns: float) -> dict[str, int | str]:
    """The IP's read-only user parameters: what a block design sees of the buses and the timing."""
    return {
        "LATENCY_CYCLES": latency,
        "CLOCK_PERIOD_NS": f"{clock_period_ns:g}",
        "INP_WORDS": inp.n_elements,
        "INP_WORD_BITS": inp.width,
        "INP_FRAC_BITS": inp.frac_bits,
        "INP_SIGNED": int(inp.signed),
        "OUT_WORDS": out.n_elements,
        "OUT_WORD_BITS": out.width,
        "OUT_FRAC_BITS": out.frac_bits,
        "OUT_SIGNED": int(out.signed),
    }


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("[", "\\[").replace("$", "\\$") + '"'


def script(
    name: str,
    *,
    flavor: str,
    part: str,
    inp: BusFormat,
    out: BusFormat,
    latency: int,
    clock_period_ns: float,
) -> str:
    top = top_level.top_name(name)
    suffix, reader = ("v", "read_verilog") if flavor == "verilog" else ("vhd", "read_vhdl -vhdl2008")
    ports = top_level.ports(inp, out, latency=latency, clock_period_ns=clock_period_ns)
    descriptions = "\n".join(
        f"set_property description {_quoted(p.meaning)} [ipx::get_ports {p.name} -of_objects $core]" for p in ports
    )
    params = "\n".join(
        f"ipx::add_user_parameter {key} $core\n"
        f"set_property value {value} [ipx::get_user_parameters {key} -of_objects $core]\n"
        f"set_property enablement_value false [ipx::get_user_parameters {key} -of_objects $core]"
        for key, value in parameters(inp, out, latency=latency, clock_period_ns=clock_period_ns).items()
    )
    return f"""# Package {top} as a Vivado IP (IP-XACT, ip/component.xml). Written by trigger_nn.
# Run from this folder: vivado -mode batch -source {SCRIPT}
# The ports, their fixed-point formats and the valid and reset rules are in the build's report (Interface).
set part {part}
set here [file normalize [file dirname [info script]]]
create_project -force {name}_ip [file join $here ip_project] -part $part
set sources [concat [lsort [glob -nocomplain [file join $here src *.{suffix}]]] \\
    [lsort [glob -nocomplain [file join $here src static *.{suffix}]]]]
{reader} $sources
set_property top {top} [current_fileset]
ipx::package_project -root_dir [file join $here ip] -vendor {VENDOR} -library {LIBRARY} -taxonomy /UserIP \\
    -import_files -set_current true
set core [ipx::current_core]
set_property name {name} $core
set_property version 1.0 $core
set_property display_name {_quoted(f"{name} trigger network (trigger_nn)")} $core
set_property description {_quoted(top_level.VALID_RULE.replace("LATENCY", str(latency)))} $core
ipx::infer_bus_interface clk xilinx.com:signal:clock_rtl:1.0 $core
ipx::infer_bus_interface rst xilinx.com:signal:reset_rtl:1.0 $core
set reset_if [ipx::get_bus_interfaces rst -of_objects $core]
ipx::add_bus_parameter POLARITY $reset_if
set_property value ACTIVE_HIGH [ipx::get_bus_parameters POLARITY -of_objects $reset_if]
set clock_if [ipx::get_bus_interfaces clk -of_objects $core]
ipx::add_bus_parameter FREQ_HZ $clock_if
set_property value {round(1e9 / clock_period_ns)} [ipx::get_bus_parameters FREQ_HZ -of_objects $clock_if]
ipx::associate_bus_interfaces -busif rst -clock clk $core
{descriptions}
{params}
ipx::create_xgui_files $core
ipx::update_checksums $core
ipx::check_integrity $core
ipx::save_core $core
close_project
"""


def write(
    hdl_dir: Path,
    name: str,
    *,
    flavor: str,
    part: str,
    inp: BusFormat,
    out: BusFormat,
    latency: int,
    clock_period_ns: float,
) -> Path:
    path = Path(hdl_dir) / SCRIPT
    path.write_text(
        script(name, flavor=flavor, part=part, inp=inp, out=out, latency=latency, clock_period_ns=clock_period_ns)
    )
    return path


def check_ip_script(hdl_dir: Path, name: str, *, part: str, inp: BusFormat, out: BusFormat) -> list[TclCall]:
    """Dry-run ``package_ip.tcl`` and check it: the part, every source of ``src/`` read and the top set, the
    package made and saved, clock and reset interfaces, each bus's format in its port's description, and
    every user parameter. ToolError lists every problem."""
    hdl_dir = Path(hdl_dir).resolve()
    path = hdl_dir / SCRIPT
    calls = check_script(path, VendorTool.VIVADO)
    problems = [
        f"{c.where}: {c.command} reads {f}, which does not exist" for c in calls for f in c.files if not f.exists()
    ]
    commands = [c.command for c in calls]
    created = next((c for c in calls if c.command == "create_project"), None)
    if created is None or created.option("-part") != part:
        problems.append(f"create_project is {created.args if created else None}, not for the card's part {part}")
    hdl = [p for p in (hdl_dir / "src").rglob("*") if p.suffix in (".v", ".vhd")]
    read = {f.resolve() for c in calls if c.command in ("read_verilog", "read_vhdl") for f in c.files}
    problems += [f"the sources never read {p}" for p in sorted(hdl) if p.resolve() not in read]
    top = top_level.top_name(name)
    if not any(c.command == "set_property" and c.args[:2] == ("top", top) for c in calls):
        problems.append(f"the top is never set to {top}")
    for needed in ("ipx::package_project", "ipx::check_integrity", "ipx::save_core"):
        if needed not in commands:
            problems.append(f"{needed} is never called")
    inferred = {c.args[0] for c in calls if c.command == "ipx::infer_bus_interface"}
    if inferred != {top_level.CLOCK, top_level.RESET}:
        problems.append(f"bus interfaces inferred for {sorted(inferred)}, not for clk and rst")
    described = {c.args[2]: c.args[1] for c in calls if c.command == "set_property" and c.args[0] == "description"}
    for port, fmt in ((top_level.INP, inp), (top_level.OUT, out)):
        if fmt.fixed_point() not in described.get(port, ""):
            problems.append(f"the description of {port} does not give its format {fmt.fixed_point()}")
    added = {c.args[0] for c in calls if c.command == "ipx::add_user_parameter"}
    missing = set(parameters(inp, out, latency=0, clock_period_ns=1.0)) - added
    if missing:
        problems.append(f"user parameters {sorted(missing)} are never added")
    if problems:
        raise ToolError(f"the dry run of {path} found:\n  - " + "\n  - ".join(problems))
    return calls
