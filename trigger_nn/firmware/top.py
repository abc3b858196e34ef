"""The firmware's top level: da4ml's pipeline with a valid strobe and a reset, in Verilog and in VHDL.

da4ml's ``<name>_wrapper`` is a free-running pipeline: it takes a new input at every rising edge and
nothing tells a data word from the bits on the bus in an idle cycle. ``<name>_top`` carries a valid
bit beside the data through every register of the pipeline, so that a downstream block (or the
trigger logic) knows which output words are results.

Ports (the same in both languages)::

    clk        in   the card's clock; everything is registered on its rising edge
    rst        in   synchronous, active high
    inp_valid  in   model_inp holds a vector to process at this rising edge
    model_inp  in   the input bus (see the interface sheet for its words' formats)
    out_valid  out  model_out holds the result of the vector taken LATENCY edges earlier
    model_out  out  the output bus

Semantics, checked in co-simulation and by the HDL testbenches:

- A vector taken at rising edge ``k`` (``inp_valid`` high, ``rst`` low) comes out after edge
  ``k + LATENCY`` with ``out_valid`` high, for one cycle. A new vector can be taken at every edge.
- ``model_out`` is not defined while ``out_valid`` is low: the data registers run free and carry
  whatever the bus held, which keeps reset and enable logic off the wide data path.
- ``rst`` high at an edge clears the valid bits: ``out_valid`` is low after that edge and stays low
  until LATENCY edges after the first vector taken with ``rst`` low. Vectors presented while ``rst``
  is high, and vectors still in the pipeline when it rises, never come out valid.
- The valid registers start at zero at configuration (their initial value) as well, so a design that
  is never reset still starts with ``out_valid`` low.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..artifacts import BusFormat
from ..errors import ConversionError

#: ports of the top level, as the testbenches and the interface sheet name them
CLOCK, RESET, INP_VALID, INP, OUT_VALID, OUT = "clk", "rst", "inp_valid", "model_inp", "out_valid", "model_out"
TOP_PORTS = (CLOCK, RESET, INP_VALID, INP, OUT_VALID, OUT)


def top_name(name: str) -> str:
    return f"{name}_top"


@dataclass(frozen=True)
class Port:
    """One port of ``<name>_top``, as the interface sheet gives it."""

    name: str
    direction: str
    width: int
    meaning: str


def _bus(fmt: BusFormat) -> str:
    where = f"word j at bits [{fmt.width}j+{fmt.width - 1}:{fmt.width}j]" if fmt.n_elements > 1 else "one word"
    sign = "; two's complement" if fmt.signed else ""
    return f"{fmt.n_elements} x {fmt.fixed_point()} ({where}{sign})"


def ports(inp: BusFormat, out: BusFormat, *, latency: int, clock_period_ns: float) -> tuple[Port, ...]:
    """Every port of the top level with its width and what it carries (the same in Verilog and VHDL)."""
    return (
        Port(CLOCK, "in", 1, f"rising edge; {clock_period_ns:g} ns (the .xdc/.sdc beside the sources)"),
        Port(RESET, "in", 1, "synchronous, active high; clears the valid bits only"),
        Port(INP_VALID, "in", 1, f"{INP} holds a vector to take at this rising edge"),
        Port(INP, "in", inp.bus_width, _bus(inp)),
        Port(OUT_VALID, "out", 1, f"{OUT} holds the result of the vector taken {latency} rising edges earlier"),
        Port(OUT, "out", out.bus_width, _bus(out) + f"; not defined while {OUT_VALID} is low"),
    )


#: the valid and reset semantics in one sentence each, for the interface sheet
VALID_RULE = (
    "one vector per rising edge at most; a vector taken with inp_valid high (rst low) comes out LATENCY edges "
    "later with out_valid high for one cycle, in order; model_out is not defined while out_valid is low"
)
RESET_RULE = (
    "rst high at a rising edge clears the valid bits: out_valid is low from that edge until LATENCY edges after the "
    "first vector taken with rst low; vectors presented during reset, and those in the pipeline when it rises, never "
    "come out valid; the data registers are not reset; the valid bits also start at zero at configuration"
)


def _check(latency: int) -> None:
    if latency < 1:
        raise ValueError(
            f"a pipeline of {latency} stages has no register to carry the valid bit; da4ml cuts at least one"
        )


def verilog(name: str, *, inp_bits: int, out_bits: int, latency: int) -> str:
    """``<name>_top`` in Verilog 2001, around ``<name>_wrapper``."""
    _check(latency)
    return f"""`timescale 1 ns / 1 ps
// {top_name(name)}: {name}_wrapper (da4ml) with a valid strobe and a synchronous reset. Written by trigger_nn.
// A vector taken with inp_valid high comes out {latency} rising edges later with out_valid high;
// model_out is not defined while out_valid is low. rst (active high, synchronous) clears the valid bits.
module {top_name(name)} (
    input clk,
    input rst,
    input inp_valid,
    input [{inp_bits - 1}:0] model_inp,
    output out_valid,
    output [{out_bits - 1}:0] model_out
);
    localparam LATENCY = {latency};

    // one valid bit per register of the data path: the input register and one per stage
    reg [LATENCY:0] valid_pipe = {{(LATENCY + 1){{1'b0}}}};

    {name}_wrapper net (
        .clk(clk),
        .model_inp(model_inp),
        .model_out(model_out)
    );

    always @(posedge clk) begin
        if (rst)
            valid_pipe <= {{(LATENCY + 1){{1'b0}}}};
        else
            valid_pipe <= {{valid_pipe[LATENCY - 1:0], inp_valid}};
    end

    assign out_valid = valid_pipe[LATENCY];
endmodule
"""


def vhdl(name: str, *, inp_bits: int, out_bits: int, latency: int) -> str:
    """``<name>_top`` in VHDL-2008, around ``<name>_wrapper``."""
    _check(latency)
    return f"""-- {top_name(name)}: {name}_wrapper (da4ml) with a valid strobe and a synchronous reset.
-- Written by trigger_nn.
-- A vector taken with inp_valid high comes out {latency} rising edges later with out_valid high;
-- model_out is not defined while out_valid is low. rst (active high, synchronous) clears the valid bits.
library ieee;
use ieee.std_logic_1164.all;

entity {top_name(name)} is
    port (
        clk       : in  std_logic;
        rst       : in  std_logic;
        inp_valid : in  std_logic;
        model_inp : in  std_logic_vector({inp_bits - 1} downto 0);
        out_valid : out std_logic;
        model_out : out std_logic_vector({out_bits - 1} downto 0)
    );
end entity {top_name(name)};

architecture rtl of {top_name(name)} is
    constant LATENCY : natural := {latency};
    -- one valid bit per register of the data path: the input register and one per stage
    signal valid_pipe : std_logic_vector(LATENCY downto 0) := (others => '0');
begin
    net : entity work.{name}_wrapper
        port map (clk => clk, model_inp => model_inp, model_out => model_out);

    process (clk)
    begin
        if rising_edge(clk) then
            if rst = '1' then
                valid_pipe <= (others => '0');
            else
                valid_pipe <= valid_pipe(LATENCY - 1 downto 0) & inp_valid;
            end if;
        end if;
    end process;

    out_valid <= valid_pipe(LATENCY);
end architecture rtl;
"""


#: the control ports' I/O delays, appended to da4ml's .xdc and .sdc (which constrain clk and the two buses with
#: the same variables), so that a vendor build of ``<name>_top`` times every port
CONTROL_CONSTRAINTS = f"""
# {{top}}'s control ports (trigger_nn.firmware.top), with the delays of the buses
set_input_delay -clock sys_clk -max $delay_max [get_ports {{{{{INP_VALID} {RESET}}}}}]
set_input_delay -clock sys_clk -min $delay_min [get_ports {{{{{INP_VALID} {RESET}}}}}]
set_output_delay -clock sys_clk -max $delay_max [get_ports {{{{{OUT_VALID}}}}}]
set_output_delay -clock sys_clk -min $delay_min [get_ports {{{{{OUT_VALID}}}}}]
"""


#: how da4ml's build_vivado_prj.tcl and build_quartus_prj.tcl name the module they build
DA4ML_BUILD_TOP = 'set top_module "${project_name}"'
BUILD_SCRIPTS = ("build_vivado_prj.tcl", "build_quartus_prj.tcl")


def build_the_top(hdl_dir: Path) -> None:
    """Make da4ml's vendor build scripts implement ``<name>_top``, what is shipped, rather than its pipeline."""
    for script in (Path(hdl_dir) / s for s in BUILD_SCRIPTS):
        text = script.read_text()
        if text.count(DA4ML_BUILD_TOP) != 1:
            raise ConversionError(f"{script} does not set its top as `{DA4ML_BUILD_TOP}`: da4ml's script changed")
        script.write_text(text.replace(DA4ML_BUILD_TOP, DA4ML_BUILD_TOP.removesuffix('"') + '_top"'))


def write(src_dir: Path, name: str, *, flavor: str, inp_bits: int, out_bits: int, latency: int) -> Path:
    """Write ``<name>_top.v`` or ``.vhd`` into da4ml's ``src/`` and constrain its control ports; its path."""
    make, suffix = (verilog, ".v") if flavor == "verilog" else (vhdl, ".vhd")
    path = Path(src_dir) / f"{top_name(name)}{suffix}"
    path.write_text(make(name, inp_bits=inp_bits, out_bits=out_bits, latency=latency))
    for constraints in (Path(src_dir) / f"{name}{ext}" for ext in (".xdc", ".sdc")):
        text = constraints.read_text()
        if "sys_clk" not in text or "$delay_max" not in text:
            raise ConversionError(f"{constraints} has no sys_clk clock or $delay_max: da4ml's constraints changed")
        constraints.write_text(text.rstrip("\n") + "\n" + CONTROL_CONSTRAINTS.format(top=top_name(name)))
    return path
