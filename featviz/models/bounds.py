"""The ceiling of a layer's activation: where a bounded activation (ReLU6, sigmoid, tanh) stops rising."""

from __future__ import annotations

from ..runtime import _tf
from .layers import get_layer

# Activations whose outputs never exceed a value, by their Keras names.
BOUNDED = {"relu6": 6.0, "sigmoid": 1.0, "hard_sigmoid": 1.0, "tanh": 1.0, "softsign": 1.0, "hard_tanh": 1.0}


def ceiling(model, layer_name: str) -> float | None:
    """The largest value the layer's output can take, when its activation is bounded; else None."""
    keras = _tf.keras()
    layer = get_layer(model, layer_name)
    if isinstance(layer, keras.layers.ReLU):
        top = layer.get_config().get("max_value")
        return None if top is None else float(top)
    activation = getattr(layer, "activation", None)
    for name, top in BOUNDED.items():
        if activation is not None and activation is getattr(keras.activations, name, None):
            return top
    return None
