"""Choices and defaults that the CLI and the API share: one place for each.

Nothing here imports NumPy or TensorFlow, so the CLI can name them in its
options and `featviz --help` stays instant.
"""

STEPS = 256  # gradient-ascent steps per pattern
OBJECTIVES = ("mean", "center", "negative")  # a map's mean, its centre unit, or its mean driven down
OBJECTIVE = OBJECTIVES[0]
TOP_K = 9  # natural images kept per map
PARAMS = ("pixels", "fourier", "maco")  # image parameterizations
# Without --param: grey models keep the recipe tuned on MNIST; colour ones use lucid's (README, "Colour models").
PARAM_FOR_GREY = "pixels"
PARAM_FOR_COLOUR = "fourier"
# Class patterns use the Fourier parameterization: on the three MNIST models it raised the share that the
# other models read as their class from 62% to 73% (seeds 1 and 2), with every ratio still >= 1 (README).
CLASS_PARAM = "fourier"
PRECISIONS = ("auto", "float32", "bfloat16")  # auto: bfloat16 where the CPU has it natively
SEEDS = (0, 1, 2)  # the gallery's seeds
BUDGET = "30m"  # a default gallery estimated longer renders less, and says how to get everything (--budget)
PREPROCESS_PRESETS = ("caffe", "tf", "torch")  # the keras.applications conventions (preprocess.PRESETS)
NO_CLASS_OUTPUT = "has no class output"
