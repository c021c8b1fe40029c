"""Random transforms applied inside the gradient step, one draw per image.

A transform is configuration followed by a closure: `jitter(2)` returns
`f(images, rng) -> images`, where images are (N, H, W, C) in 0..1 and rng
has `uniform(shape, lo, hi)`: render hands each step a `randomness.StepRandom`
whose numbers were drawn ahead per image. Every transform keeps the canvas size, filling
uncovered pixels with 0 (black), so it works in front of any layer.

The affine warp is written with gathers rather than TensorFlow's image ops:
it then compiles with XLA, and an integer shift is exact (a quarter turn up to
float rounding). A positive angle turns the image clockwise as displayed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from ..runtime import _tf

Transform = Callable  # (images, rng) -> images


_compiled: dict = {}  # the XLA-compiled resampler, made on first use


def warp(images, matrices):
    """Resample images (N, H, W, C) bilinearly by per-image affine matrices (N, 2, 3).

    A matrix maps an output pixel (x, y, 1) to the input point it samples.
    Points outside the image read 0. The gradient is the image gradient
    warped back by the inverse matrices: exact for whole-pixel shifts and
    quarter turns, and close for the small scales and rotations used here,
    as in TensorFlow's own ImageProjectiveTransform gradient. Both directions
    are XLA-compiled gathers, several times faster than the exact scatter.
    """
    tf = _tf.tf()
    if "sample" not in _compiled:
        _compiled["sample"] = tf.function(sample, jit_compile=True, reduce_retracing=True, autograph=False)
    fast = _compiled["sample"]

    @tf.custom_gradient
    def warped(x):
        def grad(dy):
            return fast(dy, invert(matrices))

        return fast(x, matrices), grad

    return warped(images)


def invert(matrices):
    """Inverse of affine matrices (N, 2, 3)."""
    tf = _tf.tf()
    a, b, c = matrices[:, 0, 0], matrices[:, 0, 1], matrices[:, 0, 2]
    d, e, f = matrices[:, 1, 0], matrices[:, 1, 1], matrices[:, 1, 2]
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    row0 = tf.stack([ia, ib, -(ia * c + ib * f)], axis=1)
    row1 = tf.stack([id_, ie, -(id_ * c + ie * f)], axis=1)
    return tf.stack([row0, row1], axis=1)


def sample(images, matrices):
    """The forward resampling of `warp`, without its custom gradient."""
    tf = _tf.tf()
    shape = tf.shape(images)
    n, h, w, c = shape[0], shape[1], shape[2], shape[3]
    ys, xs = tf.meshgrid(tf.range(h, dtype=images.dtype), tf.range(w, dtype=images.dtype), indexing="ij")
    grid = tf.stack([tf.reshape(xs, [-1]), tf.reshape(ys, [-1]), tf.ones([h * w], images.dtype)])
    src = tf.einsum("nij,jk->nik", tf.cast(matrices, images.dtype), grid)  # (N, 2, HW)
    sx, sy = src[:, 0], src[:, 1]
    x0, y0 = tf.floor(sx), tf.floor(sy)
    wx, wy = (sx - x0)[..., None], (sy - y0)[..., None]
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
    flat = tf.reshape(padded, [n, (h + 2) * (w + 2), c])

    def tap(x, y):
        xi = tf.cast(tf.clip_by_value(x, -1.0, tf.cast(w, x.dtype)), tf.int32) + 1
        yi = tf.cast(tf.clip_by_value(y, -1.0, tf.cast(h, y.dtype)), tf.int32) + 1
        return tf.gather(flat, yi * (w + 2) + xi, batch_dims=1)

    top = tap(x0, y0) * (1 - wx) + tap(x0 + 1, y0) * wx
    bottom = tap(x0, y0 + 1) * (1 - wx) + tap(x0 + 1, y0 + 1) * wx
    return tf.reshape(top * (1 - wy) + bottom * wy, shape)


def affine_matrices(height, width, angle, scale, tx, ty):
    """Per-image matrices for a rotation (radians) and scale about the centre, then a shift.

    All arguments after the size are (N,) tensors.
    """
    tf = _tf.tf()
    cx, cy = (tf.cast(width, angle.dtype) - 1) / 2, (tf.cast(height, angle.dtype) - 1) / 2
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    # Inverse map: input = centre + R(-angle) / scale * (output - centre - shift)
    ox, oy = -cx - tx, -cy - ty
    row0 = tf.stack([cos, sin, cx + cos * ox + sin * oy], axis=1)
    row1 = tf.stack([-sin, cos, cy - sin * ox + cos * oy], axis=1)
    return tf.stack([row0, row1], axis=1)


def affine(
    translate: float = 0.0, scale: tuple[float, float] = (1.0, 1.0), degrees: float = 0.0, fill=None
) -> Transform:
    """Random shift in +-translate px, scale in [lo, hi], rotation in +-degrees.

    Uncovered pixels read `fill`: per channel, in 0..1 (default 0, black).
    """

    def apply(images, rng):
        tf = _tf.tf()
        n = tf.shape(images)[0]
        h, w = tf.shape(images)[1], tf.shape(images)[2]
        angle = rng.uniform([n], -1.0, 1.0) * (degrees * math.pi / 180.0)
        factor = rng.uniform([n], scale[0], scale[1]) if scale[1] > scale[0] else tf.fill([n], float(scale[0]))
        tx = tf.round(rng.uniform([n], -translate, translate)) if translate else tf.zeros([n])
        ty = tf.round(rng.uniform([n], -translate, translate)) if translate else tf.zeros([n])
        matrices = affine_matrices(h, w, angle, factor, tx, ty)
        if fill is None:
            return warp(images, matrices)
        background = tf.constant(fill, images.dtype)
        return warp(images - background, matrices) + background

    return apply


def jitter(pixels: float) -> Transform:
    """Random whole-pixel shift of up to +-pixels in each direction."""
    return affine(translate=pixels)


def compose(transforms: Sequence[Transform]) -> Transform:
    """Apply transforms in order."""

    def apply(images, rng):
        for t in transforms:
            images = t(images, rng)
        return images

    return apply


def default_for(size: int, fill=None) -> Transform:
    """The recipe's transforms, sized for the canvas: 28 px -> shift +-2, scale 0.92..1.08, +-8 degrees.

    One warp does all of it, so the image is resampled once per step. Lucid's
    pad, jitter, scale, rotate and jitter again come to the same thing: the
    shift grows with the canvas (+-16 px at 224), and the pixels uncovered
    read `fill`, which for a colour model is its data's mean colour.
    """
    return affine(translate=max(1.0, round(size / 14)), scale=(0.92, 1.08), degrees=8.0, fill=fill)
