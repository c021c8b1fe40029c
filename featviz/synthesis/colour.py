"""Decorrelated colour: what an RGB pattern is optimized in, measured on the user's own images.

Natural images' colour channels are strongly correlated, so a step on one
pixel's red, green and blue separately tends to make colours no photograph
has. Lucid optimizes instead along the principal colour directions of the
data, scaled by their spread (the square root of the pixel covariance). The
basis here is that square root, measured on the `--dataset` (or the bundled
exemplars), never downloaded. Its mean colour is also where a pattern starts
and what the transforms fill uncovered pixels with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..runtime import _tf

SAMPLE_IMAGES = 256  # images, spread evenly over the dataset, that the statistics are measured on


@dataclass(frozen=True)
class ColourBasis:
    """RGB = sigmoid(matrix @ decorrelated + logit(mean)), per pixel; values in 0..1 units."""

    matrix: tuple[tuple[float, float, float], ...]  # columns: the colour directions, the longest of norm 1
    mean: tuple[float, float, float]

    @classmethod
    def of(cls, pixels: np.ndarray) -> ColourBasis:
        """The basis of RGB pixels (..., 3) in 0..1."""
        rgb = np.asarray(pixels, np.float64).reshape(-1, 3)
        u, s, _ = np.linalg.svd(np.cov(rgb, rowvar=False))
        root = u * np.sqrt(np.maximum(s, 0.0))
        root /= np.linalg.norm(root, axis=0).max()
        mean = np.clip(rgb.mean(axis=0), 0.02, 0.98)  # a logit must stay finite
        return cls(_rounded(root), tuple(float(v) for v in np.round(mean, 6)))

    def with_chroma(self, factor: float) -> ColourBasis:
        """This basis with its colour directions (all but the first, the brightest) scaled by `factor`.

        Below 1 a pattern's colours stay closer to grey than the data's spread would let them go.
        """
        if factor == 1.0:
            return self
        matrix = np.array(self.matrix)
        matrix[:, 1:] *= factor
        return ColourBasis(_rounded(matrix), self.mean)

    def from_logits(self, logits: np.ndarray) -> np.ndarray:
        """The decorrelated values (..., 3) whose `to_logits` are these RGB logits: to start from an image."""
        mean = np.array(self.mean, np.float64)
        centred = np.asarray(logits, np.float64) - np.log(mean / (1 - mean))
        return (centred @ np.linalg.inv(np.array(self.matrix, np.float64)).T).astype(np.float32)

    def to_logits(self, x):
        """Decorrelated values (..., 3) as RGB logits: sigmoid of the result is the image."""
        tf = _tf.tf()
        matrix = tf.constant(np.array(self.matrix, np.float32).T)
        mean = np.array(self.mean, np.float32)
        flat = tf.matmul(tf.reshape(x, [-1, 3]), matrix)
        return tf.reshape(flat, tf.shape(x)) + tf.constant(np.log(mean / (1 - mean)))


def _rounded(matrix: np.ndarray) -> tuple:
    """Six decimals: the basis is part of the manifest's reuse key, so it must print the same every time."""
    return tuple(tuple(float(v) for v in row) for row in np.round(matrix, 6))


@dataclass(frozen=True)
class Spectrum:
    """The mean amplitude spectrum of natural images, per RGB channel, (C, H, W//2+1): MACO's fixed magnitude.

    Each image's mean is removed first, so the zero frequency reads 0. The
    manifest records the digest, not the numbers.
    """

    amplitude: np.ndarray = field(compare=False, repr=False)
    digest: str

    @classmethod
    def of(cls, images: np.ndarray) -> Spectrum:
        """The spectrum of images (N, H, W, C) in 0..1."""
        centred = np.asarray(images, np.float64) - np.mean(images, axis=(1, 2), keepdims=True)
        amplitude = np.abs(np.fft.rfft2(np.moveaxis(centred, -1, 1))).mean(axis=0).astype(np.float32)
        return cls(amplitude, hashlib.sha256(np.round(amplitude, 4).tobytes()).hexdigest()[:16])
