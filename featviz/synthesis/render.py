"""The optimization loop: gradient ascent on a batch of images, in one compiled loop.

`render` returns arrays; it neither shows nor saves. Each step holds the
parameterization, the random transforms, the forward pass up to the
objective's layers, the gradient and the Adam update. One `tf.function`
runs several steps in a graph loop, so Python is called only between them.
During the first `relax_steps` steps every ReLU (and ReLU6) of the objective's own layers
lets through gradient that would raise its input, in maps that are still at
zero, so they learn too (lucid's redirected ReLU, kept to the target and to
sleeping maps: relaxing every ReLU of a deep network drives the image to
black and leaves the maps stuck). The
last `polish_steps` run without transforms, tuning the pattern to the exact
image that is saved.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from .. import defaults
from ..errors import FeatvizError
from ..models import graph, image_channels, run_graph
from ..pixels.preprocess import InputRange, as_preprocess
from ..runtime import _tf, chains, cpu
from . import adam, params, randomness, transforms
from .colour import ColourBasis, Spectrum
from .hooks import Hooks
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


def relaxed_relu():
    """ReLU whose gradient, while `relax` is true, also passes where it would raise x, in maps that are asleep."""
    tf = _tf.tf()
    state = {"relax": tf.constant(False)}

    @tf.custom_gradient
    def relu(x):
        relax = state["relax"]

        def grad(dy):
            # dy is d(loss)/d(out); loss = -objective, so dy < 0 means "raise x".
            passes = tf.logical_or(x > 0, tf.logical_and(relax, tf.logical_and(dy < 0, asleep(x, dy))))
            return tf.where(passes, dy, tf.zeros_like(dy))

        return tf.nn.relu(x), grad

    return relu, state


def asleep(x, dy):
    """Per image and channel: is every unit the objective pulls up (dy < 0) at or below zero?

    Those maps need the relaxed gradient to wake. A map with a unit already
    above zero learns through it; relaxing its other units as well pushes
    whole regions to one level, as happened to the first convolution's maps
    (white fields with an edge instead of stripes). Dense units are their own map.
    """
    tf = _tf.tf()
    below = tf.logical_or(x <= 0, dy >= 0)
    axes = list(range(1, len(x.shape) - 1))
    return tf.reduce_all(below, axis=axes, keepdims=True) if axes else below


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
    ascent = _warm(model, objective, batch, recipe, seed) or _Ascent(model, objective, batch, recipe, seed)
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
    ascent = _Ascent(model, objective, batch, recipe, seed)
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
_WARM: list[tuple[_Ascent, list[np.ndarray]]] = []
WARM_KEPT = 2  # a calibration times two calls (execution/calibration.py)


def _keep_warm(ascent: _Ascent, start: list[np.ndarray]) -> None:
    _WARM.append((ascent, start))
    del _WARM[:-WARM_KEPT]


def _warm(model, objective: Objective, batch: Batch, recipe: Recipe, seed: int) -> _Ascent | None:
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


def _timed(ascent: _Ascent, first: int, count: int) -> float:
    started = time.perf_counter()
    ascent.run(first, count)
    return time.perf_counter() - started


def steps_per_call(seconds: float, count: int) -> int:
    """How many steps the next call runs: about CALL_SECONDS of work, so progress still moves.

    Each call from Python costs about 0.7 ms on top of a step (about 5% of a
    float32 MNIST step); running steps in one graph loop saves it.
    """
    return max(1, min(MAX_STEPS_PER_CALL, int(CALL_SECONDS * count / max(seconds, 1e-9))))


class _Ascent:
    """One render's state: the image parameters, the random draws, the optimizer and the compiled step."""

    def __init__(self, model, objective: Objective, batch: Batch, recipe: Recipe, seed: int):
        tf = _tf.tf()
        shape = (*batch.size, image_channels(model))
        self.asked, self.seed = recipe, seed
        recipe = recipe.for_channels(shape[-1])
        self.model, self.objective, self.batch, self.recipe = model, objective, batch, recipe
        colour = recipe.colour.with_chroma(recipe.chroma) if isinstance(recipe.colour, ColourBasis) else None
        seeds = batch.seeds if batch.seeds is not None else seed
        extra = {"spectrum": recipe.spectrum} if recipe.param == "maco" else {}
        extra |= {"decay": recipe.decay} if recipe.param == "fourier" else {}
        table = randomness.transform_table(batch.keys, seeds, recipe.steps)
        # One parameterization and one table of draws per chain (chains.py): the chains share nothing.
        self.params, self.draws = [], []
        for part in chains.slices(len(batch.keys)):
            own = seeds[part] if isinstance(seeds, (tuple, list)) else seeds
            start = batch.starts[part] if batch.starts is not None else None
            self.params.append(
                params.PARAMS[recipe.param](shape, batch.keys[part], seed=own, colour=colour, start=start, **extra)
            )
            self.draws.append(tf.constant(table[:, part]))
        self.variables = [v for param in self.params for v in param.variables]
        fill = colour.mean if colour is not None else None
        self.transform = recipe.transforms or transforms.default_for(min(batch.size), fill)
        self.relu, self.relu_state = relaxed_relu()
        self.optimizer = adam.Adam(recipe.learning_rate, self.variables)
        options = dict(jit_compile=recipe.jit, reduce_retracing=True, autograph=False)
        self.steps = graph.compile_if_traceable(model, self._steps, **options)

    def run(self, first: int, count: int) -> np.ndarray:
        """Steps first .. first + count - 1, in one call; their objective values, (count, N)."""
        tf = _tf.tf()
        return self.steps(tf.constant(first, tf.int32), tf.constant(count, tf.int32)).numpy()

    def _steps(self, first, count):
        tf = _tf.tf()
        recipe = self.recipe

        def body(i, values):
            relax, polish = i < recipe.relax_steps, i >= recipe.steps - recipe.polish_steps
            return i + 1, values.write(i - first, self._step(i, relax, polish))

        values = tf.TensorArray(tf.float32, size=count)
        _, values = tf.while_loop(lambda i, _: i < first + count, body, (first, values), parallel_iterations=1)
        return values.stack()

    def state(self) -> list[np.ndarray]:
        """The image variables' values now."""
        return [v.numpy() for v in self.variables]

    def restart(self, values: list[np.ndarray]) -> None:
        """Back to the start: the image variables at `values` (from `state`), the optimizer at its first step."""
        for variable, value in zip(self.variables, values):
            variable.assign(value)
        self.optimizer.reset()

    def images(self) -> np.ndarray:
        """The images now, (N, H, W, C) in 0..1."""
        return np.concatenate([param.image().numpy() for param in self.params])

    def _step(self, index, relax, polish):
        tf = _tf.tf()
        self.relu_state["relax"] = relax
        with tf.GradientTape() as tape:
            units = [self._transformed(param, draws, index, polish) for param, draws in zip(self.params, self.draws)]
            values = self._objective(units)
            loss = -tf.reduce_sum(values)
        grads = tape.gradient(loss, self.variables)
        self.optimizer.apply(grads)
        return values

    def _transformed(self, param, draws, index, polish):
        """One chain's images at this step, transformed (not in the last polish_steps)."""
        tf = _tf.tf()
        image = param.image()
        rng = randomness.StepRandom(tf.gather(draws, index))
        return tf.cond(polish, lambda: image, lambda: self.transform(image, rng))

    def _objective(self, parts: list):
        """The objective of every chain's images, each chain's network pass independent of the others."""
        tf = _tf.tf()
        runs = [self._taps(part) for part in parts]
        taps = {k: tf.concat([run[k] for run in runs], 0) for k in runs[0]} if len(runs) > 1 else runs[0]
        pictures = tf.concat(parts, 0) if len(parts) > 1 else parts[0]
        return self.objective({k: tf.cast(v, tf.float32) for k, v in taps.items()}, pictures)

    def _taps(self, pictures) -> dict:
        """The objective's layers on one chain's images."""
        tf = _tf.tf()
        x = as_preprocess(self.batch.input_range).to_model(pictures)
        dtype = self.recipe.compute_dtype
        if dtype:
            x = tf.cast(x, dtype)
        return run_graph(self.model, x, self.objective.layers, self._hooks(), stop=True)[1]

    def _hooks(self) -> Hooks:
        fast = self.recipe.fast_conv
        layers = self.objective.layers
        uncapped = layers if self.recipe.uncapped else ()
        return Hooks(self.relu, layers, fast, self.recipe.compute_dtype, pool_first=fast, logit_layers=layers,
                     uncapped=uncapped)  # fmt: skip
