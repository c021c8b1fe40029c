"""An automatic two-choice test (after Borowski et al. 2021 and Zimmermann et al.'s MIS, 2024).

People shown a map's references (synthetic patterns, or its top natural
images) pick which of two natural query images drives the map more: one
that drives it strongly, one that drives it weakly. Here an observer does
the picking, in a feature space independent of the model under study: the
channel means of another model's innermost feature layer (for the bundled
models, another bundled model of the same data). It picks the query whose
features lie closer (cosine) to the mean of the references'.

The protocol, fixed here once: REFERENCES references of each kind (the
patterns of seeds 0, 1 and 2; the top REFERENCES natural images), and
QUERIES pairs per map: the natural images ranked just after the natural
references, each paired with one of the QUERIES lowest-ranked images. No
query is a reference. A tie counts half.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import models
from ..models import forward
from ..models.inputs import resolve_input
from ..natural import datasets
from ..natural.datasets import Dataset
from ..pixels import images
from ..pixels.preprocess import InputRange
from . import scoring
from .transfer import readers

REFERENCES = 3
QUERIES = 10
BATCH = 256


@dataclass
class TwoChoice:
    observer: str
    synthetic: np.ndarray  # (maps,) the observer's accuracy with the patterns as references
    natural: np.ndarray  # (maps,) with the top natural images as references


class Observer:
    """Unit-length features of images in 0..1: the channel means of a model's innermost feature layer."""

    def __init__(self, loaded: models.LoadedModel):
        self.name, self.model = loaded.name, loaded.model
        self.layer = models.resolve_layer(self.model).name
        self.shape = models.input_shape(self.model)
        self.input_range = resolve_input(self.model, None)
        self._seen: dict[tuple, np.ndarray] = {}  # the dataset's features, computed once for every layer

    def dataset_features(self, dataset: Dataset, shape: tuple) -> np.ndarray:
        key = (id(dataset), tuple(shape))
        if key not in self._seen:
            self._seen[key] = np.concatenate([self.features(pictures) for _, pictures in dataset.batches(shape, BATCH)])
        return self._seen[key]

    def features(self, pictures: np.ndarray) -> np.ndarray:
        fitted = (
            np.stack([datasets.fit(x, self.shape) for x in pictures]) if pictures.shape[1:] != self.shape else pictures
        )
        parts = []
        for start in range(0, len(fitted), BATCH):
            x = images.to_range(fitted[start : start + BATCH], self.input_range)
            parts.append(forward.outputs(self.model, x, [self.layer])[self.layer].mean(axis=(1, 2)))
        found = np.concatenate(parts)
        return found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-12)


def observer_for(loaded: models.LoadedModel, path: str | Path | None = None) -> Observer | None:
    """The model at `path`, else another model of the same data (transfer.readers), else None."""
    if path is not None:
        return Observer(models.load(path))
    others = readers(loaded)
    return Observer(others[0]) if others else None


def picks(references: np.ndarray, strong: np.ndarray, weak: np.ndarray) -> float:
    """The share of pairs (strong[i], weak[i]) where the strong query lies closer to the references' mean."""
    centre = references.mean(axis=0)
    a, b = strong @ centre, weak @ centre
    return float(np.mean(np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))))


def responses(model, layer: str, dataset: Dataset, input_range: InputRange, kind: str = "mean") -> np.ndarray:
    """(images, maps): every map's objective on every image of the dataset, a batch at a time."""
    shape = models.input_shape(model)
    maps = models.resolve_layer(model, layer, flat=True).units
    return np.concatenate([
        scoring.responses(model, layer, range(maps), images.to_range(pictures, input_range), kind)
        for _, pictures in dataset.batches(shape, BATCH)
    ])  # fmt: skip


def run(
    model, layer: str, patterns: np.ndarray, dataset: Dataset, input_range: InputRange, observer: Observer
) -> TwoChoice:
    """The test for every map of `layer` on `dataset`; patterns (seeds, maps, H, W, C) in 0..1, one row per seed."""
    values = responses(model, layer, dataset, input_range)
    seen = observer.dataset_features(dataset, models.input_shape(model))
    synthetic = observer.features(np.nan_to_num(patterns.reshape(-1, *patterns.shape[2:])))
    synthetic = synthetic.reshape(patterns.shape[0], patterns.shape[1], -1)
    with_patterns, with_natural = [], []
    for m in range(values.shape[1]):
        order = np.argsort(-values[:, m], kind="stable")
        strong, weak = seen[order[REFERENCES : REFERENCES + QUERIES]], seen[order[-QUERIES:]]
        with_patterns.append(picks(synthetic[:, m], strong, weak))
        with_natural.append(picks(seen[order[:REFERENCES]], strong, weak))
    return TwoChoice(observer.name, np.array(with_patterns), np.array(with_natural))
