"""Image parameterizations: trainable variables plus a function that makes images.

Each returns a `Param` whose `image()` gives (N, H, W, C) in 0..1 through a
sigmoid, so every pixel stays inside the input range whatever the optimizer
does. Each image starts from noise seeded by its own key (randomness.py).
With a colour.ColourBasis, an RGB image's variables are decorrelated colour,
and the image starts near the data's mean colour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .. import defaults
from ..runtime import _tf
from .colour import ColourBasis, Spectrum
from .randomness import start_noise


@dataclass
class Param:
    variables: list
    image: Callable  # () -> (N, H, W, C) in 0..1


FFT_ABOVE = 64  # canvas side above which the Fourier image uses tf.signal.irfft2d rather than matrix products


def to_image(x, colour: ColourBasis | None):
    """Variables' values (N, H, W, C) -> the image in 0..1."""
    tf = _tf.tf()
    return tf.sigmoid(x if colour is None else colour.to_logits(x))


def logit(images: np.ndarray) -> np.ndarray:
    """The values whose sigmoid is `images` (in 0..1), kept finite: the start for a given image (no colour basis)."""
    clipped = np.clip(np.asarray(images, np.float64), 1e-3, 1 - 1e-3)
    return np.log(clipped / (1 - clipped)).astype(np.float32)


def pixels(
    shape: tuple[int, int, int],
    keys: Sequence[int],
    *,
    seed: int = 0,
    colour: ColourBasis | None = None,
    start: np.ndarray | None = None,
) -> Param:
    """One value per pixel of (H, W, C). Noise of sd 1 starts contrasted, which wakes more maps than grey.

    `start` (N, H, W, C) in 0..1: begin at these images instead (colour is then ignored).
    """
    tf = _tf.tf()
    if start is not None:
        logits = tf.Variable(logit(start), name="pixels")
        return Param([logits], lambda: tf.sigmoid(logits))
    logits = tf.Variable(start_noise(keys, seed, shape, 1.0), name="pixels")
    return Param([logits], lambda: to_image(logits, colour))


def fourier(
    shape: tuple[int, int, int],
    keys: Sequence[int],
    *,
    seed: int = 0,
    colour: ColourBasis | None = None,
    start: np.ndarray | None = None,
    decay: float = 1.0,
) -> Param:
    """A spectrum scaled by 1/f**decay (lucid's fft_image has decay 1), so low frequencies move first.

    `start` (N, H, W, C) in 0..1: begin at these images instead, in the colour basis when there is one.
    Up to FFT_ABOVE pixels a side the inverse real FFT is done as two small
    matrix products, several times faster on a CPU than tf.signal.irfft2d at
    MNIST's size and as fast at CIFAR's; above it, irfft2d is (2.3x at 224).
    """
    tf = _tf.tf()
    h, w, c = shape
    scale = spectrum_scale(h, w, decay)
    spectrum = np.moveaxis(start_noise(keys, seed, (2, c, *scale.shape), 0.01), 0, 1)  # (2, N, C, h, w//2+1)
    if start is not None:  # the spectrum whose image is `start`
        values = logit(start) if colour is None else colour.from_logits(logit(start))
        half = np.fft.rfft2(np.moveaxis(values, -1, 1)) / scale
        spectrum = np.stack([half.real, half.imag]).astype(np.float32)
    # Two variables, not one sliced in two: the gradient of a slice (StridedSliceGrad) cost more than the
    # inverse FFT itself.
    real, imag = tf.Variable(spectrum[0], name="real"), tf.Variable(spectrum[1], name="imag")
    scale_t = tf.constant(scale.astype(np.float32))
    if max(h, w) > FFT_ABOVE:
        inverse = lambda re, im: tf.signal.irfft2d(tf.complex(re, im), fft_length=[h, w])
    else:
        basis = [tf.constant(b) for b in irfft2_basis(h, w)]
        inverse = lambda re, im: irfft2(re, im, basis)

    def image():
        spatial = inverse(real * scale_t, imag * scale_t)  # (N, C, H, W)
        return to_image(tf.transpose(spatial, [0, 2, 3, 1]), colour)

    return Param([real, imag], image)


def spectrum_scale(h: int, w: int, decay: float = 1.0) -> np.ndarray:
    """1/f**decay over the half spectrum (h, w//2+1), floored at the lowest frequency, times sqrt(h*w).

    Normalized so that the lowest frequency's scale is the same whatever the decay: a steeper decay
    only slows the higher frequencies down.
    """
    freqs = np.maximum(np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2), 1.0 / max(h, w))
    return (1.0 / freqs) * (freqs * max(h, w)) ** (1.0 - decay) * np.sqrt(h * w)


def irfft2_basis(h: int, w: int) -> tuple[np.ndarray, ...]:
    """Matrices for the inverse real 2-D DFT of an (h, w//2+1) half spectrum."""
    k = np.arange(h)
    angle_h = 2 * np.pi * np.outer(k, k) / h
    cols = w // 2 + 1
    weight = np.full(cols, 2.0)
    weight[0] = 1.0
    if w % 2 == 0:
        weight[-1] = 1.0
    angle_w = 2 * np.pi * np.outer(np.arange(cols), np.arange(w)) / w
    cos_w = weight[:, None] * np.cos(angle_w) / (h * w)
    sin_w = weight[:, None] * np.sin(angle_w) / (h * w)
    return tuple(a.astype(np.float32) for a in (np.cos(angle_h), np.sin(angle_h), cos_w, sin_w))


def irfft2(real, imag, basis):
    """Inverse real 2-D DFT over the last two axes, as np.fft.irfft2 computes it.

    Only 2-D matmuls: TF 2.21 with oneDNN returns garbage for a batched
    matrix times a broadcast 2-D one.
    """
    tf = _tf.tf()
    cos_h, sin_h, cos_w, sin_w = basis  # cos_h and sin_h are symmetric
    shape = tf.shape(real)
    lead, h, cols = shape[:-2], shape[-2], shape[-1]

    def rows_first(x):  # (..., H, L) -> (... * L, H)
        return tf.reshape(tf.linalg.matrix_transpose(x), [-1, h])

    def back(y):  # (... * L, H) -> (... * H, L)
        return tf.reshape(tf.linalg.matrix_transpose(tf.reshape(y, tf.concat([lead, [cols, h]], 0))), [-1, cols])

    re, im = rows_first(real), rows_first(imag)
    y_re = back(tf.matmul(re, cos_h) - tf.matmul(im, sin_h))
    y_im = back(tf.matmul(re, sin_h) + tf.matmul(im, cos_h))
    out = tf.matmul(y_re, cos_w) - tf.matmul(y_im, sin_w)
    return tf.reshape(out, tf.concat([lead, [h, tf.shape(cos_w)[1]]], 0))


def maco(
    shape: tuple[int, int, int],
    keys: Sequence[int],
    *,
    seed: int = 0,
    colour: ColourBasis | None = None,
    start: np.ndarray | None = None,
    spectrum: Spectrum | None = None,
) -> Param:
    """MACO (Fel et al. 2023): only the phase is optimized; each channel's magnitude stays the natural images'.

    The image is that spectrum's inverse FFT around the data's mean colour
    (the colour basis's mean; grey without one), through a sigmoid whose slope
    there is 1, so pixels keep the data's contrast and stay inside 0..1.
    Without a measured `spectrum`, the magnitude falls as 1/f. `start` is not
    supported: a phase alone cannot reproduce a given image's magnitude.
    """
    tf = _tf.tf()
    if start is not None:
        raise ValueError("the maco parameterization cannot start from an image")
    h, w, c = shape
    amplitude = spectrum.amplitude if spectrum is not None else one_over_f(h, w, c)
    if amplitude.shape != (c, h, w // 2 + 1):
        raise ValueError(f"a {amplitude.shape} spectrum does not fit a {shape} image")
    phase = tf.Variable(start_noise(keys, seed, (c, h, w // 2 + 1), np.pi), name="phase")
    magnitude = tf.constant(np.asarray(amplitude, np.float32))
    mean = np.asarray(colour.mean if colour is not None else (0.5,) * c, np.float32)
    logit_mean, gain = tf.constant(np.log(mean / (1 - mean))), tf.constant(1 / (mean * (1 - mean)))

    def image():
        spatial = tf.signal.irfft2d(tf.complex(magnitude * tf.cos(phase), magnitude * tf.sin(phase)), fft_length=[h, w])
        return tf.sigmoid(logit_mean + gain * tf.transpose(spatial, [0, 2, 3, 1]))

    return Param([phase], image)


def one_over_f(h: int, w: int, c: int, sd: float = 0.2) -> np.ndarray:
    """A 1/f magnitude (C, H, W//2+1) with no zero frequency, whose random-phase images have pixel sd about `sd`."""
    amplitude = spectrum_scale(h, w)
    amplitude[0, 0] = 0.0
    amplitude *= sd * h * w / np.sqrt(2 * np.sum(amplitude**2))
    return np.broadcast_to(amplitude.astype(np.float32), (c, h, w // 2 + 1))


PARAMS = dict(zip(defaults.PARAMS, (pixels, fourier, maco)))
