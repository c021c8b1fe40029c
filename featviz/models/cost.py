"""What running a model up to a layer costs: FLOPs per image, counted from the layers' kernels and outputs."""

from __future__ import annotations

from ..runtime import _tf
from .graph import layer_outputs
from .shape import input_shape


def layer_flops(model, canvas: tuple[int, int]) -> dict[str, float]:
    """Forward FLOPs per image of every layer at canvas size, in execution order (0 for layers without a kernel).

    Dense, Conv2D and its kin count 2 FLOPs per multiply-add; a depthwise
    convolution counts its kernel's window per output, and a separable one its
    depthwise and pointwise parts.
    """
    keras = _tf.keras()
    outputs, layers = layer_outputs(model, keras.Input((*canvas, input_shape(model)[-1])))
    return {name: _flops(layers[name], outputs[name]) for name in outputs}


def prefix_flops(model, layer_name: str, canvas: tuple[int, int]) -> float:
    """Forward FLOPs per image of every layer up to layer_name (included), in execution order, at canvas size.

    The gradient with respect to the input costs as much again, so a pattern
    step costs about twice this per image.
    """
    return cumulative_flops(model, canvas)[layer_name]


def cumulative_flops(model, canvas: tuple[int, int]) -> dict[str, float]:
    """prefix_flops of every layer, from one pass over the graph."""
    total, found = 0.0, {}
    for name, flops in layer_flops(model, canvas).items():
        total += flops
        found[name] = total
    return found


def _flops(layer, out) -> float:
    keras = _tf.keras()
    outputs = _size(out.shape[1:])
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return 2.0 * _size(layer.kernel.shape[:2]) * outputs
    if isinstance(layer, keras.layers.SeparableConv2D):
        window = _size(layer.depthwise_kernel.shape[:2])
        depthwise = _size(layer.depthwise_kernel.shape[2:])
        return 2.0 * window * _size(out.shape[1:3]) * depthwise + 2.0 * depthwise * outputs
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
        return 2.0 * _size(layer.kernel.shape[:-1]) * outputs
    return 0.0


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n
