"""Property-based equality on a small quantised model: for any input words, Keras = C simulation = Verilog.

Hypothesis draws whole input words (every bit pattern the bus can carry) and values outside the
input word's range, which the reference must wrap exactly as the firmware's bus does. The model
is an untrained HGQ2 network (random weights): equality must not depend on what was learnt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trigger_nn.artifacts import BusFormat
from trigger_nn.card import FirmwareConfig, MlpConfig
from trigger_nn.compile import build_firmware
from trigger_nn.firmware import hls, rtl
from trigger_nn.nets import build_model

N_IN = 6
INPUT_KIF = (1, 3, 2)  # signed, 3 integer and 2 fractional bits: a 6-bit word
FW = FirmwareConfig(pipeline_cutoff=2.0)
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


@dataclass(frozen=True)
class Implementations:
    model: Any
    csim: hls.CSimulation
    emulation: rtl.RTLEmulation
    fmt: BusFormat


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Implementations:
    import keras
    from hgq.utils import trace_minmax

    root = tmp_path_factory.mktemp("properties")
    keras.utils.set_random_seed(5)
    model = build_model(MlpConfig(hidden_units=(5, 3), weight_bits=5), input_shape=(N_IN,), input_kif=INPUT_KIF)
    k, i, f = INPUT_KIF
    grid = np.random.default_rng(0).integers(-(2 ** (i + f)), 2 ** (i + f), size=(4096, N_IN)) / 2**f
    trace_minmax(model, grid.astype(np.float32), batch_size=4096)
    comb = build_firmware(model, root / "hls", root / "rtl", FW, name="props").comb
    return Implementations(
        model=model,
        csim=hls.CSimulation(root / "hls"),
        emulation=rtl.RTLEmulation(root / "rtl", root / "emulation", FW, top="props"),
        fmt=rtl.bus_format(comb.inp_qint),
    )


def _words(fmt: BusFormat) -> st.SearchStrategy[np.ndarray]:
    lo, hi = fmt.word_range()
    rows = st.integers(1, 32)
    return rows.flatmap(lambda n: arrays(np.int64, (n, fmt.n_elements), elements=st.integers(lo, hi)))


def _reference(model: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x.astype(np.float32), verbose=0), dtype=np.float64).reshape(len(x), -1)


def test_the_bus_is_the_input_quantiser(small: Implementations) -> None:
    k, i, f = INPUT_KIF
    assert small.fmt == BusFormat(n_elements=N_IN, width=k + i + f, frac_bits=f, signed=True)


@given(data=st.data())
@SETTINGS
def test_any_input_words_give_the_same_outputs_everywhere(small: Implementations, data: st.DataObject) -> None:
    words = data.draw(_words(small.fmt))
    x = small.fmt.from_words(words)
    ref = _reference(small.model, x)
    np.testing.assert_array_equal(small.csim.predict(x), ref)
    np.testing.assert_array_equal(small.emulation.predict(x), ref)


@given(data=st.data())
@SETTINGS
def test_values_outside_the_word_wrap_in_the_reference_as_on_the_bus(
    small: Implementations, data: st.DataObject
) -> None:
    words = data.draw(_words(small.fmt))
    turns = data.draw(arrays(np.int64, words.shape, elements=st.integers(-3, 3)))
    span = 2**small.fmt.width  # one turn of the word: WRAP maps x and x + span to the same word
    outside = small.fmt.from_words(words + turns * span)
    ref = _reference(small.model, outside)
    np.testing.assert_array_equal(ref, _reference(small.model, small.fmt.from_words(words)))
    np.testing.assert_array_equal(small.emulation.predict(small.fmt.from_words(words)), ref)
