"""Patterns of a layer's maps: synthesize in chunks, save, read back, score, and resume.

A `PatternJob` renders the maps of one layer for one seed into
`layers/<layer>/seed-<S>/` (layout.py): one 8-bit PNG per map, a grid, and
manifest.json (manifest.py). Maps that a manifest with the same settings
already holds are reused, so `featviz patterns` and the gallery share their
work, and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import datasets, defaults, exemplars, models
from .datasets import Dataset
from .errors import FeatvizError
from .models import LayerInfo
from .output import OutputDir
from .pattern_store import PatternSet
from .preprocess import InputRange, as_preprocess
from .synthesis import colour, objectives, render
from .synthesis.render import Recipe

CHUNK = 128  # maps of one seed optimized together, and the most images in a batch on a large canvas
# On small canvases a step costs less per image in a bigger batch, so there a batch holds up to this many
# pixels: the seeds of a CIFAR ResNet's 80-map layer go together (240 images), 9% faster than one by one.
BATCH_PIXELS = 256 * 32 * 32


@dataclass(frozen=True)
class PatternRequest:
    """Which layer, on what canvas, with which objective, recipe and seed."""

    layer: LayerInfo
    canvas: tuple[int, int]
    kind: str = defaults.OBJECTIVE
    input_range: InputRange = (0.0, 1.0)
    recipe: Recipe = Recipe()
    seed: int = 0

    def settings(self, model_sha256: str) -> dict:
        """Everything that decides the pixels, as requested: the manifest's reuse key.

        In the form JSON reads back (lists, not tuples), so that it equals the saved manifest's.
        """
        settings = {
            "numerics": render.NUMERICS,
            "model_sha256": model_sha256,
            "layer": self.layer.name,
            "objective": self.kind,
            "size": list(self.canvas),
            "input_range": as_preprocess(self.input_range).record(),
            "seed": self.seed,
            "recipe": recipe_record(self.recipe),
        }
        return json.loads(json.dumps(settings))


def recipe_record(recipe: Recipe) -> dict:
    """The recipe as JSON, as requested ("auto" stays "auto"; lr is resolved; no colour key for grey images)."""
    record = {k: v for k, v in asdict(recipe).items() if k != "transforms"}
    record["lr"] = recipe.learning_rate
    record["transforms"] = "default" if recipe.transforms is None else "custom"
    if record["colour"] is None:
        del record["colour"]
    record["spectrum"] = recipe.spectrum.digest if recipe.spectrum is not None else None
    if record["spectrum"] is None:
        del record["spectrum"]
    return record


def recipe_for(model, recipe: Recipe, dataset: Dataset | None, canvas: tuple[int, int]) -> Recipe:
    """The recipe as this model's images need it: the parameterization chosen by the channels; for an RGB
    model asked for colour="dataset", the colour basis measured on `dataset` (plain RGB without one); for
    "maco", the dataset's amplitude spectrum (1/f without one)."""
    channels = models.image_channels(model)
    recipe = recipe.for_channels(channels)
    needed = recipe.param == "maco" or recipe.colour == "dataset"
    images = colour.sample(dataset, (*canvas, channels)) if needed and dataset is not None else None
    if recipe.param == "maco" and images is not None:
        recipe = replace(recipe, spectrum=colour.Spectrum.of(images))
    if recipe.colour != "dataset":
        return recipe
    return replace(recipe, colour=None if images is None else colour.ColourBasis.of(images))


def parse_maps(spec: str | None, count: int, labels: Sequence[str] | None = None) -> list[int]:
    """'0-5,17' -> [0, 1, 2, 3, 4, 5, 17]; None -> every map; with labels, 'cat,dog' -> their indices."""
    if spec is None:
        return list(range(count))
    chosen: list[int] = []
    for part in spec.split(","):
        if labels and part.strip() in labels:
            chosen.append(list(labels).index(part.strip()))
            continue
        lo, _, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise FeatvizError(f"--maps {spec!r}: use indices and ranges like 0-5,17") from None
        if not (0 <= first <= last < count):
            raise FeatvizError(f"--maps {spec!r}: map indices must lie in 0..{count - 1}")
        chosen.extend(i for i in range(first, last + 1) if i not in chosen)
    return chosen


def batch_size(canvas: tuple[int, int]) -> int:
    """Images optimized together in one batch: CHUNK, or more on a small canvas (256 at 32x32)."""
    return max(CHUNK, BATCH_PIXELS // (canvas[0] * canvas[1]))


def chunks(maps: Sequence[int]) -> list[list[int]]:
    """The units a layer's maps are rendered in: CHUNK maps each (a batch may join several seeds' units)."""
    return [list(maps[start : start + CHUNK]) for start in range(0, len(maps), CHUNK)]


def canvas_for(model, layer: LayerInfo, size: int | None) -> tuple[int, int]:
    """The canvas (height, width): the model's input size, or size x size when the prefix allows it."""
    native = models.input_shape(model)[:2]
    if size is None:
        if None in native:
            raise FeatvizError("the model accepts any image size; choose one with --size")
        return tuple(native)
    if (size, size) == tuple(native) or _fits(model, layer, size):
        return size, size
    bigger = max(2 * size, *(n or 0 for n in native))
    if not _fits(model, layer, bigger):
        raise FeatvizError(
            f"--size {size}: the layers before {layer.name!r} need the model's own input size "
            f"{'x'.join(map(str, native))}; only a convolutional prefix accepts other sizes"
        )
    raise FeatvizError(
        f"--size {size} is too small for layer {layer.name!r}: "
        f"it needs at least {_smallest(model, layer, size, bigger)}"
    )


def _fits(model, layer: LayerInfo, size: int) -> bool:
    try:
        net = models.extractor(model, [layer.name], canvas=(size, size))
    except (FeatvizError, ValueError):
        return False
    return all(d is not None and d >= 1 for d in net.outputs[0].shape[1:3])


def _smallest(model, layer: LayerInfo, lo: int, hi: int) -> int:
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _fits(model, layer, mid) else (mid, hi)
    return hi


def synthesize(
    model,
    request: PatternRequest,
    maps: Sequence[int],
    progress: Callable[[int], None] | None = None,
    seeds: Sequence[int] | None = None,
) -> np.ndarray:
    """Patterns of `maps` as float images (N, H, W, C) in 0..1, batch_size(canvas) images at a time.

    With `seeds`, the maps' patterns for each seed, seed after seed, rendered
    together (default: request.seed alone). Each map's image depends on its
    own index and seed, not on the other images it is batched with.
    `progress` gets the images stepped.
    """
    seeds = list(seeds) if seeds is not None else [request.seed]
    images = [(s, m) for s in seeds for m in maps]
    out = []
    size = batch_size(request.canvas)
    for start in range(0, len(images), size):
        part = images[start : start + size]
        objective = objectives.channel(request.layer.name, [m for _, m in part], request.kind)
        keys, per_seed = tuple(m for _, m in part), tuple(s for s, _ in part)
        batch = render.Batch(keys, request.canvas, request.input_range, seeds=per_seed)
        result = render.render(model, objective, batch, request.recipe, seed=request.seed, progress=progress)
        out.append(result.images)
    return np.concatenate(out)


@dataclass
class Natural:
    """The natural images behind the ratio: each map's best value, and which images those are."""

    best: np.ndarray | None  # (maps,); None: no natural images fit the model, so nothing is scored
    dataset: dict | None  # name, sha256 and count of the images
    worst: np.ndarray | None = None  # (maps,) each map's lowest value: below zero, a signed map carries signal

    @classmethod
    def of(cls, model, request: PatternRequest, dataset: Dataset | None, progress=None) -> "Natural":
        if dataset is None:
            return cls(None, None)
        name = request.layer.name
        options = exemplars.ScanOptions(kind=request.kind, top_k=0)
        stats = exemplars.scan(model, [name], dataset, request.input_range, options, progress)
        return cls(stats[name].best, dataset.record(), stats[name].worst)


@dataclass
class PatternJob:
    """A checked request: the layer, maps and canvas fit the model, and the natural images are scored."""

    loaded: models.LoadedModel
    request: PatternRequest
    maps: list[int]
    natural: Natural

    def for_seed(self, seed: int) -> "PatternJob":
        return replace(self, request=replace(self.request, seed=seed))

    def run(
        self, out: OutputDir, progress: Callable[[int], None] | None = None, *, grid: bool = True, executor=None
    ) -> PatternSet:
        """Render the maps the folder's manifest lacks, then save, read back, score, and record."""
        from .execution.driver import run_jobs  # the driver runs jobs, so it imports this module

        return run_jobs([self], out, executor, progress, [grid])[0]


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
    request = replace(request, recipe=recipe_for(loaded.model, request.recipe, dataset, request.canvas))
    natural = Natural.of(loaded.model, request, dataset, progress)
    return PatternJob(loaded, request, list(maps), natural)
