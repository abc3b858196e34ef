"""The whole flow on a small card, firmware included: real hls4ml, da4ml, Verilator and cocotb.

One build is shared by the tests of this module; each test reads it as a user would
(the files under the project), or re-runs one stage with a changed card.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from trigger_nn import cosim, provenance, verify
from trigger_nn.artifacts import CompileResult, TrainResult
from trigger_nn.card import load_card
from trigger_nn.cli import STAGES, main
from trigger_nn.errors import ArtifactError, ToolError

SMALL_CARD = """\
name: tiny_lfn
task: cdms_lfn
seed: 7
data:
  n_train: 3000
  window: 32
  trace_length: 256
  of_length: 128
  baseline_samples: 4
  stream_seconds: 60
network:
  hidden_units: [8]
training:
  epochs: 8
  batch_size: 128
firmware:
  clock_period_ns: 5.0
verify:
  n_vectors: 5000
cosim:
  n_vectors: 1500
"""


def _not_json(constant: str) -> None:
    raise AssertionError(f"report.json holds {constant}, which is not JSON")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("flow")
    card = root / "small.yaml"
    card.write_text(SMALL_CARD)
    projects = root / "projects"
    assert main(["build", str(card), "--projects", str(projects)]) == 0
    return card, projects / "tiny_lfn"


def test_build_writes_every_stage_and_a_passing_report(built: tuple[Path, Path]) -> None:
    _, project = built
    for rel in (
        "data/dataset.h5",
        "train/model.keras",
        "hls/build_prj.tcl",
        "hls/firmware/tiny_lfn.cpp",
        "rtl/src/tiny_lfn_wrapper.v",
        "rtl/src/tiny_lfn_top.v",
        "vhdl/src/tiny_lfn_top.vhd",
        "verify/vectors.npz",
        "report.md",
        "plots/roc.png",
        "plots/turn_on.png",
    ):
        assert (project / rel).is_file(), rel
    tb = (project / "hls/tb_data/tb_input_features.dat").read_text().splitlines()
    assert len(tb) == 1000 and len(tb[0].split()) == 33  # the vendor cosim's vectors: windows and OF amplitude
    report = json.loads((project / "report.json").read_text(), parse_constant=_not_json)  # strict JSON
    impls = report["verification"]["implementations"]
    assert [c["implementation"] for c in impls] == ["hls4ml C simulation", "da4ml Verilog (Verilator)"]
    for check in impls:
        assert check["vectors"] >= 2000 and check["mismatches"] == 0
    assert report["verification"]["out_of_range"] == {"vectors": 6, "mismatches": 0}
    lat = report["latency"]
    assert lat["mismatches"] == 0 and lat["vectors"] == 1500
    assert lat["latency_cycles"] == lat["pipeline_depth_cycles"] >= 1
    assert lat["latency_ns"] == lat["latency_cycles"] * 5.0 <= 1600.0
    assert lat["ii_cycles"] == 1
    pipe = lat["pipeline"]  # cut by the clock: each stage's logic within 5 ns less 10 % and the flip-flops
    assert pipe["cut"] == "timed to fit the clock" and max(pipe["stage_logic_ns"]) <= 4.5 - 0.15
    assert pipe["stages"] == lat["latency_cycles"] and pipe["timing_margin_ns"] >= 0
    assert lat["idle_gaps"]["vectors"] == 1500 and lat["idle_gaps"]["mismatches"] == 0
    assert lat["idle_gaps"]["cycles"] > lat["idle_gaps"]["vectors"] + lat["latency_cycles"]  # there were gaps
    phys = report["physics"]["firmware"]
    assert phys["network_alone"]["auc"] > 0.7  # it learnt something
    assert phys["vectors"] == report["dataset"]["n_test"]  # every candidate window went through the firmware
    triggers = phys["triggers"]
    assert set(triggers) == {"OF alone", "OF + amplitude consistency", "OF + OF chi2", "OF + NN (firmware)"}
    for t in triggers.values():  # each at the card's budget, its rates counted on the stream
        assert t["total_hz"] == pytest.approx(t["noise_hz"] + t["lfn_hz"]) and t["total_hz"] <= 1.0
    best = triggers[phys["best_classical"]]
    assert phys["threshold_reduction"] == pytest.approx(
        1 - triggers["OF + NN (firmware)"]["e50_sigma"] / best["e50_sigma"]
    )
    assert phys["fir"]["coefficient_bits"] == 8 and abs(phys["fir"]["resolution_loss"]) < 0.01
    assert set(report["stage_seconds"]) == {"simulate", "train", "compile", "verify", "cosim", "trigger"}
    trig = report["trigger"]  # the whole trigger (FIR + network + decision logic) streamed sample by sample
    assert trig["applies"] and [r["name"] for r in trig["runs"]] == ["back_to_back", "idle_gaps"]
    for run in trig["runs"]:
        assert run["samples"] >= 100_000 and not any(run["mismatches"].values())
        assert run["latency_cycles"] == [trig["expected_latency_cycles"]] * 2
    assert trig["threshold_sigma"] == triggers["OF + NN (firmware)"]["threshold_sigma"]  # the report's point
    md = (project / "report.md").read_text()
    assert "PASS" in md and "Verilator" in md
    assert 0 < trig["triggers"] < trig["candidates"] and "## The whole trigger as one firmware block" in md


def test_the_vhdl_the_hdl_testbenches_and_the_interface_sheet(built: tuple[Path, Path]) -> None:
    """The VHDL streamed in GHDL as the Verilog was, both shipped testbenches passed, and the sheet names the ports."""
    _, project = built
    report = json.loads((project / "report.json").read_text())
    lat = report["latency"]
    assert [v["idle_gaps"] for v in lat["vhdl_cosim"]] == [False, True]
    for run in lat["vhdl_cosim"]:
        assert (run["vectors"], run["mismatches"], run["failure"]) == (1500, 0, None)
        assert run["latency_cycles"] == lat["latency_cycles"] and run["simulator"] == "GHDL (cocotb)"
    assert [(tb["language"], tb["passed"]) for tb in lat["testbenches"]] == [("SystemVerilog", True), ("VHDL", True)]
    for tb in lat["testbenches"]:
        assert tb["verdict"].startswith("PASS tiny_lfn_top: 1500 vectors, ") and tb["vectors"] == 1500
    shipped = project / "testbench"
    assert {p.name for p in shipped.iterdir()} >= {"tiny_lfn_tb.sv", "tiny_lfn_tb.vhd", "inputs.mem", "outputs.mem"}
    assert len((shipped / "inputs.mem").read_text().splitlines()) == 1500
    sheet = report["interface"]
    assert sheet["top"] == "tiny_lfn_top" and sheet["latency_cycles"] == lat["latency_cycles"]
    ports = {p["name"]: p for p in sheet["ports"]}
    assert list(ports) == ["clk", "rst", "inp_valid", "model_inp", "out_valid", "model_out"]
    assert ports["model_inp"]["width"] == 33 * 8 and "33 x ap_fixed<8,8>" in ports["model_inp"]["meaning"]
    md = (project / "report.md").read_text()
    assert "## Interface: `tiny_lfn_top` (Verilog and VHDL)" in md and "- reset: rst high at a rising edge" in md
    assert report["model_origin"] == {
        "committed_model": False,
        "reproduces_committed": False,
        "note": "trained here; no committed model beside the card (`trigger-nn golden CARD` writes models/tiny_lfn/)",
    }


def test_the_committed_model_is_built_without_training_and_reproduces_the_golden_sources(
    tmp_path: Path, built: tuple[Path, Path]
) -> None:
    """`golden` commits the model beside the card; `--committed-model` then builds it on its own, untrained."""
    card, first = built
    card_copy = tmp_path / "small.yaml"
    shutil.copy(card, card_copy)
    project = tmp_path / "projects" / "tiny_lfn"
    shutil.copytree(first, project)
    assert main(["golden", str(card_copy), "--projects", str(project.parent)]) == 0
    committed = tmp_path / "tiny_lfn" / "model.keras"
    assert committed.is_file() and (tmp_path / "tiny_lfn" / "golden.npz").is_file()

    for stage in ("train", "compile"):
        assert main([stage, str(card_copy), "--projects", str(project.parent), "--committed-model"]) == 0
    trained = TrainResult.load(project / "train" / "training.json")
    assert trained.epochs_run == 0 and trained.committed_model == committed
    assert (project / "train" / "model.keras").read_bytes() == committed.read_bytes()
    from trigger_nn.golden import Golden

    compiled = CompileResult.load(project / "compile.json")
    assert compiled.source_hash == Golden.load(tmp_path / "tiny_lfn" / "golden.npz").source_hash
    # without the flag the card asks for training again: the committed build no longer belongs to it
    reason = provenance.stale_reason(load_card(card_copy), project, "train")
    assert reason is not None and "section training differs" in reason
    # a changed committed model makes the committed build out of date
    committed.write_bytes(committed.read_bytes() + b"\0")
    committed_card = load_card(card_copy)
    committed_card = dataclasses.replace(
        committed_card, training=dataclasses.replace(committed_card.training, committed_model=True)
    )
    assert "model.keras than the one there now" in provenance.stale_reason(committed_card, project, "train")


def test_a_second_build_of_an_unchanged_card_runs_no_stage(built: tuple[Path, Path], caplog) -> None:
    card, project = built
    before = {p: p.stat().st_mtime_ns for p in project.rglob("*.json")}
    with caplog.at_level("INFO", logger="trigger_nn"):
        assert main(["build", str(card), "--projects", str(project.parent)]) == 0
    skipped = [r.getMessage() for r in caplog.records if "up to date" in r.getMessage()]
    assert len(skipped) == len(STAGES) == 7, skipped
    assert {p: p.stat().st_mtime_ns for p in project.rglob("*.json")} == before


def test_a_moved_project_with_a_changed_card_reruns_from_verify_and_reports(
    tmp_path: Path, built: tuple[Path, Path], caplog, capsys
) -> None:
    """Moved to another folder, its files still found there (not in the original); a new vector count re-runs
    verify, cosim (with waves, as the README shows) and report only; compile on a new clock then makes the report
    refuse until verify and cosim have re-run."""
    card_path, project = built
    moved = tmp_path / "elsewhere" / "tiny_lfn"
    shutil.copytree(project, moved)
    card = tmp_path / "more.yaml"
    card.write_text(
        card_path.read_text()
        .replace("  n_vectors: 5000", "  n_vectors: 5100")
        .replace("cosim:\n", "cosim:\n  waves: true\n")
    )
    with caplog.at_level("INFO", logger="trigger_nn"):
        assert main(["build", str(card), "--projects", str(moved.parent)]) == 0
    messages = [r.getMessage() for r in caplog.records]
    ran = [s for s in ("simulate", "train", "compile", "verify", "cosim", "trigger", "report") if any(
        f"] {s}: to run:" in m for m in messages)]  # fmt: skip
    assert ran == ["verify", "cosim", "trigger", "report"], messages
    assert any("verify.json was made from another card (its section verify differs" in m for m in messages)
    report = json.loads((moved / "report.json").read_text())
    assert report["verification"]["implementations"][0]["vectors"] >= 5100
    assert report["paths"]["hls_project"] == str(moved / "hls")
    assert report["latency"]["waves"] and all(Path(w).is_file() and str(moved) in w for w in report["latency"]["waves"])

    faster = tmp_path / "faster.yaml"
    faster.write_text(card.read_text().replace("  clock_period_ns: 5.0", "  clock_period_ns: 4.0"))
    assert main(["compile", str(faster), "--projects", str(moved.parent)]) == 0
    capsys.readouterr()
    assert main(["report", str(faster), "--projects", str(moved.parent)]) == 1
    err = capsys.readouterr().err
    assert "`trigger-nn report` needs what `trigger-nn verify` writes" in err and "verify.json was made from" in err
    assert "run `trigger-nn verify` and the stages after it" in err


def test_cosim_on_verilog_changed_since_compile_names_compile(tmp_path: Path, built: tuple[Path, Path], capsys) -> None:
    card, project = built
    copy = tmp_path / "tiny_lfn"
    shutil.copytree(project, copy)
    next((copy / "rtl" / "src").glob("*stage0.v")).unlink()
    assert main(["cosim", str(card), "--projects", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "compile.json was made from another" in err and "rtl/src" in err and "run `trigger-nn compile`" in err


def test_a_stage_refuses_artifacts_made_for_another_card(built: tuple[Path, Path]) -> None:
    """cosim with a tighter budget on the card cannot reuse a design compiled for the old one: compile must re-run
    (and then refuses the budget itself, below); the cosim gate's own refusals are in test_cosim_gate."""
    card_path, project = built
    card = load_card(card_path)
    depth = CompileResult.load(project / "compile.json").pipeline_stages
    tight = dataclasses.replace(
        card, firmware=dataclasses.replace(card.firmware, latency_budget_ns=(depth - 1) * card.firmware.clock_period_ns)
    )
    with pytest.raises(
        ArtifactError,
        match=r"compile.json was made from another card \(its section firmware differs.*"
        r"run `trigger-nn compile`",
    ):
        cosim.run(tight, project)


def test_a_budget_the_pipeline_cannot_meet_is_refused_at_compile(
    tmp_path: Path, built: tuple[Path, Path], capsys
) -> None:
    card_path, project = built
    stages = CompileResult.load(project / "compile.json").stages
    assert stages.latency_cycles >= 2, "the small design should need more than one stage at 5 ns"
    tight = tmp_path / "tight.yaml"
    tight.write_text(card_path.read_text().replace("firmware:\n", "firmware:\n  latency_budget_ns: 5.0\n"))
    copy = _project_with_model(tmp_path, built, project / "train" / "model.keras")
    assert main(["compile", str(tight), "--projects", str(copy.parent)]) == 1
    err = capsys.readouterr().err
    assert f"needs {stages.latency_cycles} pipeline stages at 5 ns" in err and "budget of 5 ns (1 cycles)" in err
    assert not (copy / "compile.json").exists() and not (copy / "rtl").exists()


def test_a_clock_too_fast_for_the_widest_adder_is_refused(tmp_path: Path, built: tuple[Path, Path], capsys) -> None:
    card_path, project = built
    fast = tmp_path / "fast.yaml"
    fast.write_text(card_path.read_text().replace("  clock_period_ns: 5.0", "  clock_period_ns: 0.75"))
    copy = _project_with_model(tmp_path, built, project / "train" / "model.keras")
    assert main(["compile", str(fast), "--projects", str(copy.parent)]) == 1
    assert "less than the design's slowest single operation" in capsys.readouterr().err
    assert not (copy / "hls").exists()


def test_missing_stage_input_names_the_stage(tmp_path: Path, built: tuple[Path, Path], capsys) -> None:
    card, _ = built
    assert main(["verify", str(card), "--projects", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "data/dataset.json does not exist" in err and "run `trigger-nn simulate`" in err


def test_bad_card_is_one_message_and_exit_1(tmp_path: Path, capsys) -> None:
    card = tmp_path / "bad.yaml"
    card.write_text(SMALL_CARD.replace("  window: 32", "  windw: 32"))
    assert main(["simulate", str(card), "--projects", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown key 'windw'; did you mean 'window'?" in err[0]
    assert not (tmp_path / "tiny_lfn").exists()


def _project_with_model(tmp_path: Path, built: tuple[Path, Path], model_file: Path) -> Path:
    """A copy of the small project's dataset, with ``model_file`` as if `train` had written it."""
    card, project = built
    new = tmp_path / "tiny_lfn"
    shutil.copytree(project / "data", new / "data")
    (new / "train").mkdir()
    shutil.copyfile(model_file, new / "train" / "model.keras")
    trained = TrainResult.load(project / "train" / "training.json")
    made_from = provenance.record(load_card(card), new, "train")
    dataclasses.replace(trained, model_path=new / "train" / "model.keras", made_from=made_from).save(
        new / "train" / "training.json"
    )
    return new


def test_model_that_does_not_load_leaves_no_output(tmp_path: Path, built: tuple[Path, Path], capsys) -> None:
    card, _ = built
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 truncated")
    project = _project_with_model(tmp_path, built, broken)
    assert main(["compile", str(card), "--projects", str(tmp_path)]) == 1
    assert "is not a whole .keras file (a zip archive: truncated" in capsys.readouterr().err
    assert not (project / "compile.json").exists() and not (project / "hls").exists()


def test_unsupported_layer_is_named(tmp_path: Path, built: tuple[Path, Path], capsys) -> None:
    import keras

    inp = keras.Input((32,))  # the small card's window
    out = keras.layers.Dense(1)(keras.layers.UnitNormalization()(inp))
    path = tmp_path / "odd.keras"
    keras.Model(inp, out).save(path)
    project = _project_with_model(tmp_path, built, path)
    assert main(["compile", str(built[0]), "--projects", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "cannot convert" in err and "UnitNormalization" in err, err
    assert not (project / "hls").exists() and not (project / "compile.json").exists()


def test_same_card_and_seed_give_identical_data_weights_hls_and_verilog(
    tmp_path: Path, built: tuple[Path, Path]
) -> None:
    """Two fresh processes, as two users' runs: the same dataset, weights and generated sources, byte for byte."""
    import subprocess
    import sys

    import h5py

    from trigger_nn.artifacts import load_keras_model as load_model

    card, _ = built
    runs = [tmp_path / "a", tmp_path / "b"]
    for projects in runs:
        for stage in ("simulate", "train", "compile"):
            args = [stage, str(card), "--projects", str(projects), "-q"]
            code = f"from trigger_nn.cli import main; raise SystemExit(main({args!r}))"
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    first, again = (p / "tiny_lfn" for p in runs)
    with h5py.File(first / "data/dataset.h5") as a, h5py.File(again / "data/dataset.h5") as b:
        for split in ("train", "test"):
            assert np.array_equal(a[split]["x"][()], b[split]["x"][()])
    weights = [load_model(p / "train/model.keras").get_weights() for p in (first, again)]
    assert all(np.array_equal(u, v) for u, v in zip(*weights, strict=True))
    # every generated HLS and Verilog source, byte for byte, whatever folder the project sits in
    hashes = [CompileResult.load(p / "compile.json").source_hash for p in (first, again)]
    assert hashes[0] == hashes[1]


def _perturb_one_weight(hls_dir: Path, layer: str) -> None:
    """Add one LSB of its type to one weight of ``layer`` in the written HLS project (C-sim and synthesis copies)."""
    import re

    firmware = hls_dir / "firmware"
    cpp = next(p for p in firmware.glob("*.cpp") if "load_weights_from_txt" in p.read_text())
    array, txt = re.search(
        rf"load_weights_from_txt<{layer}_weight_t, \d+>\((\w+), \"(\w+\.txt)\"\)", cpp.read_text()
    ).groups()
    width, integer = map(
        int, re.search(rf"ap_fixed<(\d+),(-?\d+)> {layer}_weight_t;", (firmware / "defines.h").read_text()).groups()
    )
    lsb = 2.0 ** -(width - integer)
    weights = firmware / "weights"
    values = [float(v) for v in (weights / txt).read_text().split(",")]
    i = int(np.argmax(np.abs(values)))
    values[i] += -lsb if values[i] > 0 else lsb  # towards zero: stays representable
    new = ", ".join(f"{v:.12g}" for v in values)
    (weights / txt).write_text(new)
    header = weights / f"{array}.h"
    header.write_text(re.sub(r"= \{[^}]*\}", "= {" + new + "}", header.read_text()))


def test_one_lsb_in_one_weight_is_caught_and_its_layer_named(tmp_path: Path, built: tuple[Path, Path], capsys) -> None:
    card, first = built
    project = tmp_path / "tiny_lfn"
    shutil.copytree(first / "data", project / "data")
    shutil.copytree(first / "train", project / "train")
    assert main(["compile", str(card), "--projects", str(tmp_path)]) == 0
    _perturb_one_weight(project / "hls", "dense0")
    # as if hls4ml itself had written the wrong weight: compile's record of its sources is of these
    compiled = CompileResult.load(project / "compile.json")
    made_from = provenance.record(load_card(card), project, "compile")
    dataclasses.replace(compiled, made_from=made_from).save(project / "compile.json")
    capsys.readouterr()
    assert main(["verify", str(card), "--projects", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "hls4ml C simulation differs from the Python reference" in err
    assert "first layer that differs: dense0" in err, err
    verified = json.loads((project / "verify.json").read_text())
    csim = verified["checks"][0]
    assert csim["mismatches"] > 0 and csim["first_differing_layer"].startswith("dense0")
    assert verified["checks"][1]["mismatches"] == 0  # the Verilog was not touched
    # Sharded over two Dask workers: the same vectors put back in order give the same verdict, vector for vector.
    assert main(["verify", str(card), "--projects", str(tmp_path), "--workers", "2"]) == 1
    assert "first layer that differs: dense0" in capsys.readouterr().err
    sharded = json.loads((project / "verify.json").read_text())
    assert "in 8 shards on 2 Dask worker(s)" in sharded["checks"][0]["how"]
    for one, split in zip(verified["checks"], sharded["checks"], strict=True):
        assert (split["vectors"], split["mismatches"], split["first_mismatch"]) == (
            one["vectors"], one["mismatches"], one["first_mismatch"]
        )  # fmt: skip
    assert main(["report", str(card), "--projects", str(tmp_path)]) == 0
    md = (project / "report.md").read_text()
    assert "— FAIL" in md and "first layer that differs: dense0" in md


def test_a_dask_worker_loads_only_the_builds_verify_made_and_says_why_not(
    tmp_path: Path, built: tuple[Path, Path]
) -> None:
    card, project = built
    compiled = CompileResult.load(project / "compile.json")
    emulation, shape = project / "verify" / "rtl_emulation", (compiled.input_format.n_elements,)
    sims = verify.Simulators.of(load_card(card), compiled, tmp_path / "elsewhere.so", emulation, shape)
    words = np.zeros((3, *shape), dtype=np.int8)
    with pytest.raises(ToolError, match="elsewhere.so is not there: a Dask worker must see the filesystem"):
        verify.simulate(sims, words)
    (library,) = (compiled.hls_dir / "firmware").glob("*.so")  # verify's own process compiled it
    shutil.copy(library, tmp_path / "csim.so")  # a path this process has not loaded yet
    loaded = verify.Simulators.of(load_card(card), compiled, tmp_path / "csim.so", emulation, shape)
    with pytest.raises(ToolError, match="changed after verify compiled it"):
        verify.simulate(dataclasses.replace(loaded, csim_digest="0" * 64), words)  # rebuilt since
    unbuilt = dataclasses.replace(loaded, emulation_dir=tmp_path / "no_build")
    with pytest.raises(ToolError, match="no finished emulation build of tiny_lfn"):
        verify.simulate(unbuilt, words)
    assert not (tmp_path / "no_build").exists()  # a worker never builds
    csim, rtl = verify.simulate(loaded, words)  # and what verify built, it runs
    assert csim.shape == rtl.shape == (3, 1) and np.array_equal(csim, rtl)


def test_words_wider_than_float32_get_an_exact_reference(tmp_path: Path) -> None:
    card = tmp_path / "wide.yaml"
    card.write_text(
        SMALL_CARD.replace("name: tiny_lfn", "name: tiny_wide").replace("data:\n", "data:\n  adc_bits: 16\n")
    )
    for stage in ("simulate", "train", "compile", "verify"):
        assert main([stage, str(card), "--projects", str(tmp_path)]) == 0
    project = tmp_path / "tiny_wide"
    assert CompileResult.load(project / "compile.json").widest_value_bits > 24
    verified = json.loads((project / "verify.json").read_text())
    assert "integer interpreter (DAIS)" in verified["reference"] and "wider than float32" in verified["reference"]
    assert all(c["mismatches"] == 0 and c["vectors"] >= 2000 for c in verified["checks"])
    assert isinstance(verified["keras_float32_mismatches"], int)


def test_yosys_counts_stand_beside_the_estimates(built: tuple[Path, Path]) -> None:
    card, project = built
    assert main(["synth", str(card), "--projects", str(project.parent)]) == 0
    synth = json.loads((project / "synth.json").read_text())
    compiled = CompileResult.load(project / "compile.json")
    assert synth["family"] == "xcup" and synth["luts"] > 0 and synth["carries"] > 0
    # the pipeline's registers and the top level's valid bits (one per register stage), as mapped flip-flops
    assert compiled.resources.ffs == compiled.da4ml_reg_bits + compiled.pipeline_stages + 1
    assert 0 < synth["ffs"] <= compiled.resources.ffs
    depth = synth["depth"]  # the slowest stage: Yosys' longest path between flip-flops
    assert depth["luts"] >= 1 and depth["cells"] >= depth["luts"] + depth["carries"]
    assert depth["estimated_ns"] > 0 and synth["source_hash"] == compiled.source_hash
    assert main(["report", str(card), "--projects", str(project.parent)]) == 0
    resources = json.loads((project / "report.json").read_text())["resources"]
    assert resources["yosys"]["luts"] == synth["luts"] and resources["da4ml_cost_estimate"] == compiled.da4ml_cost
    assert f"{synth['luts']} LUTs" in (project / "report.md").read_text()
    # the whole trigger (stage `trigger`) as mapped, and its parts: the FIR alone, the top module's own logic
    trig = synth["trigger"]
    assert trig["whole"]["luts"] > trig["fir"]["luts"] > 0 and trig["whole"]["luts"] > synth["luts"]
    assert 0 < trig["top_logic"]["luts"] < trig["whole"]["luts"] and trig["top_logic"]["ffs"] > 0
    assert f"the whole trigger (Yosys, xcup): {trig['whole']['luts']} LUTs" in (project / "report.md").read_text()


def test_the_report_gives_the_size_estimate_with_its_calibration(built: tuple[Path, Path]) -> None:
    _, project = built
    compiled = CompileResult.load(project / "compile.json")
    estimate = json.loads((project / "report.json").read_text())["resources"]["estimate"]
    assert estimate["luts"] == compiled.resources.luts > compiled.da4ml_cost  # ~1.02 LUTs per unit of cost
    assert estimate["ffs"] == compiled.da4ml_reg_bits + compiled.pipeline_stages + 1 and estimate["dsps"] == 0
    assert estimate["limit_luts"] == 1_728_000 and "xcvu13p" in estimate["limit_from"]
    assert "estimate" in estimate["measured_on"] and "Yosys" in estimate["measured_on"]
    md = (project / "report.md").read_text()
    assert f"estimated size: ~{compiled.resources.luts:,} LUTs" in md and "estimated before tracing" in md
