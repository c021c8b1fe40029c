"""The optimization loop: gradient ascent on a batch of images, in one compiled loop.

`render` returns arrays; it neither shows nor saves. The state of one render
and its compiled step (several steps per call, in a graph loop) are an
`ascent.Ascent`; `Recipe` says how it optimizes, `Batch` what.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from .. import defaults
from ..errors import FeatvizError
from ..pixels.preprocess import InputRange
from ..runtime import _tf, cpu
from .ascent import Ascent
from .colour import ColourBasis, Spectrum
from .objectives import Objective

# Bump when the same settings start giving different patterns: it is part of every resume key.
NUMERICS = 10
LEARNING_RATES = {"pixels": 0.1, "fourier": 0.03, "maco": 0.2}  # maco: radians of phase
CALL_SECONDS = 0.25  # the work of one call into the compiled step loop
MAX_STEPS_PER_CALL = 32


@dataclass(frozen=True)
class Recipe:
    """How patterns are optimized. The defaults were tuned on the bundled MNIST CNN (see the README)."""

    steps: int = defaults.STEPS
    param: str | None = None  # "pixels", "fourier" or "maco"; None: by the image's channels (for_channels)
    # RGB only: optimize in decorrelated colour (colour.py). "dataset": measured on the natural images
    # (patterns.recipe_for); None: plain RGB.
    colour: ColourBasis | str | None = "dataset"
    spectrum: Spectrum | None = None  # "maco" only: the fixed magnitude (patterns.recipe_for measures it)
    lr: float | None = None  # None: LEARNING_RATES[param]
    relax_steps: int = 64
    polish_steps: int = 48  # the last steps run without transforms
    transforms: Callable | None = None  # default: transforms.default_for(canvas)
    precision: str = "auto"  # "float32", "bfloat16", or "auto": bfloat16 where the device computes it fast
    fast_conv: bool = True  # the fast first-layer gradient, and activations moved past max-pools
    jit: bool = False  # XLA's CPU convolutions are about 2x slower than oneDNN's
    decay: float | None = None  # "fourier": the spectrum's scale falls as 1/f**decay (lucid: 1); None: by channels
    chroma: float = defaults.CHROMA  # decorrelated colour: the colour directions' scale, relative to the data's
    uncapped: bool = False  # the objective's layers run without their activation (a remedy for capped maps)
    repair: bool = True  # flagged maps (evaluation/self_check.py) are rendered again with their remedy

    @property
    def learning_rate(self) -> float | None:
        """The step size; None while the parameterization is not yet chosen."""
        return self.lr if self.lr is not None else LEARNING_RATES.get(self.param)

    def for_channels(self, channels: int) -> Recipe:
        """The parameterization chosen by the image's channels when none was asked for (defaults.PARAM_FOR_GREY,
        PARAM_FOR_COLOUR); no colour basis for a grey image."""
        param = self.param or (defaults.PARAM_FOR_COLOUR if channels == 3 else defaults.PARAM_FOR_GREY)
        decay = self.decay or (defaults.DECAY_FOR_COLOUR if channels == 3 else defaults.DECAY_FOR_GREY)
        return replace(self, param=param, colour=self.colour if channels == 3 else None, decay=decay)

    @property
    def resolved_precision(self) -> str:
        """What "auto" means on the device featviz computes on (runtime/device.py)."""
        if self.precision != "auto":
            return self.precision
        return _tf.device().auto_precision

    @property
    def compute_dtype(self) -> str | None:
        """None for float32, else the dtype layers compute in."""
        precision = self.resolved_precision
        if precision == "bfloat16" and not _tf.device().gpu and not cpu.bfloat16_runs():
            isa = os.environ.get("ONEDNN_MAX_CPU_ISA")
            raise FeatvizError(f"bfloat16 cannot run with oneDNN held to {isa} (ONEDNN_MAX_CPU_ISA); use float32")
        return None if precision == "float32" else precision


@dataclass(frozen=True)
class Batch:
    """What to optimize: one image per key, of `size` (height, width), mapped into the model by `input_range`.

    A key seeds its image's start and transforms (randomness.py): for layer
    patterns it is the map index.
    """

    keys: tuple[int, ...]
    size: tuple[int, int]
    input_range: InputRange = (0.0, 1.0)
    starts: np.ndarray | None = field(default=None, compare=False)  # (N, H, W, C) in 0..1: begin at these images
    seeds: tuple[int, ...] | None = None  # each image's own seed; None: render's seed for all

    @classmethod
    def of(cls, n: int, size: tuple[int, int], input_range: InputRange = (0.0, 1.0)) -> Batch:
        return cls(tuple(range(n)), tuple(size), input_range)


@dataclass
class RenderResult:
    images: np.ndarray  # (N, H, W, C) in 0..1
    history: np.ndarray  # (steps, N): the objective at each step, under transforms


def render(
    model,
    objective: Objective,
    batch: Batch,
    recipe: Recipe = Recipe(),
    *,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> RenderResult:
    """Maximize `objective` for a batch of images by gradient ascent.

    Parameters:
        model: a keras.Model taking images.
        objective: one value per image to maximize (objectives.py).
        batch: the keys, canvas size and input range of the images.
        recipe: the optimizer, parameterization, transforms and precision.
        seed: with each image's key, seeds its start and its transforms.
        progress: called after each step with the number of images stepped.

    Returns:
        The images in 0..1 and the objective's history.
    """
    ascent = _warm(model, objective, batch, recipe, seed) or Ascent(model, objective, batch, recipe, seed)
    history, done, block = [], 0, 1
    while done < recipe.steps:
        count = min(block, recipe.steps - done)
        started = time.perf_counter()
        history.append(ascent.run(done, count))
        done += count
        if progress is not None:
            progress(len(batch.keys) * count)
        block = steps_per_call(time.perf_counter() - started, count)
    return RenderResult(ascent.images(), np.concatenate(history))


def time_steps(model, objective: Objective, batch: Batch, recipe: Recipe = Recipe(), *, seed: int = 0,
               steps: int = 3) -> tuple[float, float, np.ndarray]:  # fmt: skip
    """What a render of `batch` costs: (seconds of its first step, tracing included; seconds per step after it;
    the images those steps reached, in 0..1).

    Times 1 + `steps` steps as `render` starts, then `steps` of the last polish_steps, which skip the transforms;
    the seconds per step weigh the two as the recipe's steps do. The compiled step is then kept, back at its
    start, for a `render` of the very same call (the run a calibration plans), which so skips its trace.
    """
    asked, recipe = recipe, replace(recipe, steps=max(recipe.steps, 2 * steps + 1))
    ascent = Ascent(model, objective, batch, recipe, seed)
    start = ascent.state()
    first = _timed(ascent, 0, 1)
    moving = _timed(ascent, 1, steps) / steps
    polish = min(recipe.polish_steps, recipe.steps - 1)
    still = _timed(ascent, recipe.steps - steps, steps) / steps if polish >= steps else moving
    pictures = ascent.images()
    if asked == recipe and batch.starts is None:
        _keep_warm(ascent, start)
    return first, (moving * (recipe.steps - polish) + still * polish) / recipe.steps, pictures


# Ascents that time_steps compiled, each with its variables' starting values, newest last; at most WARM_KEPT.
_WARM: list[tuple[Ascent, list[np.ndarray]]] = []
WARM_KEPT = 2  # a calibration times two calls (execution/calibration.py)


def _keep_warm(ascent: Ascent, start: list[np.ndarray]) -> None:
    _WARM.append((ascent, start))
    del _WARM[:-WARM_KEPT]


def forget_warm() -> None:
    """Drop the kept ascents, and the model and memory they hold: a run's calls are done (execution/driver.py)."""
    _WARM.clear()


def _warm(model, objective: Objective, batch: Batch, recipe: Recipe, seed: int) -> Ascent | None:
    """The kept ascent of this very call, taken from the pool and set back to its start; None if there is none.

    The objective must be the same object (objectives.channel returns one per arguments), since its
    function is part of the compiled step.
    """
    for i, (ascent, start) in enumerate(_WARM):
        same = ascent.model is model and ascent.objective is objective and ascent.seed == seed
        if same and ascent.asked == recipe and ascent.batch == batch and batch.starts is None:
            del _WARM[i]
            ascent.restart(start)
            return ascent
    return None


def _timed(ascent: Ascent, first: int, count: int) -> float:
    started = time.perf_counter()
    ascent.run(first, count)
    return time.perf_counter() - started


def steps_per_call(seconds: float, count: int) -> int:
    """How many steps the next call runs: about CALL_SECONDS of work, so progress still moves.

    Each call from Python costs about 0.7 ms on top of a step (about 5% of a
    float32 MNIST step); running steps in one graph loop saves it.
    """
    return max(1, min(MAX_STEPS_PER_CALL, int(CALL_SECONDS * count / max(seconds, 1e-9))))
