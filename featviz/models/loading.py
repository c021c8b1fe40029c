"""Load a model file safely: checks first, then Keras in safe mode, then the legacy repair."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FeatvizError
from ..files import bundled
from ..runtime import _tf
from . import budget, checks, legacy


@dataclass
class LoadedModel:
    model: Any  # keras.Model
    path: Path
    sha256: str
    trusted: bool = False

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def bundled(self) -> bool:
        """One of the models that ship with featviz."""
        return any(self.path.resolve() == p.resolve() for p in bundled.models())


def load(
    path: str | Path | None = None, *, trust_code: bool = False, architecture: str | Path | None = None
) -> LoadedModel:
    """Load a .keras or .h5 model in safe mode, without compiling it.

    Parameters:
        path: the model file. None loads the bundled MNIST CNN; a bare file
            name that does not exist here but names a bundled model
            (mnist_resnet_v2.keras) loads that.
        trust_code: allow Lambda layers and custom objects, which run code
            from the file (`--trust-model-code`). Refused otherwise.
        architecture: for a weights-only .h5, the model's architecture as
            JSON (what Keras 2's `model.to_json()` wrote).

    Returns:
        The model with its path and sha256.
    """
    mf = checks.check_model_file(bundled.model(path))
    config = _architecture(mf, architecture)
    _refuse_code(mf, config, trust_code)
    keras = _tf.keras()
    if architecture is None and not trust_code:  # trusted code may allocate what it likes anyway
        budget.check(mf.path, config, legacy=mf.kind == "h5")
    try:
        if architecture is not None:
            raise ValueError("the architecture comes from its own file")
        model = keras.saving.load_model(mf.path, compile=False, safe_mode=not trust_code)
    except Exception as e:
        _explain_subclass(mf, config, e)
        model = legacy.repair_and_load(mf, config, e, trust_code=trust_code)
    if not isinstance(model, keras.Model):
        raise FeatvizError(f"{mf.path}: the file holds a {type(model).__name__}, not a Keras model")
    return LoadedModel(model, mf.path, mf.sha256, trusted=trust_code)


def wrap(model) -> LoadedModel:
    """A keras.Model made in this process, as a LoadedModel: its name stands for the path, and its sha256 (the
    key under which its patterns are reused) is taken over its layers and weights, so a model trained further
    gets new patterns."""
    keras = _tf.keras()
    if not isinstance(model, keras.Model):
        kind = type(model).__name__
        raise FeatvizError(f"expected a model file, a bundled model's name or a keras.Model, not {kind}")
    digest = hashlib.sha256(model.name.encode())
    for layer in model.layers:
        digest.update(_layer_text(layer).encode())
    for weight in model.weights:
        digest.update(weight.path.encode())
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return LoadedModel(model, Path(model.name), digest.hexdigest())


def _layer_text(layer) -> str:
    """A layer's class and configuration (an activation changed in place changes it), as text."""
    try:
        config = json.dumps(layer.get_config(), sort_keys=True, default=str)
    except Exception:  # a custom layer without get_config: its class and name must do
        config = layer.name
    return f"{type(layer).__name__}:{config}"


def _architecture(mf: checks.ModelFile, architecture: str | Path | None) -> dict:
    if architecture is None:
        return checks.read_config(mf)
    if mf.kind != "h5":
        raise FeatvizError(f"{mf.path}: --architecture goes with a weights-only .h5 file")
    return checks.read_json_config(Path(architecture))


def _refuse_code(mf: checks.ModelFile, config: dict, trust_code: bool) -> None:
    subclass = checks.subclass_of(config)
    if subclass and not trust_code:
        raise FeatvizError(
            f"{mf.path}: the model is a subclassed model, {subclass}, whose Python code is not in the file; "
            "with --trust-model-code featviz loads it where that code is importable and registered "
            "with @keras.saving.register_keras_serializable"
        )
    risky = checks.code_in_config(config)
    if risky and not trust_code:
        listed = ", ".join(risky[:3]) + (" ..." if len(risky) > 3 else "")
        raise FeatvizError(
            f"{mf.path}: the model holds code that would run when loaded ({listed}); "
            "pass --trust-model-code to allow it for this run if you trust the file"
        )


def _explain_subclass(mf: checks.ModelFile, config: dict, error: BaseException) -> None:
    subclass = checks.subclass_of(config)
    if subclass:
        raise FeatvizError(
            f"{mf.path}: the subclassed model {subclass} cannot be built here: import the module that defines it "
            f"and register the class with @keras.saving.register_keras_serializable ({checks.said(error)})"
        )
