"""featviz: see what the convolutional maps of a trained Keras CNN detect.

One call per command (api.py), each returning a result that draws itself in Jupyter:

    import featviz
    featviz.layers("mnist_cnn.keras")
    featviz.activations("mnist_cnn.keras", "digit6.png").show()
    featviz.patterns("mnist_cnn.keras", "conv3", maps="0-7", steps=64)
    featviz.compare(["mnist_cnn.keras", "mnist_resnet_v2.keras"], "digit6.png")

TensorFlow is imported lazily: `import featviz` is instant, and the modules
that need Keras import it when first used. docs/architecture.md maps the
packages and the order they import in.
"""

import importlib
import sys

from . import api
from .api import accentuate, activations, check, compare, gallery, layers, load, trust
from .version import __version__

__all__ = [
    "__version__",
    "accentuate",
    "activations",
    "check",
    "compare",
    "gallery",
    "layers",
    "load",
    "patterns",
    "trust",
]

sys.modules[__name__].__class__ = api.Face


def __getattr__(name: str):
    if name == "patterns":  # the package, callable as the one-call function (api.Face)
        return importlib.import_module(f"{__name__}.patterns")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
