"""The card's other architectures built for real: a 1-D CNN on CDMS windows (hls4ml's HLS project) and a
network of HGQ2 table layers (da4ml's HLS project, lookup-table ROMs in the Verilog), each verified bit for
bit and co-simulated; the table network also through Yosys and the dry run of da4ml's Vitis script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trigger_nn.cli import main

CARD = """\
name: {name}
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
{network}
training:
  epochs: 8
  batch_size: 128
verify:
  n_vectors: 5000
cosim:
  n_vectors: 1000
"""

NETWORKS = {
    # the window's 32 samples and the OF amplitude code after them, read as one 33-sample channel
    "tiny_cnn1d": "  architecture: cnn1d\n  filters: [3]\n  kernel_size: 8\n  strides: 4\n  dense_units: [4]",
    "tiny_tables": "  architecture: mlp\n  hidden_units: [2]\n  lut_layers: true",
}


def build_to_cosim(tmp_path: Path, name: str) -> tuple[Path, Path]:
    card = tmp_path / f"{name}.yaml"
    card.write_text(CARD.format(name=name, network=NETWORKS[name]))
    projects = tmp_path / "projects"
    for stage in ("simulate", "train", "compile", "verify", "cosim"):
        assert main([stage, str(card), "--projects", str(projects)]) == 0, stage
    return card, projects / name


def checks(project: Path) -> dict[str, dict]:
    verified = json.loads((project / "verify.json").read_text())
    return {c["implementation"]: c for c in verified["checks"]}


@pytest.mark.parametrize(("name", "writer"), [("tiny_cnn1d", "hls4ml"), ("tiny_tables", "da4ml")])
def test_architecture_builds_verifies_and_cosimulates(tmp_path: Path, name: str, writer: str) -> None:
    card, project = build_to_cosim(tmp_path, name)
    compiled = json.loads((project / "compile.json").read_text())
    assert compiled["hls_writer"] == writer
    found = checks(project)
    assert set(found) == {f"{writer} C simulation", "da4ml Verilog (Verilator)"}
    for check in found.values():
        assert check["vectors"] >= 5000 and check["mismatches"] == 0
    cosim = json.loads((project / "cosim.json").read_text())
    assert cosim["vectors"] == 1000 and cosim["mismatches"] == 0 and cosim["latency_cycles"] >= 1
    if writer == "hls4ml":
        assert (project / "hls" / "firmware" / f"{name}.cpp").is_file()
        return
    # table layers: their ROM contents are files the Verilog reads, and Yosys maps the ROMs to LUTs
    assert any((project / "rtl" / "src" / "memfiles").glob("*.mem"))
    assert (project / "hls" / "src" / f"{name}.hh").is_file()
    assert main(["synth", str(card), "--projects", str(project.parent)]) == 0
    synth = json.loads((project / "synth.json").read_text())
    assert synth["vendor_scripts_checked"][0] == "hls/build_vitis_prj.tcl"
    assert 0.5 * compiled["resources"]["luts"] < synth["luts"] < 2 * compiled["resources"]["luts"]
