"""Regression on every model card: the committed model and golden vectors against everything made from them.

For each ``models/<name>.yaml`` the firmware is rebuilt from the committed ``models/<name>/model.keras``
(hls4ml project with its C simulation, da4ml Verilog and VHDL) and must give the committed golden words,
bit for bit, in the reference, the C simulation, the Verilog emulation, the co-simulated Verilog
(Verilator) and VHDL (GHDL), back to back and with idle gaps, and in both self-checking HDL testbenches,
from byte-identical sources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trigger_nn import compile as compile_stage
from trigger_nn.artifacts import load_keras_model as load_model
from trigger_nn.card import Card, load_card
from trigger_nn.firmware import hdl_testbench, hls, rtl
from trigger_nn.firmware.cosim import run_cosim
from trigger_nn.golden import Golden, golden_dir
from trigger_nn.verify import FLOAT32_EXACT_BITS

CARDS = sorted((Path(__file__).resolve().parents[1] / "models").glob("*.yaml"))


@dataclass(frozen=True)
class Rebuilt:
    card: Card
    golden: Golden
    model: Any
    hls_dir: Path
    rtl_dir: Path
    vhdl_dir: Path
    comb: Any
    work: Path

    @property
    def stages(self) -> int:
        return json.loads((self.rtl_dir / "metadata.json").read_text())["latency"]

    @property
    def x(self) -> np.ndarray:
        return self.golden.input_format.from_words(self.golden.inp_words)

    def expect(self, got: np.ndarray) -> None:
        words = self.golden.output_format.to_words(np.asarray(got, dtype=np.float64).reshape(len(self.x), -1))
        mismatched = np.flatnonzero(np.any(words != self.golden.out_words, axis=1))
        assert mismatched.size == 0, (
            f"{mismatched.size} of {len(words)} golden vectors differ; first {mismatched[0]}: "
            f"got {words[mismatched[0]].tolist()}, golden {self.golden.out_words[mismatched[0]].tolist()}"
        )


@pytest.fixture(scope="module", params=CARDS, ids=[p.stem for p in CARDS])
def rebuilt(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rebuilt:
    card = load_card(request.param)
    where = golden_dir(card)
    golden = Golden.load(where / "golden.npz")
    model = load_model(where / "model.keras")
    work = tmp_path_factory.mktemp(card.name)
    built = compile_stage.build_firmware(
        model, work / "hls", work / "rtl", card.firmware, name=card.name, vhdl_dir=work / "vhdl"
    )
    return Rebuilt(card, golden, model, work / "hls", work / "rtl", work / "vhdl", built.comb, work)


def test_every_card_has_committed_golden_vectors() -> None:
    assert CARDS
    for path in CARDS:
        card = load_card(path)
        assert (golden_dir(card) / "golden.npz").is_file(), f"run `trigger-nn golden {path}` and commit the files"
        assert (golden_dir(card) / "model.keras").is_file()


def test_the_reference_still_gives_the_golden_words(rebuilt: Rebuilt) -> None:
    if rtl.widest_value_bits(rebuilt.comb) > FLOAT32_EXACT_BITS:
        rebuilt.comb.save(rebuilt.work / "logic.json")
        rebuilt.expect(rtl.exact_predict(rebuilt.work / "logic.json", rebuilt.x)[0])
    else:
        x = rebuilt.x.astype(np.float32).reshape(-1, *rebuilt.model.input_shape[1:])
        rebuilt.expect(rebuilt.model.predict(x, verbose=0))


def test_the_generated_sources_are_byte_identical(rebuilt: Rebuilt) -> None:
    assert compile_stage.source_hash(rebuilt.hls_dir, rebuilt.rtl_dir, rebuilt.vhdl_dir) == rebuilt.golden.source_hash


def test_c_simulation_and_verilog_give_the_golden_words(rebuilt: Rebuilt) -> None:
    x = rebuilt.x.reshape(-1, *rebuilt.model.input_shape[1:])
    rebuilt.expect(hls.CSimulation(rebuilt.hls_dir).predict(x))
    fw, top = rebuilt.card.firmware, rebuilt.card.name
    rebuilt.expect(rtl.RTLEmulation(rebuilt.rtl_dir, rebuilt.work / "emulation", fw, top=top).predict(x))


@pytest.mark.parametrize("simulator", ["verilator", "ghdl"])
@pytest.mark.parametrize("idle_gaps", [False, True], ids=["back_to_back", "idle_gaps"])
def test_cosim_streams_the_golden_words(rebuilt: Rebuilt, idle_gaps: bool, simulator: str) -> None:
    m = run_cosim(
        rtl_dir=rebuilt.vhdl_dir if simulator == "ghdl" else rebuilt.rtl_dir,
        simulator=simulator,
        top=f"{rebuilt.card.name}_top",
        inp_words=rebuilt.golden.inp_words,
        out_words=rebuilt.golden.out_words,
        input_format=rebuilt.golden.input_format,
        output_format=rebuilt.golden.output_format,
        expected_latency=rebuilt.stages,
        work_dir=rebuilt.work / f"cosim_{simulator}",
        idle_gaps=idle_gaps,
        run_name="gaps" if idle_gaps else "b2b",
    )
    assert m.passed and m.mismatches == 0, m.failure
    assert m.latency_cycles == rebuilt.stages and m.ii_cycles == 1
    assert m.latency_cycles * rebuilt.card.firmware.clock_period_ns <= rebuilt.card.firmware.latency_budget_ns


def _write_testbench(rebuilt: Rebuilt, out_words: np.ndarray) -> hdl_testbench.Sources:
    sources = hdl_testbench.Sources.of(rebuilt.rtl_dir, rebuilt.vhdl_dir)
    hdl_testbench.write(
        rebuilt.work / "testbench",
        rebuilt.card.name,
        inp_words=rebuilt.golden.inp_words,
        out_words=out_words,
        input_format=rebuilt.golden.input_format,
        output_format=rebuilt.golden.output_format,
        latency=rebuilt.stages,
        sources=sources,
    )
    return sources


def test_the_hdl_testbenches_pass_on_the_golden_words_and_fail_on_one_lsb(rebuilt: Rebuilt) -> None:
    """SystemVerilog in Verilator and VHDL in GHDL, from the memory files alone; then the golden output of vector 4
    (taken at cycle 7: three reset cycles, then one vector per cycle up to the first idle gap) changed by one LSB."""
    name, tb_dir, work = rebuilt.card.name, rebuilt.work / "testbench", rebuilt.work / "testbench_build"
    sources = _write_testbench(rebuilt, rebuilt.golden.out_words)
    n = len(rebuilt.golden.inp_words)
    for run in hdl_testbench.RUNNERS:
        passed = run(tb_dir, name, sources, work, latency=rebuilt.stages)
        assert passed.passed and passed.verdict.startswith(f"PASS {name}_top: {n} vectors, "), passed.verdict

    wrong = rebuilt.golden.out_words.copy()
    wrong[4, 0] += 1 if wrong[4, 0] % 2 == 0 else -1  # the lowest bit of the bus flips, and the word stays in range
    _write_testbench(rebuilt, wrong)
    for run in hdl_testbench.RUNNERS:
        failed = run(tb_dir, name, sources, work, latency=rebuilt.stages)
        assert not failed.passed
        assert failed.verdict.startswith(
            f"FAIL {name}_top: vector 4 taken at cycle 7: model_out at cycle {7 + rebuilt.stages} is "
        ), failed.verdict
