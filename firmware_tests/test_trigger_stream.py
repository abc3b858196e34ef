"""The cdms_lfn trigger as one streaming block (FIR + network + candidate logic) against its integer model.

Built from the committed ``models/cdms_lfn/model.keras`` and the default card: 100,000 consecutive samples
of simulated stream (pulses, LFN, noise) through Verilator with cocotb, back to back and with idle
cycles between samples; every OF word, score, candidate and trigger decision must equal the integer
model's at its sample, with one fixed latency within the 1.6 us budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trigger_nn.artifacts import load_keras_model
from trigger_nn.card import load_card
from trigger_nn.tasks.cdms import trigger_firmware as tf
from trigger_nn.tasks.cdms.chain import Chain
from trigger_nn.tasks.cdms.stream import StreamConfig, simulate_stream

CARD = Path(__file__).resolve().parents[1] / "models" / "cdms_lfn.yaml"
SAMPLES = 100_000
#: an operating point for the test (the report's comes from the accidental-rate budget): OF >= 4 sigma_E, logit >= 0
THRESHOLD_SIGMA, SCORE_CUT = 4.0, 0.0


@dataclass(frozen=True)
class Built:
    chain: Chain
    design: tf.TriggerDesign
    traced: tf.TracedTrigger
    firmware: tf.TriggerFirmware
    adc: np.ndarray
    expected: tf.TriggerOutputs
    network: Any


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    card = load_card(CARD)
    model = load_keras_model(CARD.parent / card.name / "model.keras")
    chain = Chain.build(card.data)
    design = tf.TriggerDesign.from_chain(chain, threshold_sigma=THRESHOLD_SIGMA, score_cut=SCORE_CUT,
                                         score_frac_bits=tf.score_frac_bits(model))  # fmt: skip
    traced = tf.trace(design, model)
    firmware = tf.write(design, traced, tmp_path_factory.mktemp("trigger"), card.firmware, name=card.name)
    # the `trigger` stage's stream: pulses and LFN at raised rates, so 0.16 s hold tens of candidates of each
    config = StreamConfig(data=card.data, seconds=SAMPLES / card.data.sample_rate_hz, seed=5,
                          signal_rate_hz=tf.STREAM_SIGNAL_RATE_HZ, lfn_rate_hz=tf.STREAM_LFN_RATE_HZ,
                          energy_range_sigma=tf.STREAM_ENERGY_SIGMA)  # fmt: skip
    adc = simulate_stream(config).adc

    def network(x: np.ndarray) -> np.ndarray:
        return model.predict(x.astype(np.float32), batch_size=8192, verbose=0).reshape(-1)

    expected = tf.reference_outputs(design, chain, adc, network)
    return Built(chain, design, traced, firmware, adc, expected, network)


def test_the_trace_is_the_integer_model_on_every_sample(built: Built) -> None:
    words = tf.trace_outputs(built.traced.comb, built.adc, built.design)
    np.testing.assert_array_equal(words[:, 0], built.expected.y)
    np.testing.assert_array_equal(words[:, 1], built.expected.score)
    assert built.expected.cand.sum() >= 30 and 0 < built.expected.trigger.sum() < built.expected.cand.sum()


def test_the_verilog_streams_bit_exact_back_to_back_and_with_gaps_within_the_budget(
    built: Built, tmp_path: Path
) -> None:
    runs = [
        tf.StreamRun("back_to_back", built.adc, np.zeros(SAMPLES, dtype=np.int64), built.expected),
        tf.StreamRun("gaps", built.adc, tf.random_gaps(SAMPLES, seed=1), built.expected),
    ]
    result = tf.simulate(built.firmware, runs, tmp_path)
    for run in result["runs"]:
        assert run["samples"] == run["outputs"] == SAMPLES
        assert run["mismatches"] == dict.fromkeys(tf.OUTPUT_FIELDS, 0), run["first_mismatch"]
        assert run["latency_min"] == run["latency_max"] == built.firmware.latency_cycles
    assert result["runs"][1]["cycles"] > SAMPLES + 10_000  # there were idle cycles
    assert built.firmware.latency_cycles * 5.0 <= 1600.0


def test_one_lsb_in_one_fir_coefficient_is_caught_and_named(built: Built, tmp_path: Path) -> None:
    card = load_card(CARD)
    tap = int(np.argmax(np.abs(built.design.coefficients)))
    wrong = built.design.with_coefficient_step(tap)
    firmware = tf.write(wrong, tf.trace(wrong, load_keras_model(CARD.parent / card.name / "model.keras")),
                        tmp_path / "rtl", card.firmware, name=card.name)  # fmt: skip
    n = 20_000
    expected = tf.reference_outputs(built.design, built.chain, built.adc[:n], built.network)  # the right chain
    result = tf.simulate(firmware, [tf.StreamRun("one_lsb", built.adc[:n], np.zeros(n, np.int64), expected)],
                         tmp_path / "sim")  # fmt: skip
    (run,) = result["runs"]
    # every OF word after the changed tap reads a non-zero sample differs; the score only where the OF amplitude
    # code it sees moved
    assert run["mismatches"]["y"] > n // 2 and run["mismatches"]["score"] < run["mismatches"]["y"]
    assert tf.diagnose(run).startswith("the FIR (OF words differ")
