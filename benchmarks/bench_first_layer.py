"""How close a first convolution's patterns come to the best image there is, and which maps share it.

    python benchmarks/bench_first_layer.py MODEL LAYER PATTERN_FOLDER

A first convolution with a ReLU, averaged over its map, is a convex
function of the pixels (a mean of ReLUs of linear functions). Its maximum
over the box of pixel values lies at a corner of the box: every pixel at
the lowest or the highest value. This searches those corners for each map:
single pixel flips, each flip's exact gain, the best one at a time, until
none helps, from three random corners, from every saved pattern (the
folder of `featviz patterns`, pixels rounded to the nearer end) and then
from every other map's best corner. It prints:

  - each map's best value found, and the share of it that featviz's saved
    pattern reaches;
  - how many maps are specific at those best images (each drives its own
    map harder than any other map's best image does);
  - the groups of maps whose best images are the same picture: no two of
    them can both be specific at their best.

A corner search finds local maxima, so "best" is the best found; starts
that all end at one picture are evidence, not proof, that it is the best.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RANDOM_STARTS = 3
ROUNDS = 2  # of starting each map from every map's best corner


class FirstLayer:
    """A Conv2D's 3x3 kernels over a grey image, with a ReLU, averaged over each map (valid padding)."""

    def __init__(self, kernel: np.ndarray, bias: np.ndarray, size: tuple[int, int], lo: float, hi: float):
        if kernel.shape[:3] != (3, 3, 1):
            raise SystemExit(f"a 3x3 kernel over one channel is needed, not {kernel.shape[:3]}")
        self.kernel, self.bias, self.size, self.lo, self.hi = kernel[:, :, 0, :], bias, size, lo, hi

    def pre(self, image: np.ndarray, k: int) -> np.ndarray:
        """Map k before its ReLU, for a (H, W) image."""
        h, w = self.size[0] - 2, self.size[1] - 2
        out = np.full((h, w), self.bias[k], np.float64)
        for dy in range(3):
            for dx in range(3):
                out += image[dy : dy + h, dx : dx + w] * self.kernel[dy, dx, k]
        return out

    def values(self, images: np.ndarray) -> np.ndarray:
        """(N, K): each map's mean for each (H, W) image."""
        return np.array([[np.maximum(self.pre(x, k), 0).mean() for k in range(len(self.bias))] for x in images])

    def climb(self, image: np.ndarray, k: int) -> tuple[np.ndarray, float]:
        """The corner reached from `image` by the best single flips for map k, and map k's value there."""
        x = np.where(image > (self.lo + self.hi) / 2, self.hi, self.lo)
        h, w = self.size[0] - 2, self.size[1] - 2
        while True:
            pre, change = self.pre(x, k), (self.lo + self.hi - x) - x
            gain = np.zeros(self.size)
            for dy in range(3):
                for dx in range(3):
                    moved = pre + change[dy : dy + h, dx : dx + w] * self.kernel[dy, dx, k]
                    gain[dy : dy + h, dx : dx + w] += np.maximum(moved, 0) - np.maximum(pre, 0)
            y, z = np.unravel_index(np.argmax(gain), gain.shape)
            if gain[y, z] <= 1e-12:
                return x, float(np.maximum(pre, 0).mean())
            x[y, z] = self.lo + self.hi - x[y, z]


def best_corners(layer: FirstLayer, saved: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    starts = [rng.uniform(layer.lo, layer.hi, layer.size) for _ in range(RANDOM_STARTS)] + list(saved)
    maps = range(len(layer.bias))
    best = [max((layer.climb(s, k) for s in starts), key=lambda found: found[1])[0] for k in maps]
    for _ in range(ROUNDS):
        for k in maps:
            found, value = max((layer.climb(s, k) for s in best), key=lambda f: f[1])
            if value > layer.values(best[k][None])[0, k] + 1e-12:
                best[k] = found
    return best


def shared(best: list[np.ndarray]) -> list[list[int]]:
    """Groups of maps whose best corners are the same picture (pixels that change no map's value aside)."""
    groups: list[list[int]] = []
    for k, corner in enumerate(best):
        home = next((g for g in groups if np.array_equal(best[g[0]], corner)), None)
        if home is None:
            groups.append([k])
        else:
            home.append(k)
    return [g for g in groups if len(g) > 1]


def _kernel_and_bias(conv, model) -> tuple[np.ndarray, np.ndarray]:
    """A Conv2D that reads the model's input: 3x3, stride 1, valid padding, a bias and a ReLU; else exit."""
    config = conv.get_config()
    wanted = {"kernel_size": (3, 3), "strides": (1, 1), "padding": "valid", "activation": "relu", "use_bias": True}
    found = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in wanted}
    if found != wanted or conv.input is not model.inputs[0]:
        raise SystemExit(f"{conv.name} is not a 3x3, stride-1, valid, biased ReLU convolution of the input")
    kernel, bias = conv.get_weights()
    return np.asarray(kernel, np.float64), np.asarray(bias, np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("layer")
    parser.add_argument("patterns", type=Path, help="a folder `featviz patterns` wrote for this layer")
    args = parser.parse_args()
    from PIL import Image

    from featviz import models
    from featviz.patterns import layout, manifest

    record = manifest.read(args.patterns / layout.MANIFEST)
    if record is None or record.settings.get("objective") != "mean":
        raise SystemExit(f"no manifest of map means in {args.patterns}")
    lo, hi = record.settings["input_range"]  # the range the saved 0..1 pictures were read into
    loaded = models.load(args.model)
    conv = loaded.model.get_layer(args.layer)
    size = tuple(loaded.model.input_shape[1:3])
    layer = FirstLayer(*_kernel_and_bias(conv, loaded.model), size, lo, hi)
    scores = sorted(record.maps.values(), key=lambda s: s.map)
    if any(s.image is None or s.dead for s in scores):
        raise SystemExit("every map needs a saved pattern and a live value")
    pictures = [np.asarray(Image.open(args.patterns / s.image), np.float64) / 255 for s in scores]
    saved = np.stack([lo + (hi - lo) * p.reshape(size) for p in pictures])
    best = best_corners(layer, saved)
    at_best, own = layer.values(np.stack(best)), layer.values(saved)
    mine = np.diagonal(at_best)
    others = np.where(np.eye(len(mine), dtype=bool), -np.inf, at_best).max(axis=0)
    reached = np.diagonal(own) / mine
    print(f"{args.model} {args.layer}: {len(mine)} maps")
    print("  best value found per map:", " ".join(f"{v:.3g}" for v in mine))
    span = f"{reached.min():.0%} to {reached.max():.0%} of it (median {np.median(reached):.0%})"
    print(f"  featviz's patterns reach {span}")
    print(f"  specific at their best images: {int((mine > others).sum())} of {len(mine)}")
    print("  maps whose best images are the same picture:", shared(best) or "none")


if __name__ == "__main__":
    main()
