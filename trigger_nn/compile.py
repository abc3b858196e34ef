"""Stage `compile`: ``train/model.keras`` -> ``hls/`` (Vitis HLS project) + ``rtl/`` and ``vhdl/`` (da4ml Verilog
and VHDL, each with ``<name>_top``: the valid strobe and reset of ``firmware/top.py``).

Writes ``compile.json`` last, with the bus formats, the pipeline depth, the size estimate and a hash
of the generated sources. A design over the card's LUT limit (``firmware/resources.py``) or latency
budget is refused before anything is written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import provenance
from .artifacts import CompileResult, DatasetInfo, ResourceEstimate, StagePlan, TrainResult, atomic_path
from .card import Card, FirmwareConfig
from .dataset import read_dataset
from .firmware import hls, resources, rtl, timing, top
from .hashing import SOURCE_SUFFIXES, files_hash

log = logging.getLogger(__name__)

#: test-set inputs written to the HLS test bench (tb_data/) for a vendor C/RTL co-simulation
TB_VECTORS = 1000


def source_hash(hls_dir: Path, rtl_dir: Path, vhdl_dir: Path) -> str:
    """sha256 of the generated HLS, Verilog and VHDL sources (not build products)."""
    files = [
        p
        for d in (hls.source_dir(hls_dir), rtl_dir / "src", vhdl_dir / "src")
        for p in d.rglob("*")
        if p.is_file() and p.suffix in SOURCE_SUFFIXES
    ]
    return files_hash(files, hls_dir.parent)


@dataclass(frozen=True)
class Firmware:
    """What compiling one model gives besides the files: da4ml's logic and metadata, the timed pipeline, its size."""

    comb: Any
    meta: dict[str, Any]
    stages: StagePlan
    resources: ResourceEstimate
    hls_writer: str


def build_firmware(
    model: Any,
    hls_dir: Path,
    rtl_dir: Path,
    fw: FirmwareConfig,
    *,
    name: str,
    vhdl_dir: Path | None = None,
    hls_final: Path | None = None,
    tb_inputs: np.ndarray | None = None,
) -> Firmware:
    """Both implementations of one model: the hls4ml project and the da4ml Verilog (and VHDL in ``vhdl_dir``),
    cut for the card's clock.

    Nothing is written until the design has passed its gates: its size estimated from the model (seconds;
    a design clearly over its LUT limit stops here), then da4ml's trace, the cut and the latency budget, and
    the size again on the traced cost. hls4ml's project (with its C simulation build) and the Verilog come last.
    ``hls_final`` is where ``hls_dir`` will be moved, for the paths written into the project;
    ``tb_inputs`` are the HLS test bench's vectors.
    """
    pre_trace_cost = resources.check_before_tracing(model, fw)
    log.info("da4ml: tracing the model and cutting its pipeline for a %g ns clock", fw.clock_period_ns)
    comb = rtl.trace(model)
    pipeline = timing.cut(comb, fw)
    stages = timing.plan(pipeline, fw)
    rtl.check_buses(pipeline)
    valid_bits = len(pipeline.solutions) + 1  # the top level's valid strobe, one bit per register stage
    size = resources.estimate(pipeline.cost, pipeline.reg_bits + valid_bits, fw, pre_trace_cost=pre_trace_cost)
    resources.check(size, fw)
    writer = hls.write_project(model, hls_dir, fw, project_name=name, comb=comb, tb_inputs=tb_inputs)
    if hls_final is not None:
        hls.relocate(hls_dir, hls_final)
    log.info("da4ml: writing the pipelined Verilog%s", " and VHDL" if vhdl_dir is not None else "")
    meta = rtl.write_hdl(pipeline, rtl_dir, fw, top=name)
    if vhdl_dir is not None:
        rtl.write_hdl(pipeline, vhdl_dir, fw, top=name, flavor="vhdl")
    comb.save(rtl_dir / "model" / "logic.json")
    return Firmware(comb, meta, stages, size, writer)


def run(card: Card, project: Path) -> CompileResult:
    provenance.check_inputs(card, project, "compile")
    trained = TrainResult.load(project / "train" / "training.json")
    model = trained.load_model()
    fw = card.firmware
    (project / "compile.json").unlink(missing_ok=True)
    info = DatasetInfo.load(project / "data" / "dataset.json")
    tb_inputs = read_dataset(info.path).test.x[:TB_VECTORS]

    hls_dir, rtl_dir, vhdl_dir = project / "hls", project / "rtl", project / "vhdl"
    # The trees move into place only if all were written: never a new hls/ beside an old rtl/.
    with atomic_path(hls_dir) as hls_tmp, atomic_path(rtl_dir) as rtl_tmp, atomic_path(vhdl_dir) as vhdl_tmp:
        built = build_firmware(
            model, hls_tmp, rtl_tmp, fw, name=card.name, vhdl_dir=vhdl_tmp, hls_final=hls_dir, tb_inputs=tb_inputs
        )
    comb, meta, stages = built.comb, built.meta, built.stages

    result = CompileResult(
        hls_dir=hls_dir,
        hls_writer=built.hls_writer,
        rtl_dir=rtl_dir,
        vhdl_dir=vhdl_dir,
        top=top.top_name(card.name),
        input_format=rtl.bus_format(comb.inp_qint),
        output_format=rtl.bus_format(comb.out_qint),
        pipeline_stages=int(meta["latency"]),
        clock_period_ns=fw.clock_period_ns,
        da4ml_cost=float(meta["cost"]),
        da4ml_reg_bits=int(meta["reg_bits"]),
        source_hash=source_hash(hls_dir, rtl_dir, vhdl_dir),
        widest_value_bits=rtl.widest_value_bits(comb),
        exact_logic=rtl_dir / "model" / "logic.json",
        stages=stages,
        resources=built.resources,
        made_from=provenance.record(card, project, "compile"),
    )
    log.info(
        "compiled: %d pipeline stages at %g ns (slowest stage ~%.2f ns, margin %.2f ns; %d cycles under budget), "
        "da4ml cost %.0f (~%d LUTs of %d, %s), input bus %s, output bus %s",
        result.pipeline_stages,
        fw.clock_period_ns,
        stages.slowest_stage_ns,
        stages.timing_margin_ns,
        stages.margin_cycles,
        result.da4ml_cost,
        built.resources.luts,
        built.resources.limit_luts,
        built.resources.limit_from,
        result.input_format.describe(),
        result.output_format.describe(),
    )
    result.save(project / "compile.json")
    return result
