"""Models: check and load a file safely, list its layers, and run its graph to any layer.

checks.py          the file's signature and config, before Keras opens it
legacy.py          Keras 2 configs that Keras 3 rejects, repaired
budget.py          the weights a config asks for, counted before Keras allocates them
loading.py         load(): the checks, Keras safe mode, then the repair
layers.py          LayerInfo and the layer a user means
graph.py           run_graph(): re-run the layers, record any of them
extractor.py       a keras.Model from the input to any layers
keras_internals.py the only module that touches private Keras names
"""

from .extractor import extractor
from .graph import run_graph
from .layers import (
    LayerInfo,
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
from .loading import LoadedModel, load

__all__ = [
    "LayerInfo",
    "LoadedModel",
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
]
