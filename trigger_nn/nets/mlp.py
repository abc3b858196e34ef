"""A quantised MLP for a trigger: fixed input word, HGQ2 dense (or table) layers, logits out.

The first layer's input quantizer is the detector's own word (e.g. the ADC's signed counts),
fixed and not trained, so the firmware's input bus is exactly what the front end
delivers. Weights and activations get HGQ2's trainable bit widths, pushed down by
the EBOPs regulariser ``beta``; activations wrap (so ``trace_minmax`` must run on
representative data before conversion: ``docs/toolchain.md``, HGQ2 WRAP quantisers).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..artifacts import FixedFormat
from ..card import MlpConfig, NetworkConfig


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


@contextmanager
def hgq_scope(net: NetworkConfig) -> Iterator[None]:
    """The card's EBOPs strength and weight bits for every HGQ2 layer built inside."""
    from hgq.config import LayerConfigScope, QuantizerConfigScope

    with (
        LayerConfigScope(enable_ebops=True, beta0=net.beta),
        QuantizerConfigScope(place="weight", q_type="kbi", b0=net.weight_bits),
    ):
        yield


def dense(units: int, *, net: NetworkConfig, relu: bool, name: str, iq: Any = None) -> Any:
    """A dense layer, or HGQ2's table layer: its learned functions take the place of the ReLU too."""
    from hgq.layers import QDense, QDenseT

    if net.lut_layers:
        return QDenseT(units, iq_conf=iq, name=name)
    return QDense(units, activation="relu" if relu else None, iq_conf=iq, name=name)


def dense_head(h: Any, units: tuple[int, ...], *, net: NetworkConfig, n_outputs: int, iq: Any = None) -> Any:
    """Hidden dense layers then the logits; ``iq`` is the first layer's input quantizer, where it is the input word.

    The first layer's input quantizer *is* the input word: one quantizer, not two in a row (hls4ml warns
    that consecutive quantizers may break bit-exactness).
    """
    for j, n in enumerate(units):
        h = dense(n, net=net, relu=True, name=f"dense{j}", iq=iq if j == 0 else None)(h)
    return dense(n_outputs, net=net, relu=False, name="logit", iq=iq if not units else None)(h)


def build_mlp(net: MlpConfig, *, input_shape: tuple[int, ...], input_kif: FixedFormat, n_outputs: int = 1) -> Any:
    import keras

    with hgq_scope(net):
        inp = keras.Input(shape=input_shape, name="window")
        h = keras.layers.Flatten(name="flatten")(inp) if len(input_shape) > 1 else inp
        out = dense_head(h, net.hidden_units, net=net, n_outputs=n_outputs, iq=input_quantizer_config(input_kif))
    return keras.Model(inp, out, name="trigger_mlp")
