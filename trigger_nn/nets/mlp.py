"""A quantised MLP for a trigger: fixed input word, HGQ2 dense layers, one logit out.

The first layer's input quantizer is the detector's own word (e.g. the ADC's signed counts),
fixed and not trained, so the firmware's input bus is exactly what the front end
delivers. Weights and activations get HGQ2's trainable bit widths, pushed down by
the EBOPs regulariser ``beta``; activations wrap (so ``trace_minmax`` must run on
representative data before conversion: ``docs/toolchain.md``, HGQ2 WRAP quantisers).
"""

from __future__ import annotations

from typing import Any

from ..artifacts import FixedFormat
from ..card import NetworkConfig


def fixed_quantizer_config(
    kif: FixedFormat, *, place: str = "datalane", round_mode: str = "TRN", overflow_mode: str = "WRAP"
) -> Any:
    """An HGQ2 quantizer of one fixed, untrained format (keep_negative, integer, fraction bits)."""
    from hgq.config import QuantizerConfig

    k, i, f = kif
    return QuantizerConfig(
        "kif", place, k0=k, i0=i, f0=f, round_mode=round_mode, overflow_mode=overflow_mode, trainable=False,
        homogeneous_axis=None, heterogeneous_axis=(),
    )  # fmt: skip


def input_quantizer_config(input_kif: FixedFormat) -> Any:
    """The input word: da4ml takes only WRAP on the input; data are saturated upstream (by the ADC)."""
    return fixed_quantizer_config(input_kif)


def build_mlp(net: NetworkConfig, *, input_shape: tuple[int, ...], input_kif: FixedFormat) -> Any:
    import keras
    from hgq.config import LayerConfigScope, QuantizerConfigScope
    from hgq.layers import QDense

    with (
        LayerConfigScope(enable_ebops=True, beta0=net.beta),
        QuantizerConfigScope(place="weight", q_type="kbi", b0=net.weight_bits),
    ):
        inp = keras.Input(shape=input_shape, name="window")
        h = keras.layers.Flatten(name="flatten")(inp) if len(input_shape) > 1 else inp
        for j, units in enumerate(net.hidden_units):
            # The first layer's input quantizer *is* the input word: one quantizer, not two in a row
            # (hls4ml warns that consecutive quantizers may break bit-exactness).
            iq = input_quantizer_config(input_kif) if j == 0 else None
            h = QDense(units, activation="relu", iq_conf=iq, name=f"dense{j}")(h)
        out = QDense(1, name="logit")(h)
    return keras.Model(inp, out, name="trigger_mlp")
