"""Load a model file safely: checks first, then Keras in safe mode, then the legacy repair."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _tf, bundled
from ..errors import FeatvizError
from . import checks, legacy


@dataclass
class LoadedModel:
    model: Any  # keras.Model
    path: Path
    sha256: str
    trusted: bool = False

    @property
    def name(self) -> str:
        return self.path.name


def load(path: str | Path | None = None, *, trust_code: bool = False) -> LoadedModel:
    """Load a .keras or .h5 model in safe mode, without compiling it.

    Parameters:
        path: the model file. None loads the bundled MNIST CNN; a bare file
            name that does not exist here but names a bundled model
            (mnist_resnet_v2.keras) loads that.
        trust_code: allow Lambda layers and custom objects, which run code
            from the file (`--trust-model-code`). Refused otherwise.

    Returns:
        The model with its path and sha256.
    """
    mf = checks.check_model_file(bundled.model(path))
    config = checks.read_config(mf)
    risky = checks.code_in_config(config)
    if risky and not trust_code:
        listed = ", ".join(risky[:3]) + (" ..." if len(risky) > 3 else "")
        raise FeatvizError(
            f"{mf.path}: the model holds code that would run when loaded ({listed}); "
            "pass --trust-model-code to allow it for this run if you trust the file"
        )
    keras = _tf.keras()
    try:
        model = keras.saving.load_model(mf.path, compile=False, safe_mode=not trust_code)
    except Exception as e:  # Keras raises many types for unreadable files
        model = legacy.repair_and_load(mf, config, e, trust_code=trust_code)
    if not isinstance(model, keras.Model):
        raise FeatvizError(f"{mf.path}: the file holds a {type(model).__name__}, not a Keras model")
    return LoadedModel(model, mf.path, mf.sha256, trusted=trust_code)
