"""Which layers a gallery shows, its natural images, and its pattern jobs: what gallery.py runs and plan.py
estimates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .. import models, patterns
from ..errors import FeatvizError
from ..evaluation.naturalness import Naturalness
from ..execution.driver import run_jobs
from ..execution.tasks import Executor
from ..files.output import OutputDir
from ..models import LayerInfo, head
from ..natural import datasets, exemplars
from ..natural.datasets import Dataset
from ..patterns import NaturalBest, PatternJob, PatternRequest, natural_looks
from .site import LayerResult, Settings


def select_layers(model, names: Sequence[str] | None) -> list[LayerInfo]:
    """The layers with maps the gallery shows: `names` (the class layer among them is always shown anyway); None or
    ["all"]: the convolutions and merges."""
    if names is None or list(names) == ["all"]:
        chosen = models.feature_layers(model)
        if not chosen:
            raise FeatvizError(f"model {model.name!r} has no layer with spatial maps")
        return chosen
    target = head.class_layer(model)
    chosen = [models.resolve_layer(model, name, flat=target is not None) for name in names]
    for info in chosen:
        if not info.spatial and info != target:
            with_maps = ", ".join(i.name for i in models.list_layers(model) if i.spatial)
            raise FeatvizError(
                f"layer {info.name!r} has no spatial maps; the gallery takes layers with maps ({with_maps})"
                + (f" and the class layer {target.name!r}" if target is not None else "")
            )
    return [info for info in chosen if info.spatial]


def class_target(model, settings: Settings) -> LayerInfo | None:
    """The class layer whose patterns the gallery renders: the model's (models.head), unless settings leave it out."""
    return head.class_layer(model) if settings.classes else None


@dataclass
class Scanned:
    """The gallery's natural images and every chosen layer's statistics over them (None without images)."""

    dataset: Dataset | None
    stats: dict[str, exemplars.LayerStats | None]


def natural_images(model, settings: Settings) -> Dataset | None:
    """settings.dataset; without one, the bundled digits for a model of 28x28x1 input; else None."""
    return datasets.for_model(models.input_shape(model), settings.dataset)


class PatternRun:
    """Every seed of every layer as patterns.PatternJobs in one run, counting what was rendered and reused."""

    def __init__(self, loaded: models.LoadedModel, settings: Settings, natural: Scanned):
        self.loaded, self.settings, self.natural = loaded, settings, natural
        self.rendered, self.reused, self.repaired, self.restarted = 0, 0, 0, []
        self.looks: dict[tuple[int, int], Naturalness] = {}  # natural images' fine detail and colour, by canvas

    def job(self, layer: LayerInfo) -> PatternJob:
        canvas = patterns.canvas_for(self.loaded.model, layer, None)
        recipe = patterns.recipe_for(self.loaded.model, self.settings.recipe, self.natural.dataset, canvas, layer)
        request = PatternRequest(layer, canvas, input_range=self.settings.input_range, recipe=recipe)
        stats, dataset = self.natural.stats.get(layer.name), self.natural.dataset
        if stats is None:
            return PatternJob(self.loaded, request, list(range(layer.units)), NaturalBest(None, None))
        if canvas not in self.looks:
            self.looks[canvas] = natural_looks(dataset, self.loaded.model, canvas)
        best = NaturalBest.scanned(stats, dataset, self.looks[canvas])
        return PatternJob(self.loaded, request, list(range(layer.units)), best)

    def negative_job(self, layer: LayerInfo) -> PatternJob | None:
        """The first seed's negative patterns, for a signed layer whose maps natural images drive below zero."""
        stats = self.natural.stats.get(layer.name)
        if not self.settings.negative or stats is None or stats.worst is None or not (stats.worst < 0).any():
            return None
        job = self.job(layer).for_seed(self.settings.seeds[0])
        # the scan measured each map's mean: for its negation, the best is minus the lowest mean, and vice versa
        natural = replace(job.natural, best=-stats.worst, worst=-stats.best)
        return replace(job, request=replace(job.request, kind="negative"), natural=natural)

    def all(
        self, layers: Sequence[LayerInfo], out: OutputDir, executor: Executor | None, progress
    ) -> dict[str, LayerResult]:
        seeds = list(self.settings.seeds)
        jobs = [self.job(layer).for_seed(seed) for layer in layers for seed in seeds]
        grids = [seed == seeds[0] for _ in layers for seed in seeds]
        negatives = {layer.name: self.negative_job(layer) for layer in layers}
        extra = [job for job in negatives.values() if job is not None]
        sets = run_jobs(jobs + extra, out, executor, progress, grids + [True] * len(extra))
        for done in sets:
            self.rendered, self.reused = self.rendered + done.rendered, self.reused + done.reused
            self.repaired += done.repaired
            self.restarted += done.restarted
        negative_sets = dict(zip([name for name, job in negatives.items() if job is not None], sets[len(jobs) :]))
        sets = sets[: len(jobs)]
        by_layer = [dict(zip(seeds, sets[i * len(seeds) : (i + 1) * len(seeds)])) for i in range(len(layers))]
        return {
            layer.name: LayerResult(
                layer, self.natural.stats.get(layer.name), found, negative=negative_sets.get(layer.name)
            )
            for layer, found in zip(layers, by_layer)
        }
