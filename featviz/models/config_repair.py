"""Rewrite a saved model config that this Keras rejects into one it reads: pure dict work, no files.

Keras 2.0 to 3.x wrote configs that Keras 3.15 misreads or refuses. At
every depth of nested models, `repair` handles:

- the list-style Sequential configs of standalone Keras 2.0 to 2.2 (the
  config is a list of layers, not a dict with "layers");
- arguments that this Keras's built-in layers no longer take (`groups` on
  DepthwiseConv2D in Keras 2.4, `value_range` on RandomRotation in Keras 3.3);
- a Sequential whose first layer carries `batch_input_shape`, which Keras 3
  reads as a rank-5 input: an explicit InputLayer instead; a stray
  `batch_input_shape` on any later layer is dropped;
- a fixed batch size (`batch_shape: [32, ...]`): made free, so featviz can
  run the model on any number of images;
- layer names containing `/`, which Keras 3 refuses: `/` becomes `_`, and
  the stored names are returned so weights can still be found;
- a single input or output listed as a list of one (`[["out", 0, 0]]`,
  as Keras 2 wrote it), which Keras 3 takes for a list of outputs;
- arguments whose form changed (BatchNormalization's `axis: [3]` is `3` now);
- the module paths of tf.keras 2.13 to 2.15 (`keras.src.engine.functional`),
  which no longer exist: the class's module in this Keras instead.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

from ..errors import FeatvizError
from ..runtime import _tf
from .checks import shown

# Arguments every Keras 3 layer takes, on top of its own __init__ parameters.
BASE_ARGS = {"name", "trainable", "dtype", "autocast", "input_dim", "input_shape", "batch_size", "weights"}
MODEL_CLASSES = {"Sequential", "Functional", "Model"}
SHAPE_KEYS = ("batch_input_shape", "batch_shape")
MODEL_MODULES = {"Sequential": "keras", "Functional": "keras.src.models.functional", "Model": "keras"}


def repair(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A readable copy of a model config, and {new layer name: stored name} for every renamed layer.

    Raises FeatvizError, naming the part, when the config lacks the form of a model config.
    """
    if not isinstance(config, dict):
        raise FeatvizError(f"the model config is a {type(config).__name__}, not a dict")
    renamed: dict[str, str] = {}
    try:
        repaired = copy.deepcopy(config)
        _repair_model(repaired, renamed)
    except RecursionError:  # checks.read_config refuses such configs before they get here
        raise FeatvizError("the model config is nested too deeply to repair") from None
    return repaired, renamed


def is_model(node: Any) -> bool:
    return isinstance(node, dict) and isinstance(node.get("class_name"), str) and node["class_name"] in MODEL_CLASSES


def _repair_model(model: dict, renamed: dict[str, str]) -> None:
    if isinstance(model.get("config"), list):  # Keras 2.0-2.2: the layers themselves
        model["config"] = {"name": model.get("name", "sequential"), "layers": model["config"]}
    if str(model.get("module", "")).startswith("keras.src.engine") and is_model(model):
        model["module"] = MODEL_MODULES[model["class_name"]]
    inner = _model_config(model)
    for layer in inner["layers"]:
        if is_model(layer):
            _repair_model(layer, renamed)
        _layer_config(layer, model)
        _rename(layer, renamed)
        if not is_model(layer):
            _drop_unknown_args(layer)
            _migrate_args(layer)
    if model.get("class_name") == "Sequential":
        _sequential_input(inner)
    else:
        _rename_references(inner, renamed)
        _single_endpoints(inner)
    _free_batch(model)


def _model_config(model: dict) -> dict:
    """The model's own config, checked to hold a list of layers."""
    inner = model.get("config")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        raise FeatvizError(f"{_which(model)} has no list of layers")
    for i, layer in enumerate(inner["layers"]):
        if not isinstance(layer, dict):
            raise FeatvizError(f"layer {i} of {_which(model)} is a {type(layer).__name__}, not a layer config")
    return inner


def _layer_config(layer: dict, model: dict) -> dict:
    cfg = layer.get("config")
    if not isinstance(cfg, dict):
        raise FeatvizError(f"a {_class_of(layer)} layer in {_which(model)} has no config")
    return cfg


def _which(model: dict) -> str:
    inner = model.get("config")
    name = inner.get("name") if isinstance(inner, dict) else model.get("name")
    return f"model {shown(repr(name))}" if isinstance(name, str) else "the model"


def _class_of(layer: dict) -> str:
    cls = layer.get("class_name")
    return shown(cls) if isinstance(cls, str) else "classless"


def _single_endpoints(func: dict) -> None:
    for key in ("input_layers", "output_layers"):
        value = func.get(key)
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list) and _starts_with_name(value[0]):
            func[key] = value[0]


def _starts_with_name(node: list) -> bool:
    return bool(node) and isinstance(node[0], str)


def _rename(layer: dict, renamed: dict[str, str]) -> None:
    cfg = layer["config"]
    old = cfg.get("name")
    if isinstance(old, str) and "/" in old:
        cfg["name"] = old.replace("/", "_")
        if "name" in layer:
            layer["name"] = cfg["name"]
        renamed[cfg["name"]] = old


def _drop_unknown_args(layer: dict) -> None:
    name = layer.get("class_name")
    cls = getattr(_tf.keras().layers, name, None) if isinstance(name, str) else None
    if not isinstance(cls, type) or name == "InputLayer":
        return  # InputLayer is repaired with its Sequential; unknown classes are Keras's to judge
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return
    allowed = set(params) | BASE_ARGS | set(SHAPE_KEYS)
    for key in [k for k in layer["config"] if k not in allowed]:
        del layer["config"][key]


def _migrate_args(layer: dict) -> None:
    cfg = layer["config"]
    if layer.get("class_name") == "BatchNormalization" and isinstance(cfg.get("axis"), list) and len(cfg["axis"]) == 1:
        cfg["axis"] = cfg["axis"][0]


def _sequential_input(seq: dict) -> None:
    """An explicit InputLayer from the first layer's shape; shapes on later layers dropped."""
    layers = seq["layers"]
    for layer in layers[1:]:
        for key in (*SHAPE_KEYS, "input_shape"):
            layer["config"].pop(key, None)
    if not layers or layers[0].get("class_name") == "InputLayer":
        if layers:
            _input_layer_shape(layers[0]["config"])
        return
    first = layers[0]["config"]
    shape = first.pop("batch_input_shape", None) or first.pop("batch_shape", None)
    first.pop("input_shape", None)
    if shape is not None and not isinstance(shape, list):
        raise FeatvizError(f"the input shape of a {_class_of(layers[0])} layer is {shown(repr(shape))}, not a list")
    if shape is not None:
        dtype = first.get("dtype") if isinstance(first.get("dtype"), str) else "float32"
        input_config = {
            "batch_shape": [None, *shape[1:]],
            "dtype": dtype,
            "name": f"{first.get('name', 'input')}_input",
        }
        layers.insert(0, {"class_name": "InputLayer", "config": input_config})


def _input_layer_shape(cfg: dict) -> None:
    if "batch_input_shape" in cfg:
        cfg["batch_shape"] = cfg.pop("batch_input_shape")
    if isinstance(cfg.get("batch_shape"), list) and cfg["batch_shape"]:
        cfg["batch_shape"][0] = None


def _free_batch(model: dict) -> None:
    """No fixed batch size anywhere in a model's own config or build configs."""
    inner = model["config"]
    for layer in inner["layers"]:
        if layer.get("class_name") == "InputLayer":
            _input_layer_shape(layer["config"])
        _free_shape(_build_shape(layer))
    _free_shape(inner.get("build_input_shape"))
    _free_shape(_build_shape(model))


def _build_shape(node: dict) -> Any:
    build = node.get("build_config")
    return build.get("input_shape") if isinstance(build, dict) else None


def _free_shape(shape) -> None:
    """Set the batch axis of a shape, or of every shape in a list of shapes, to None."""
    if not isinstance(shape, list) or not shape:
        return
    if all(isinstance(s, list) for s in shape):
        for s in shape:
            _free_shape(s)
    elif not isinstance(shape[0], list):
        shape[0] = None


def _rename_references(func: dict, renamed: dict[str, str]) -> None:
    """In a functional config, follow renamed layers in inbound nodes and model inputs/outputs."""
    back = {old: new for new, old in renamed.items()}
    if not back:
        return

    def fix(obj):
        if isinstance(obj, list):
            return [fix(item) for item in obj]
        if isinstance(obj, str):
            return back.get(obj, obj)
        if isinstance(obj, dict):
            return {k: fix(v) for k, v in obj.items()}
        return obj

    for layer in func["layers"]:
        if "inbound_nodes" in layer:
            layer["inbound_nodes"] = fix(layer["inbound_nodes"])
    for key in ("input_layers", "output_layers"):
        if key in func:
            func[key] = fix(func[key])
