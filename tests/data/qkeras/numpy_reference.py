"""Pure numpy + h5py re-implementation of the QKeras 0.9.0 inference used by
the reference models in this folder (an executable form of README.md's
"QKeras 0.9.0 semantics").

It needs only numpy and h5py (no TensorFlow, no QKeras), so it runs in the
project venv too:

    python tests/data/qkeras/numpy_reference.py            # check all models

For each model it reads ``model.json`` + ``weights.h5``, re-computes
``quantized_weights.npz`` and ``reference.npz['y']`` from ``x`` and reports
the number of mismatching values (expected: 0).  Only the layer/quantiser
subset used by these models is implemented; anything else raises.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
F32 = np.float32

# positional-argument order of each quantiser's __init__ in QKeras 0.9.0
SIGNATURES = {
    "quantized_bits": [
        "bits",
        "integer",
        "symmetric",
        "keep_negative",
        "alpha",
        "use_stochastic_rounding",
        "scale_axis",
        "qnoise_factor",
        "var_name",
        "use_ste",
        "use_variables",
    ],
    "quantized_relu": [
        "bits",
        "integer",
        "use_sigmoid",
        "negative_slope",
        "use_stochastic_rounding",
        "relu_upper_bound",
        "is_quantized_clip",
        "qnoise_factor",
        "var_name",
        "use_ste",
        "use_variables",
    ],
    "quantized_tanh": ["bits", "use_stochastic_rounding", "symmetric", "use_real_tanh"],
    "quantized_sigmoid": ["bits", "symmetric", "use_real_sigmoid", "use_stochastic_rounding"],
    "binary": ["use_01", "alpha", "use_stochastic_rounding"],
    "ternary": ["alpha", "threshold", "use_stochastic_rounding", "number_of_unrolls"],
}
DEFAULTS = {
    "quantized_bits": dict(
        bits=8, integer=0, symmetric=0, keep_negative=True, alpha=None, use_stochastic_rounding=False
    ),
    "quantized_relu": dict(
        bits=8,
        integer=0,
        use_sigmoid=0,
        negative_slope=0.0,
        use_stochastic_rounding=False,
        relu_upper_bound=None,
        is_quantized_clip=True,
    ),
    "quantized_tanh": dict(bits=8, use_stochastic_rounding=False, symmetric=False, use_real_tanh=False),
    "quantized_sigmoid": dict(bits=8, symmetric=False, use_real_sigmoid=False, use_stochastic_rounding=False),
    "binary": dict(use_01=False, alpha=None, use_stochastic_rounding=False),
    "ternary": dict(alpha=None, threshold=None, use_stochastic_rounding=False),
}


def _arg(s: str):
    """qkeras.safe_eval.GetArg: bool, then int, then float, else strip quotes."""
    s = s.strip()
    if s in ("True", "False"):
        return s == "True"
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s[1:-1]


def parse_quantizer(spec):
    """JSON quantiser spec -> (class_name, kwargs).

    ``spec`` is either the string form ("quantized_relu(8,3)", written for
    QActivation("...")) or the dict form {"class_name", "config", ...}.
    """
    if spec is None:
        return None
    if isinstance(spec, dict):
        name, cfg = spec["class_name"], dict(spec["config"])
    else:
        m = re.fullmatch(r"\s*(\w+)\s*(?:\((.*)\))?\s*", spec)
        name, argstr = m.group(1), m.group(2)
        cfg = {}
        if name not in SIGNATURES:
            return name, cfg  # plain keras activation ("relu", "linear", ...)
        if argstr:
            for i, tok in enumerate(a for a in argstr.split(",") if a.strip()):
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    cfg[k.strip()] = _arg(v)
                else:
                    cfg[SIGNATURES[name][i]] = _arg(tok)
    full = dict(DEFAULTS.get(name, {}))
    full.update(cfg)
    return name, full


def _ste(x, xq):
    """QKeras returns x + stop_gradient(-x + xq) (qnoise_factor 1): float32."""
    x = x.astype(F32)
    return (x + (-x + xq.astype(F32)).astype(F32)).astype(F32)


def quantize(spec, x):
    name, c = parse_quantizer(spec)
    x = np.asarray(x, F32)
    if name == "linear":
        return x
    if name == "quantized_bits":
        if isinstance(c["alpha"], str):
            raise NotImplementedError(f"alpha={c['alpha']!r} (data-dependent scale)")
        if c["use_stochastic_rounding"]:
            raise NotImplementedError("stochastic rounding")
        kn = int(bool(c["keep_negative"]))
        unsigned = c["bits"] - kn
        m = 2.0**unsigned
        mi = 2.0 ** c["integer"]
        if unsigned > 0:
            p = x.astype(np.float64) * m / mi
            xq = mi * np.clip(np.round(p), kn * (-m + int(c["symmetric"])), m - 1) / m
        else:  # 1-bit signed: sign with 0 -> +1
            xq = np.where(x >= 0, 1.0, -1.0)
        scale = 1.0 if c["alpha"] is None else float(c["alpha"])
        return _ste(x, scale * xq)
    if name == "quantized_relu":
        if c["use_sigmoid"] or c["negative_slope"] or c["use_stochastic_rounding"]:
            raise NotImplementedError("quantized_relu use_sigmoid/negative_slope")
        m = 2.0 ** c["bits"]
        mi = 2.0 ** c["integer"]
        mf = 2.0 ** (c["integer"] - c["bits"])
        x64 = x.astype(np.float64)
        # is_quantized_clip=True (always, after a JSON round trip)
        xu = np.where(x64 <= mi - mf, np.maximum(x64, 0.0), mi - mf)
        xq = mi * np.clip(np.round(x64 * m / mi) / m, 0.0, 1.0 - 1.0 / m)
        return _ste(xu, xq)
    if name == "quantized_tanh":
        if c["use_real_tanh"]:
            raise NotImplementedError("use_real_tanh")
        m = F32(2.0 ** (c["bits"] - 1))
        hs = np.clip(F32(0.5) * x + F32(0.5), F32(0), F32(1)).astype(F32)
        p = (F32(2.0) * hs - F32(1.0)).astype(F32)
        return np.clip(np.round(p * m) / m, -1.0 + float(c["symmetric"]) / m, 1.0 - 1.0 / m).astype(F32)
    if name == "quantized_sigmoid":
        if c["use_real_sigmoid"]:
            raise NotImplementedError("use_real_sigmoid")
        m = F32(2.0 ** c["bits"])
        p = np.clip(F32(0.5) * x + F32(0.5), F32(0), F32(1)).astype(F32)
        return np.clip(np.round(p * m) / m, float(c["symmetric"]) / m, 1.0 - 1.0 / m).astype(F32)
    if name == "binary":
        if isinstance(c["alpha"], str) or c["use_stochastic_rounding"]:
            raise NotImplementedError("binary auto alpha / stochastic")
        k = np.where(x >= 0, 1.0, -1.0)
        if c["use_01"]:
            k = (k + 1.0) / 2.0
        scale = 1.0 if c["alpha"] is None else float(c["alpha"])
        xs = np.tanh(x) if c["alpha"] is None else x
        return _ste(xs, scale * k)
    if name == "ternary":
        if isinstance(c["alpha"], str) or c["use_stochastic_rounding"]:
            raise NotImplementedError("ternary auto alpha / stochastic")
        thr = F32(0.33 if c["threshold"] is None else c["threshold"])
        q = (np.abs(x) >= thr) * np.sign(x)
        scale = 1.0 if c["alpha"] is None else float(c["alpha"])
        xs = np.tanh(x) if c["alpha"] is None else x
        return _ste(xs, scale * q)
    raise NotImplementedError(name)


def _act(spec, x):
    if spec in (None, "linear"):
        return x
    return quantize(spec, x)


def load_weights(path: Path) -> dict:
    """{layer: {weight short name: array}} from a Keras-2 weights h5 (either
    save_weights or the model_weights group of a full model.h5)."""
    out = {}
    with h5py.File(path, "r") as f:
        g = f["model_weights"] if "model_weights" in f else f
        for lname in g.attrs["layer_names"]:
            lname = lname.decode() if isinstance(lname, bytes) else lname
            names = g[lname].attrs["weight_names"]
            ws = {}
            for wn in names:
                wn = wn.decode() if isinstance(wn, bytes) else wn
                ws[wn.split("/")[-1].split(":")[0]] = np.asarray(g[lname][wn], F32)
            out[lname] = ws
    return out


def _conv1d(x, k, b):
    n, t, _ = x.shape
    kw, _, co = k.shape
    out = np.zeros((n, t - kw + 1, co))
    for j in range(kw):
        out += x[:, j : j + t - kw + 1, :].astype(np.float64) @ k[j].astype(np.float64)
    return out + b


def _conv2d(x, k, b):
    n, h, w, _ = x.shape
    kh, kw, _, co = k.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, co))
    for i in range(kh):
        for j in range(kw):
            out += x[:, i : i + h - kh + 1, j : j + w - kw + 1, :].astype(np.float64) @ k[i, j].astype(np.float64)
    return out + b


def run_model(model_dir: Path, x: np.ndarray):
    cfg = json.loads((model_dir / "model.json").read_text())
    weights = load_weights(model_dir / "weights.h5")
    layers = cfg["config"]["layers"]
    qweights = {}
    h = np.asarray(x, F32)
    # the four reference models are straight chains (Functional or Sequential)
    for lay in layers:
        cls, c, name = lay["class_name"], lay["config"], lay["config"]["name"]
        w = weights.get(name, {})
        if cls == "InputLayer":
            continue
        if cls == "QActivation":
            h = quantize(c["activation"], h)
        elif cls in ("QDense", "QConv1D", "QConv2D"):
            if (
                c.get("padding", "valid") != "valid"
                or any(s != 1 for s in c.get("strides", [1]))
                or any(d != 1 for d in c.get("dilation_rate", [1]))
            ):
                raise NotImplementedError("only valid/stride 1/dilation 1")
            k = quantize(c["kernel_quantizer"], w["kernel"]) if c["kernel_quantizer"] else w["kernel"]
            qweights[f"{name}/kernel"] = k
            b = 0.0
            if c["use_bias"]:
                b = quantize(c["bias_quantizer"], w["bias"]) if c["bias_quantizer"] else w["bias"]
                qweights[f"{name}/bias"] = b
            if cls == "QDense":
                y = h.astype(np.float64) @ k.astype(np.float64) + b
            elif cls == "QConv1D":
                y = _conv1d(h, k, b)
            else:
                y = _conv2d(h, k, b)
            h = _act(c["activation"], y.astype(F32))
        elif cls == "BatchNormalization":
            # tf.nn.batch_normalization, float32:
            #   inv = rsqrt(var + eps) * gamma ; y = x * inv + (beta - mean * inv)
            eps = F32(c["epsilon"])
            inv = (F32(1.0) / np.sqrt(w["moving_variance"] + eps)).astype(F32)
            inv = (inv * w["gamma"]).astype(F32)
            off = (w["beta"] - (w["moving_mean"] * inv).astype(F32)).astype(F32)
            h = ((h * inv).astype(F32) + off).astype(F32)
        elif cls in ("MaxPooling1D", "AveragePooling1D"):
            p = c["pool_size"][0]
            n, t, ch = h.shape
            t2 = t // p
            r = h[:, : t2 * p].reshape(n, t2, p, ch)
            h = r.max(axis=2) if cls.startswith("Max") else (r.sum(axis=2) / p).astype(F32)
        elif cls == "MaxPooling2D":
            ph, pw = c["pool_size"]
            n, hh, ww, ch = h.shape
            r = h[:, : hh // ph * ph, : ww // pw * pw].reshape(n, hh // ph, ph, ww // pw, pw, ch)
            h = r.max(axis=(2, 4))
        elif cls == "Flatten":
            h = h.reshape(h.shape[0], -1)
        else:
            raise NotImplementedError(cls)
        h = np.asarray(h, F32)
    return h, qweights


def check(model_dir: Path) -> int:
    ref = np.load(model_dir / "reference.npz")
    y, qw = run_model(model_dir, ref["x"])
    ref_qw = np.load(model_dir / "quantized_weights.npz")
    bad_w = sum(int(np.sum(qw[k] != ref_qw[k])) for k in ref_qw.files)
    diff = y != ref["y"]
    err = float(np.max(np.abs(y - ref["y"]))) if diff.any() else 0.0
    print(
        f"{model_dir.name:16s} weight mismatches {bad_w:4d}   "
        f"output mismatches {int(diff.sum()):4d}/{diff.size} "
        f"(rows {int(diff.any(axis=tuple(range(1, diff.ndim))).sum())}), max |dy| {err:.3g}"
    )
    return bad_w + int(diff.sum())


if __name__ == "__main__":
    names = sys.argv[1:] or ["dense_tagger", "cnn1d", "cnn2d", "binary_ternary"]
    total = sum(check(HERE / n) for n in names)
    sys.exit(1 if total else 0)
