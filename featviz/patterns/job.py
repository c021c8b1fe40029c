"""A checked pattern request, with the natural images it is scored against: what the driver runs.

`prepare` checks a request and scans the natural images before any long
work starts; execution/ runs the job into its folder (patterns/store.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import models
from ..evaluation import naturalness
from ..natural import datasets, exemplars
from ..natural.datasets import Dataset
from .request import PatternRequest, recipe_for


@dataclass
class NaturalBest:
    """The natural images behind the ratio: each map's best value, and which images those are."""

    best: np.ndarray | None  # (maps,); None: no natural images fit the model, so nothing is scored
    dataset: dict | None  # name, sha256 and count of the images
    worst: np.ndarray | None = None  # (maps,) each map's lowest value: below zero, a signed map carries signal
    looks: naturalness.Naturalness | None = None  # their medians at the canvas (self_check's "noisy" and "garish")
    correlation: np.ndarray | None = None  # (maps, maps) every two maps' r over them (self_check's twins)

    @classmethod
    def of(cls, model, request: PatternRequest, dataset: Dataset | None, progress=None) -> NaturalBest:
        if dataset is None:
            return cls(None, None)
        name = request.layer.name
        options = exemplars.ScanOptions(kind=request.kind, top_k=0)
        stats = exemplars.scan(model, [name], dataset, request.input_range, options, progress)
        return cls.scanned(stats[name], dataset, natural_looks(dataset, model, request.canvas))

    @classmethod
    def scanned(
        cls, stats: exemplars.LayerStats, dataset: Dataset, looks: naturalness.Naturalness | None
    ) -> NaturalBest:
        """From one layer's statistics over `dataset` (exemplars.scan), and the images' `natural_looks`."""
        return cls(stats.best, dataset.record(), stats.worst, looks, stats.correlation)


def natural_looks(dataset: Dataset, model, canvas: tuple[int, int]) -> naturalness.Naturalness:
    """The natural images' median fine detail and saturation at the canvas size (evaluation/naturalness.py)."""
    shape = (*canvas, models.image_channels(model))
    return naturalness.Naturalness.of(dataset.spread(naturalness.NATURAL_IMAGES, shape))


@dataclass
class PatternJob:
    """A checked request: the layer, maps and canvas fit the model, and the natural images are scored."""

    loaded: models.LoadedModel
    request: PatternRequest
    maps: list[int]
    natural: NaturalBest

    def for_seed(self, seed: int) -> PatternJob:
        return replace(self, request=replace(self.request, seed=seed))


def prepare(
    loaded: models.LoadedModel,
    request: PatternRequest,
    maps: Sequence[int],
    dataset: Dataset | str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> PatternJob:
    """Check a pattern request and scan the natural images, before any long work starts.

    `dataset` is a Dataset, or a path for datasets.for_model: without one,
    the bundled digits serve only a model that takes 28x28x1 digits; for any
    other model the patterns are not scored. `progress` gets images scanned.
    """
    if not isinstance(dataset, Dataset):
        dataset = datasets.for_model(models.input_shape(loaded.model), dataset)
    recipe = recipe_for(loaded.model, request.recipe, dataset, request.canvas, request.layer)
    request = replace(request, recipe=recipe)
    natural = NaturalBest.of(loaded.model, request, dataset, progress)
    return PatternJob(loaded, request, list(maps), natural)
