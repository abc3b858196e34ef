"""A user's Keras 3 model of HGQ2 layers, imported as it is: checked layer by layer, the input bus put in front.

HGQ2's layers give every value a fixed-point format, which hls4ml and da4ml build exactly; a float Keras
layer does not, so it is refused by name. The model keeps its own layers and weights; only an input
quantizer of the card's input word is put in front (words arrive on that grid, so it changes nothing
for inputs on it), as for every model of the flow.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from ...artifacts import FixedFormat
from ...errors import ConversionError, ModelFileError

#: Keras layers without arithmetic of their own, which the firmware builds as wiring
WIRING = {"InputLayer": "", "Flatten": "", "Reshape": "", "Dropout": "", "ReLU": ""}
#: activations an HGQ2 layer may carry: the firmware computes them exactly
EXACT_ACTIVATIONS = {"linear", "relu"}


def keras_version(path: Path) -> str:
    """The Keras version a ``.keras`` file was saved with (its ``metadata.json``), or "unknown"."""
    try:
        with zipfile.ZipFile(path) as z:
            return str(json.loads(z.read("metadata.json")).get("keras_version", "unknown"))
    except (KeyError, ValueError, zipfile.BadZipFile, OSError):
        return "unknown"


def read(path: Path) -> Any:
    """The model in a Keras 3 ``.keras`` file, HGQ2's layers registered; one clear error where it does not load."""
    import hgq  # noqa: F401  (registers HGQ2's layers with Keras' deserialisation)
    import keras
    import qkeras  # noqa: F401  (HGQ2's QKeras-style quantizers, which its QKeras-API layers save; not qlayers,
    # which would rewrite every HGQ2 layer class for the process: nets.refuse_patched_hgq)

    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a Keras 3 .keras file (a zip archive); was it saved with model.save()?")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as err:  # Keras raises many kinds: unknown layer, bad config, truncated weights
        raise ModelFileError(
            f"{path}: Keras 3 cannot load it here ({type(err).__name__}: {str(err).splitlines()[0][:200]}); import "
            "takes models of Keras and HGQ2 layers saved with model.save()"
        ) from err


def check(model: Any) -> None:
    """Refuse, by name, a layer whose arithmetic the firmware cannot build exactly, and a model that is no chain."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConversionError(f"model {model.name!r}: {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                              "import takes one input and one output")  # fmt: skip
    for layer in model.layers:
        kind = type(layer).__name__
        if type(layer).__module__.startswith("hgq."):
            activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
            if activation not in EXACT_ACTIVATIONS:
                raise ConversionError(
                    f"layer {layer.name!r} ({kind}): activation {activation!r} is a float function the firmware "
                    "cannot compute exactly; use relu or linear, and an HGQ2 quantizer for anything else"
                )
            continue
        if kind not in WIRING:
            raise ConversionError(
                f"layer {layer.name!r} ({kind}) is a float Keras layer: its values have no fixed-point format, so "
                "the firmware cannot build it exactly; use HGQ2's quantised layers (hgq.layers: QDense, QConv1D, "
                "QConv2D, QBatchNormalization, Quantizer, ...)"
            )


def with_input_bus(model: Any, input_kif: FixedFormat) -> Any:
    """The model's own layers, in order, behind an input quantizer of ``input_kif`` (the firmware's input bus)."""
    import keras
    from hgq.layers import Quantizer

    from ...nets.mlp import input_quantizer_config

    inp = keras.Input(shape=tuple(model.input_shape[1:]), name="model_input")
    h = Quantizer(input_quantizer_config(input_kif), name="input_bus")(inp)
    for layer in model.layers:
        if type(layer).__name__ != "InputLayer":
            h = layer(h)
    return keras.Model(inp, h, name=model.name)
