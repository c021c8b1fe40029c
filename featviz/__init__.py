"""featviz: see what the convolutional maps of a trained Keras CNN detect.

The package imports TensorFlow lazily: `import featviz` is instant, and the
modules that need Keras import it when first used.

    from featviz import activations, models
    loaded = models.load("mnist_cnn.keras")
    acts = activations.extract(loaded.model, "digit6.png")
    fig = activations.figure(acts)

The layout follows the data, left to right:

    models/      load a file safely, list its layers, run its graph to any layer
    images.py    read any image as a model input; PNG out
    activations.py, grids.py   one image's maps, and grids of them
    exemplars.py natural images, scanned once for every map's statistics
    synthesis/   objectives, parameterizations, transforms, the render loop
    patterns.py, pattern_store.py, scoring.py, manifest.py
                 a layer's patterns: synthesized, saved, read back, scored, resumed
    layout.py, output.py       where output files go, written atomically
    report/      the gallery site and model comparisons
    cli.py       the command line, a thin layer over all of the above
"""

__version__ = "0.6.0"
