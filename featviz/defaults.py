"""Choices and defaults that the CLI and the API share: one place for each.

Nothing here imports NumPy or TensorFlow, so the CLI can name them in its
options and `featviz --help` stays instant.
"""

STEPS = 256  # gradient-ascent steps per pattern
OBJECTIVES = ("mean", "center", "negative")  # a map's mean, its centre unit, or its mean driven down
OBJECTIVE = OBJECTIVES[0]
TOP_K = 9  # natural images kept per map
INPUTS = 4  # a map's inputs shown with the largest positive, and negative, weights (models/weights.py)
PARAMS = ("pixels", "fourier", "maco")  # image parameterizations
# Without --param every model uses a Fourier image, its spectrum falling as 1/f**decay: steep enough that a
# pattern's fine detail stays near natural images' (docs/method.md, "Natural-looking detail"; docs/results.md).
PARAM_FOR_GREY = "fourier"
PARAM_FOR_COLOUR = "fourier"
DECAY_FOR_GREY = 1.5  # grey models: a steeper decay left MNIST maps below their natural images
DECAY_FOR_COLOUR = 2.0
# Colour models: the colour directions' scale, relative to the data's spread. 0.25 rather than 0.7.0's 0.35 took
# middle layers' saturation within 1.5x natural images' at a few % of ratio (docs/results.md, "Choosing the recipe").
CHROMA = 0.25
# Class patterns use the Fourier parameterization: on the three MNIST models it raised the share that the
# other models read as their class from 62% to 73% (seeds 1 and 2), with every ratio still >= 1 (README).
CLASS_PARAM = "fourier"
PRECISIONS = ("auto", "float32", "bfloat16")  # auto: bfloat16 where the CPU has it natively
SEEDS = (0, 1, 2)  # the gallery's seeds
BUDGET = "30m"  # a default gallery estimated longer renders less, and says how to get everything (--budget)
PREPROCESS_PRESETS = ("caffe", "tf", "torch")  # the keras.applications conventions (preprocess.PRESETS)
NO_CLASS_OUTPUT = "has no class output"
# The activation atlas (featviz atlas): t-SNE needs only scikit-learn; umap-learn is the optional extra "atlas".
ATLAS_LAYOUTS = ("tsne", "umap", "pca")
ATLAS_LAYOUT = ATLAS_LAYOUTS[0]
ATLAS_VECTORS = 4000  # activation vectors laid out, spread over the dataset's images
ATLAS_GRID = 20  # cells per side
# Feature inversion (featviz invert): steps in all, the last fifth on the pixels, and the total-variation weight.
INVERT_STEPS = 1280
INVERT_TV = 0.05
