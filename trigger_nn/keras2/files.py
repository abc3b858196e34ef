"""QKeras model files read with h5py and json alone: no QKeras, no tf-keras in this environment.

Keras 2 saves an architecture as JSON (``model.to_json()``) and weights as HDF5 (``save_weights``: one
group per layer at the root), or both in one HDF5 file (``model.save``: the JSON in the root's
``model_config`` attribute, the weights under ``model_weights/``). A layer group lists its weights in
its ``weight_names`` attribute (``"dense/kernel:0"``, ...), each a dataset at that path in the group.

QKerasV3 (QKeras for Keras 3, ``qkeras-v3`` on PyPI) saves a ``.keras`` zip: ``config.json`` (Keras 3's
layer configs; its layers registered as ``qkeras>QDense``, ...; quantisers always as dicts) and
``model.weights.h5`` (``layers/<snake_case class>[_N]/vars/<i>``, the layer's name in the ``name``
attribute of its ``vars`` group; the optimizer's state beside it). Its layers' module is ``qkeras``, as
HGQ2's QKeras API's is, so Keras cannot load them here: they are read from the file, as Keras 2's are.
Format as found in qkeras-v3 1.2.1 files: tests/data/qkeras_v3/README.md.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConversionError, ModelFileError

#: layers that compute nothing at inference
SKIPPED = frozenset({"InputLayer", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise"})


@dataclass(frozen=True, kw_only=True)
class Layer:
    name: str
    kind: str  # the Keras 2 / QKeras class name
    config: dict[str, Any]
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # by short name: kernel, bias, gamma, ...


@dataclass(frozen=True, kw_only=True)
class Keras2Model:
    name: str
    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]  # in order of computation, a chain; input and dropout layers left out
    keras_version: str


def read(model_path: Path, weights_path: Path | None = None) -> Keras2Model:
    """Architecture and weights from ``MODEL.json WEIGHTS.h5`` or one full-model ``MODEL.h5``."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelFileError(f"{model_path}: no such file")
    if model_path.suffix == ".keras":
        if weights_path is not None:
            raise ModelFileError(f"{model_path}: a .keras file holds its weights; give it alone")
        if not is_qkeras_v3(model_path):
            raise ModelFileError(
                f"{model_path}: a Keras 3 .keras file without QKerasV3 layers; this reader takes QKeras files "
                "(MODEL.json WEIGHTS.h5, MODEL.h5, or a QKerasV3 MODEL.keras)"
            )
        return _read_qkeras_v3(model_path)
    if model_path.suffix == ".json":
        if weights_path is None:
            raise ModelFileError(f"{model_path}: an architecture alone; give its weights too (MODEL.json WEIGHTS.h5)")
        try:
            config = json.loads(model_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ModelFileError(f"{model_path}: not a Keras model JSON file ({err})") from err
        keras_version = str(config.get("keras_version", "unknown")) if isinstance(config, dict) else "unknown"
        weights = _read_weights(Path(weights_path), full_model=False)
    else:
        if weights_path is not None:
            raise ModelFileError(
                f"{model_path} is given with a separate weights file {weights_path}: give MODEL.json WEIGHTS.h5, "
                "or one full-model MODEL.h5 alone"
            )
        config, keras_version = _read_h5_config(model_path)
        weights = _read_weights(model_path, full_model=True)
    return _assemble(config, weights, keras_version, str(model_path))


#: QKerasV3's weights in the order Keras 3 saves them (``vars/0``, ``vars/1``, ...), by layer kind
V3_WEIGHTS = {
    "QDense": ("kernel", "bias"),
    "QConv1D": ("kernel", "bias"),
    "QConv2D": ("kernel", "bias"),
    "QDepthwiseConv2D": ("depthwise_kernel", "bias"),
}


def _keras3_config(path: Path) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("config.json"))
    except (KeyError, ValueError, zipfile.BadZipFile, OSError) as err:
        raise ModelFileError(
            f"{path}: not a Keras 3 .keras file (a zip archive with config.json: {err}); was it saved with "
            "model.save(), and copied whole?"
        ) from err


def is_qkeras_v3(path: Path) -> bool:
    """Whether a ``.keras`` file holds QKerasV3 layers (registered as ``qkeras>...``)."""
    layers = _keras3_config(path).get("config", {}).get("layers", [])
    return any(str(layer.get("registered_name") or "").startswith("qkeras>") for layer in layers)


def _read_qkeras_v3(path: Path) -> Keras2Model:
    import h5py

    config = _keras3_config(path)
    try:
        with zipfile.ZipFile(path) as z:
            version = str(json.loads(z.read("metadata.json")).get("keras_version", "unknown"))
            weights_file = io.BytesIO(z.read("model.weights.h5"))
    except (KeyError, ValueError, zipfile.BadZipFile, OSError) as err:
        raise ModelFileError(f"{path}: its metadata.json or model.weights.h5 cannot be read ({err})") from err
    weights: dict[str, dict[str, np.ndarray]] = {}
    kinds = {layer["name"]: layer["class_name"] for layer in config.get("config", {}).get("layers", [])}
    try:
        with h5py.File(weights_file, "r") as f:
            for group in f["layers"].values():
                vars_ = group["vars"]
                name = _text(vars_.attrs.get("name", ""))
                values = [np.asarray(vars_[str(i)][()]) for i in range(len(vars_))]
                if not values:
                    continue
                names = V3_WEIGHTS.get(kinds.get(name, ""))
                if names is None or len(values) > len(names):
                    raise ModelFileError(
                        f"{path}: layer {name!r} ({kinds.get(name, 'unknown')}) has {len(values)} weights this reader "
                        f"does not know how to name; QKerasV3 layers with weights read here: {', '.join(V3_WEIGHTS)}"
                    )
                weights[name] = dict(zip(names, values, strict=False))
    except (KeyError, OSError) as err:
        raise ModelFileError(f"{path}: its model.weights.h5 cannot be read ({err}); the file may be corrupt") from err
    return _assemble(config, weights, version, str(path))


def _open(path: Path) -> Any:
    import h5py

    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ModelFileError(
            f"{path}: not a readable HDF5 file ({err}); it may be truncated or corrupt: copy it again from its source"
        ) from err


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _read_h5_config(path: Path) -> tuple[dict[str, Any], str]:
    with _open(path) as f:
        if "model_config" not in f.attrs:
            raise ModelFileError(
                f"{path}: holds weights only (no 'model_config' attribute: saved with save_weights); "
                "give the architecture's JSON file first: MODEL.json WEIGHTS.h5"
            )
        try:
            config = json.loads(_text(f.attrs["model_config"]))
        except json.JSONDecodeError as err:
            raise ModelFileError(f"{path}: its 'model_config' attribute is not valid JSON ({err})") from err
        return config, _text(f.attrs.get("keras_version", "unknown"))


def _read_weights(path: Path, *, full_model: bool) -> dict[str, dict[str, np.ndarray]]:
    """Every layer's weights by layer name, then short weight name."""
    with _open(path) as f:
        root = f
        if full_model:
            if "model_weights" not in f:
                raise ModelFileError(f"{path}: an architecture without a 'model_weights' group: saved without weights?")
            root = f["model_weights"]
        if "layer_names" not in root.attrs:
            raise ModelFileError(f"{path}: not a Keras 2 weights file (no 'layer_names' attribute)")
        result: dict[str, dict[str, np.ndarray]] = {}
        for layer in (_text(n) for n in root.attrs["layer_names"]):
            try:
                group = root[layer]
                names = [_text(n) for n in group.attrs.get("weight_names", [])]
                result[layer] = {n.split("/")[-1].split(":")[0]: np.asarray(group[n][()]) for n in names}
            except (KeyError, OSError, ValueError) as err:
                raise ModelFileError(
                    f"{path}: the weights of layer {layer!r} cannot be read ({err}); the file may be truncated or "
                    "corrupt"
                ) from err
        return result


def _chain(config: dict[str, Any], where: str) -> tuple[list[dict[str, Any]], tuple[int, ...] | None]:
    """The layers of a Sequential or single-path Functional model, in order, and the input shape if stated."""
    kind = config.get("class_name")
    body = config.get("config", {})
    if kind == "Sequential":
        layers = body["layers"] if isinstance(body, dict) else body
        shape = None
        for layer in layers:
            s = layer.get("config", {}).get("batch_input_shape") or layer.get("config", {}).get("batch_shape")
            if s:
                shape = tuple(s[1:])
                break
        return list(layers), shape
    if kind not in ("Functional", "Model"):
        raise ModelFileError(f"{where}: a {kind!r} model; import takes Keras 2 Sequential and Functional models")
    layers = body["layers"]
    inputs, outputs = body.get("input_layers", []), body.get("output_layers", [])
    inputs, outputs = ([v] if v and not isinstance(v[0], list) else v for v in (inputs, outputs))  # Keras 3: flat
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConversionError(
            f"{where}: the model has {len(inputs)} inputs and {len(outputs)} outputs; the firmware takes one input "
            "vector and gives one output vector"
        )
    previous = None
    for layer in layers:
        sources = _sources(layer.get("inbound_nodes", []))
        if layer["class_name"] != "InputLayer" and sources != {previous}:
            raise ConversionError(
                f"{where}: layer {layer['name']!r} takes its input from {sorted(sources)}, not from the layer before "
                f"it ({previous!r}); import takes a chain of layers (branches, skips and merges would need the "
                "graph rebuilt layer by layer, not done)"
            )
        previous = layer["name"]
    first = layers[0].get("config", {})
    shape = first.get("batch_input_shape") or first.get("batch_shape")
    return list(layers), (tuple(shape[1:]) if shape else None)


def _sources(nodes: list[Any]) -> set[str]:
    """The layers a layer reads: Keras 2 lists ``[[name, 0, 0, {}]]``, Keras 3 ``{"args": [keras tensors]}``."""
    found = set()
    for node in nodes:
        if isinstance(node, dict):
            for arg in node.get("args", []):
                if isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
                    found.add(arg["config"]["keras_history"][0])
        else:
            found.update(entry[0] for entry in node)
    return found


def _assemble(config: Any, weights: dict[str, dict[str, np.ndarray]], keras_version: str, where: str) -> Keras2Model:
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelFileError(f"{where}: not a Keras model architecture (no 'class_name' at its top)")
    try:
        layers, shape = _chain(config, where)
    except KeyError as err:
        raise ModelFileError(f"{where}: the architecture lacks {err}; not a Keras 2 model file?") from err
    if shape is None or any(s is None for s in shape):
        raise ModelFileError(f"{where}: the architecture does not state a fixed input shape ({shape})")
    result = []
    for layer in layers:
        kind, cfg = layer["class_name"], layer.get("config", {})
        name = cfg.get("name", layer.get("name"))
        if kind in SKIPPED:
            continue
        result.append(Layer(name=name, kind=kind, config=cfg, weights=weights.get(name, {})))
    name = config.get("config", {}).get("name", "model") if isinstance(config.get("config"), dict) else "model"
    return Keras2Model(
        name=name, input_shape=tuple(int(s) for s in shape), layers=tuple(result), keras_version=keras_version
    )
