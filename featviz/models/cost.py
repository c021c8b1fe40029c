"""What running a model up to a layer costs: FLOPs per image, counted from the layers' kernels and outputs."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ..runtime import _tf
from .graph import layer_calls_on, layer_outputs
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


@dataclass(frozen=True)
class Pass:
    """What a pass up to some layers moves per image at a canvas size, counted as the roofline counts it (which
    adds each layer's weights, once a step for the whole batch)."""

    flops: float  # forward
    values: int  # read and written forward, every layer's inputs and output (layer_values)
    largest: int  # in the largest tensor, the input included

    @property
    def intensity(self) -> float:
        """FLOPs per byte of a forward pass and its input gradient, in float32 (each moves the same)."""
        return self.flops / (4 * self.values) if self.values else float("inf")


def pass_to(model, canvas: tuple[int, int], layers: Collection[str]) -> Pass | None:
    """The Pass up to the last of `layers` in execution order; None without layers, when one of them never runs,
    or when the model's layers cannot be followed (a subclassed model)."""
    keras = _tf.keras()
    shape = (*canvas, input_shape(model)[-1])
    if not layers:
        return None
    try:
        outputs, found, inputs = layer_calls_on(model, keras.Input(shape), until=layers)
    except ValueError:  # a layer after them that the canvas does not fit, run because one of them never runs
        return None
    if not set(layers) <= set(outputs):
        return None
    flops = sum(_flops(found[name], out) for name, out in outputs.items())
    values = sum(_values(found[name], inputs[name], out) for name, out in outputs.items())
    sizes = [_size(t.shape[1:]) for out in outputs.values() for t in keras.tree.flatten(out)]
    return Pass(flops, values, max([_size(shape), *sizes]))


def layer_values(model, canvas: tuple[int, int]) -> dict[str, int]:
    """Values per image each layer reads and writes forward at canvas size, in execution order: its inputs and
    its output; none for a layer without FLOPs that maps a tensor element by element or pads it
    (BatchNormalization, activations, ZeroPadding2D), taken as fused into its neighbour."""
    keras = _tf.keras()
    outputs, layers, inputs = layer_calls_on(model, keras.Input((*canvas, input_shape(model)[-1])))
    return {name: _values(layers[name], inputs[name], outputs[name]) for name in outputs}


def _values(layer, inputs, out) -> int:
    keras = _tf.keras()
    fused = (keras.layers.BatchNormalization, keras.layers.Activation, keras.layers.ReLU, keras.layers.ZeroPadding2D)
    if isinstance(layer, (keras.layers.InputLayer, *fused)) and not _flops(layer, out):
        return 0
    return sum(_size(t.shape[1:]) for t in keras.tree.flatten(inputs) if hasattr(t, "shape")) + _size(out.shape[1:])


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
