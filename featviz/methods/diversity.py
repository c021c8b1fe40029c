"""Several different patterns per map: lucid's diversity term, aimed at the spread of natural images.

K images per map are optimized in one batch. Besides raising the map, each
image is pushed away from the other K-1 of its map: the penalty is the mean
cosine similarity of their Gram matrices (channel co-activations) at a
convolution halfway below the map's layer, which makes them differ in
style rather than by a shift. Each pattern is then scored on its own, and
the K patterns' mean pairwise dissimilarity (1 - cosine similarity of the
same Gram matrices) is set beside that of the map's top K natural images.

With natural images, the penalty has a target: the map's top K natural
images' dissimilarity, times MARGIN. Below it, the images are pushed apart
hard (TARGET_WEIGHT); beyond it, only the map counts. Lucid's constant
weight cannot be right for every layer: on the CIFAR-10 ResNet's middle
layer it left the four patterns 10x less varied than the natural images,
and a weight that separated them there cost strength elsewhere. Without
natural images, the penalty is lucid's, at WEIGHT.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import models
from ..errors import FeatvizError
from ..evaluation import scoring
from ..evaluation.paths import earlier_convolutions
from ..files.output import OutputDir
from ..natural import exemplars
from ..natural.datasets import Dataset
from ..natural.exemplars import Exemplars
from ..patterns import layout, recipe_for
from ..patterns.request import PatternRequest
from ..pixels import grids, images
from ..pixels.display import Shown
from ..runtime import _tf
from ..runtime.progress import SILENT, Reporter
from ..synthesis import objectives, render
from ..synthesis.objectives import Objective

WEIGHT = 1.0  # of the mean Gram similarity, against the map's activation relative to its best natural image
TARGET_WEIGHT = 10.0  # of the similarity above the natural images' target
MARGIN = 1.5  # the target: this many times the top K natural images' dissimilarity


@dataclass
class DiversePatterns(Shown):
    maps: list[int]
    k: int
    images: np.ndarray  # (maps, k, H, W, C) in 0..1, as saved (8-bit, read back)
    scores: list[list[scoring.MapScore]]  # per map, per pattern
    dissimilarity: np.ndarray  # (maps,) mean pairwise, of the k patterns
    natural_dissimilarity: np.ndarray | None  # (maps,) of the map's top k natural images
    grid: Path | None = None  # grid.png, once saved
    title: str = ""  # the grid's, once saved

    def record(self) -> dict:
        natural = self.natural_dissimilarity
        return {"k": self.k, "maps": [
            {"map": m, "ratios": [s.ratio for s in self.scores[i]], "dissimilarity": float(self.dissimilarity[i]),
             "natural_dissimilarity": None if natural is None else float(natural[i])}
            for i, m in enumerate(self.maps)
        ]}  # fmt: skip

    def figure(self, title: str = ""):
        """A row per map: its k patterns, each with its ratio."""
        tiles = self.images.reshape(-1, *self.images.shape[2:])
        labels = [f"{m} ×{s.ratio:.2f}" if s.ratio is not None else str(m)
                  for m, row in zip(self.maps, self.scores) for s in row]  # fmt: skip
        return grids.tile_figure(tiles[..., 0] if tiles.shape[-1] == 1 else tiles, labels, title=title or self.title,
                                 scale=grids.GREY_UNIT, columns=self.k)  # fmt: skip

    def save(self, out: OutputDir, folder: str, title: str) -> Path:
        """map-NNNN-J.png per pattern, grid.png (a row per map) and diversity.json; the grid's path."""
        self.title = title
        figure = self.figure()
        files = {
            f"{layout.map_file(m).removesuffix('.png')}-{j}.png": image
            for m, group in zip(self.maps, self.images)
            for j, image in enumerate(group)
        }
        self.grid = grids.write_tile_set(out, folder, files, figure, ("diversity.json", self.record()))
        return self.grid

    def lines(self) -> list[str]:
        out = []
        for i, m in enumerate(self.maps):
            ratios = " ".join("n/a" if s.ratio is None else f"{s.ratio:.2f}" for s in self.scores[i])
            natural = "" if self.natural_dissimilarity is None else f" (top {self.k} natural images: "
            natural += "" if self.natural_dissimilarity is None else f"{self.natural_dissimilarity[i]:.3f})"
            out.append(f"map {m}: ratios {ratios}; dissimilarity {self.dissimilarity[i]:.3f}{natural}")
        return out + ([str(self.grid)] if self.grid is not None else [])


def style_layer(model, layer: models.LayerInfo) -> str:
    """The convolution halfway below `layer` whose Gram matrices the diversity term compares."""
    earlier = earlier_convolutions(model, layer)
    if not earlier:
        raise FeatvizError(f"--diversity: layer {layer.name!r} has no convolution below it to compare styles at")
    return earlier[len(earlier) // 2]


def grams(activations):
    """(N, h, w, C) -> (N, C*C): each image's Gram matrix, normalized to unit length."""
    tf = _tf.tf()
    x = tf.cast(activations, tf.float32)
    n, c = tf.shape(x)[0], tf.shape(x)[3]
    flat = tf.reshape(x, [n, -1, c])
    gram = tf.reshape(tf.matmul(flat, flat, transpose_a=True), [n, -1])
    return tf.math.l2_normalize(gram, axis=1)


def similarity_penalty(layer: str, k: int, allowed: np.ndarray | None = None) -> Objective:
    """Per image, the mean cosine similarity of its Gram matrix with those of the other k-1 images of its map;
    with `allowed` (one value per image), only the part above it."""

    def fn(taps, pictures):
        tf = _tf.tf()
        g = grams(taps[layer])
        groups = tf.reshape(g, [-1, k, tf.shape(g)[1]])
        sims = tf.matmul(groups, groups, transpose_b=True)  # (maps, k, k)
        others = tf.reshape((tf.reduce_sum(sims, axis=2) - 1.0) / max(k - 1, 1), [-1])
        return others if allowed is None else tf.nn.relu(others - tf.constant(allowed, others.dtype))

    return Objective(fn, frozenset([layer]), f"Gram similarity at {layer}")


def map_scales(best: np.ndarray | None, maps: Sequence[int]) -> np.ndarray:
    """Per map, 1 / its best natural value, so that every map's term reads as its ratio.

    A map that no natural image drives above zero takes the median of the others' best values.
    """
    if best is None:
        return np.ones(len(maps), np.float32)
    positive = best[best > 0]
    fallback = float(np.median(positive)) if positive.size else 1.0
    return np.array([1.0 / (best[m] if best[m] > 0 else fallback) for m in maps], np.float32)


def scaled(objective: Objective, factors: np.ndarray) -> Objective:
    """`objective` with image i's value times factors[i]."""
    return Objective(
        lambda taps, pictures: factors * objective(taps, pictures), objective.layers, f"scaled {objective.name}"
    )


def _diversity_term(below: str, k: int, target: np.ndarray | None) -> Objective:
    """lucid's penalty, or, with the natural images' dissimilarity per map, the hinge at MARGIN times it."""
    if target is None:
        return WEIGHT * similarity_penalty(below, k)
    allowed = np.repeat(1.0 - MARGIN * target, k).astype(np.float32)
    return TARGET_WEIGHT * similarity_penalty(below, k, allowed)


def dissimilarity(model, layer: str, groups: np.ndarray) -> np.ndarray:
    """(maps, k, H, W, C) model inputs -> (maps,) mean pairwise 1 - cosine similarity of Gram matrices."""
    maps, k = groups.shape[:2]
    _, taps = models.run_graph(model, _tf.tf().constant(groups.reshape(-1, *groups.shape[2:])), {layer}, stop=True)
    g = np.asarray(grams(taps[layer])).reshape(maps, k, -1)
    sims = np.einsum("mif,mjf->mij", g, g)
    return 1.0 - (sims.sum(axis=(1, 2)) - k) / (k * (k - 1))


def diverse(
    model,
    request: PatternRequest,
    maps: Sequence[int],
    k: int,
    natural: Exemplars | None = None,
    progress: Callable[[int], None] | None = None,
) -> DiversePatterns:
    """k patterns for each of `maps`, optimized together, scored one by one against `natural`'s best values."""
    maps, layer = list(maps), request.layer
    below = style_layer(model, layer)
    best = None if natural is None else natural.stats.best
    to_model = images.to_range
    natural_spread = None
    if natural is not None and natural.stats.top.shape[1] >= k:
        dataset, stats = natural.dataset, natural.stats
        shape = (*request.canvas, models.image_channels(model))
        tops = np.stack([dataset.take(stats.top[m, :k], shape) for m in maps])
        natural_spread = dissimilarity(model, below, to_model(tops, request.input_range))
    per_chunk = max(1, 128 // k)
    found = []
    for start in range(0, len(maps), per_chunk):
        part = maps[start : start + per_chunk]
        targets = [m for m in part for _ in range(k)]
        target = None if natural_spread is None else natural_spread[start : start + per_chunk]
        activation = scaled(objectives.channel(layer.name, targets, request.kind), np.repeat(map_scales(best, part), k))
        objective = activation - _diversity_term(below, k, target)
        keys = tuple(m * k + j for m in part for j in range(k))
        batch = render.Batch(keys, request.canvas, request.input_range)
        result = render.render(model, objective, batch, request.recipe, seed=request.seed, progress=progress)
        found.append(result.images)
    saved = images.from_uint8(images.to_uint8(np.concatenate(found), (0.0, 1.0)), (0.0, 1.0))
    values = np.diagonal(scoring.responses(model, layer.name, [m for m in maps for _ in range(k)],
                                           to_model(saved, request.input_range), request.kind))  # fmt: skip
    scores = scoring.score(values, [m for m in maps for _ in range(k)], best, ["-"] * len(values))
    groups = saved.reshape(len(maps), k, *saved.shape[1:])
    spread = dissimilarity(model, below, to_model(groups, request.input_range))
    return DiversePatterns(maps, k, groups, [scores[i * k : (i + 1) * k] for i in range(len(maps))], spread,
                           natural_spread)  # fmt: skip


def for_request(
    model, request: PatternRequest, maps: Sequence[int], k: int, dataset: Dataset | None, reporter: Reporter = SILENT
) -> DiversePatterns:
    """What `featviz patterns --diversity K` renders: K patterns per map, against the dataset's top K images."""
    style_layer(model, request.layer)  # refuses a layer with no convolution below, before any work
    request = replace(request, recipe=recipe_for(model, request.recipe, dataset, request.canvas, request.layer))
    natural = None
    if dataset is not None:
        options = exemplars.ScanOptions(kind=request.kind, top_k=k)
        stats = exemplars.scan(model, [request.layer.name], dataset, request.input_range, options)
        natural = Exemplars(dataset, stats[request.layer.name])
    label = f"{request.layer.name}: {len(maps)} maps x {k}"
    with reporter.stage(label, len(maps) * k * request.recipe.steps) as progress:
        return diverse(model, request, maps, k, natural, progress)
