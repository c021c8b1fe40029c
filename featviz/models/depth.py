"""How deep each layer sits: the convolutions and Dense layers on the longest path from the input to it.

A residual sum is as deep as its deepest operand, so a ResNet's block and
the same block of its plain twin, without the shortcut, have one depth.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..runtime import _tf
from .graph import run_graph
from .layers import LayerInfo, spatial_layers
from .shape import input_shape


def weight_depths(model) -> dict[str, int]:
    """{layer path: convolutions and Dense layers on the longest path from the input, the layer's own included}."""
    keras = _tf.keras()
    seen: dict[int, tuple] = {}  # id(tensor) -> (tensor, depth); the tensor is kept so its id stays its own
    depths: dict[str, int] = {}

    def call(layer, path: str, args: tuple, kwargs: dict):
        out = layer(*args, training=False, **kwargs)
        before = max((seen[id(t)][1] for t in _tensors(args) if id(t) in seen), default=0)
        depths[path] = before + (1 if "Conv" in type(layer).__name__ or isinstance(layer, keras.layers.Dense) else 0)
        for t in _tensors(out):
            seen[id(t)] = (t, depths[path])
        return out

    run_graph(model, keras.Input(input_shape(model)), None, call)
    return depths


def _tensors(value) -> list:
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return [value]


def relative_depths(model, layers: Sequence[LayerInfo]) -> list[float]:
    """Each layer's depth over the depth of the model's last layer with maps: 0 is the image, 1 the deepest maps."""
    depths = weight_depths(model)
    deepest = max((depths.get(info.name, 0) for info in spatial_layers(model)), default=0)
    return [depths.get(info.name, 0) / max(deepest, 1) for info in layers]
