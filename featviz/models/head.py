"""The model's head: which layer gives the classes, and what a layer's maps feed (a linear head's weights)."""

from __future__ import annotations

import numpy as np

from .layers import LayerInfo, get_layer, list_layers

# Layers that pass values through unchanged at inference.
PASS_THROUGH = {
    "Dropout",
    "SpatialDropout2D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
}


def class_weights(model, layer: LayerInfo) -> np.ndarray | None:
    """(maps, classes): how much each class's logit rises when every unit of a map rises by one.

    Read from the weights of a Flatten or global-average-pooling head
    followed by the model's last Dense layer, with only dropout between.
    None for any other head, where the effect of a map is not one number.
    """
    after = [info for info in list_layers(model) if info.index > layer.index]
    chain = [info for info in after if info.class_name not in PASS_THROUGH]
    if len(chain) != 2 or chain[1].class_name != "Dense" or chain[1] is not after[-1]:
        return None
    reduce, dense = chain
    kernel = get_layer(model, dense.name).get_weights()[0]
    h, w, maps = layer.output_shape
    if reduce.class_name == "Flatten" and kernel.shape[0] == h * w * maps:
        return kernel.reshape(h, w, maps, -1).sum(axis=(0, 1))
    if reduce.class_name == "GlobalAveragePooling2D" and kernel.shape[0] == maps:
        return kernel
    return None


def is_class_layer(model, layer: LayerInfo) -> bool:
    """A flat layer whose units are the model's output classes (the output layer itself, or its logits)."""
    out = tuple(model.outputs[0].shape[1:]) if getattr(model, "outputs", None) else ()
    return not layer.spatial and len(out) == 1 and layer.output_shape == out


def class_layer(model) -> LayerInfo | None:
    """The layer whose units are the model's classes: the last Dense layer, when it gives the model's output."""
    layers = list_layers(model)
    dense = [info for info in layers if info.class_name == "Dense" and is_class_layer(model, info)]
    return dense[-1] if dense else None
