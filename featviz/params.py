"""Image parameterizations: trainable variables plus a function that makes images.

Each returns a `Param` whose `image()` gives (N, H, W, C) in 0..1 through a
sigmoid, so every pixel stays inside the input range whatever the optimizer
does. Starting values come from a seeded NumPy generator: no global state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import _tf


@dataclass
class Param:
    variables: list
    image: Callable  # () -> (N, H, W, C) in 0..1


def pixels(shape: tuple[int, int, int, int], *, sd: float = 1.0, seed: int = 0) -> Param:
    """One logit per pixel. sd=1 starts from contrasted noise, which wakes more maps than grey."""
    tf = _tf.tf()
    start = np.random.default_rng(seed).normal(0.0, sd, size=shape).astype(np.float32)
    logits = tf.Variable(start, name="pixels")
    return Param([logits], lambda: tf.sigmoid(logits))


def fourier(shape: tuple[int, int, int, int], *, decay: float = 1.0, sd: float = 0.01, seed: int = 0) -> Param:
    """A spectrum scaled by 1/f**decay (lucid's fft_image), so low frequencies move first."""
    tf = _tf.tf()
    n, h, w, c = shape
    freqs = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2)
    scale = (1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** decay).astype(np.float32)
    scale *= np.float32(np.sqrt(h * w))
    rng = np.random.default_rng(seed)
    spectrum = rng.normal(0.0, sd, size=(2, n, c, *freqs.shape)).astype(np.float32)
    var = tf.Variable(spectrum, name="spectrum")
    scale_t = tf.constant(scale)

    def image():
        complex_spec = tf.complex(var[0] * scale_t, var[1] * scale_t)
        spatial = tf.signal.irfft2d(complex_spec, fft_length=[h, w])  # (N, C, H, W)
        return tf.sigmoid(tf.transpose(spatial, [0, 2, 3, 1]))

    return Param([var], image)


PARAMS = {"pixels": pixels, "fourier": fourier}
