"""Quantised network builders (HGQ2 layers), chosen by the card's ``network.architecture``.

Every builder takes the dataset's input shape and word, and the number of logits out (one for two
classes, one per class for more), and returns an uncompiled Keras model whose first quantizer is the
input word.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..artifacts import FixedFormat
from ..card import CnnConfig, MlpConfig, NetworkConfig, PythonConfig
from ..errors import CardError
from .cnn import build_cnn
from .mlp import build_mlp


def build_model(net: NetworkConfig, *, input_shape: tuple[int, ...], input_kif: FixedFormat, n_outputs: int = 1) -> Any:
    if isinstance(net, MlpConfig):
        model = build_mlp(net, input_shape=input_shape, input_kif=input_kif, n_outputs=n_outputs)
    elif isinstance(net, CnnConfig):
        model = build_cnn(net, input_shape=input_shape, input_kif=input_kif, n_outputs=n_outputs)
    elif isinstance(net, PythonConfig):
        model = _build_from_python(net, input_shape=input_shape, input_kif=input_kif, n_outputs=n_outputs)
    else:
        raise CardError(f"network.architecture {net.architecture!r} has no builder")
    refuse_patched_hgq()
    return model


def refuse_patched_hgq() -> None:
    """HGQ2's QKeras-style API (``import qkeras.qlayers``, HGQ2's own ``qkeras`` package) rewrites the
    ``__init__`` of every HGQ2 layer class for the whole process: input quantizers and EBOPs off unless
    given. A network built after it has no input word and no resource regulariser, and fails far from
    the cause (da4ml: "Cannot multiply unquantized input variable"); it is refused here instead."""
    from hgq.layers import QDense

    if "qkeras_layer_wrap" in QDense.__init__.__qualname__:
        raise CardError(
            "HGQ2's QKeras-style API (qkeras.qlayers) was imported in this process; it changes every HGQ2 layer "
            "(no input quantizer, no EBOPs), so the network cannot be built as the card asks. Build with "
            "hgq.layers directly (a network.builder must not import qkeras.qlayers), or run the flow in a "
            "process that does not import it"
        )


def _build_from_python(
    net: PythonConfig, *, input_shape: tuple[int, ...], input_kif: FixedFormat, n_outputs: int
) -> Any:
    """The user's own builder, called with the flow's inputs; what it returns must be a Keras model."""
    import keras

    module_name, function_name = net.builder.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise CardError(
            f"network.builder {net.builder!r}: cannot import {module_name!r} ({err}); put its folder on PYTHONPATH "
            "or install it into this environment"
        ) from None
    builder = getattr(module, function_name, None)
    if not callable(builder):
        raise CardError(f"network.builder {net.builder!r}: {module_name} has no function {function_name!r}")
    try:
        model = builder(
            input_shape=tuple(input_shape),
            input_kif=tuple(input_kif),
            n_outputs=n_outputs,
            beta=net.beta,
            weight_bits=net.weight_bits,
        )
    except Exception as err:  # the user's code: say whose it is and what it is called with
        raise CardError(
            f"network.builder {net.builder!r} failed: {type(err).__name__}: {err}. It is called with the keywords "
            "input_shape, input_kif, n_outputs, beta and weight_bits"
        ) from err
    if not isinstance(model, keras.Model):
        raise CardError(f"network.builder {net.builder!r} returned {type(model).__name__}, not a Keras model")
    if tuple(model.input_shape[1:]) != tuple(input_shape) or model.output_shape[1:] != (n_outputs,):
        raise CardError(
            f"network.builder {net.builder!r} returned a model from {model.input_shape[1:]} to "
            f"{model.output_shape[1:]}; the data need one from {tuple(input_shape)} to ({n_outputs},)"
        )
    return model
