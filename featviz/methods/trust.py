"""How far to trust a layer's patterns: render them, then measure ratio, specificity, clipping, path
and (with an observer) the two-choice test, per map."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .. import defaults, models
from ..evaluation import two_choice
from ..evaluation.paths import PATH_EXEMPLARS, PathScore, path_scores
from ..evaluation.two_choice import Observer, TwoChoice
from ..execution.driver import run_jobs
from ..files.output import OutputDir
from ..natural import datasets, exemplars
from ..natural.datasets import Dataset
from ..natural.exemplars import Exemplars
from ..patterns import NaturalBest, PatternJob, PatternRequest, PatternSet, natural_looks, recipe_for
from ..pixels import display
from ..runtime.progress import SILENT, Reporter
from .layer_patterns import PatternOptions

HEAD = ["map", "ratio", "specific", "clipped", "path: pattern / random", "two-choice: synthetic / natural"]


@dataclass
class LayerTrust(display.Shown):
    """One layer's patterns (ratio, specificity, clipping per map) and their path scores.

    In Jupyter: a table, one row per map with its pattern.
    """

    layer: str
    patterns: PatternSet
    paths: list[PathScore] | None  # None: no natural images, or no convolution before the layer
    two_choice: TwoChoice | None = None  # None: no observer, or no natural images

    def rows(self) -> list[list[str]]:
        """Per map: map, ratio, specific, clipped, path correlation of the pattern / of random images."""
        rows = []
        test = self.two_choice
        for s in self.patterns.scores:
            path = self.paths[s.map] if self.paths is not None else None
            choice = "n/a" if test is None else f"{test.synthetic[s.map]:.0%} / {test.natural[s.map]:.0%}"
            rows.append([
                str(s.map),
                "dead" if s.dead else ("failed" if s.error else "n/a" if s.ratio is None else f"{s.ratio:.2f}"),
                "n/a" if s.specific is None else ("yes" if s.specific else "no"),
                "n/a" if s.clipped is None else f"{s.clipped:.0%}",
                "n/a" if path is None else f"{path.pattern:+.2f} / {path.random:+.2f}" + ("" if path.closer else " !"),
                choice,
            ])  # fmt: skip
        return rows

    def lines(self) -> list[str]:
        """The table, one row per map, then the layer's summary."""
        rows = [HEAD, *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(HEAD))]
        return ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows] + [self.line()]

    def figure(self):
        return self.patterns.figure(self.line())

    def _repr_html_(self) -> str:
        rows = [[row[0], pattern, *row[1:]] for row, pattern in zip(self.rows(), self.patterns.images)]
        return display.table_html([HEAD[0], "pattern", *HEAD[1:]], rows, caption=self.line())

    def line(self) -> str:
        """The layer's summary, with the share of live maps whose pattern's path beats random images'."""
        text = self.patterns.summary.line(self.layer)
        live = [s.map for s in self.patterns.scores if not s.marked and not s.negative]
        if self.paths is not None:
            text += f"; path closer than random for {sum(self.paths[m].closer for m in live)}/{len(live)} live maps"
        if self.two_choice is not None and live:
            test = self.two_choice
            text += (
                f"; two-choice accuracy ({test.observer} observing) with synthetic references "
                f"{np.mean(test.synthetic[live]):.0%}, with natural ones {np.mean(test.natural[live]):.0%}"
            )
        return text


def check_layer(
    loaded, request: PatternRequest, dataset: Dataset | None, out: OutputDir, observer: Observer | None = None,
    progress=None,
) -> LayerTrust:  # fmt: skip
    """Render (or reuse) every map's pattern of request.layer into `out` at the seeds of the two-choice test
    (request.seed first), then score the paths of the first seed's, and, with an observer, the two-choice test."""
    layer, model = request.layer, loaded.model
    request = replace(request, recipe=recipe_for(model, request.recipe, dataset, request.canvas, layer))
    found, natural = None, NaturalBest(None, None)
    if dataset is not None:  # one scan serves the ratio and the path check's exemplars
        options = exemplars.ScanOptions(kind=request.kind, top_k=PATH_EXEMPLARS)
        stats = exemplars.scan(model, [layer.name], dataset, request.input_range, options)[layer.name]
        found = Exemplars(dataset, stats)
        natural = NaturalBest.scanned(stats, dataset, natural_looks(dataset, model, request.canvas))
    job = PatternJob(loaded, request, list(range(layer.units)), natural)
    seeds = [request.seed] + [s for s in defaults.SEEDS if s != request.seed][: two_choice.REFERENCES - 1]
    jobs = [job.for_seed(seed) for seed in (seeds if observer is not None else seeds[:1])]
    sets = run_jobs(jobs, out, progress=progress)
    if found is None:
        return LayerTrust(layer.name, sets[0], None)
    paths = path_scores(model, layer, sets[0].images, found, request.input_range)
    if observer is None:
        return LayerTrust(layer.name, sets[0], paths)
    references = np.stack([s.images for s in sets])
    test = two_choice.run(model, layer.name, references, dataset, request.input_range, observer)
    return LayerTrust(layer.name, sets[0], paths, test)


def run(
    loaded: models.LoadedModel, options: PatternOptions, out: OutputDir, observer: Observer | None = None,
    reporter: Reporter = SILENT,
) -> LayerTrust:  # fmt: skip
    """`featviz trust`: check_layer on the layer, seed, steps, input and natural images that `options` ask for."""
    models.resolve_layer(loaded.model, options.layer)  # a layer with maps: a path needs convolutions below
    request, _ = options.request(loaded)
    dataset = datasets.for_model(models.input_shape(loaded.model), options.dataset)
    total = request.layer.units * request.recipe.steps * (two_choice.REFERENCES if observer is not None else 1)
    with reporter.stage(f"{request.layer.name}: patterns", total) as progress:
        return check_layer(loaded, request, dataset, out, observer, progress)
