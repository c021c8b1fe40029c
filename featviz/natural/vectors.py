"""A layer's activation vectors at spatial positions of natural images, streamed a batch at a time.

An activation atlas (methods/atlas.py) lays out thousands of these vectors:
one per sampled position, the values of every map there. The dataset is
read in batches, and only the sampled positions of each batch are kept, so
memory is bounded by the batch and the vectors asked for, not the dataset.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import models
from ..models import LayerInfo, forward
from ..pixels import images
from ..pixels.preprocess import InputRange
from .datasets import Dataset
from .exemplars import SCAN_BATCH


@dataclass
class Vectors:
    values: np.ndarray  # (N, maps) one position's activations each
    images: np.ndarray  # (N,) the dataset index of each vector's image
    predicted: np.ndarray | None  # (N,) the class the model predicts for that image; None: not asked
    scanned: int  # images read
    per_image: int  # positions sampled from each image
    dropped: int  # sampled positions where every map is zero: they have no direction


def positions_per_image(count: int, images_: int, positions: int) -> int:
    """How many positions of each image give about `count` vectors in all: at least 1, at most every position."""
    return max(1, min(positions, math.ceil(count / max(images_, 1))))


def sample_positions(maps: np.ndarray, per_image: int, rng: np.random.Generator) -> np.ndarray:
    """(n, h, w, C) -> (n, per_image, C): distinct positions of each image, drawn from rng."""
    n, flat = len(maps), maps.reshape(len(maps), -1, maps.shape[-1])
    chosen = np.argsort(rng.random((n, flat.shape[1])), axis=1)[:, :per_image]
    return flat[np.arange(n)[:, None], chosen]


@dataclass(frozen=True)
class Sampling:
    """Which vectors to collect."""

    count: int  # about this many in all, spread over every image
    seed: int = 0  # draws the positions
    class_layer: LayerInfo | None = None  # also the class the model predicts for each vector's image, from it


def collect(
    model,
    layer: LayerInfo,
    dataset: Dataset,
    input_range: InputRange,
    sampling: Sampling,
    progress: Callable[[int], None] | None = None,
) -> Vectors:
    """The activation vectors of `layer` that `sampling` asks for, streamed (`progress` gets images)."""
    h, w = layer.output_shape[:2]
    class_layer = sampling.class_layer
    per_image = positions_per_image(sampling.count, len(dataset), h * w)
    rng = np.random.default_rng(sampling.seed)
    names = [layer.name] + ([class_layer.name] if class_layer is not None else [])
    kept, where, predicted = [], [], []
    for start, batch in dataset.batches(models.input_shape(model), SCAN_BATCH):
        outs = forward.outputs(model, images.to_range(batch, input_range), names)
        kept.append(sample_positions(outs[layer.name], per_image, rng).reshape(-1, layer.maps))
        where.append(np.repeat(np.arange(start, start + len(batch)), per_image))
        if class_layer is not None:
            predicted.append(np.repeat(outs[class_layer.name].argmax(axis=-1), per_image))
        if progress is not None:
            progress(len(batch))
    values, index = np.concatenate(kept), np.concatenate(where)
    live = np.any(values != 0, axis=1)
    classes = np.concatenate(predicted)[live] if predicted else None
    return Vectors(values[live], index[live], classes, len(dataset), per_image, int((~live).sum()))
