"""Models: check and load a file safely, list its layers, and run its graph to any layer.

The modules are mapped in docs/architecture.md.
"""

from .extractor import extractor
from .graph import run_graph
from .layers import (
    LayerInfo,
    block_outputs,
    feature_layers,
    first_convolution,
    get_layer,
    image_channels,
    innermost,
    input_shape,
    list_layers,
    resolve_layer,
    shape_text,
    spatial_layers,
)
from .loading import LoadedModel, load, wrap

__all__ = [
    "LayerInfo",
    "LoadedModel",
    "block_outputs",
    "extractor",
    "feature_layers",
    "first_convolution",
    "get_layer",
    "image_channels",
    "innermost",
    "input_shape",
    "list_layers",
    "load",
    "resolve_layer",
    "run_graph",
    "shape_text",
    "spatial_layers",
    "wrap",
]
