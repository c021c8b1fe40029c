"""Pattern synthesis: gradient ascent on the input, built from small pieces.

objectives.py  what to maximize; objectives combine with arithmetic
params.py      how an image is made from variables (pixels, Fourier, MACO)
randomness.py  each image's start and transforms, seeded per image key
transforms.py  random shifts, scales and rotations inside the step
hooks.py       how each layer runs during synthesis (relaxed ReLU, precision)
fastconv.py    a faster input gradient for the first convolution
render.py      the loop: one compiled step per iteration
"""
