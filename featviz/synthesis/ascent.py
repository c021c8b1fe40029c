"""One render's state and its compiled step: the image parameters, the random draws, the optimizer, and the
forward pass up to the objective's layers with the gradient and the Adam update, several steps per call in one
graph loop (render.py drives it).

During the first `relax_steps` steps every ReLU (and ReLU6) of the objective's own layers lets through gradient
that would raise its input, in maps that are still at zero, so they learn too (lucid's redirected ReLU, kept to the
target and to sleeping maps: relaxing every ReLU of a deep network drives the image to black and leaves the maps
stuck). The last `polish_steps` run without transforms, tuning the pattern to the exact image that is saved.

On a large canvas a chain's images go through the network a few at a time, one slice after the other, so that
a slice's activations stay in the processor's caches (slice_size); the image parameters, the transforms and Adam
still take the whole chain at once. In float32 each image's arithmetic is the same either way.
"""

from __future__ import annotations

import numpy as np

from ..models import cost, graph, image_channels, run_graph
from ..pixels.preprocess import as_preprocess
from ..runtime import _tf, chains
from . import adam, params, randomness, transforms
from .colour import ColourBasis
from .hooks import Hooks
from .objectives import Objective

# A slice's largest activation holds at most this many values (8 MiB in float32). On a 2-core AMD EPYC Zen 4
# (32 MiB of L3), MobileNetV2 at 224 px (1.2 M values per image), 64 maps, float32, alternated: 0.52 to 0.53 s a
# step in slices of 1 image, 0.59 to 0.64 s in whole chains of 32; slices of 3, 6 and 13 fall between
# (docs/benchmarks.md).
SLICE_VALUES = 2**21
# Only a pass with fewer FLOPs per byte moved than this is sliced (cost.Pass.intensity; that Zen 4 does 216 GFLOP/s
# over 38 GB/s, 5.7): ResNet50V2 to conv4_block1_3_conv (35) steps 3% slower in slices of 2, MobileNetV2 to
# block_8_add (6.3) 10% to 17% faster in slices of 1; a CIFAR-10 CNN (48) 13% slower in float32 in slices of 64.
MEMORY_BOUND = 8.0


def slice_size(model, objective: Objective, canvas: tuple[int, int], images: int) -> int | None:
    """How many of a chain's `images` go through the network at once: None for all of them, unless the objective
    scores each image on its own (Objective.rows), the pass is memory-bound and its largest activation outgrows
    SLICE_VALUES."""
    if objective.rows is None:
        return None
    found = cost.pass_to(model, canvas, objective.layers)
    if found is None or found.intensity >= MEMORY_BOUND:
        return None
    size = max(1, SLICE_VALUES // found.largest)
    return size if size < images else None


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


class Ascent:
    """One render's state: the image parameters, the random draws, the optimizer and the compiled step."""

    def __init__(self, model, objective: Objective, batch, recipe, seed: int):  # a render.Batch and Recipe
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
        chain = max(chains.sizes(len(batch.keys)))
        self.slice = None if recipe.jit else slice_size(model, objective, batch.size, chain)  # XLA: fixed shapes
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
            if self.slice is None:
                values = self._objective(units)
                loss = -tf.reduce_sum(values)
        if self.slice is None:
            grads = tape.gradient(loss, self.variables)
        else:
            firsts = np.cumsum([0] + [unit.shape[0] for unit in units])
            parts = [self._in_slices(unit, int(first)) for unit, first in zip(units, firsts)]
            values = tf.concat([value for value, _ in parts], 0)
            grads = tape.gradient(units, self.variables, output_gradients=[grad for _, grad in parts])
        self.optimizer.apply(grads)
        return values

    def _in_slices(self, unit, first: int):
        """One chain's objective values and their gradient with respect to its images (`unit`, at `first` in the
        batch), from self.slice images at a time, one slice after the other."""
        tf = _tf.tf()
        n, size = unit.shape[0], self.slice
        count = -(-n // size)

        def body(j, values, grads):
            start = j * size
            part = unit[start : start + size]
            positions = tf.range(first + start, first + tf.minimum(start + size, n))
            with tf.GradientTape() as tape:
                tape.watch(part)
                taps = {k: tf.cast(v, tf.float32) for k, v in self._taps(part).items()}
                value = tf.broadcast_to(self.objective.rows(positions)(taps, part), tf.shape(positions))
                loss = -tf.reduce_sum(value)
            grad = tape.gradient(loss, part, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return j + 1, values.write(j, value), grads.write(j, grad)

        arrays = [tf.TensorArray(dtype, size=count, infer_shape=False) for dtype in (tf.float32, unit.dtype)]
        _, values, grads = tf.while_loop(lambda j, *_: j < count, body, (0, *arrays), parallel_iterations=1)
        return values.concat(), tf.ensure_shape(grads.concat(), unit.shape)

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
