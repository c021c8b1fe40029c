"""Does a pattern show what its map detects? The path check, after Geirhos et al. (2023).

A map can reach a high ratio on a pattern that the network processes along
another path than the natural images the map responds to. For each map and
each earlier convolutional layer, `path_scores` rank-correlates the layer's
per-channel mean activations on the pattern with their mean over the map's
top natural exemplars. The baseline is the same correlation for random
natural images (none of them that map's exemplars). A map whose pattern is
no closer to its exemplars than random images are is flagged.

Activations are taken as deviations from the average natural image (the
mean over PATH_REFERENCE other random images). Without that, any two
natural images correlate at about 0.9 through the profile they share (on
MNIST, the black background), and the test would ask whether a pattern
looks like a natural image at all rather than like this map's exemplars.

The protocol is fixed here, once: the top PATH_EXEMPLARS exemplars of the
scan, PATH_RANDOM random images and PATH_REFERENCE more drawn with
RANDOM_SEED, Spearman's rank correlation averaged over every earlier
convolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import models
from ..models import LayerInfo, forward
from ..natural.exemplars import Exemplars
from ..pixels.preprocess import InputRange, as_preprocess

PATH_EXEMPLARS = 9
PATH_RANDOM = 9
PATH_REFERENCE = 64  # random images whose mean activations are the average natural image
RANDOM_SEED = 0


@dataclass(frozen=True)
class PathScore:
    map: int
    pattern: float  # the mean rank correlation of the pattern with the map's exemplars, over earlier layers
    random: float  # the same for random natural images: the baseline

    @property
    def closer(self) -> bool:
        """True when the pattern's path is closer to the exemplars' than random images' paths are."""
        return self.pattern > self.random


def earlier_convolutions(model, layer: LayerInfo) -> list[str]:
    """The convolutions that run before `layer`, in execution order, with more than one map."""
    return [
        info.name
        for info in models.list_layers(model)
        if info.index < layer.index and "Conv" in info.class_name and info.spatial and info.maps > 1
    ]


def channel_means(model, layers: Sequence[str], inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Each layer's per-channel mean activation (N, channels) for model inputs (N, H, W, C)."""
    return forward.outputs(model, np.asarray(inputs, np.float32), layers, spatial_mean=True)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rho of a (..., C) with b (C,) or any shape that broadcasts, along the last axis; 0 where a side
    is constant."""
    from scipy.stats import rankdata

    ra, rb = rankdata(a, axis=-1), rankdata(b, axis=-1)
    ra, rb = ra - ra.mean(axis=-1, keepdims=True), rb - rb.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(ra, axis=-1) * np.linalg.norm(rb, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (ra * rb).sum(axis=-1) / norm, 0.0)


def path_scores(
    model,
    layer: LayerInfo,
    patterns: np.ndarray,
    natural: Exemplars,
    input_range: InputRange = (0.0, 1.0),
) -> list[PathScore] | None:
    """One PathScore per map of `patterns` (maps, H, W, C) in 0..1, map i at index i of the layer's maps.

    `natural` is the dataset and the layer's scan of it (exemplars.scan, top-k >= PATH_EXEMPLARS).
    None when no convolution comes before the layer, or the dataset has too few images for the baseline.
    """
    dataset, stats = natural.dataset, natural.stats
    earlier = earlier_convolutions(model, layer)
    if not earlier or len(dataset) < PATH_EXEMPLARS + PATH_RANDOM:
        return None
    top = stats.top[:, :PATH_EXEMPLARS]
    order = np.random.default_rng(RANDOM_SEED).permutation(len(dataset))
    draw = order[: PATH_RANDOM + PATH_EXEMPLARS]  # enough that PATH_RANDOM of them are not the map's exemplars
    reference = order[len(draw) : len(draw) + PATH_REFERENCE]
    wanted = np.unique(np.concatenate([top.ravel(), draw, reference]))
    to_model = as_preprocess(input_range).to_model
    natural_inputs = to_model(dataset.take(wanted, models.input_shape(model)))
    both = channel_means(model, earlier, np.concatenate([natural_inputs, to_model(np.nan_to_num(patterns))]))
    row = {int(i): r for r, i in enumerate(wanted)}
    exemplars = np.vectorize(row.__getitem__, otypes=[int])(top)  # (maps, PATH_EXEMPLARS) rows of `seen`
    randoms = np.array([_randoms(draw, set(top[m].tolist()), row) for m in range(len(patterns))], dtype=int)
    closeness = np.zeros((2, len(patterns)))
    for name in earlier:
        seen, own = both[name][: len(wanted)], both[name][len(wanted) :]
        # deviations from the average natural image: what sets an image apart
        average = seen[[row[int(i)] for i in reference]].mean(axis=0)
        seen, own = seen - average, own - average
        target = seen[exemplars].mean(axis=1)  # (maps, channels): the exemplars' mean, per map
        closeness[0] += rank_correlation(own, target)
        closeness[1] += rank_correlation(seen[randoms], target[:, None, :]).mean(axis=1)
    closeness /= len(earlier)
    return [PathScore(m, float(closeness[0, m]), float(closeness[1, m])) for m in range(len(patterns))]


def _randoms(draw: np.ndarray, exemplars: set[int], row: dict[int, int]) -> list[int]:
    """The first PATH_RANDOM drawn images that are not among the map's exemplars, as rows of the scanned images."""
    return [row[int(i)] for i in draw if int(i) not in exemplars][:PATH_RANDOM]
