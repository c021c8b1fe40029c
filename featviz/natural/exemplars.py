"""Scan natural images once for every map's statistics: best value, mean, firing rate, top-k images, and how
every two maps correlate.

The scan streams the dataset a batch at a time through one compiled
function that returns only per-map numbers, so memory stays bounded by the
batch whatever the dataset's size. Statistics of dataset slices merge
exactly (`LayerStats.merge`): best by max, top-k by merging sorted lists,
ranked by stable.rank_key, ties broken by the lower image index.

Every image is computed in the same place of a batch of the same shape,
however the dataset is sliced: batches are `block` images aligned to the
dataset's first image, the last one padded, each split into the same
chains. A matrix product's rounding depends on its row count on some CPUs
(AVX2), so without this a slice scanned on another worker could round a
class logit differently from the whole scan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .. import defaults, models
from ..pixels import images
from ..pixels.preprocess import InputRange
from ..runtime import _tf, chains, stable
from ..synthesis.objectives import reduce_maps
from .datasets import Dataset

SCAN_BATCH = 64
PAIRED_MAPS = 1024  # a layer of up to this many maps gathers every two maps' products (8 MB), for `correlation`
SCAN_CHAINS = 2  # every batch splits into this many parts, whatever the machine's chains (chains.py)


@dataclass
class LayerStats:
    best: np.ndarray  # (maps,) highest objective over the dataset
    total: np.ndarray  # (maps,) sum of the objective, for the mean
    fired: np.ndarray  # (maps,) images where any unit of the map is > 0
    count: int  # images scanned
    top: np.ndarray  # (maps, k) dataset indices, best first
    top_values: np.ndarray  # (maps, k)
    worst: np.ndarray | None = None  # (maps,) lowest objective over the dataset
    products: np.ndarray | None = None  # (maps, maps) the sum over images of every two maps' values; None: too many

    @property
    def correlation(self) -> np.ndarray | None:
        """(maps, maps) Pearson's r of every two maps' values over the images (0 where a map is constant); None
        when the products were not gathered."""
        if self.products is None or self.count < 2:
            return None
        mean = self.total / self.count
        covariance = self.products / self.count - np.outer(mean, mean)
        sd = np.sqrt(np.clip(np.diagonal(covariance), 0.0, None))
        scale = np.outer(sd, sd)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(scale > 0, np.clip(covariance / scale, -1.0, 1.0), 0.0)

    @property
    def mean(self) -> np.ndarray:
        return self.total / max(self.count, 1)

    @property
    def fires(self) -> np.ndarray:
        """The fraction of images where any unit of the map is > 0."""
        return self.fired / max(self.count, 1)

    @property
    def dead(self) -> np.ndarray:
        """Maps that no natural image drives above zero."""
        return ~(self.best > 0)

    @classmethod
    def empty(cls, maps: int, k: int) -> LayerStats:
        return cls(
            np.full(maps, -np.inf, np.float32), np.zeros(maps), np.zeros(maps, np.int64), 0,
            np.zeros((maps, 0), np.int64), np.zeros((maps, 0), np.float32), np.full(maps, np.inf, np.float32),
            np.zeros((maps, maps)) if maps <= PAIRED_MAPS else None,
        )  # fmt: skip

    def add(self, start: int, values: np.ndarray, fired: np.ndarray, k: int, ranked=None) -> LayerStats:
        """These statistics with a batch's (N, maps) values added; image i of the batch is index start + i.

        `ranked`, when given, is what best and top-k rank by instead of values
        (for a class logit: -inf for images of other classes).
        """
        ranked = values if ranked is None else ranked
        indices = np.broadcast_to(np.arange(start, start + len(values))[None, :], (values.shape[1], len(values)))
        wide = values.astype(np.float64)
        batch = LayerStats(
            ranked.max(axis=0), values.sum(axis=0, dtype=np.float64), fired.sum(axis=0), len(values),
            indices, ranked.T, values.min(axis=0), wide.T @ wide if self.products is not None else None,
        )  # fmt: skip
        return self.merge(batch, k)

    def merge(self, other: LayerStats, k: int) -> LayerStats:
        """The statistics of both slices together: exact, whatever order slices come in."""
        values = np.concatenate([self.top_values, other.top_values], axis=1)
        indices = np.concatenate([self.top, other.top], axis=1)
        order = np.lexsort((indices, -stable.rank_key(values)), axis=-1)[:, :k]
        return LayerStats(
            np.maximum(self.best, other.best), self.total + other.total, self.fired + other.fired,
            self.count + other.count, np.take_along_axis(indices, order, 1), np.take_along_axis(values, order, 1),
            _lowest(self.worst, other.worst), _sum(self.products, other.products),
        )  # fmt: skip


@dataclass(frozen=True)
class Exemplars:
    """Natural images and one layer's scan of them: which images drive each map hardest, and how hard."""

    dataset: Dataset
    stats: LayerStats


def _sum(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    return None if a is None or b is None else a + b


def _lowest(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    return b if a is None else a if b is None else np.minimum(a, b)


@dataclass(frozen=True)
class ScanOptions:
    kind: str = defaults.OBJECTIVE  # the objective each map is measured with
    top_k: int = defaults.TOP_K  # images kept per map
    offset: int = 0  # the first image's index: a slice's statistics then merge with the others'
    block: int = 0  # images per batch, the same for every slice of a dataset; 0: block_for(the dataset)


def block_for(count: int) -> int:
    """Images per scan batch for a dataset of `count` images: slices must start at a multiple of it."""
    return max(1, min(SCAN_BATCH, count))


def slices(count: int, parts: int) -> list[tuple[int, int]]:
    """(start, stop) of at most `parts` slices of a dataset, each starting at a multiple of its block."""
    block = block_for(count)
    size = -(-count // (max(parts, 1) * block)) * block
    return [(start, min(start + size, count)) for start in range(0, count, size)]


def scan(
    model,
    layers: Sequence[str],
    dataset: Dataset,
    input_range: InputRange = (0.0, 1.0),
    options: ScanOptions = ScanOptions(),
    progress: Callable[[int], None] | None = None,
) -> dict[str, LayerStats]:
    """One streamed pass over the dataset for all layers: per-map best, mean, firing rate and top-k."""
    kind, top_k, offset = options.kind, options.top_k, options.offset
    block = options.block or block_for(len(dataset))
    summarize = _summarizer(model, list(layers), kind)
    shape = models.input_shape(model)
    flat = {info.name for info in models.list_layers(model) if not info.spatial}
    classes = dataset.class_count
    stats = dict.fromkeys(layers)
    for start, batch in dataset.batches(shape, block):
        outs = summarize(_padded(images.to_range(batch, input_range), block), len(batch))
        labels = _labels(dataset, start, len(batch))
        for name, (values, fired) in zip(layers, outs):
            values, fired = np.asarray(values, np.float32), np.asarray(fired)
            ranked = by_class(values, labels) if name in flat and values.shape[1] == classes else None
            current = stats[name] or LayerStats.empty(values.shape[1], top_k)
            stats[name] = current.add(offset + start, values, fired, top_k, ranked)
        if progress is not None:
            progress(len(batch))
    return stats


def _padded(batch: np.ndarray, block: int) -> np.ndarray:
    """The batch with zero images appended up to `block` rows, so every batch has one shape."""
    missing = block - len(batch)
    return batch if missing <= 0 else np.concatenate([batch, np.zeros((missing, *batch.shape[1:]), batch.dtype)])


def _labels(dataset: Dataset, start: int, count: int) -> np.ndarray | None:
    """The labels of a batch, when the dataset's labels are class indices (-1: unlabelled)."""
    if dataset.labels is None or len(dataset.labels) == 0:
        return None
    return np.asarray(dataset.labels[start : start + count]).astype(np.int64)


def by_class(values: np.ndarray, labels: np.ndarray | None) -> np.ndarray | None:
    """Class logits ranked only among images of their own class: unit c keeps images labelled c.

    None (rank by all images) without labels.
    """
    if labels is None:
        return None
    own = labels[:, None] == np.arange(values.shape[1])[None, :]
    return np.where(own, values, -np.inf).astype(np.float32)


def _summarizer(model, layers: list[str], kind: str):
    """(inputs, n) -> [(values (n, maps), fired (n, maps))] per layer for the first n inputs, as numpy.

    One compiled call runs the batch's SCAN_CHAINS parts at once (chains.py), each on its own part.
    """
    tf = _tf.tf()

    def summarize(x):
        _, taps = models.run_graph(model, x, set(layers), models.graph.logits_of(set(layers)), stop=True)
        return [(reduce_maps(taps[name], kind), _fired(taps[name])) for name in layers]

    def _fired(out):
        return out > 0 if len(out.shape) == 2 else tf.reduce_max(out, axis=[1, 2]) > 0

    def each_part(*parts):
        return [summarize(part) for part in parts]

    compiled = models.graph.compile_if_traceable(model, each_part, reduce_retracing=True, autograph=False)

    def run(x, n):
        found = compiled(*chains.split(x, SCAN_CHAINS))
        return [
            tuple(np.concatenate([np.asarray(part[i][j]) for part in found])[:n] for j in (0, 1))
            for i in range(len(layers))
        ]

    return run
