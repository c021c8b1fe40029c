"""Models that Keras 3's own loader refuses: repair what is repairable, explain the rest.

Keras 2 (standalone and tf.keras) wrote `.h5` files whose configs Keras 3
misreads or rejects:

- a Sequential model whose first layer carries `batch_input_shape` becomes a
  rank-5 input ("Kernel shape must have the same length as input");
- arguments that Keras 3 no longer takes make the layer refuse its config;
- layer names containing `/` are refused.

The repair rewrites the stored config (an explicit InputLayer, unknown
arguments dropped, `/` in names replaced), rebuilds the model from it in
safe mode, then loads each layer's weights from the file by its original
name. Nothing here runs code from the file.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

from .. import _tf
from ..errors import FeatvizError, first_line
from .keras_internals import legacy_model_from_config

# Arguments every Keras 3 layer takes, on top of its own __init__ parameters.
_BASE_ARGS = {"name", "trainable", "dtype", "autocast", "input_dim", "input_shape", "batch_size", "weights"}


def repair_and_load(mf, config: dict[str, Any], error: BaseException, *, trust_code: bool):
    """Called when keras.saving.load_model failed on `mf`: repair a legacy .h5, or explain."""
    what = describe(config)
    if mf.kind != "h5":
        raise FeatvizError(f"{mf.path}: {what} that Keras cannot load: {first_line(error)}")
    try:
        repaired, renamed = repair_config(config)
    except (KeyError, TypeError, ValueError) as e:
        raise FeatvizError(
            f"{mf.path}: {what} that Keras cannot load ({first_line(error)}), and its config "
            f"cannot be repaired ({first_line(e)})"
        ) from None
    try:
        model = legacy_model_from_config(repaired, safe_mode=not trust_code)
        load_h5_weights(model, mf.path, renamed)
    except FeatvizError:
        raise
    except Exception as e:  # Keras raises many types for configs it cannot use
        raise FeatvizError(
            f"{mf.path}: {what} that Keras cannot load ({first_line(error)}); "
            f"featviz's repair failed too: {first_line(e)}"
        ) from None
    return model


def describe(config: dict[str, Any]) -> str:
    cls = config.get("class_name", "an unknown object")
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else None
    count = f" with {len(layers)} layers" if isinstance(layers, list) else ""
    return f"a {cls} model{count}"


def repair_config(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A Keras 3 readable copy of a Keras 2 model config, and {new name: stored name}."""
    repaired = copy.deepcopy(config)
    renamed: dict[str, str] = {}
    layers = repaired["config"]["layers"]
    for layer in layers:
        _repair_layer(layer, renamed)
    if repaired.get("class_name") == "Sequential":
        _explicit_input(repaired["config"])
    else:
        _rename_references(repaired["config"], renamed)
    return repaired, renamed


def _repair_layer(layer: dict, renamed: dict[str, str]) -> None:
    cfg = layer["config"]
    old = cfg.get("name")
    if isinstance(old, str) and "/" in old:
        cfg["name"] = old.replace("/", "_")
        layer["name"] = cfg["name"] if "name" in layer else layer.get("name")
        renamed[cfg["name"]] = old
    elif isinstance(old, str):
        renamed[old] = old
    if layer.get("class_name") == "InputLayer":
        if "batch_input_shape" in cfg:
            cfg["batch_shape"] = cfg.pop("batch_input_shape")
        return
    _drop_unknown_args(layer)


def _drop_unknown_args(layer: dict) -> None:
    cls = getattr(_tf.keras().layers, layer.get("class_name", ""), None)
    if cls is None:
        return  # not a built-in layer: leave it for Keras to judge
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind == p.VAR_KEYWORD for p in params.values()) and cls.__name__ in ("Functional", "Sequential"):
        return
    allowed = set(params) | _BASE_ARGS | {"batch_input_shape", "batch_shape"}
    for key in [k for k in layer["config"] if k not in allowed]:
        del layer["config"][key]


def _explicit_input(seq_config: dict) -> None:
    """Move batch_input_shape from the first layer of a Sequential into an InputLayer."""
    layers = seq_config["layers"]
    if not layers or layers[0].get("class_name") == "InputLayer":
        return
    first = layers[0]["config"]
    shape = first.pop("batch_input_shape", None) or first.pop("batch_shape", None)
    first.pop("input_shape", None)
    if shape is None:
        return
    layers.insert(
        0,
        {
            "class_name": "InputLayer",
            "config": {
                "batch_shape": list(shape),
                "dtype": first.get("dtype", "float32") if isinstance(first.get("dtype"), str) else "float32",
                "name": f"{first.get('name', 'input')}_input",
            },
        },
    )


def _rename_references(func_config: dict, renamed: dict[str, str]) -> None:
    """In a functional config, follow renamed layers in inbound nodes and model inputs/outputs."""
    back = {old: new for new, old in renamed.items() if new != old}
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

    for layer in func_config["layers"]:
        if "name" in layer:
            layer["name"] = back.get(layer["name"], layer["name"])
        if "inbound_nodes" in layer:
            layer["inbound_nodes"] = fix(layer["inbound_nodes"])
    for key in ("input_layers", "output_layers"):
        if key in func_config:
            func_config[key] = fix(func_config[key])


def load_h5_weights(model, path, renamed: dict[str, str]) -> None:
    """Set each layer's weights from model_weights/<stored name> in a Keras 2 .h5 file."""
    import h5py

    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        for layer in model.layers:
            if not layer.weights:
                continue
            stored = renamed.get(layer.name, layer.name)
            if stored not in group:
                raise FeatvizError(f"{path}: the file has no weights for layer {stored!r}")
            layer_group = group[stored]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in layer_group.attrs.get("weight_names", [])]
            arrays = [layer_group[n][()] for n in names]
            if len(arrays) != len(layer.weights):
                raise FeatvizError(
                    f"{path}: layer {stored!r} stores {len(arrays)} weight arrays, "
                    f"but its config needs {len(layer.weights)}"
                )
            layer.set_weights(arrays)
