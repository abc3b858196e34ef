"""The trigger chain in integers: the fixed-point FIR, its threshold words, and the network's window at a peak."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trigger_nn.card import card_from_dict
from trigger_nn.errors import CardError
from trigger_nn.tasks.cdms import stream as st
from trigger_nn.tasks.cdms.chain import Chain, Fir
from trigger_nn.tasks.cdms.config import CdmsLfnData
from trigger_nn.tasks.cdms.simulation import OptimalFilter, pulse_template

CFG = CdmsLfnData()


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain.build(CFG)


def test_the_of_words_are_the_integer_fir_of_the_adc_samples(chain: Chain) -> None:
    adc = st.simulate_stream(st.StreamConfig(data=CFG, seconds=0.2, signal_rate_hz=200, lfn_rate_hz=50, seed=3)).adc
    y = chain.fir.output(adc)
    assert y.dtype == np.int64
    c, taps = chain.fir.coefficients, len(chain.fir.coefficients)
    padded = np.concatenate([np.zeros(taps - 1, dtype=np.int64), adc.astype(np.int64)])
    exact = np.lib.stride_tricks.sliding_window_view(padded, taps)[:, ::-1] @ c  # every sample, in integers
    np.testing.assert_array_equal(y, exact)
    assert np.abs(y).max() < 2 ** (chain.fir.output_bits - 1)
    # in sigma_E the words follow the float OF to within the coefficients' rounding
    float_of = st.of_output(adc, chain.of)
    bound = np.sum(np.abs(chain.fir.sigma(c) - chain.of.kernel[::-1] / chain.of.resolution)) * np.abs(adc).max()
    assert np.max(np.abs(chain.fir.sigma(y) - float_of)) <= bound


def test_a_threshold_is_the_smallest_word_at_or_above_it(chain: Chain) -> None:
    for threshold in (3.5, 4.05, 5.0, 7.3):
        word = chain.fir.word(threshold)
        assert chain.fir.sigma(word) >= threshold > chain.fir.sigma(word - 1)


def test_coarse_coefficients_cost_resolution_and_scale_and_eight_bits_do_not() -> None:
    of = OptimalFilter.build(CFG)
    eight, three = Fir.quantise(CFG, of, 8), Fir.quantise(CFG, of, 3)
    assert np.abs(eight.coefficients).max() <= 127 and np.abs(three.coefficients).max() <= 3
    assert abs(eight.resolution_loss) < 0.002 and eight.gain == pytest.approx(1.0, abs=0.002)
    # 3-bit coefficients (most of the 256 rounded to 0 or +-1): the energy scale is off by several per cent
    assert three.resolution_loss > eight.resolution_loss and abs(three.gain - 1.0) > 0.02


def test_the_window_at_a_pulse_peak_has_the_onset_a_quarter_in(chain: Chain) -> None:
    # a clean 30 sigma_E pulse: the FIR's peak estimates its onset, the window starts a quarter window before it
    onset, n = 1000, 2000
    adc = np.round(30 * chain.of.resolution * pulse_template(CFG, n, onset)).astype(np.float32)
    y = chain.fir.output(adc)
    (peak,) = chain.candidates(y, 10.0).peak_sample
    assert abs(st.onset_of_peak(peak, chain.of) - onset) <= 1
    (w,) = chain.windows(adc, np.array([peak]))
    first = peak - chain.settle + chain.offset
    assert first + CFG.window // 4 == pytest.approx(onset, abs=1)
    np.testing.assert_array_equal(w, adc[first : first + CFG.window])  # baseline 0 before the pulse
    # the network's last input: the OF amplitude in quarters of sigma_E, rounded down, saturated to the 8-bit word
    (inputs,) = chain.network_inputs(adc, y, np.array([peak]))
    np.testing.assert_array_equal(inputs[:-1], w)
    assert inputs[-1] == np.floor(chain.fir.sigma(y[peak]) * 4) and 116 <= inputs[-1] <= 124
    assert chain.amplitude_code(np.array([chain.fir.word(40.0), -chain.fir.word(40.0)])).tolist() == [127, -128]


def test_the_window_subtracts_the_baseline_rounded_half_up_and_saturates(chain: Chain) -> None:
    p = 1000
    first = p - chain.settle + chain.offset
    adc = np.zeros(2000, dtype=np.float32)
    adc[first - CFG.baseline_samples : first] = [2, 3] * (CFG.baseline_samples // 2)  # mean 2.5: rounds up to 3
    adc[first] = -127  # -127 - 3 saturates at -128
    adc[first + 1] = 127
    (w,) = chain.windows(adc, np.array([p]))
    assert w[0] == -128 and w[1] == 124 and w[2] == -3


def test_the_card_refuses_a_window_outside_the_register() -> None:
    with pytest.raises(CardError, match="must fit in the OF's 64-sample register"):
        card_from_dict({"name": "m", "task": "cdms_lfn", "data": {"of_length": 64, "window": 32}})
    with pytest.raises(CardError, match="power of two"):
        card_from_dict({"name": "m", "task": "cdms_lfn", "data": {"baseline_samples": 12}})
    with pytest.raises(CardError, match="'of_threshold_floor_sigma' is no longer a key: .*accidental_budget_hz"):
        card_from_dict({"name": "m", "task": "cdms_lfn", "data": {"of_threshold_floor_sigma": 4.0}})
    assert dataclasses.replace(CFG, window=32).window == 32
