"""What the gallery's pages are made from: the settings, and the results of each layer and sample."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import defaults, models
from ..evaluation.scoring import MapScore
from ..files.output import OutputDir
from ..models import LayerInfo
from ..models.weights import Expanded
from ..natural import exemplars
from ..natural.datasets import Dataset
from ..patterns.store import PatternSet
from ..pixels.preprocess import InputRange
from ..synthesis.render import Recipe


@dataclass
class Settings:
    layers: Sequence[str] | None = None  # None: models.feature_layers, within `budget`; ["all"]: all of them
    images: Sequence[str | Path] = ()  # (): the bundled sample digits
    dataset: str | Path | None = None
    seeds: Sequence[int] = defaults.SEEDS
    top_k: int = defaults.TOP_K
    explain_k: int = 6  # maps per sample on its explain page
    input_range: InputRange | None = None  # None: what the model says (models.inputs), else 0..1
    recipe: Recipe = field(default_factory=Recipe)
    negative: bool = False  # also render the first seed's negative patterns of signed layers
    accentuate: bool = False  # also accentuate each map's top natural image
    diversity: int = 0  # K > 1: also K diverse patterns per map (diversity.py)
    observer: object | None = None  # a two_choice.Observer: also run the two-choice test on every layer
    atlas: bool = False  # also the activation atlas of the innermost layer (report/atlas_page.py)
    classes: bool = True  # the class layer's patterns and page; a gallery cut to its budget may leave them out
    budget: float | None = None  # seconds: a default gallery estimated longer is cut to fit (gallery_plan.py)


@dataclass
class BuiltFrom:
    """What each map of a convolution is built from (models/weights.py), and the gallery's layers it links to."""

    expanded: Expanded
    layers: dict[str, LayerInfo]  # the gallery's layers by name
    first: str  # the model's first convolution, whose tiles show its kernel


@dataclass
class LayerResult:
    info: LayerInfo
    stats: exemplars.LayerStats | None  # None: no natural images for this model
    patterns: dict[int, PatternSet]  # by seed, in the order of Settings.seeds
    feeds: np.ndarray | None = None  # (maps, classes) from models.head, for the innermost layer
    paths: list | None = None  # evaluation.paths.PathScore per map of the first seed's patterns; None: not measured
    negative: PatternSet | None = None  # the first seed's negative patterns (Settings.negative, signed layers)
    accentuated: object | None = None  # accentuate.Accentuation of each map's top natural image (Settings.accentuate)
    diverse: object | None = None  # diversity.DiversePatterns (Settings.diversity)
    two_choice: object | None = None  # two_choice.TwoChoice (Settings.observer)
    built_from: BuiltFrom | None = None  # for a convolution after the first: the maps below it, by weight

    @property
    def scores(self) -> list[MapScore]:
        """The scores of the first seed's patterns: the ones shown on tiles."""
        return self.first.scores

    @property
    def first(self) -> PatternSet:
        return next(iter(self.patterns.values()))

    @property
    def negative_seed(self) -> int:
        return next(iter(self.patterns))


@dataclass
class ClassResult:
    """The class patterns of a model with a class output: its class layer's patterns, names and transfer."""

    layer: LayerResult
    names: list[str] | None
    transfer: list  # evaluation.transfer.Transfer per other model, on the first seed's patterns

    def name(self, c: int) -> str:
        return self.names[c] if self.names and c < len(self.names) else str(c)


@dataclass
class Sample:
    path: Path
    input: np.ndarray  # the model input (H, W, C), in the input range
    maps: dict[str, np.ndarray]  # layer name -> (h, w, maps)
    output: np.ndarray | None  # the model's output vector


@dataclass
class Site:
    loaded: models.LoadedModel
    out: OutputDir
    settings: Settings
    layers: list[LayerResult]
    samples: list[Sample]
    dataset: Dataset | None
    classes: ClassResult | None = None

    @property
    def innermost(self) -> LayerResult:
        return self.layers[-1]
