"""A Keras 2 / QKeras chain of layers rebuilt on Keras 3 with HGQ2 layers that compute the same numbers.

- Weights are quantised here, once, exactly as QKeras quantises them (``quantizers.quantize_weights``), and
  each HGQ2 weight quantiser gets a format that holds those values exactly, so it changes nothing.
- Activation quantisers become HGQ2 quantizers of the same fixed-point format with QKeras' rounding
  (half to even, ``RND_CONV``) and saturation; hls4ml writes them as ``ap_fixed<.., AP_RND_CONV, AP_SAT>``
  and da4ml builds them from truncation (``firmware.rtl.convergent_rounding``).
- BatchNormalization runs in float32 in QKeras: ``x * a + b`` with ``a = gamma / sqrt(var + eps)`` and
  ``b = beta - mean * a`` rounded to float32. It becomes a QBatchNormalization whose scale and offset are
  exactly those float32 numbers, so the firmware computes ``x * a + b`` without rounding. QKeras' own
  float32 rounding of the product is then the only difference left: it changes a result only where the
  exact value lies within a float32 rounding of the next quantiser's step boundary.
- The hard ``quantized_sigmoid`` rounds ``0.5 x + 0.5``: that step is a batch normalisation of the
  exact constants 0.5 and 0.5 in front of its quantizer (multiplying by 0.5 is exact in float32 too).
- The network's input is the firmware's input bus: an HGQ2 quantizer of the input format (words arrive
  on that grid), followed by the model's own first layers as QKeras has them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..artifacts import FixedFormat
from ..errors import ConversionError
from ..nets.mlp import fixed_quantizer_config, input_quantizer_config
from . import quantizers as qk
from .files import Keras2Model, Layer

#: what each unsupported Keras 2 / QKeras layer would take
UNSUPPORTED_LAYERS = {
    "QSimpleRNN": "a recurrent layer: the flow's firmware is feed-forward; it would need the recurrence unrolled",
    "QLSTM": "a recurrent layer: the flow's firmware is feed-forward; it would need the recurrence unrolled",
    "QGRU": "a recurrent layer: the flow's firmware is feed-forward; it would need the recurrence unrolled",
    "SimpleRNN": "a recurrent layer: the flow's firmware is feed-forward; it would need the recurrence unrolled",
    "LSTM": "a recurrent layer: the flow's firmware is feed-forward; it would need the recurrence unrolled",
    "QDepthwiseConv2D": "a depthwise convolution: HGQ2 has no depthwise layer to rebuild it on",
    "QSeparableConv1D": "a separable convolution: HGQ2 has no depthwise layer to rebuild it on",
    "QSeparableConv2D": "a separable convolution: HGQ2 has no depthwise layer to rebuild it on",
    "QConv2DBatchnorm": "a convolution with folded batch normalisation: QKeras folds it at run time; "
    "save the model unfolded (QConv2D + BatchNormalization)",
    "QDenseBatchnorm": "a dense layer with folded batch normalisation: QKeras folds it at run time; "
    "save the model unfolded (QDense + BatchNormalization)",
    "Dense": "a float Dense layer: the firmware needs quantised weights (use QDense with a kernel_quantizer)",
    "Conv1D": "a float convolution: the firmware needs quantised weights (use QConv1D with a kernel_quantizer)",
    "Conv2D": "a float convolution: the firmware needs quantised weights (use QConv2D with a kernel_quantizer)",
    "QBatchNormalization": "QKeras' quantised batch normalisation: its scale quantisers are not imported yet; "
    "use BatchNormalization",
    "Softmax": "softmax needs exponentials and a division: lookup tables the importer does not build",
}

SUPPORTED = (
    "QDense, QConv1D, QConv2D, QActivation, Activation (relu, linear), BatchNormalization, "
    "Max/AveragePooling1D/2D, Flatten, Dropout"
)


#: float functions that only turn a classifier's logits into probabilities: a trigger can decide on the logits
PROBABILITIES = ("softmax", "sigmoid")


def final_probability(k2: Keras2Model) -> str | None:
    """``softmax`` or ``sigmoid`` when the model's last step is that float function (a layer, or the activation
    of the last dense or convolution layer), else None."""
    if not k2.layers:
        return None
    last = k2.layers[-1]
    if last.kind == "Softmax":
        return "softmax"
    value = last.config.get("activation") if last.kind in ("Activation", "QActivation", "QDense", "QConv1D",
                                                          "QConv2D") else None  # fmt: skip
    return value if isinstance(value, str) and value in PROBABILITIES else None


def _final_refusal(layer: Layer, function: str) -> ConversionError:
    return ConversionError(
        f"{_where(layer)}: the model ends in a float {function}, which only turns the logits into probabilities; "
        "the firmware cannot compute it exactly, and a trigger does not need it (the arg-max, and every cut on a "
        f"sigmoid's probability, are the same on the logits): import with --drop-final-activation and the firmware "
        "outputs the logits"
    )


def _weight_config(values: np.ndarray) -> Any:
    """A format that holds these constants exactly, so that quantizing them changes nothing."""
    return fixed_quantizer_config(qk.holding_format(values), place="weight", round_mode="RND")


def _data_config(fmt: qk.SaturatingFormat) -> Any:
    return fixed_quantizer_config(fmt.fixed, round_mode="RND_CONV", overflow_mode=fmt.overflow_mode)


def _where(layer: Layer) -> str:
    return f"layer {layer.name!r} ({layer.kind})"


def _activation(layer: Layer, value: Any) -> list[Any]:
    """The Keras 3 layers after a layer with this ``activation``: a quantizer, a ReLU, or nothing."""
    import keras
    from hgq.layers import Quantizer

    where = _where(layer)
    q = qk.parse(value, where)
    if q is None or q == "linear":
        return []
    if q == "relu":
        return [keras.layers.ReLU(name=f"{layer.name}_relu")]
    if isinstance(q, str):
        raise ConversionError(
            f"{where}: activation {q!r} is a float function; the firmware takes quantisers (quantized_relu, "
            "quantized_bits, quantized_tanh, quantized_sigmoid) and relu"
        )
    fmt = qk.data_format(q, where)
    name = layer.name if layer.kind == "QActivation" else f"{layer.name}_act"
    quantizer = Quantizer(_data_config(fmt), name=name)
    affine = qk.affine_before(q)
    if affine is None:
        return [quantizer]
    return [_constant_affine(*affine, name=f"{name}_affine"), quantizer]


def _affine(scale: np.ndarray, offset: np.ndarray, name: str, **initializers: Any) -> Any:
    """``x * scale + offset`` per channel: a QBatchNormalization of unit variance whose constants it holds exactly."""
    from hgq.layers import QBatchNormalization

    return QBatchNormalization(
        epsilon=0.0, kq_conf=_weight_config(scale), bq_conf=_weight_config(offset), enable_iq=False,
        enable_oq=False, enable_ebops=False, name=name, **initializers,
    )  # fmt: skip


def _constant_affine(scale: float, offset: float, name: str) -> Any:
    """The same constants on every channel, as initial values: nothing to assign once the model is built."""
    import keras

    return _affine(
        np.array([scale]), np.array([offset]), name, gamma_initializer=keras.initializers.Constant(scale),
        beta_initializer=keras.initializers.Constant(offset),
    )  # fmt: skip


def _weights(layer: Layer, names: tuple[str, ...]) -> list[np.ndarray]:
    missing = [n for n in names if n not in layer.weights]
    if missing:
        raise ConversionError(
            f"{_where(layer)}: the weights file has no {', '.join(missing)} for it (it has "
            f"{sorted(layer.weights) or 'nothing'}); is the weights file of this architecture?"
        )
    return [layer.weights[n] for n in names]


def _quantised_kernel_and_bias(layer: Layer) -> tuple[np.ndarray, np.ndarray | None]:
    where = _where(layer)
    cfg = layer.config
    kq = qk.parse(cfg.get("kernel_quantizer"), f"{where}, kernel_quantizer")
    if not isinstance(kq, qk.Quantizer):
        raise ConversionError(f"{where}: has no kernel_quantizer; float weights cannot be implemented exactly")
    (kernel,) = _weights(layer, ("kernel",))
    kernel = qk.quantize_weights(kq, kernel, f"{where}, kernel_quantizer")
    if not cfg.get("use_bias", True):
        return kernel, None
    (bias,) = _weights(layer, ("bias",))
    bq = qk.parse(cfg.get("bias_quantizer"), f"{where}, bias_quantizer")
    if bq is None:
        raise ConversionError(f"{where}: has a float bias (no bias_quantizer); the firmware needs it quantised")
    if not isinstance(bq, qk.Quantizer):
        raise ConversionError(f"{where}: bias_quantizer {bq!r} is not a quantiser")
    return kernel, qk.quantize_weights(bq, bias, f"{where}, bias_quantizer")


def quantised_weights(k2: Keras2Model) -> dict[str, np.ndarray]:
    """Every layer's weights as QKeras quantises them, keyed ``"<layer>/kernel"`` and ``"<layer>/bias"``."""
    result = {}
    for layer in k2.layers:
        if layer.kind in ("QDense", "QConv1D", "QConv2D"):
            kernel, bias = _quantised_kernel_and_bias(layer)
            result[f"{layer.name}/kernel"] = kernel
            if bias is not None:
                result[f"{layer.name}/bias"] = bias
    return result


def _dense_or_conv(layer: Layer) -> tuple[Any, list[np.ndarray]]:
    from hgq.layers import QConv1D, QConv2D, QDense

    cfg = layer.config
    kernel, bias = _quantised_kernel_and_bias(layer)
    common = dict(
        use_bias=bias is not None, kq_conf=_weight_config(kernel), enable_iq=False, enable_oq=False,
        enable_ebops=False, name=layer.name,
    )  # fmt: skip
    if bias is not None:
        common["bq_conf"] = _weight_config(bias)
    if layer.kind == "QDense":
        built = QDense(int(cfg["units"]), **common)
    else:
        if cfg.get("data_format", "channels_last") != "channels_last":
            raise ConversionError(f"{_where(layer)}: data_format {cfg['data_format']!r}; channels_last is imported")
        if cfg.get("groups", 1) != 1:
            raise ConversionError(f"{_where(layer)}: grouped convolution (groups={cfg['groups']}) is not imported")
        cls = QConv1D if layer.kind == "QConv1D" else QConv2D
        built = cls(
            int(cfg["filters"]), tuple(cfg["kernel_size"]), strides=tuple(cfg.get("strides", (1,))),
            padding=cfg.get("padding", "valid"), dilation_rate=tuple(cfg.get("dilation_rate", (1,))), **common,
        )  # fmt: skip
    return built, [kernel] + ([bias] if bias is not None else [])


def _batchnorm(layer: Layer) -> tuple[Any, dict[str, np.ndarray]]:
    """QKeras' float32 scale and offset, held exactly by a QBatchNormalization of unit variance and zero mean."""
    cfg = layer.config
    axis = cfg.get("axis", -1)
    if axis not in (-1, [-1]) and not (isinstance(axis, list) and len(axis) == 1):
        raise ConversionError(f"{_where(layer)}: normalises over axis {axis}; only the last (channel) axis is imported")
    mean, variance = _weights(layer, ("moving_mean", "moving_variance"))
    gamma = layer.weights.get("gamma", np.ones_like(mean)) if cfg.get("scale", True) else np.ones_like(mean)
    beta = layer.weights.get("beta", np.zeros_like(mean)) if cfg.get("center", True) else np.zeros_like(mean)
    f32 = np.float32
    scale = (f32(1.0) / np.sqrt(variance.astype(f32) + f32(cfg.get("epsilon", 1e-3)))).astype(f32) * gamma.astype(f32)
    offset = (beta.astype(f32) - mean.astype(f32) * scale).astype(f32)
    built = _affine(scale, offset, layer.name)
    zeros, ones = np.zeros_like(scale), np.ones_like(scale)
    values = {"bn_gamma": scale, "bn_beta": offset, "moving_mean": zeros, "moving_variance": ones}
    return built, values


def _pooling(layer: Layer) -> Any:
    """HGQ2's pooling layers, with no quantizers of their own: hls4ml then knows the exact widths through them."""
    from hgq import layers

    cfg = layer.config
    size = cfg.get("pool_size")
    sizes = size if isinstance(size, list | tuple) else [size]
    if "Average" in layer.kind:
        count = int(np.prod(sizes))
        if count & (count - 1):
            raise ConversionError(
                f"{_where(layer)}: averages {count} values; a division by a number that is not a power of two "
                "cannot be computed exactly in fixed point"
            )
        if cfg.get("padding", "valid") != "valid":
            raise ConversionError(f"{_where(layer)}: average pooling with padding {cfg['padding']!r} is not imported")
    cls = getattr(layers, "Q" + layer.kind.replace("Pooling", "Pool").replace("Average", "Avg"))
    return cls(
        pool_size=size, strides=cfg.get("strides"), padding=cfg.get("padding", "valid"), enable_iq=False,
        enable_oq=False, enable_ebops=False, name=layer.name,
    )  # fmt: skip


def rebuild(k2: Keras2Model, input_kif: FixedFormat, *, drop_final_activation: bool = False) -> Any:
    """The Keras 3 / HGQ2 model that computes what the QKeras model does, on inputs of ``input_kif``.

    A final softmax or sigmoid (``final_probability``) is refused, naming the flag; with
    ``drop_final_activation`` the model ends before it, on the logits."""
    import keras
    from hgq.layers import Quantizer

    final = final_probability(k2)
    if final is not None and not drop_final_activation:
        raise _final_refusal(k2.layers[-1], final)
    inp = keras.Input(shape=k2.input_shape, name="model_input")
    h = Quantizer(input_quantizer_config(input_kif), name="input_bus")(inp)  # words arrive on the grid
    assignments: list[tuple[Any, dict[str, np.ndarray] | list[np.ndarray]]] = []
    for index, layer in enumerate(k2.layers):
        dropped = final is not None and index == len(k2.layers) - 1
        if dropped and layer.kind in ("Softmax", "Activation", "QActivation"):
            break
        if layer.kind in ("QDense", "QConv1D", "QConv2D"):
            built, values = _dense_or_conv(layer)
            h = built(h)
            assignments.append((built, values))
            after = [] if dropped else _activation(layer, layer.config.get("activation"))
        elif layer.kind == "QActivation":
            after = _activation(layer, layer.config.get("activation"))
        elif layer.kind == "ReLU":
            cfg = layer.config
            if cfg.get("max_value") is not None or cfg.get("negative_slope", 0.0) or cfg.get("threshold", 0.0):
                raise ConversionError(
                    f"{_where(layer)}: a clipped, leaky or shifted ReLU (max_value, negative_slope, threshold) is "
                    "not imported; use quantized_relu"
                )
            after = _activation(layer, "relu")
        elif layer.kind == "Activation":
            after = _activation(layer, layer.config.get("activation"))
        elif layer.kind == "BatchNormalization":
            built, bn_values = _batchnorm(layer)
            h = built(h)
            assignments.append((built, bn_values))
            after = []
        elif layer.kind in ("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D"):
            after = [_pooling(layer)]
        elif layer.kind == "Flatten":
            after = [keras.layers.Flatten(name=layer.name)]
        elif layer.kind in UNSUPPORTED_LAYERS:
            raise ConversionError(f"{_where(layer)} is not supported: {UNSUPPORTED_LAYERS[layer.kind]}")
        else:
            raise ConversionError(f"{_where(layer)} is not supported; import takes {SUPPORTED}")
        for extra in after:
            h = extra(h)
    model = keras.Model(inp, h, name=k2.name)
    for built, values in assignments:
        if isinstance(values, dict):
            for var in built.weights:
                short = var.path.split("/")[-1]
                if short in values:
                    var.assign(values[short])
        else:
            built.kernel.assign(values[0])
            if len(values) > 1:
                built.bias.assign(values[1])
    return model
