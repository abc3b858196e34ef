"""QKeras 0.9 quantisers: parsed from a saved model, applied to weights exactly as QKeras does, mapped to HGQ2.

What QKeras 0.9.0 computes (``qkeras/quantizers.py``), all in float32, ``round`` being ``tf.round``
(half to even):

- ``quantized_bits(bits, integer, symmetric, keep_negative, alpha)``: with ``m = 2**(bits - keep_negative)``,
  ``xq = alpha * 2**integer * clip(round(x * m / 2**integer), keep_negative * (symmetric - m), m - 1) / m``
  (``alpha`` None counts as 1): a fixed-point number of ``integer`` bits above the point, sign apart, and
  ``bits - keep_negative - integer`` below it, saturating (symmetrically with ``symmetric``). One unsigned bit
  or none is ``sign(x)`` with 0 taken as +1. ``alpha='auto'``/``'auto_po2'`` choose a scale per channel from
  the values themselves.
- ``quantized_relu(bits, integer)``: ``clip(round(x * 2**(bits - integer)), 0, 2**bits - 1) * 2**(integer - bits)``.
- ``quantized_tanh(bits, symmetric)``: by default the hard tanh ``clip(x, -1, 1)`` quantised to ``bits - 1``
  fraction bits and a sign, saturating; ``use_real_tanh`` takes the real tanh.
- ``quantized_sigmoid(bits)``: by default the hard sigmoid ``clip(0.5 x + 0.5, 0, 1)`` quantised to ``bits``
  fraction bits, saturating below 1; ``use_real_sigmoid`` takes the real sigmoid.
- ``quantized_po2(bits, max_value, quadratic_approximation, log2_rounding)``: ``sign(x) * 2**e``, 0 taken as
  +1, ``e = round(log(min(|x|, max_value)) / log 2)`` (``floor`` with ``log2_rounding='floor'``; of the square
  root, doubled, with ``quadratic_approximation``) clipped to ``[-2**b, 2**b - 1]`` with ``b = bits - 1`` less
  an exponent sign bit unless ``max_value`` is at most 1; ``|x| < 1e-7`` gives the smallest exponent. As a
  weight, each value is a constant ``+-2**e``: an ordinary fixed-point constant for hls4ml and da4ml.
- ``binary(alpha)``: ``alpha * sign(x)``, 0 taken as +1; ``ternary(alpha, threshold=0.33)``:
  ``alpha * sign(x) * (|x| >= threshold)``. As kernel quantisers without an alpha, QKeras' layers turn
  both (and ``quantized_bits``) into ``alpha='auto_po2'``, a power-of-two scale per output channel.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..artifacts import FixedFormat
from ..errors import ConversionError

#: QKeras 0.9.0's parameter order and defaults, for quantisers saved as a call ("quantized_bits(8,0,alpha=1)")
SIGNATURES: dict[str, dict[str, Any]] = {
    "quantized_bits": {
        "bits": 8, "integer": 0, "symmetric": 0, "keep_negative": True, "alpha": None,
        "use_stochastic_rounding": False, "scale_axis": None, "qnoise_factor": 1.0, "var_name": None,
        "use_ste": True, "use_variables": False,
    },
    "quantized_relu": {
        "bits": 8, "integer": 0, "use_sigmoid": 0, "negative_slope": 0.0, "use_stochastic_rounding": False,
        "relu_upper_bound": None, "is_quantized_clip": True, "qnoise_factor": 1.0, "var_name": None,
        "use_ste": True, "use_variables": False,
    },
    "quantized_tanh": {"bits": 8, "use_stochastic_rounding": False, "symmetric": False, "use_real_tanh": False},
    "quantized_sigmoid": {"bits": 8, "symmetric": False, "use_real_sigmoid": False, "use_stochastic_rounding": False},
    "binary": {"use_01": False, "alpha": None, "use_stochastic_rounding": False},
    "ternary": {"alpha": None, "threshold": None, "use_stochastic_rounding": False, "number_of_unrolls": 5},
    "quantized_po2": {
        "bits": 8, "max_value": None, "use_stochastic_rounding": False, "quadratic_approximation": False,
        "log2_rounding": "rnd", "qnoise_factor": 1.0, "var_name": None, "use_ste": True, "use_variables": False,
    },
}  # fmt: skip

#: QKeras quantisers the flow cannot implement exactly, and what it would take
UNSUPPORTED = {
    "quantized_relu_po2": "a power-of-two (logarithmic) ReLU on activations: its outputs 2**k are not a "
    "fixed-point grid, so the next layer would need a shift per value rather than a multiplication",
    "quantized_ulaw": "a mu-law (logarithmic) quantiser, not a fixed-point one",
    "stochastic_binary": "stochastic rounding has no deterministic firmware",
    "stochastic_ternary": "stochastic rounding has no deterministic firmware",
    "bernoulli": "a random quantiser has no deterministic firmware",
    "quantized_hswish": "hard swish multiplies the input by a clipped copy of itself, not built by the importer",
}


@dataclass(frozen=True)
class Quantizer:
    """One QKeras quantiser as saved: its name and every parameter, defaults filled in."""

    name: str
    params: dict[str, Any]
    text: str  # as the file wrote it, for messages

    def __getitem__(self, key: str) -> Any:
        return self.params[key]


@dataclass(frozen=True)
class SaturatingFormat:
    """A fixed-point format with QKeras' rounding (half to even) and saturation: HGQ2's ``kif`` quantiser."""

    signed: bool
    integer: int  # bits above the binary point, sign apart
    fraction: int
    symmetric: bool = False  # the most negative code left out

    @property
    def fixed(self) -> FixedFormat:
        return FixedFormat(int(self.signed), self.integer, self.fraction)

    @property
    def overflow_mode(self) -> str:
        return "SAT_SYM" if self.symmetric else "SAT"

    def __str__(self) -> str:
        kind = "fixed" if self.signed else "ufixed"
        return f"{kind}<{self.signed + self.integer + self.fraction},{self.signed + self.integer}>"


def parse(value: Any, where: str) -> Quantizer | str | None:
    """A saved quantiser (a call string, or QKeras' ``{"class_name", "config"}``), an activation's name, or None."""
    if value is None:
        return None
    if isinstance(value, dict):
        name = value.get("class_name")
        config = value.get("config", {})
        if name in SIGNATURES or name in UNSUPPORTED:
            return _fill(str(name), (), dict(config), f"{name}({config})", where)
        raise ConversionError(f"{where}: unknown quantiser or activation {value!r}")
    text = str(value).strip()
    if "(" not in text:
        if text in UNSUPPORTED or text in SIGNATURES:
            return _fill(text, (), {}, text, where)
        return text  # a Keras activation by name: "relu", "linear", ...
    try:
        call = ast.parse(text, mode="eval").body
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
            raise ValueError("not a call")
        args = tuple(ast.literal_eval(a) for a in call.args)
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg is not None}
    except (SyntaxError, ValueError) as err:
        raise ConversionError(f"{where}: cannot read the quantiser {text!r} ({err})") from err
    return _fill(call.func.id, args, kwargs, text, where)


def _fill(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], text: str, where: str) -> Quantizer:
    if name in UNSUPPORTED:
        raise ConversionError(f"{where}: quantiser {text} is not supported: {UNSUPPORTED[name]}")
    if name not in SIGNATURES:
        raise ConversionError(
            f"{where}: unknown quantiser {text}; import takes {', '.join(sorted(SIGNATURES))} (QKeras 0.9)"
        )
    defaults = SIGNATURES[name]
    if "post_training_scale" in kwargs:  # QKerasV3's: a float scale after training, none where it is null
        scale = kwargs.pop("post_training_scale")
        if scale is not None:
            raise ConversionError(
                f"{where}: {text} has post_training_scale {scale!r}, a float scale with no exact fixed-point "
                "form; re-save the model without it"
            )
    if len(args) > len(defaults):
        raise ConversionError(f"{where}: {text} has more arguments than QKeras' {name} takes")
    params = dict(defaults) | dict(zip(defaults, args, strict=False))
    unknown = set(kwargs) - set(defaults)
    if unknown:
        raise ConversionError(f"{where}: {text} has arguments QKeras' {name} does not take: {sorted(unknown)}")
    params |= kwargs
    if params.get("use_stochastic_rounding"):
        raise ConversionError(f"{where}: {text} rounds stochastically, which has no deterministic firmware")
    if isinstance(params.get("alpha"), str) and params["alpha"] != "auto_po2":
        raise ConversionError(
            f"{where}: {text} has alpha={params['alpha']!r}, a float scale QKeras searches for at run time; only "
            "'auto_po2' (a power of two per channel, exact in fixed point) is imported. Re-save the model with "
            "alpha 1, a fixed power of two, or 'auto_po2'"
        )
    if params.get("qnoise_factor", 1.0) != 1.0:
        raise ConversionError(f"{where}: {text} has qnoise_factor {params['qnoise_factor']}; only 1.0 is imported")
    return Quantizer(name=name, params=params, text=text)


def _log2_rounded(v: np.ndarray) -> np.ndarray:
    """``2**round(log(v + eps) / log(2))`` in float32, as QKeras writes it (K.epsilon() = 1e-7)."""
    f32 = np.float32
    exponent = np.round(np.log(v + f32(1e-7)) / f32(np.log(2.0)))
    return np.power(f32(2.0), exponent).astype(f32)


def _channel_axes(w: np.ndarray) -> tuple[int, ...] | None:
    """The axes QKeras averages over for a per-channel scale: all but the last (channels last); none for 1-D."""
    return tuple(range(w.ndim - 1)) if w.ndim > 1 else None


def _lsq_po2(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """QKeras' ``_get_scale(alpha='auto_po2')``: the least-squares scale of ``z`` to ``x`` per channel, a power of 2."""
    f32 = np.float32
    axes = _channel_axes(x)
    if axes is None:  # a 1-D tensor: a scale per element
        qx, qq = x * z, z * z
    else:
        qx = np.mean(x * z, axis=axes, keepdims=True, dtype=f32)
        qq = np.mean(z * z, axis=axes, keepdims=True, dtype=f32)
    return _log2_rounded((qx / (qq + f32(1e-7))).astype(f32))


def _auto_po2(q: Quantizer, w: np.ndarray) -> np.ndarray:
    """QKeras' ``alpha='auto_po2'``: per output channel, the power-of-two scale its least-squares search settles on.

    As ``quantized_bits.__call__``, ``binary.__call__`` and ``ternary.__call__`` compute it, in float32: the
    result is a power of two per channel times a small integer, exact in fixed point.
    """
    f32 = np.float32
    if q.name == "binary":
        z = np.sign(w) + (f32(1.0) - np.abs(np.sign(w)))
        if q["use_01"]:
            z = (z + f32(1.0)) / f32(2.0)
        return (_lsq_po2(w, z) * z).astype(f32)
    if q.name == "ternary":
        scale = _log2_rounded(f32(2.0) * np.max(np.abs(w), axis=_channel_axes(w), keepdims=True) / f32(3.0))
        for _ in range(int(q["number_of_unrolls"])):
            z = (np.abs(scale * np.round(w / scale)) >= scale / f32(2.0)) * np.sign(w)
            scale = _lsq_po2(w, z.astype(f32))
        return (scale * z).astype(f32)
    m_i = f32(2.0 ** q["integer"])
    x = (w / m_i).astype(f32)
    levels = f32((2 ** (q["bits"] - 1) - 1) * 2)  # 'auto*' forces symmetric
    scale = _log2_rounded((np.max(np.abs(x), axis=_channel_axes(x), keepdims=True) * f32(2.0)) / levels)
    for _ in range(5):
        v = np.floor(np.abs(x) / scale + f32(0.5))
        z = (np.sign(x) * np.where(v < levels / f32(2.0), v, levels / f32(2.0))).astype(f32)
        scale = _lsq_po2(x, z)
    return (scale * m_i * z).astype(f32)


def _po2(q: Quantizer, w: np.ndarray, where: str) -> np.ndarray:
    """QKeras' ``quantized_po2`` of weights, in float32 as it computes it (``_clip_power_of_two``)."""
    f32 = np.float32
    max_value, rounding = q["max_value"], q["log2_rounding"]
    if rounding not in ("rnd", "floor"):
        raise ConversionError(f"{where}: {q.text} has log2_rounding {rounding!r}; QKeras takes 'rnd' or 'floor'")
    if max_value is not None and max_value < 0:
        raise ConversionError(f"{where}: {q.text} has a negative max_value, which QKeras refuses")
    effect = q["bits"] - 1 - (0 if max_value is not None and max_value <= 1 else 1)
    min_exp, max_exp = -(2**effect), 2**effect - 1
    if q["quadratic_approximation"]:
        max_exp = 2 * (max_exp // 2)
    eps = f32(1e-7)  # keras.backend.epsilon()
    a = np.abs(w)
    x = np.where(a < eps, eps, a)
    if max_value is not None:
        x = np.where(x >= f32(max_value), f32(max_value), x).astype(f32)
    factor = f32(2.0) if q["quadratic_approximation"] else f32(1.0)
    x = np.sqrt(x) if q["quadratic_approximation"] else x
    log2 = (np.log(x) / f32(np.log(2.0))).astype(f32)
    exponent = np.floor(log2) if rounding == "floor" else np.round(log2)
    exponent = np.where(a < eps, f32(min_exp), factor * np.clip(exponent, min_exp, max_exp))
    sign = np.sign(w) + (f32(1.0) - np.abs(np.sign(w)))
    return (sign * np.power(f32(2.0), exponent)).astype(f32)


def _alpha(q: Quantizer) -> float:
    return 1.0 if q.params.get("alpha") is None else float(q["alpha"])


def quantize_weights(q: Quantizer, w: np.ndarray, where: str) -> np.ndarray:
    """The values QKeras computes from ``w`` with this quantiser, in float32 as it does."""
    w = np.asarray(w, dtype=np.float32)
    one = np.float32(1.0)
    if q.params.get("alpha") == "auto_po2":
        scaled = _auto_po2(q, w)
        if not np.all(np.isfinite(scaled)):
            raise ConversionError(f"{where}: QKeras' own 'auto_po2' scale of {q.text} is not finite for these weights")
        return scaled
    if q.name == "quantized_bits":
        unsigned = q["bits"] - int(q["keep_negative"])
        if unsigned > 0:
            m, m_i = np.float32(2.0**unsigned), np.float32(2.0 ** q["integer"])
            low = int(q["keep_negative"]) * (-m + q["symmetric"])
            xq = m_i * np.clip(np.round(w * m / m_i), low, m - 1) / m
        else:
            xq = np.sign(w) + (one - np.abs(np.sign(w)))
            if not q["keep_negative"]:
                xq = (xq + one) / np.float32(2.0)
        return (np.float32(_alpha(q)) * xq).astype(np.float32)
    if q.name == "binary":
        sign = np.sign(w) + (one - np.abs(np.sign(w)))
        if q["use_01"]:
            sign = (sign + one) / np.float32(2.0)
        return (np.float32(_alpha(q)) * sign).astype(np.float32)
    if q.name == "ternary":
        threshold = np.float32(0.33 if q["threshold"] is None else q["threshold"])
        return (np.float32(_alpha(q)) * (np.abs(w) >= threshold) * np.sign(w)).astype(np.float32)
    if q.name == "quantized_po2":
        return _po2(q, w, where)
    raise ConversionError(f"{where}: {q.text} quantises activations; as a weight quantiser it is not supported")


def data_format(q: Quantizer, where: str) -> SaturatingFormat:
    """The fixed-point format an activation quantiser rounds to, or the reason it has none."""
    if q.name == "quantized_bits":
        unsigned = q["bits"] - int(q["keep_negative"])
        if unsigned <= 0:
            raise ConversionError(f"{where}: {q.text} on activations is a sign function, not built by the importer")
        if isinstance(q["alpha"], str) or _alpha(q) != 1.0:
            raise ConversionError(
                f"{where}: {q.text} scales activations by alpha={q['alpha']} after rounding; only alpha 1 (or None) "
                "is imported on activations (a power-of-two alpha on weights is)"
            )
        return SaturatingFormat(
            signed=bool(q["keep_negative"]),
            integer=int(q["integer"]),
            fraction=unsigned - int(q["integer"]),
            symmetric=bool(q["symmetric"]) and bool(q["keep_negative"]),
        )
    if q.name == "quantized_relu":
        if q["negative_slope"] or q["use_sigmoid"]:
            raise ConversionError(
                f"{where}: {q.text} has a negative slope or a sigmoid; only the plain quantised ReLU is imported"
            )
        if q["relu_upper_bound"] is not None and not q["is_quantized_clip"]:
            raise ConversionError(f"{where}: {q.text} clips at relu_upper_bound, which the importer does not build")
        return SaturatingFormat(signed=False, integer=int(q["integer"]), fraction=int(q["bits"]) - int(q["integer"]))
    if q.name == "quantized_tanh":
        if q["use_real_tanh"]:
            raise ConversionError(
                f"{where}: {q.text} takes the real tanh, which would need a lookup table; the hard tanh "
                "(use_real_tanh=False, QKeras' default) is imported"
            )
        return SaturatingFormat(signed=True, integer=0, fraction=int(q["bits"]) - 1, symmetric=bool(q["symmetric"]))
    if q.name == "quantized_sigmoid":
        if q["use_real_sigmoid"]:
            raise ConversionError(
                f"{where}: {q.text} takes the real sigmoid, which would need a lookup table; the hard sigmoid "
                "(use_real_sigmoid=False, QKeras' default) is imported"
            )
        if q["symmetric"]:
            raise ConversionError(
                f"{where}: {q.text} is symmetric: its lowest value is 2**-bits, not 0, a clip no fixed-point "
                "quantiser makes; the importer takes symmetric=False"
            )
        return SaturatingFormat(signed=False, integer=0, fraction=int(q["bits"]))
    raise ConversionError(f"{where}: {q.text} on activations is not supported: binary and ternary are for weights")


def affine_before(q: Quantizer) -> tuple[float, float] | None:
    """The ``(scale, offset)`` QKeras applies before rounding: the hard sigmoid's ``0.5 x + 0.5`` (exact)."""
    return (0.5, 0.5) if q.name == "quantized_sigmoid" else None


def holding_format(values: np.ndarray) -> FixedFormat:
    """The narrowest (keep_negative, integer, fraction) that holds every value exactly: for constant weights."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[v != 0]
    if v.size == 0:
        return FixedFormat(0, 0, 1)
    fraction = next(f for f in range(-64, 160) if np.all(np.ldexp(v, f) == np.round(np.ldexp(v, f))))
    positive = float(v.max()) + 2.0**-fraction if np.any(v > 0) else 0.0
    negative = -float(v.min()) if np.any(v < 0) else 0.0
    return FixedFormat(int(negative > 0), math.ceil(math.log2(max(positive, negative))), fraction)
