"""featviz: see what the convolutional maps of a trained Keras CNN detect.

The package imports TensorFlow lazily: `import featviz` is instant, and the
modules that need Keras import it when first used.

    from featviz import models
    from featviz.methods import activations
    loaded = models.load("mnist_cnn.keras")
    acts = activations.extract(loaded.model, "digit6.png")
    fig = activations.figure(acts)

docs/architecture.md maps the packages and the order they import in.
"""

from .version import __version__

__all__ = ["__version__"]
