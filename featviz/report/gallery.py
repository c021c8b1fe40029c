"""A static, offline report of a whole model: every layer, every map (layout.py shows the files).

The slow part, pattern synthesis, is one patterns.PatternJob per layer and
seed, all run together by execution.driver on an executor (this process, or
Ray), into the same folders and manifests that `featviz patterns` writes: a
manifest with the same settings is reused map by map, so an interrupted run
resumes where it stopped and gives the same files as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import models
from ..errors import FeatvizError
from ..evaluation import paths, transfer, two_choice
from ..execution.local import LocalExecutor
from ..execution.tasks import Executor
from ..files import bundled
from ..files.output import OutputDir
from ..methods import accentuate, activations, diversity
from ..methods.layer_patterns import note_restarted
from ..models import LayerInfo, card, head
from ..models.inputs import resolve_input
from ..natural import datasets
from ..natural.datasets import Dataset
from ..natural.exemplars import Exemplars
from ..patterns import PatternRequest, layout
from ..pixels.display import Described
from ..runtime.progress import SILENT, Reporter
from . import atlas_page, built_from, gallery_plan, pages, pictures
from .jobs import PatternRun, Scanned, class_target, natural_images, select_layers
from .site import ClassResult, LayerResult, Sample, Settings, Site

__all__ = [
    "Scanned",
    "Report",
    "Settings",
    "build",
    "natural_images",
    "sample_images",
    "scan_natural",
    "select_layers",
    "total_steps",
]


@dataclass
class Report(Described):
    index: Path
    layers: list[LayerResult]
    rendered: int = 0  # maps rendered, summed over seeds
    reused: int = 0
    restarted: list[str] = field(default_factory=list)  # why saved patterns were not reused
    classes: int = 0  # the class layer's units, when its patterns were rendered too
    repaired: int = 0  # patterns the self-check rendered again with a remedy
    atlas: Path | None = None  # the activation atlas's page (Settings.atlas)

    def lines(self) -> list[str]:
        maps = sum(r.info.maps for r in self.layers)
        classes = f", {self.classes} classes" if self.classes else ""
        repaired = f", {self.repaired} repaired by the self-check" if self.repaired else ""
        done = f"{self.rendered} patterns rendered, {self.reused} reused{repaired}"
        atlas = [f"activation atlas: {self.atlas}"] if self.atlas else []
        return [f"{len(self.layers)} layers, {maps} maps{classes}; {done}", str(self.index), *atlas]


def sample_images(specs: Sequence[str | Path], input_shape: tuple = (28, 28, 1)) -> list[Path]:
    """The sample images: files, and the images inside folders; default the bundled ones for the input shape."""
    if not specs:
        return bundled.samples(input_shape)
    found: list[Path] = []
    for spec in specs:
        p = bundled.image(spec)
        if p.is_dir():
            found.extend(sorted(f for f in p.iterdir() if f.suffix.lower() in datasets.IMAGE_SUFFIXES))
        elif p.is_file():
            found.append(p)
        else:
            raise FeatvizError(f"{spec}: no such image file or folder")
    if not found:
        raise FeatvizError("no sample images found")
    return found


def scan_natural(
    loaded: models.LoadedModel,
    settings: Settings,
    progress: Callable[[int], None] | None = None,
    executor: Executor | None = None,
) -> Scanned:
    """One streamed pass over the natural images for all the gallery's layers (`progress` gets images)."""
    model = loaded.model
    names = [layer.name for layer in _scanned_layers(model, settings)]
    data = natural_images(model, settings)
    if data is None:
        return Scanned(None, dict.fromkeys(names))
    input_range = resolve_input(model, settings.input_range)
    executor = executor or LocalExecutor(loaded)
    return Scanned(data, executor.scan(names, data, input_range, settings.top_k, progress))


def _scanned_layers(model, settings: Settings) -> list[LayerInfo]:
    """The gallery's layers, and the class layer when the model has one."""
    found = select_layers(model, settings.layers)
    target = head.class_layer(model)
    return found + ([target] if target is not None and target not in found else [])


def run(
    loaded: models.LoadedModel, settings: Settings, out: OutputDir, executor: Executor | None = None,
    reporter: Reporter = SILENT,
) -> Report:  # fmt: skip
    """`featviz gallery`: its plan (gallery_plan.py, which may cut a default gallery to the budget), the natural
    images scanned once, then the whole report written into `out`."""
    made = gallery_plan.plan(loaded, settings, out, executor.workers if executor is not None else 1)
    reporter.plan(made.lines())
    settings = made.settings
    images = natural_images(loaded.model, settings)
    if images is None:
        reporter.note("the patterns are not scored: featviz has no natural images for this model's input; "
                      "pass --dataset")  # fmt: skip
    layers = select_layers(loaded.model, settings.layers)
    with reporter.stage("natural images", len(images) if images is not None else 0) as progress:
        natural = scan_natural(loaded, settings, progress, executor)
    found = atlas_page.for_gallery(loaded, layers[-1], settings, out, reporter) if settings.atlas else None
    with reporter.stage("patterns", total_steps(layers, settings, loaded.model)) as progress:
        report = build(loaded, out, settings, progress, natural, executor)
    note_restarted(reporter, report.restarted)
    report.atlas = found.page if found is not None else None
    return report


def build(
    loaded: models.LoadedModel,
    out: OutputDir,
    settings: Settings | None = None,
    progress: Callable[[int], None] | None = None,
    natural: Scanned | None = None,
    executor: Executor | None = None,
) -> Report:
    """Write the whole gallery into `out`; `progress` gets image-steps as they finish.

    `natural` is scan_natural's result, when the caller ran it already;
    `executor` runs the pattern units (execution/; default: this process).
    """
    model = loaded.model
    settings = replace(settings, input_range=resolve_input(model, settings.input_range))
    layers = select_layers(model, settings.layers)
    samples = sample_images(settings.images, models.input_shape(model))
    natural = natural or scan_natural(loaded, settings)
    target = class_target(model, settings)
    run = PatternRun(loaded, settings, natural)
    done = run.all(layers + ([target] if target is not None else []), out, executor, progress)
    results = [done[layer.name] for layer in layers]
    if results:
        results[-1].feeds = head.class_weights(model, results[-1].info)
    for r in results:
        r.paths = _paths(model, r, natural.dataset, settings)
        r.accentuated = _accentuated(model, r, natural.dataset, settings)
        r.diverse = _diverse(model, r, run.job(r.info).for_seed(settings.seeds[0]).request, natural.dataset, settings)
        r.two_choice = _two_choice(model, r, natural.dataset, settings)
    built_from.attach(model, results)
    shown = _samples(model, samples, results, settings) if results else []  # samples explain the maps of layers
    site = Site(loaded, out, settings, results, shown, natural.dataset)
    site.classes = _class_result(loaded, done[target.name]) if target is not None else None
    pictures.write_all(site)
    built_from.write_pictures(site)
    pages.write_all(site)
    units = target.units if target is not None else 0
    restarted = sorted(set(run.restarted))
    return Report(out.root / layout.INDEX, results, run.rendered, run.reused, restarted, units, run.repaired)


def _paths(model, r: LayerResult, dataset: Dataset | None, settings: Settings):
    """The path check (evaluation/paths.py) of the first seed's patterns, from the scan's exemplars."""
    if r.stats is None or dataset is None or r.stats.top.shape[1] < paths.PATH_EXEMPLARS:
        return None
    patterns_ = np.nan_to_num(r.first.images)
    return paths.path_scores(model, r.info, patterns_, Exemplars(dataset, r.stats), settings.input_range)


def _accentuated(model, r: LayerResult, dataset: Dataset | None, settings: Settings):
    """Each map's top natural image, accentuated for that map (Settings.accentuate)."""
    if not settings.accentuate or r.stats is None or dataset is None or r.stats.top.shape[1] == 0:
        return None
    seeds = dataset.take(r.stats.top[:, 0], models.input_shape(model))
    options = accentuate.Options(settings.input_range)
    return accentuate.accentuate(model, r.info.name, range(r.info.maps), seeds, options)


def _diverse(model, r: LayerResult, request: PatternRequest, dataset: Dataset | None, settings: Settings):
    """K diverse patterns per map at the first seed (Settings.diversity), for a layer with a convolution below."""
    if settings.diversity < 2 or not paths.earlier_convolutions(model, r.info):
        return None
    natural = Exemplars(dataset, r.stats) if dataset is not None and r.stats is not None else None
    return diversity.diverse(model, request, range(r.info.maps), settings.diversity, natural)


def _two_choice(model, r: LayerResult, dataset: Dataset | None, settings: Settings):
    """The two-choice test with every seed's patterns as references (Settings.observer)."""
    if settings.observer is None or dataset is None or len(dataset) < two_choice.REFERENCES + 2 * two_choice.QUERIES:
        return None
    references = np.stack([np.nan_to_num(p.images) for p in r.patterns.values()])
    return two_choice.run(model, r.info.name, references, dataset, settings.input_range, settings.observer)


def _class_result(loaded: models.LoadedModel, result: LayerResult) -> ClassResult:
    """The class patterns, and how the other bundled models of the same data read them."""
    found = transfer.transfer(transfer.readers(loaded), np.nan_to_num(result.first.images), None)
    return ClassResult(result, card.names(loaded.path), found)


def total_steps(layers: Sequence[LayerInfo], settings: Settings, model=None) -> int:
    """Image-steps of the whole run, for a progress bar: every map, seed and step, the classes' too."""
    target = class_target(model, settings) if model is not None else None
    units = sum(layer.units for layer in layers) + (target.units if target is not None else 0)
    return units * len(settings.seeds) * settings.recipe.steps  # a --negative run adds to it as it goes


def _samples(model, paths: list[Path], layers: list[LayerResult], settings: Settings) -> list[Sample]:
    """The sample images through the model once: every chosen layer's maps, and the output."""
    inputs = np.stack([activations.prepare_image(model, p, settings.input_range) for p in paths])
    names = [r.info.name for r in layers]
    outs = [np.asarray(o) for o in models.extractor(model, names, with_output=True)(inputs, training=False)]
    vector = outs[-1].ndim == 2
    return [
        Sample(p, x, {name: o[i] for name, o in zip(names, outs)}, outs[-1][i] if vector else None)
        for i, (p, x) in enumerate(zip(paths, inputs))
    ]
