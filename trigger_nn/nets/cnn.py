"""A quantised CNN for waveforms (``cnn1d``) or images (``cnn2d``): convolutions, pooling, dense layers, logits.

Channels are last. A window of plain samples is one channel, an image of plain values too: the input
is reshaped to carry it, which costs no logic. As in the MLP, the first convolution's input quantizer
is the detector's word.
"""

from __future__ import annotations

from typing import Any

from ..artifacts import FixedFormat
from ..card import CnnConfig
from ..errors import CardError
from .mlp import dense_head, hgq_scope, input_quantizer_config


def _shape_with_channels(net: CnnConfig, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    rank = 1 if net.architecture == "cnn1d" else 2
    if len(input_shape) == rank:
        return (*input_shape, 1)
    if len(input_shape) == rank + 1:
        return tuple(input_shape)
    what = "a waveform (samples, or samples x channels)" if rank == 1 else "an image (rows x columns, or x channels)"
    raise CardError(
        f"network.architecture {net.architecture} takes {what}, but the data's events have shape "
        f"{tuple(input_shape)}; choose {'cnn2d' if rank == 1 else 'cnn1d'} or mlp"
    )


def _conv(net: CnnConfig, filters: int, *, name: str, iq: Any) -> Any:
    from hgq.layers import QConv1D, QConv2D, QConvT1D, QConvT2D

    if net.lut_layers:
        table = QConvT1D if net.architecture == "cnn1d" else QConvT2D
        return table(filters, net.kernel_size, strides=net.strides, iq_conf=iq, name=name)
    layer = QConv1D if net.architecture == "cnn1d" else QConv2D
    return layer(filters, net.kernel_size, strides=net.strides, activation="relu", iq_conf=iq, name=name)


def _length_after(n: int, net: CnnConfig) -> int:
    """A spatial size after one 'valid' convolution and its pooling."""
    n = (n - net.kernel_size) // net.strides + 1 if n >= net.kernel_size else 0
    return n // net.pool_size if net.pool_size > 1 else n


def build_cnn(net: CnnConfig, *, input_shape: tuple[int, ...], input_kif: FixedFormat, n_outputs: int = 1) -> Any:
    import keras

    shape = _shape_with_channels(net, input_shape)
    sizes = list(shape[:-1])
    for j in range(len(net.filters)):
        sizes = [_length_after(n, net) for n in sizes]
        if min(sizes) < 1:
            raise CardError(
                f"network: the data's {tuple(input_shape)} events are used up after convolution {j + 1} of "
                f"{len(net.filters)} (kernel_size {net.kernel_size}, strides {net.strides}, pool_size "
                f"{net.pool_size}); use fewer filters entries, a smaller kernel_size, strides or pool_size"
            )
    pool = keras.layers.MaxPooling1D if net.architecture == "cnn1d" else keras.layers.MaxPooling2D
    with hgq_scope(net):
        inp = keras.Input(shape=input_shape, name="window")
        h = keras.layers.Reshape(shape, name="channels")(inp) if shape != tuple(input_shape) else inp
        for j, filters in enumerate(net.filters):
            h = _conv(net, filters, name=f"conv{j}", iq=input_quantizer_config(input_kif) if j == 0 else None)(h)
            if net.pool_size > 1:
                h = pool(net.pool_size, name=f"pool{j}")(h)
        h = keras.layers.Flatten(name="flatten")(h)
        out = dense_head(h, net.dense_units, net=net, n_outputs=n_outputs)
    return keras.Model(inp, out, name=f"trigger_{net.architecture}")
