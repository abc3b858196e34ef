"""The size gate: the design's LUTs estimated and checked against the card's limit before the long steps, and the
Verilator build's memory against this machine's. Real tools throughout: HGQ2 models, da4ml's tracer, the CLI."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest

from trigger_nn.artifacts import CompileResult, TrainResult
from trigger_nn.card import FirmwareConfig, MlpConfig, load_card
from trigger_nn.cli import main
from trigger_nn.errors import BudgetError, ConversionError, ToolError
from trigger_nn.firmware import resources, rtl, timing
from trigger_nn.firmware.cosim import run_cosim
from trigger_nn.nets import build_model

CARD = """\
name: tiny_size
task: cdms_lfn
seed: 11
data:
  n_train: 1200
  window: 12
  trace_length: 96
  of_length: 64
  baseline_samples: 4
  stream_seconds: 10
network:
  hidden_units: [5]
training:
  epochs: 1
  batch_size: 256
firmware:
  clock_period_ns: 5.0
"""


def _traced_size(model, fw: FirmwareConfig) -> resources.ResourceEstimate:
    pipeline = timing.cut(rtl.trace(model), fw)
    return resources.estimate(pipeline.cost, pipeline.reg_bits, fw)


def _dense_model(seed: int = 3):
    import keras
    from hgq.utils import trace_minmax

    keras.utils.set_random_seed(seed)
    model = build_model(MlpConfig(hidden_units=(12, 6), weight_bits=5), input_shape=(10,), input_kif=(1, 5, 0))
    x = np.random.default_rng(seed).integers(-32, 32, size=(512, 10)).astype(np.float32)
    trace_minmax(model, x, batch_size=512)
    return model


def _conv_model(seed: int = 4):
    """Two 3 x 3 convolutions on a 7 x 7 image and a dense layer: each kernel traced at many positions."""
    import keras
    from hgq.config import QuantizerConfigScope
    from hgq.layers import QConv2D, QDense
    from hgq.utils import trace_minmax

    from trigger_nn.nets.mlp import input_quantizer_config

    keras.utils.set_random_seed(seed)
    with QuantizerConfigScope(place="weight", q_type="kbi", b0=5):
        inp = keras.Input((7, 7, 1))
        h = QConv2D(3, 3, activation="relu", iq_conf=input_quantizer_config((0, 6, 0)))(inp)
        h = QConv2D(3, 3, activation="relu", padding="same")(h)
        out = QDense(2)(keras.layers.Flatten()(h))
    model = keras.Model(inp, out)
    x = np.random.default_rng(seed).integers(0, 64, size=(256, 7, 7, 1)).astype(np.float32)
    x[:, 0, :, :] = 0  # a border the first quantizers never see set: narrower words there, as on real images
    trace_minmax(model, x, batch_size=256)
    return model


@pytest.mark.parametrize("make", [_dense_model, _conv_model], ids=["dense", "conv"])
def test_the_estimate_before_tracing_is_near_the_traced_cost(make) -> None:
    model = make()
    fw = FirmwareConfig()
    traced = _traced_size(model, fw)
    early = resources.pre_trace_cost(model)
    assert early == pytest.approx(traced.da4ml_cost, rel=0.05)
    assert traced.luts == math.ceil(traced.da4ml_cost * resources.LUTS_PER_COST) > traced.da4ml_cost
    assert traced.ffs > 0 and traced.dsps == 0
    assert traced.limit_luts == 1_728_000 and "xcvu13p" in traced.limit_from


def test_a_logit_word_too_wide_for_the_emulator_names_network_weight_bits() -> None:
    import keras
    from hgq.utils import trace_minmax

    keras.utils.set_random_seed(5)
    net = MlpConfig(hidden_units=(12,), weight_bits=23)
    model = build_model(net, input_shape=(10,), input_kif=(1, 5, 0))
    trace_minmax(model, np.random.default_rng(5).integers(-32, 32, size=(256, 10)).astype(np.float32))
    pipeline = timing.cut(rtl.trace(model), FirmwareConfig())
    with pytest.raises(ConversionError, match=r"the output words are \d+ bits wide.*at most 32.*network.weight_bits"):
        rtl.check_buses(pipeline)


def test_the_limit_is_the_part_or_the_cards_tighter_one() -> None:
    assert resources.lut_limit(FirmwareConfig(part="xc7a35tcpg236-1")) == (
        20_800,
        "the 20,800 LUTs of the xc7a35t (firmware.part xc7a35tcpg236-1)",
    )
    limit, where = resources.lut_limit(FirmwareConfig(part="xc7a35tcpg236-1", max_luts=5000))
    assert limit == 5000 and where.startswith("firmware.max_luts (5,000") and "20,800" in where


def test_a_traced_design_over_its_limit_is_refused_or_built_with_a_warning(caplog) -> None:
    fw = FirmwareConfig(part="xc7a35tcpg236-1", max_luts=100)
    size = resources.estimate(2000.0, 300, fw)
    with pytest.raises(BudgetError) as err:
        resources.check(size, fw)
    message = str(err.value)
    assert f"~{size.luts:,} LUTs" in message and "da4ml cost 2,000" in message and "firmware.max_luts (100" in message
    for remedy in ("smaller", "network.beta", "firmware.part", "firmware.allow_oversize: true"):
        assert remedy in message
    anyway = FirmwareConfig(part="xc7a35tcpg236-1", max_luts=100, allow_oversize=True)
    with caplog.at_level(logging.WARNING, logger="trigger_nn"):
        resources.check(size, anyway)
    assert any("building it anyway" in r.getMessage() for r in caplog.records)


# --- `trigger-nn compile` on a project -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small project, simulated and trained (one epoch): compile runs on it with different firmware sections."""
    root = tmp_path_factory.mktemp("size")
    card = root / "card.yaml"
    card.write_text(CARD)
    for stage in ("simulate", "train"):
        assert main([stage, str(card), "--projects", str(root)]) == 0
    return root / "tiny_size"


def _card(project: Path, firmware: str) -> Path:
    path = project.parent / f"card_{hashlib.sha256(firmware.encode()).hexdigest()[:8]}.yaml"
    path.write_text(CARD.replace("firmware:\n", f"firmware:\n{firmware}"))
    return path


def _model(project: Path):
    return TrainResult.load(project / "train" / "training.json").load_model()


def _nothing_written(project: Path) -> None:
    assert not (project / "compile.json").exists()
    assert not (project / "hls").exists() and not (project / "rtl").exists()
    assert not [p.name for p in project.iterdir() if p.name.startswith((".hls.", ".rtl."))]  # no temporary trees


def _messages(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def test_compile_refuses_a_design_far_over_max_luts_before_tracing(project: Path, caplog, capsys) -> None:
    early = resources.lut_estimate(resources.pre_trace_cost(_model(project)))
    limit = early // 3
    card = _card(project, f"  max_luts: {limit}\n")
    with caplog.at_level(logging.INFO, logger="trigger_nn"):
        assert main(["compile", str(card), "--projects", str(project.parent)]) == 1
    err = capsys.readouterr().err
    assert f"estimated at ~{early:,} LUTs before tracing" in err and f"firmware.max_luts ({limit:,}" in err
    assert "firmware.allow_oversize: true" in err
    _nothing_written(project)
    logged = _messages(caplog)  # the long steps never started: neither da4ml's trace nor hls4ml's project
    assert "estimated before tracing" in logged and "da4ml: tracing" not in logged and "hls4ml: writing" not in logged


def test_compile_refuses_a_design_just_over_after_tracing_before_writing(project: Path, caplog, capsys) -> None:
    model = _model(project)
    fw = load_card(_card(project, "")).firmware
    traced = _traced_size(model, fw)
    limit = traced.luts - 1
    assert resources.lut_estimate(resources.pre_trace_cost(model)) <= limit * (1 + resources.PRE_TRACE_TOLERANCE)
    card = _card(project, f"  max_luts: {limit}\n")
    with caplog.at_level(logging.INFO, logger="trigger_nn"):
        assert main(["compile", str(card), "--projects", str(project.parent)]) == 1
    err = capsys.readouterr().err
    assert f"estimated at ~{traced.luts:,} LUTs (da4ml cost {traced.da4ml_cost:,.0f}" in err
    assert f"over firmware.max_luts ({limit:,}" in err and "before tracing" not in err
    _nothing_written(project)
    logged = _messages(caplog)
    assert "da4ml: tracing" in logged
    assert "hls4ml: writing" not in logged and "writing the pipelined Verilog" not in logged


def test_allow_oversize_builds_it_anyway_with_a_warning(project: Path, caplog) -> None:
    card = _card(project, "  max_luts: 10\n  allow_oversize: true\n")
    with caplog.at_level(logging.INFO, logger="trigger_nn"):
        assert main(["compile", str(card), "--projects", str(project.parent)]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("over firmware.max_luts (10;" in w and "building it anyway" in w for w in warnings), warnings
    compiled = CompileResult.load(project / "compile.json")
    size = compiled.resources
    assert size is not None and size.limit_luts == 10 < size.luts and size.da4ml_cost == compiled.da4ml_cost
    # the pipeline's registers and the top level's valid bits, one per register stage
    assert size.ffs == compiled.da4ml_reg_bits + compiled.pipeline_stages + 1 and size.pre_trace_cost is not None
    assert (project / "hls" / "firmware").is_dir() and (project / "rtl" / "src").is_dir()
    saved = json.loads((project / "compile.json").read_text())["resources"]
    assert saved["luts"] == size.luts and "Yosys" in saved["calibration"]


# --- Verilator's memory ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [resources.EMULATION_BUILD, resources.COSIM_BUILD], ids=["emulation", "cosim"])
def test_the_build_memory_estimate_is_a_floor_plus_so_much_per_byte_of_verilog(build) -> None:
    assert build.need_bytes(0) == build.base_bytes > 2**28  # two compilers of Verilator's runtime, at least
    mib = 2**20
    assert build.need_bytes(93 * mib) - build.need_bytes(0) == int(93 * mib * build.bytes_per_source_byte)
    assert 0 < resources.available_memory_bytes()


def test_the_emulation_build_of_the_reviewers_cnn_would_have_been_refused_here() -> None:
    """93 MB of Verilog (the QKeras MNIST CNN of cost 4.0 M) grew past 14 GB in verify's build before it was stopped."""
    assert resources.EMULATION_BUILD.need_bytes(93 * 2**20) > 14 * 2**30


def _too_large_for_this_machine(src: Path, name: str, build: resources.BuildMemory) -> Path:
    """A sparse Verilog file (its size without the disk) whose estimated build needs 4 GiB more than is available."""
    need = resources.available_memory_bytes() + 4 * 2**30 - build.base_bytes
    path = src / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(math.ceil(need / build.bytes_per_source_byte))
    return path


def test_a_verilator_build_too_large_for_the_machine_is_refused_with_both_numbers(tmp_path: Path) -> None:
    from trigger_nn.artifacts import BusFormat

    rtl_dir = tmp_path / "rtl"
    _too_large_for_this_machine(rtl_dir / "src", "huge_wrapper.v", resources.COSIM_BUILD)
    fmt = BusFormat(n_elements=1, width=4, frac_bits=0, signed=True)
    words = np.zeros((1, 1), dtype=np.int64)
    with pytest.raises(ToolError) as err:
        run_cosim(
            rtl_dir=rtl_dir, top="huge_wrapper", inp_words=words, out_words=words, input_format=fmt,
            output_format=fmt, expected_latency=1, work_dir=tmp_path / "cosim",
        )  # fmt: skip
    message = str(err.value)
    need = re.search(r"would take about ([\d.]+) GiB of memory", message)
    have = re.search(r"more than the ([\d.]+) GiB this machine has available", message)
    assert need and have and float(need[1]) > float(have[1]) + 3, message
    assert "cocotb's Verilator build" in message and "MB of Verilog" in message
    assert not list((tmp_path / "cosim").glob("build-*/*"))  # Verilator never started

    fw = FirmwareConfig(pipeline_cutoff=2.0)
    emulated = tmp_path / "emulated"
    rtl.write_hdl(timing.cut(rtl.trace(_dense_model()), fw), emulated, fw, top="small")
    _too_large_for_this_machine(emulated / "src", "small_extra.v", resources.EMULATION_BUILD)
    with pytest.raises(ToolError, match=r"Verilator build of the emulation of small would take about .* GiB"):
        rtl.RTLEmulation(emulated, tmp_path / "emulation", fw, top="small")
    assert not (tmp_path / "emulation" / "src").exists()  # nothing written, nothing built
