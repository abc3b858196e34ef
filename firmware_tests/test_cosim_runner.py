"""Co-simulation runner on a real da4ml pipeline in Verilator and GHDL + cocotb (never mocked, never skipped), and the
self-checking HDL testbenches of the same design.

The design is a tiny two-layer network traced with da4ml (no Keras), written as
pipelined Verilog and VHDL, each with the top level's valid strobe and reset; the
expected words come from da4ml's own interpreter. One Verilator build is shared by
every test through the content-hash cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from da4ml.codegen import RTLModel
from da4ml.trace import FixedVariableArrayInput, comb_trace, to_pipeline

from trigger_nn._deps import setup_environment
from trigger_nn.artifacts import BusFormat, WordVectors
from trigger_nn.errors import ToolError
from trigger_nn.firmware import hdl_testbench
from trigger_nn.firmware.cosim import CosimMeasurement, run_cosim
from trigger_nn.firmware.rtl import bus_format, write_top

N_VECTORS = 2000
N_IN, N_HIDDEN, N_OUT = 6, 5, 3
LATENCY_CUTOFF = 2  # small enough for a pipeline of several stages
TOP = "tiny_top"
REPO = Path(__file__).resolve().parents[1]
#: run by the wheel test with only the unpacked wheel on $PYTHONPATH, from a folder outside the repository
WHEEL_SCRIPT = """\
import json, sys
from pathlib import Path

import numpy as np

import trigger_nn
from trigger_nn.artifacts import WordVectors
from trigger_nn.firmware import cosim

job = json.loads(Path(sys.argv[1]).read_text())
with np.load(job["words"]) as npz:
    words = WordVectors(**WordVectors.fields_from_npz(npz))
m = cosim.run_cosim(
    rtl_dir=job["rtl_dir"], top=job["top"], inp_words=words.inp_words, out_words=words.out_words,
    input_format=words.input_format, output_format=words.output_format,
    expected_latency=job["expected_latency"], work_dir=job["work_dir"], run_name="wheel",
)
print(json.dumps({
    "trigger_nn": trigger_nn.__file__, "cosim": cosim.__file__, "passed": m.passed, "failure": m.failure,
    "vectors": m.vectors, "mismatches": m.mismatches, "latency_cycles": m.latency_cycles,
    "results_xml": str(m.log_path.with_name("results.xml")),
}))
"""


@dataclass(frozen=True)
class TinyDesign:
    rtl_dir: Path
    vhdl_dir: Path
    work_dir: Path
    stages: int
    input_format: BusFormat
    output_format: BusFormat
    inp_words: np.ndarray
    out_words: np.ndarray

    def run(self, **kwargs: object) -> CosimMeasurement:
        args: dict[str, object] = {
            "rtl_dir": self.rtl_dir,
            "top": TOP,
            "inp_words": self.inp_words,
            "out_words": self.out_words,
            "input_format": self.input_format,
            "output_format": self.output_format,
            "expected_latency": self.stages,
            "work_dir": self.work_dir,
        }
        args.update(kwargs)
        return run_cosim(**args)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyDesign:
    rng = np.random.default_rng(20261123)
    inp = FixedVariableArrayInput((N_IN,)).quantize(1, 3, 2)  # signed, 3 integer and 2 fractional bits
    w1 = rng.integers(-4, 5, size=(N_IN, N_HIDDEN)) / 4
    w2 = rng.integers(-4, 5, size=(N_HIDDEN, N_OUT)) / 2
    out = (inp @ w1).relu().quantize(0, 4, 2) @ w2
    comb = comb_trace(inp, out)
    pipe = to_pipeline(comb, LATENCY_CUTOFF, verbose=False)
    root = tmp_path_factory.mktemp("tiny")
    for flavor, folder in (("verilog", "rtl"), ("vhdl", "vhdl")):
        RTLModel(pipe, "tiny", root / folder, flavor=flavor, clock_period=5, print_latency=False).write()
        write_top(pipe, root / folder / "src", name="tiny", flavor=flavor)

    input_format, output_format = bus_format(pipe.inp_qint), bus_format(pipe.out_qint)
    lo, hi = input_format.word_range()
    inp_words = rng.integers(lo, hi + 1, size=(N_VECTORS, N_IN))
    out_words = output_format.to_words(comb.predict(input_format.from_words(inp_words)))
    assert len(pipe.solutions) >= 2, "the design must be pipelined to test latency"
    assert np.any(out_words[1:] != out_words[:-1]), "outputs must change between vectors to pin the latency"
    return TinyDesign(
        rtl_dir=root / "rtl",
        vhdl_dir=root / "vhdl",
        work_dir=root / "cosim",
        stages=len(pipe.solutions),
        input_format=input_format,
        output_format=output_format,
        inp_words=inp_words,
        out_words=out_words,
    )


def test_back_to_back_stream_runner(tiny: TinyDesign) -> None:
    m = tiny.run()
    assert m.passed, m.failure
    assert (m.vectors, m.mismatches, m.first_mismatch) == (N_VECTORS, 0, None)
    assert m.latency_cycles == tiny.stages
    assert m.ii_cycles == 1
    max_latency = tiny.stages + 16
    assert m.cycles == N_VECTORS + 2 * (max_latency + 2)  # flush + one per clock + drain
    assert m.log_path.is_file()
    assert len(list(tiny.work_dir.glob("build-*/"))) == 1


def test_idle_gaps_runner(tiny: TinyDesign) -> None:
    m = tiny.run(idle_gaps=True, seed=7, max_latency=tiny.stages + 4)
    assert m.passed, m.failure
    assert m.mismatches == 0
    assert m.latency_cycles == tiny.stages
    assert m.ii_cycles == 1
    assert m.cycles > N_VECTORS + 2 * (tiny.stages + 4 + 2), "no idle cycles were inserted"


def test_wrong_expected_latency_is_caught_runner(tiny: TinyDesign) -> None:
    markers = list(tiny.work_dir.glob("build-*/build.ok"))
    before = [p.stat().st_mtime_ns for p in markers]
    m = tiny.run(expected_latency=tiny.stages + 1)
    assert not m.passed
    assert m.latency_cycles == tiny.stages  # measured, not taken from the expectation
    assert m.mismatches == 0
    assert m.failure is not None and "latency" in m.failure
    assert [p.stat().st_mtime_ns for p in markers] == before, "an unchanged design was rebuilt"


def test_corrupted_expected_output_is_caught_runner(tiny: TinyDesign) -> None:
    index = 1234
    out_words = tiny.out_words.copy()
    _, hi = tiny.output_format.word_range()
    out_words[index, 1] += -1 if out_words[index, 1] == hi else 1
    m = tiny.run(out_words=out_words)
    assert not m.passed
    assert m.mismatches == 1
    assert m.latency_cycles == tiny.stages
    assert m.first_mismatch is not None and m.first_mismatch.startswith(f"vector {index} ")
    assert str(out_words[index].tolist()) in m.first_mismatch
    assert str(tiny.inp_words[index].tolist()) in m.first_mismatch


def test_the_vhdl_in_ghdl_runner(tiny: TinyDesign) -> None:
    common = {"rtl_dir": tiny.vhdl_dir, "simulator": "ghdl", "work_dir": tiny.work_dir.with_name("cosim_vhdl")}
    for idle_gaps in (False, True):
        m = tiny.run(idle_gaps=idle_gaps, run_name=f"vhdl_{idle_gaps}", **common)
        assert m.passed, m.failure
        assert (m.vectors, m.mismatches, m.latency_cycles, m.ii_cycles) == (N_VECTORS, 0, tiny.stages, 1)


def _broken_top(tiny: TinyDesign, tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the Verilog whose top level has one line changed."""
    rtl = tmp_path / "rtl"
    shutil.copytree(tiny.rtl_dir, rtl)
    top = rtl / "src" / f"{TOP}.v"
    assert old in top.read_text()
    top.write_text(top.read_text().replace(old, new))
    return rtl


def test_a_valid_strobe_one_cycle_early_is_caught(tiny: TinyDesign, tmp_path: Path) -> None:
    early = _broken_top(tiny, tmp_path, "out_valid = valid_pipe[LATENCY]", "out_valid = valid_pipe[LATENCY - 1]")
    m = tiny.run(rtl_dir=early, work_dir=tmp_path / "cosim")
    assert not m.passed and m.mismatches == 0  # the data are right: only the strobe is wrong
    assert m.failure is not None and "out_valid wrong at 2 of" in m.failure


def test_a_reset_that_keeps_vectors_in_flight_is_caught(tiny: TinyDesign, tmp_path: Path) -> None:
    """Vectors taken before a reset never come out valid; a top level whose reset clears nothing lets them out."""
    no_reset = _broken_top(tiny, tmp_path, "if (rst)", "if (1'b0)")
    m = tiny.run(rtl_dir=no_reset, work_dir=tmp_path / "cosim", idle_gaps=True, seed=7)
    assert not m.passed and m.mismatches == 0
    assert m.failure is not None and "(a reset lies within the latency before it)" in m.failure


def _testbench(tiny: TinyDesign, tb_dir: Path, out_words: np.ndarray) -> hdl_testbench.Sources:
    sources = hdl_testbench.Sources.of(tiny.rtl_dir, tiny.vhdl_dir)
    hdl_testbench.write(
        tb_dir,
        "tiny",
        inp_words=tiny.inp_words,
        out_words=out_words,
        input_format=tiny.input_format,
        output_format=tiny.output_format,
        latency=tiny.stages,
        sources=sources,
    )
    return sources


def test_the_hdl_testbenches_pass_and_name_a_wrong_vector(tiny: TinyDesign, tmp_path: Path) -> None:
    """Both self-checking testbenches pass on the reference's words, and fail on one output word changed by one
    LSB, each naming the vector and the cycle (reset 3 cycles, one vector per cycle before the first gap)."""
    tb_dir, work = tmp_path / "testbench", tmp_path / "work"
    sources = _testbench(tiny, tb_dir, tiny.out_words)
    runs = [run(tb_dir, "tiny", sources, work, latency=tiny.stages) for run in hdl_testbench.RUNNERS]
    cycles = hdl_testbench.schedule_cycles(N_VECTORS, tiny.stages)
    for run in runs:
        assert run.passed, run.verdict
        assert run.verdict.startswith(f"PASS tiny_top: {N_VECTORS} vectors, ")
        assert run.verdict.endswith(f"latency {tiny.stages} cycles, out_valid checked at each of {cycles} cycles")
    assert [r.language for r in runs] == ["SystemVerilog", "VHDL"]

    wrong = tiny.out_words.copy()
    wrong[3, 0] ^= 1  # vector 3 is taken at cycle 3 + 3 (after the reset), before the first idle gap
    _testbench(tiny, tb_dir, wrong)
    for run in hdl_testbench.RUNNERS:
        failed = run(tb_dir, "tiny", sources, work, latency=tiny.stages)
        assert not failed.passed
        assert failed.verdict.startswith(
            f"FAIL tiny_top: vector 3 taken at cycle 6: model_out at cycle {6 + tiny.stages} is "
        ), failed.verdict


def test_waves_runner(tiny: TinyDesign) -> None:
    m = tiny.run(inp_words=tiny.inp_words[:50], out_words=tiny.out_words[:50], waves=True)
    assert m.passed, m.failure
    assert m.waves_path is not None and m.waves_path.stat().st_size > 0


def test_missing_sources_is_a_tool_error(tmp_path: Path) -> None:
    fmt = BusFormat(n_elements=1, width=4, frac_bits=0, signed=True)
    words = np.zeros((1, 1), dtype=np.int64)
    with pytest.raises(ToolError, match="no Verilog sources"):
        run_cosim(
            rtl_dir=tmp_path / "rtl",
            top=TOP,
            inp_words=words,
            out_words=words,
            input_format=fmt,
            output_format=fmt,
            expected_latency=1,
            work_dir=tmp_path / "cosim",
        )


def test_cosim_from_a_wheel_outside_the_repository(tiny: TinyDesign, tmp_path: Path) -> None:
    """A plain (not editable) install co-simulates: the simulator imports the testbench from the installed package."""
    # build the wheel from a copy of what the build reads, so that no build/ is left (or reused) in the checkout
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "trigger_nn", src / "trigger_nn", ignore=shutil.ignore_patterns("__pycache__"))
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "--quiet", "-w", str(wheel_dir)], check=True, timeout=300)
    (wheel,) = wheel_dir.glob("trigger_nn-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    assert (site / "trigger_nn" / "firmware" / "tb_stream.py").is_file(), "the testbench is not in the wheel"

    n = 200
    words = WordVectors(
        inp_words=tiny.inp_words[:n],
        out_words=tiny.out_words[:n],
        input_format=tiny.input_format,
        output_format=tiny.output_format,
    )
    np.savez(tmp_path / "words.npz", **words.npz_fields())
    job = {
        "words": str(tmp_path / "words.npz"),
        "rtl_dir": str(tiny.rtl_dir),
        "top": TOP,
        "expected_latency": tiny.stages,
        "work_dir": str(tiny.work_dir),  # the shared Verilator build: the Python side is what is under test
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "run_wheel.py").write_text(WHEEL_SCRIPT)
    assert not outside.resolve().is_relative_to(REPO)

    setup_environment()  # MAKEFLAGS' precompiled-header fix and the venv's verilator on PATH, for the child too
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}  # a plain caller, not under pytest
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run(
        [sys.executable, str(outside / "run_wheel.py"), str(tmp_path / "job.json")],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])

    site = site.resolve()
    for module in ("trigger_nn", "cosim"):
        path = Path(got[module]).resolve()
        assert path.is_relative_to(site), f"{module} came from {path}, not the unpacked wheel {site}"
        assert not path.is_relative_to(REPO)
    # the simulator's Python ran the wheel's testbench (cocotb records the test's file in results.xml)
    ran = {
        Path(p.get("value", "")).resolve()
        for p in ElementTree.parse(got["results_xml"]).getroot().iter("property")
        if p.get("name") == "file"
    }
    assert ran == {site / "trigger_nn" / "firmware" / "tb_stream.py"}
    assert got["passed"], got["failure"]
    assert (got["vectors"], got["mismatches"], got["latency_cycles"]) == (n, 0, tiny.stages)
