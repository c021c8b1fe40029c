"""featviz: see what the convolutional maps of a trained Keras CNN detect.

The package imports TensorFlow lazily: `import featviz` is instant, and the
submodules that need Keras (models, activations, render, ...) import it.

    from featviz import models, activations, grids
    model = models.load_model("mnist_cnn.keras")
    acts = activations.extract(model, "digit6.png")
    fig = grids.activation_figure(acts)
"""

__version__ = "0.2.0"
