"""Random numbers for synthesis, drawn ahead of time per image key: no global state.

Each image of a batch has a key (for layer patterns: its map index). Its
start and every random transform it gets come from generators seeded by
(seed, key) alone, so map 17 gets the same start and the same transforms
whether it is rendered alone, in a batch of 6 or in a chunk of 128. (Its
pattern then matches up to float rounding, which can depend on the batch.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..runtime import _tf

DRAWS_PER_STEP = 8  # how many uniform numbers one step's transforms may take per image
_START, _TRANSFORMS = 0, 1  # stream ids: independent generators for the start and the transforms


def generator(seed: int, key: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, key, stream])


def per_image(seed: int | Sequence[int], count: int) -> list[int]:
    """One seed for all images, or each image's own."""
    return [seed] * count if isinstance(seed, (int, np.integer)) else list(seed)


def start_noise(keys: Sequence[int], seed: int | Sequence[int], shape: tuple, sd: float) -> np.ndarray:
    """(len(keys), *shape) normal noise, each image from its own (seed, key)."""
    seeds = per_image(seed, len(keys))
    return np.stack([generator(s, k, _START).normal(0.0, sd, size=shape) for s, k in zip(seeds, keys)]).astype(
        np.float32
    )


def transform_table(keys: Sequence[int], seed: int | Sequence[int], steps: int) -> np.ndarray:
    """(steps, len(keys), DRAWS_PER_STEP) uniform numbers in [0, 1)."""
    seeds = per_image(seed, len(keys))
    per_key = [
        generator(s, k, _TRANSFORMS).random((steps, DRAWS_PER_STEP), dtype=np.float32) for s, k in zip(seeds, keys)
    ]
    return np.stack(per_key, axis=1)


class StepRandom:
    """One step's draws, handed out in call order: `uniform([n], lo, hi)` takes the next column."""

    def __init__(self, draws):
        self.draws, self.calls = draws, 0  # draws: (N, DRAWS_PER_STEP)

    def uniform(self, shape, lo, hi):
        if self.calls >= DRAWS_PER_STEP:
            raise ValueError(f"a step's transforms may draw at most {DRAWS_PER_STEP} numbers per image")
        column = self.draws[:, self.calls]
        self.calls += 1
        tf = _tf.tf()
        return tf.reshape(lo + (hi - lo) * column, shape)


def seeded(seed: int, step: int, n: int) -> StepRandom:
    """The draws of one step for images keyed 0..n-1: handy for tests and notebooks."""
    return StepRandom(_tf.tf().constant(transform_table(range(n), seed, step + 1)[step]))
