"""What input a model expects, read from its own preprocessing layers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FeatvizError
from ..pixels.preprocess import InputRange, Preprocess, as_preprocess
from .layers import LayerInfo, get_layer, input_shape, list_layers

# Layers that change an image's size or pass it through at inference, not its values.
SHAPE_ONLY = {"InputLayer", "Resizing", "CenterCrop", "Cropping2D", "ZeroPadding2D", "Dropout", "GaussianNoise"}
RAW = Preprocess.range(0.0, 255.0)


@dataclass(frozen=True)
class Expected:
    preprocess: Preprocess
    reason: str  # e.g. "the model's own Rescaling layer 'prep/rescaling' (x * 0.00392)"


def is_augmentation(info: LayerInfo) -> bool:
    """RandomFlip, RandomRotation, ...: identity at inference."""
    return info.class_name.startswith("Random")


def expected_input(model) -> Expected | None:
    """The raw pixel range the model's first value-changing layer implies, if it is a Rescaling or Normalization.

    Rescaling(1/255) or Rescaling(1/127.5, offset=-1) at the input means the
    model takes raw pixels, 0..255. A Normalization whose means exceed 1.5
    was adapted to raw pixels too. None when the model starts computing
    straight away: then nothing in the model says.
    """
    for info in list_layers(model):
        if info.class_name in SHAPE_ONLY or is_augmentation(info):
            continue
        layer = get_layer(model, info.name)
        if info.class_name == "Rescaling":
            scale = float(np.max(np.abs(np.asarray(layer.scale, np.float64))))
            implied = RAW if scale < 0.1 else Preprocess()
            return Expected(implied, f"the model's own Rescaling layer {info.name!r} (x * {scale:.4g})")
        if info.class_name == "Normalization":
            mean = float(np.max(np.asarray(layer.mean, np.float64)))
            implied = RAW if mean > 1.5 else Preprocess()
            return Expected(implied, f"the model's own Normalization layer {info.name!r} (means up to {mean:.3g})")
        return None
    return None


def resolve_input(model, asked: InputRange | None) -> Preprocess:
    """What the user asked for; else what the model's own layers say; else 0..1."""
    if asked is not None:
        asked = as_preprocess(asked)
        channels = input_shape(model)[-1]
        if not asked.fits(channels):
            raise FeatvizError(f"{asked.describe()} is for RGB images, and this model takes {channels} channel(s)")
        return asked
    expected = expected_input(model)
    return expected.preprocess if expected else Preprocess()
