"""Stage `compile`: ``train/model.keras`` -> ``hls/`` (hls4ml Vitis project) + ``rtl/`` (da4ml Verilog).

Writes ``compile.json`` last, with the bus formats, the pipeline depth and a hash
of the generated sources.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .artifacts import CompileResult, TrainResult, atomic_path
from .card import Card
from .firmware import hls, rtl
from .hashing import files_hash
from .train import load_model

log = logging.getLogger(__name__)

SOURCE_SUFFIXES = (".cpp", ".h", ".hh", ".tcl", ".v", ".xdc", ".sdc", ".json", ".yml")


def source_hash(hls_dir: Path, rtl_dir: Path) -> str:
    """sha256 of the generated HLS and Verilog sources (not build products)."""
    files = [
        p
        for d in (hls_dir / "firmware", rtl_dir / "src")
        for p in d.rglob("*")
        if p.is_file() and p.suffix in SOURCE_SUFFIXES
    ]
    return files_hash(files, hls_dir.parent)


def run(card: Card, project: Path) -> CompileResult:
    trained = TrainResult.load(project / "train" / "training.json")
    model = load_model(trained.model_path)
    fw = card.firmware
    (project / "compile.json").unlink(missing_ok=True)

    hls_dir, rtl_dir = project / "hls", project / "rtl"
    # Both trees move into place only if both were written: never a new hls/ beside an old rtl/.
    with atomic_path(hls_dir) as hls_tmp, atomic_path(rtl_dir) as rtl_tmp:
        hls.write_project(model, hls_tmp, fw, project_name=card.name)
        hls.relocate(hls_tmp, hls_dir)
        log.info("da4ml: tracing the model and writing pipelined Verilog (cutoff %g)", fw.pipeline_cutoff)
        comb = rtl.trace(model)
        meta = rtl.write_verilog(comb, rtl_tmp, fw, top=card.name)
        comb.save(rtl_tmp / "model" / "logic.json")

    result = CompileResult(
        hls_dir=hls_dir,
        rtl_dir=rtl_dir,
        top=f"{card.name}_wrapper",
        input_format=rtl.bus_format(comb.inp_qint),
        output_format=rtl.bus_format(comb.out_qint),
        pipeline_stages=int(meta["latency"]),
        clock_period_ns=fw.clock_period_ns,
        da4ml_cost=float(meta["cost"]),
        da4ml_reg_bits=int(meta["reg_bits"]),
        source_hash=source_hash(hls_dir, rtl_dir),
        widest_value_bits=rtl.widest_value_bits(comb),
        exact_logic=rtl_dir / "model" / "logic.json",
    )
    log.info(
        "compiled: %d pipeline stages at %g ns, da4ml cost %.0f, input bus %s, output bus %s",
        result.pipeline_stages,
        fw.clock_period_ns,
        result.da4ml_cost,
        result.input_format.describe(),
        result.output_format.describe(),
    )
    result.save(project / "compile.json")
    return result
