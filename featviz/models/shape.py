"""A model's input shape, read from the model itself: a leaf that the graph and layer modules both use."""

from __future__ import annotations

from ..errors import FeatvizError
from . import keras_internals


def input_shape(model) -> tuple:
    """The model's input shape without the batch axis, e.g. (28, 28, 1)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs:
        return tuple(inputs[0].shape[1:])
    for layer in getattr(model, "layers", [])[:1]:
        shape = keras_internals.built_input_shape(layer)
        if shape:
            return tuple(shape[1:])
    raise FeatvizError(f"model {model.name!r} has never been called, so its input shape is unknown; build it first")
