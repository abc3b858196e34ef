"""Regression on every model card: the committed model and golden vectors against everything made from them.

For each ``models/<name>.yaml`` the firmware is rebuilt from the committed ``models/<name>/model.keras``
(hls4ml project with its C simulation, da4ml Verilog) and must give the committed golden words,
bit for bit, in the reference, the C simulation, the Verilog emulation and the co-simulated
Verilog (back to back and with idle gaps), from byte-identical sources.
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
from trigger_nn.firmware import hls, rtl
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
    comb: Any
    work: Path

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
    built = compile_stage.build_firmware(model, work / "hls", work / "rtl", card.firmware, name=card.name)
    return Rebuilt(card, golden, model, work / "hls", work / "rtl", built.comb, work)


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
    assert compile_stage.source_hash(rebuilt.hls_dir, rebuilt.rtl_dir) == rebuilt.golden.source_hash


def test_c_simulation_and_verilog_give_the_golden_words(rebuilt: Rebuilt) -> None:
    x = rebuilt.x.reshape(-1, *rebuilt.model.input_shape[1:])
    rebuilt.expect(hls.CSimulation(rebuilt.hls_dir).predict(x))
    fw, top = rebuilt.card.firmware, rebuilt.card.name
    rebuilt.expect(rtl.RTLEmulation(rebuilt.rtl_dir, rebuilt.work / "emulation", fw, top=top).predict(x))


@pytest.mark.parametrize("idle_gaps", [False, True], ids=["back_to_back", "idle_gaps"])
def test_cosim_streams_the_golden_words(rebuilt: Rebuilt, idle_gaps: bool) -> None:
    stages = json.loads((rebuilt.rtl_dir / "metadata.json").read_text())["latency"]
    m = run_cosim(
        rtl_dir=rebuilt.rtl_dir,
        top=f"{rebuilt.card.name}_wrapper",
        inp_words=rebuilt.golden.inp_words,
        out_words=rebuilt.golden.out_words,
        input_format=rebuilt.golden.input_format,
        output_format=rebuilt.golden.output_format,
        expected_latency=stages,
        work_dir=rebuilt.work / "cosim",
        idle_gaps=idle_gaps,
        run_name="gaps" if idle_gaps else "b2b",
    )
    assert m.passed and m.mismatches == 0, m.failure
    assert m.latency_cycles == stages and m.ii_cycles == 1
    assert m.latency_cycles * rebuilt.card.firmware.clock_period_ns <= rebuilt.card.firmware.latency_budget_ns
