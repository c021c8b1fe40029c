"""What a layer's maps feed: the class weights of a linear head, read from the model's own weights."""

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
