"""Models that Keras 3's own loader refuses: repair what is repairable, explain the rest.

config_repair.py rewrites the stored config. Then:

- a `.keras` archive is loaded by Keras, in safe mode, from a copy whose
  config.json is the repaired one (its weights are stored by position in
  the model, so they still fit);
- an `.h5` from Keras 2 is rebuilt from the repaired config the way Keras's
  own legacy loader builds it, and each layer's weights are set from the
  file by the layer's stored name. A nested model's weights are matched
  layer by layer inside it: Keras 2 listed all of a nested model's trainable
  weights before its non-trainable ones, Keras 3 lists them layer by layer.

Nothing here runs code from the file.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from ..errors import FeatvizError
from ..runtime import _tf
from . import budget, config_repair
from .checks import said, shown
from .keras_internals import legacy_model_from_config


def repair_and_load(mf, config: dict[str, Any], error: BaseException, *, trust_code: bool):
    """Called when keras.saving.load_model failed on `mf`: repair and load, or explain."""
    what = describe(config)
    try:
        repaired, renamed = config_repair.repair(config)
    except FeatvizError as e:
        raise FeatvizError(
            f"{mf.path}: {what} that Keras cannot load ({said(error)}), and its config cannot be repaired ({said(e)})"
        ) from None
    if not trust_code:
        budget.check(mf.path, repaired, legacy=mf.kind == "h5")
    try:
        if mf.kind == "keras":
            return _load_repaired_archive(mf.path, repaired, trust_code)
        model = legacy_model_from_config(repaired, safe_mode=not trust_code)
        load_h5_weights(model, mf.path, renamed)
        return model
    except FeatvizError:
        raise
    except Exception as e:
        raise FeatvizError(
            f"{mf.path}: {what} that Keras cannot load ({said(error)}); featviz's repair failed too: {said(e)}"
        ) from None


def _load_repaired_archive(path: Path, repaired: dict[str, Any], trust_code: bool):
    """Keras loads a copy of the archive whose config.json is the repaired config."""
    import json

    with tempfile.TemporaryDirectory(prefix="featviz-") as tmp:
        copy = Path(tmp) / "repaired.keras"
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as target:
            for item in source.infolist():
                if item.filename == "config.json":
                    target.writestr(item, json.dumps(repaired))
                else:
                    with source.open(item) as src, target.open(item, "w") as dst:
                        shutil.copyfileobj(src, dst)
        return _tf.keras().saving.load_model(copy, compile=False, safe_mode=not trust_code)


def describe(config: dict[str, Any]) -> str:
    cls = config.get("class_name")
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else None
    count = f" with {len(layers)} layers" if isinstance(layers, list) else ""
    return f"a {shown(cls)} model{count}" if isinstance(cls, str) else f"a model of no known class{count}"


def load_h5_weights(model, path, renamed: dict[str, str]) -> None:
    """Set each layer's weights from model_weights/<stored name> in a Keras 2 .h5 file."""
    import h5py

    keras = _tf.keras()
    with h5py.File(path, "r") as f:
        group = f.get("model_weights", f)
        for layer in model.layers:
            if not layer.weights:
                continue
            stored = renamed.get(layer.name, layer.name)
            if stored not in group:
                raise FeatvizError(f"{path}: the file has no weights for layer {stored!r}")
            arrays = _stored_arrays(group[stored])
            if isinstance(layer, keras.Model):
                _set_nested(layer, arrays, path, stored)
            else:
                _set(layer, [a for _, a in arrays], path, stored)


def _stored_arrays(layer_group) -> list[tuple[str, Any]]:
    """[(weight name, array)] in the order the file lists them."""
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in layer_group.attrs.get("weight_names", [])]
    return [(n, layer_group[n][()]) for n in names]


def _set(layer, arrays: list, path, stored: str) -> None:
    if len(arrays) != len(layer.weights):
        raise FeatvizError(
            f"{path}: layer {stored!r} stores {len(arrays)} weight arrays, but its config needs {len(layer.weights)}"
        )
    layer.set_weights(arrays)


def _set_nested(model, arrays: list[tuple[str, Any]], path, stored: str) -> None:
    """A nested model's weights, matched to its inner layers by the layer name inside each weight's name."""
    by_layer: dict[str, list] = {}
    for name, array in arrays:
        parts = re.sub(r":\d+$", "", name).split("/")
        by_layer.setdefault(parts[-2] if len(parts) > 1 else "", []).append(array)
    for inner in _leaf_layers(model):
        if inner.weights:
            if inner.name not in by_layer:
                raise FeatvizError(f"{path}: the file has no weights for layer {shown(repr(f'{stored}/{inner.name}'))}")
            _set(inner, by_layer[inner.name], path, f"{stored}/{inner.name}")


def _leaf_layers(model) -> list:
    keras = _tf.keras()
    found = []
    for layer in model.layers:
        found.extend(_leaf_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return found
