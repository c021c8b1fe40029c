"""The layers of a model: their facts, the ones with spatial maps, and the one a user means."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import FeatvizError
from ..runtime import _tf
from .graph import layer_outputs
from .shape import input_shape


@dataclass(frozen=True)
class LayerInfo:
    index: int
    name: str  # "outer/inner" for a layer inside a nested model
    class_name: str
    output_shape: tuple  # without the batch axis
    params: int

    @property
    def spatial(self) -> bool:
        """True when the output is a stack of 2-D maps: (height, width, maps)."""
        return len(self.output_shape) == 3

    @property
    def maps(self) -> int | None:
        return self.output_shape[-1] if self.spatial else None

    @property
    def units(self) -> int:
        """Maps of a spatial layer, units of a flat one: what patterns are made of."""
        return int(self.output_shape[-1])


def shape_text(shape) -> str:
    """(28, 28, 1) -> '28x28x1'; an unknown size shows as '?'."""
    return "x".join("?" if s is None else str(s) for s in shape)


MERGE_LAYERS = {"Add", "Concatenate", "Average", "Maximum", "Minimum", "Multiply", "Subtract"}


def image_channels(model) -> int:
    shape = input_shape(model)
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise FeatvizError(f"model {model.name!r} takes input of shape {shape}, not images (height, width, channels)")
    return int(shape[-1])


def list_layers(model) -> list[LayerInfo]:
    """Every layer in execution order, nested layers named `outer/inner`."""
    outputs, layers = layer_outputs(model, _tf.keras().Input(input_shape(model)))
    return [
        LayerInfo(i, path, type(layer).__name__, tuple(outputs[path].shape[1:]), _params(layer))
        for i, (path, layer) in enumerate(layers.items())
    ]


def _params(layer) -> int:
    try:
        return int(layer.count_params())
    except ValueError:  # not built
        return 0


def get_layer(model, path: str):
    """The Keras layer at `path`, descending into nested models: "outer/inner"."""
    layer = model
    for part in path.split("/"):
        layer = layer.get_layer(part)
    return layer


def spatial_layers(model) -> list[LayerInfo]:
    return [info for info in list_layers(model) if info.spatial]


def feature_layers(model) -> list[LayerInfo]:
    """Spatial layers that compute new maps: convolutions and merges such as residual sums.

    Pooling, normalization, activation and padding layers only reshape or
    rescale maps that a layer before them made. Falls back to every spatial layer.
    """
    spatial = spatial_layers(model)
    made = [i for i in spatial if "Conv" in i.class_name or i.class_name in MERGE_LAYERS]
    return made or spatial


def block_outputs(model) -> list[LayerInfo]:
    """The feature layers that end a block, in execution order: merges (residual sums, concatenations), the last
    feature layer at each map size, and the innermost."""
    found = feature_layers(model)
    ends = [
        info
        for info, after in zip(found, [*found[1:], None])
        if info.class_name in MERGE_LAYERS or after is None or after.output_shape[:2] != info.output_shape[:2]
    ]
    return ends


def first_convolution(layers: Sequence[LayerInfo]) -> LayerInfo | None:
    return next((info for info in layers if info.class_name == "Conv2D"), None)


# Spatial layers that pass maps through, resize or rescale the input, or add noise: never the default layer.
NOT_FEATURES = {
    "InputLayer", "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "Resizing", "Rescaling", "Normalization", "CenterCrop", "Cropping2D", "ZeroPadding2D", "Identity",
}  # fmt: skip


def computes_features(info: LayerInfo) -> bool:
    return info.class_name not in NOT_FEATURES and not info.class_name.startswith("Random")


def innermost(layers: Sequence[LayerInfo]) -> LayerInfo | None:
    """The default layer: the last layer with spatial maps that computes features, in execution order.

    Dropout, augmentation (Random*), resizing, rescaling and padding layers are skipped.
    """
    spatial = [info for info in layers if info.spatial and computes_features(info)]
    return spatial[-1] if spatial else None


def resolve_layer(model, spec: str | int | None = None, *, flat: bool = False) -> LayerInfo:
    """A layer with spatial maps, by name, by index, or the innermost one.

    With `flat`, a layer with flat output (a Dense layer, the class logits)
    is accepted too: its units are then its maps.
    """
    layers = list_layers(model)
    if flat and spec is not None:
        found = find_layer(layers, spec)
        if found is not None and len(found.output_shape) == 1:
            return found
    spatial_names = ", ".join(info.name for info in layers if info.spatial) or "(none)"
    if spec is None:
        found = innermost(layers)
        if found is None:
            raise FeatvizError(f"model {model.name!r} has no layer with spatial maps")
        return found
    found = find_layer(layers, spec)
    if found is None:
        raise FeatvizError(f"unknown layer {str(spec)!r}; layers with maps: {spatial_names}")
    if not found.spatial:
        raise FeatvizError(
            f"layer {found.name!r} has no spatial maps (output shape {found.output_shape}); "
            f"layers with maps: {spatial_names}"
        )
    return found


def find_layer(layers: Sequence[LayerInfo], spec: str | int) -> LayerInfo | None:
    """By full path, by index (negative counts from the end), or by a unique last path part."""
    by_name = {info.name: info for info in layers}
    if str(spec) in by_name:
        return by_name[str(spec)]
    if isinstance(spec, int) or str(spec).lstrip("-").isdigit():
        index = int(spec)
        return layers[index] if -len(layers) <= index < len(layers) else None
    tails = [info for info in layers if info.name.rsplit("/", 1)[-1] == spec]
    return tails[0] if len(tails) == 1 else None
