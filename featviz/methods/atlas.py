"""`featviz atlas`: a layer's activation atlas (Carter et al. 2019), by lucid's recipe.

1. collect: the layer's activation vectors at sampled positions of natural images, streamed
   (natural/vectors.py);
2. lay_out and normalize: the vectors placed in 2-D (t-SNE after PCA, UMAP, or PCA alone), in the unit square;
3. bin_cells: a grid over the square, each cell's vectors counted and averaged;
4. render_cells: each kept cell's mean vector rendered as a direction pattern, many cells per batch;
5. the picture (pixels/atlas_figure.py): each cell's pattern, faded by its count, framed by its class.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import defaults, models
from ..errors import FeatvizError
from ..execution.batches import batch_size
from ..files.output import OutputDir
from ..models import LayerInfo, card, head
from ..models.inputs import resolve_input
from ..natural import datasets, vectors
from ..natural.datasets import Dataset
from ..natural.vectors import Vectors
from ..patterns import PatternRequest, canvas_for, layout, manifest, recipe_for
from ..patterns.request import recipe_record
from ..pixels import atlas_figure, grids
from ..pixels.preprocess import Preprocess, as_preprocess
from ..runtime.progress import SILENT, Reporter
from ..synthesis import objectives, render
from ..synthesis.render import Recipe

COSSIM_POWER = 1.0  # each cell's objective: its direction's projection times the cosine (objectives.directions)
TSNE_DIMS = 50  # t-SNE runs on this many principal components, as is usual
# On MNIST conv3's 4,500 vectors, 500 iterations kept as many of each vector's 10 nearest neighbours as 1,000
# (trustworthiness 0.992 against 0.993) in half the time (docs/benchmarks.md, "Activation atlas").
TSNE_ITERATIONS = 500
FEWEST_VECTORS = 10
LAYOUT_NAMES = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}


@dataclass(frozen=True)
class AtlasOptions:
    """An atlas as a user asks for it (the command line's options); `make` checks them."""

    layer: str | int | None = None  # None: the innermost layer with maps
    dataset: str | Path | None = None  # natural images (default: the bundled ones that fit the model)
    vectors: int = defaults.ATLAS_VECTORS  # about this many activation vectors, spread over the images
    grid: int = defaults.ATLAS_GRID  # cells per side
    layout: str = defaults.ATLAS_LAYOUT
    min_count: int = 1  # cells with fewer vectors stay empty
    classes: bool = False  # frame each cell in the colour of the class the model predicts for its images
    recipe: Recipe = Recipe()
    input: Preprocess | None = None  # the model's input convention, if the user gave one
    seed: int = 0


@dataclass
class Cells:
    """A grid over the layout: row from the layout's y, column from its x."""

    grid: int
    counts: np.ndarray  # (grid, grid) vectors in each cell
    index: np.ndarray  # (k,) the kept cells (count >= min_count), flat as row * grid + col, ascending
    means: np.ndarray  # (k, maps) each kept cell's mean activation vector
    classes: np.ndarray | None = None  # (k,) the class predicted most often for the images of the cell's vectors
    purity: np.ndarray | None = None  # (k,) the share of the cell's vectors whose image has that class

    @property
    def where(self) -> list[tuple[int, int]]:
        return [divmod(int(i), self.grid) for i in self.index]

    @property
    def kept_counts(self) -> np.ndarray:
        return self.counts.ravel()[self.index]


@dataclass
class Atlas:
    layer: str
    dataset: str
    vectors: Vectors
    layout: str
    cells: Cells
    values: np.ndarray  # (k,) each cell's objective at the last step
    rose: np.ndarray  # (k,) whether it rose from the first step
    class_names: list[str] | None = None  # None: cells carry no class, or the model card names none
    png: Path | None = None
    record: Path | None = None
    seconds: float = 0.0
    page: Path | None = None  # the gallery page, when report/atlas_page.py wrote one

    def lines(self) -> list[str]:
        v, c = self.vectors, self.cells
        dropped = f"; {v.dropped:,} all-zero positions left out" if v.dropped else ""
        counts = c.kept_counts
        lines = [
            f"{self.layer}: {len(v.values):,} activation vectors from {v.scanned:,} images of {self.dataset} "
            f"({v.per_image} positions each{dropped}), laid out by {self.layout_name}",
            f"{c.grid}x{c.grid} grid: {len(c.index)} cells rendered, {counts.max()} vectors in the densest, median "
            f"{np.median(counts):g}; the objective rose for {int(self.rose.sum())} of {len(c.index)}; "
            f"{self.seconds:.1f} s",
        ]
        if c.classes is not None:
            cells = np.bincount(c.classes)
            top = [k for k in np.argsort(-cells, kind="stable")[:3] if cells[k]]
            shares = ", ".join(f"{self.name(k)} {cells[k] / len(c.index):.0%}" for k in top)
            lines.append(f"cells by class (framed): {shares}; median purity {np.median(c.purity):.0%}")
        return lines + [str(p) for p in (self.png, self.record, self.page) if p is not None]

    @property
    def layout_name(self) -> str:
        return LAYOUT_NAMES.get(self.layout, self.layout)

    def name(self, k: int) -> str:
        return self.class_names[k] if self.class_names and k < len(self.class_names) else str(k)


def lay_out(values: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """(N, maps) -> (N, 2): the vectors' directions (scaled to unit length) placed so that similar ones lie close."""
    if len(values) < FEWEST_VECTORS:
        raise FeatvizError(f"only {len(values)} activation vectors with a direction; an atlas needs at least "
                           f"{FEWEST_VECTORS}: pass more images, or ask for more --vectors")  # fmt: skip
    unit = values / np.maximum(np.linalg.norm(values, axis=1, keepdims=True), 1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "pca":
            return _pca(unit, 2, seed)
        if method == "tsne":
            from sklearn.manifold import TSNE
            from threadpoolctl import threadpool_limits

            reduced = _pca(unit, TSNE_DIMS, seed)
            perplexity = min(30.0, (len(unit) - 1) / 3)
            tsne = TSNE(2, perplexity=perplexity, init="pca", max_iter=TSNE_ITERATIONS, random_state=seed)
            # One OpenMP thread: on a busy machine its threads' waits cost more than they share (the benchmarks)
            with threadpool_limits(1, user_api="openmp"):
                return tsne.fit_transform(reduced)
        if method == "umap":
            neighbours = min(20, len(unit) - 1)
            return _umap().UMAP(n_neighbors=neighbours, min_dist=0.01, metric="cosine", random_state=seed,
                                n_jobs=1).fit_transform(unit)  # fmt: skip
    raise FeatvizError(f"--layout {method!r}: choose one of {', '.join(defaults.ATLAS_LAYOUTS)}")


def _pca(values: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    return PCA(min(dims, *values.shape), random_state=seed).fit_transform(values)


def _umap():
    try:
        import umap
    except ImportError:
        raise FeatvizError("--layout umap needs umap-learn: pip install 'featviz[atlas]'") from None
    return umap


def normalize(coords: np.ndarray, low: float = 1, high: float = 99, margin: float = 0.1) -> np.ndarray:
    """Points into the unit square, as lucid does: each axis clipped to its low..high percentiles widened by
    `margin` of their span, so a few outliers do not squeeze the rest into a corner, then scaled to 0..1."""
    lo, hi = np.percentile(coords, [low, high], axis=0)
    lo, hi = lo - margin * (hi - lo), hi + margin * (hi - lo)
    clipped = np.clip(coords, lo, hi)
    clipped = clipped - clipped.min(axis=0)
    span = clipped.max(axis=0)
    return clipped / np.where(span > 0, span, 1)


def cell_index(unit: np.ndarray, grid: int) -> np.ndarray:
    """(N, 2) points (x, y) in the unit square -> (N,) cells, flat as row * grid + col; 1.0 is in the last cell."""
    col, row = np.minimum(np.floor(np.asarray(unit) * grid), grid - 1).astype(np.int64).T
    return row * grid + col


def bin_cells(
    cell: np.ndarray, values: np.ndarray, grid: int, min_count: int = 1, predicted: np.ndarray | None = None
) -> Cells:
    """Count and average the vectors of each cell; keep the cells with at least min_count (and at least one)."""
    counts = np.bincount(cell, minlength=grid * grid)
    sums = np.zeros((grid * grid, values.shape[1]), np.float64)
    np.add.at(sums, cell, values)
    index = np.flatnonzero(counts >= max(min_count, 1))
    if len(index) == 0:
        raise FeatvizError(f"no cell of the {grid}x{grid} grid holds {min_count} vectors: lower --min-count")
    found = Cells(grid, counts.reshape(grid, grid), index, (sums[index] / counts[index, None]).astype(np.float32))
    if predicted is not None:
        table = np.zeros((grid * grid, int(predicted.max()) + 1), np.int64)
        np.add.at(table, (cell, predicted), 1)
        found.classes, found.purity = table[index].argmax(axis=1), table[index].max(axis=1) / counts[index]
    return found


def render_cells(
    model, request: PatternRequest, cells: Cells, progress: Callable[[int], None] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each kept cell's pattern along its mean vector, batch_size(canvas) cells per batch, each seeded by its cell.

    Returns the images (k, H, W, C) in 0..1, each one's objective at the last step, and whether it rose.
    """
    parts = np.array_split(np.arange(len(cells.index)), math.ceil(len(cells.index) / batch_size(request.canvas)))
    found, last, rose = [], [], []
    for part in parts:
        objective = objectives.directions(request.layer.name, cells.means[part], request.kind, COSSIM_POWER)
        batch = render.Batch(tuple(int(k) for k in cells.index[part]), request.canvas, request.input_range)
        result = render.render(model, objective, batch, request.recipe, seed=request.seed, progress=progress)
        found.append(result.images)
        last.append(result.history[-1])
        rose.append(result.history[-1] > result.history[0])
    return np.concatenate(found), np.concatenate(last), np.concatenate(rose)


def make(
    loaded: models.LoadedModel, options: AtlasOptions, out: OutputDir, reporter: Reporter = SILENT
) -> Atlas:  # fmt: skip
    """Collect, lay out, bin and render the atlas of options.layer; write atlas.png and atlas.json into `out`."""
    started = time.perf_counter()
    asked = _Asked(loaded, options)
    with reporter.stage("natural images", len(asked.dataset)) as progress:
        sampling = vectors.Sampling(options.vectors, options.seed, asked.target)
        found = vectors.collect(loaded.model, asked.request.layer, asked.dataset, asked.request.input_range, sampling,
                                progress)  # fmt: skip
    with reporter.stage(f"layout ({options.layout}, {len(found.values):,} vectors)", 1) as progress:
        unit = normalize(lay_out(found.values, options.layout, options.seed))
        progress(1)
    cells = bin_cells(cell_index(unit, options.grid), found.values, options.grid, options.min_count, found.predicted)
    request, kept = asked.request, len(cells.index)
    with reporter.stage(f"{request.layer.name}: {kept} cells", kept * request.recipe.steps) as progress:
        pictures, values, rose = render_cells(loaded.model, request, cells, progress)
    names = card.names(loaded.path) if asked.target is not None else None
    atlas = Atlas(request.layer.name, asked.dataset.source, found, options.layout, cells, values, rose, names)
    atlas.png = out.write(f"{layout.atlas_dir(request.layer)}/atlas.png", _picture(atlas, pictures, loaded.name))
    atlas.record = out.write_json(f"{layout.atlas_dir(request.layer)}/atlas.json", _record(atlas, asked, options))
    atlas.seconds = time.perf_counter() - started
    return atlas


class _Asked:
    """The checked options: the layer's pattern request, its natural images and the class layer (--classes)."""

    def __init__(self, loaded: models.LoadedModel, options: AtlasOptions):
        model = loaded.model
        layer = models.resolve_layer(model, options.layer)
        self.dataset: Dataset = datasets.for_model(models.input_shape(model), options.dataset)
        if self.dataset is None:
            raise FeatvizError("an atlas lays out the activations of natural images, and featviz has none for "
                               "this model's input: pass --dataset DIR (or an .npz)")  # fmt: skip
        self.target: LayerInfo | None = head.class_layer(model) if options.classes else None
        if options.classes and self.target is None:
            raise FeatvizError(f"--classes: model {model.name!r} {defaults.NO_CLASS_OUTPUT}")
        canvas = canvas_for(model, layer, None)
        recipe = recipe_for(model, options.recipe, self.dataset, canvas, layer)
        self.request = PatternRequest(layer, canvas, defaults.OBJECTIVE, resolve_input(model, options.input),
                                      recipe, options.seed)  # fmt: skip


def _picture(atlas: Atlas, pictures: np.ndarray, model_name: str) -> bytes:
    c = atlas.cells
    count = max(len(atlas.class_names or ()), int(c.classes.max()) + 1) if c.classes is not None else 0
    colours = atlas_figure.palette(count) if count else None
    frames = colours[c.classes] if colours is not None else None
    sheet = atlas_figure.compose(pictures, c.where, c.kept_counts, c.grid, frames)
    legend = [(atlas.name(k), colours[k]) for k in np.unique(c.classes)] if colours is not None else []
    title = (f"{model_name} · {atlas.layer}: {len(atlas.vectors.values):,} activation vectors of {atlas.dataset}, "
             f"{atlas.layout_name}; faint cells hold few")  # fmt: skip
    return grids.figure_png(atlas_figure.figure(sheet, title, legend))


def _record(atlas: Atlas, asked: _Asked, options: AtlasOptions) -> dict:
    c, v, request = atlas.cells, atlas.vectors, asked.request
    cells = [
        {"row": row, "col": col, "count": int(n), "value": float(value)}
        | ({} if c.classes is None else {"class": atlas.name(int(c.classes[i])), "purity": float(c.purity[i])})
        for i, ((row, col), n, value) in enumerate(zip(c.where, c.kept_counts, atlas.values))
    ]
    return {
        "layer": atlas.layer,
        "dataset": asked.dataset.record(),
        "settings": {
            "vectors": options.vectors,
            "grid": options.grid,
            "layout": options.layout,
            "min_count": options.min_count,
            "seed": options.seed,
            "objective": request.kind,
            "cossim_power": COSSIM_POWER,
            "input_range": as_preprocess(request.input_range).record(),
            "recipe": recipe_record(request.recipe),
        },
        "ran": manifest.this_machine(request.recipe.resolved_precision),
        "vectors": {"count": len(atlas.vectors.values), "per_image": v.per_image, "dropped": v.dropped},
        "cells": cells,
    }
