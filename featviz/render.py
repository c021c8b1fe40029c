"""The optimization loop: gradient ascent on a batch of images, one compiled step.

`render` returns arrays; it neither shows nor saves. Each step is one
`tf.function` (XLA-compiled when possible) holding the parameterization,
the random transforms, the forward pass up to the objective's layers, the
gradient and the Adam update. During the first `relax_steps` steps every
ReLU of the objective's own layers lets through gradient that would raise its
input, so maps that start at zero still learn (lucid's redirected ReLU, kept
to the target: relaxing every ReLU of a deep network drives the image to
black and leaves the maps stuck). The last `polish_steps` run
without transforms, tuning the pattern to the exact image that is saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import _tf, models, params, transforms
from .objectives import Objective

LEARNING_RATES = {"pixels": 0.1, "fourier": 0.05}


@dataclass(frozen=True)
class Recipe:
    """How patterns are optimized. The defaults were tuned on the bundled MNIST CNN (see the README)."""

    steps: int = 256
    param: str = "pixels"  # or "fourier": a little better on early layers, 1.5x slower here
    lr: float | None = None  # None: LEARNING_RATES[param]
    relax_steps: int = 64
    polish_steps: int = 48  # the last steps run without transforms
    transforms: Callable | None = None  # default: transforms.default_for(canvas)
    precision: str = "auto"  # "float32", "bfloat16", or "auto": bfloat16 where the CPU computes it natively
    fast_conv: bool = True  # the fast first-layer gradient, and activations moved past max-pools
    jit: bool = False  # XLA's CPU convolutions are about 2x slower than oneDNN's

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else LEARNING_RATES[self.param]

    @property
    def compute_dtype(self) -> str | None:
        """None for float32, else the dtype layers compute in."""
        precision = ("bfloat16" if native_bfloat16() else "float32") if self.precision == "auto" else self.precision
        return None if precision == "float32" else precision


def native_bfloat16() -> bool:
    """True on CPUs with bfloat16 instructions (AVX512-BF16 or AMX), where it is about 2x faster."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@dataclass
class RenderResult:
    images: np.ndarray  # (N, H, W, C) in 0..1
    history: np.ndarray  # (steps, N): the objective at each step, under transforms


class StepRandom:
    """Stateless random numbers keyed by (seed, step, call site): reproducible and XLA-friendly."""

    def __init__(self, seed, step):
        self.seed, self.step, self.calls = seed, step, 0

    def uniform(self, shape, lo, hi):
        tf = _tf.tf()
        self.calls += 1
        key = tf.stack(
            [tf.cast(self.seed, tf.int64) * 1_000_003 + tf.cast(self.step, tf.int64), tf.constant(self.calls, tf.int64)]
        )
        return tf.random.stateless_uniform(shape, seed=key, minval=lo, maxval=hi)


def relaxed_relu():
    """ReLU whose gradient, while `relax` is true, also passes where it would raise x."""
    tf = _tf.tf()
    state = {"relax": tf.constant(False)}

    @tf.custom_gradient
    def relu(x):
        relax = state["relax"]

        def grad(dy):
            # dy is d(loss)/d(out); loss = -objective, so dy < 0 means "raise x".
            passes = tf.logical_or(x > 0, tf.logical_and(relax, dy < 0))
            return tf.where(passes, dy, tf.zeros_like(dy))

        return tf.nn.relu(x), grad

    return relu, state


def render(
    model,
    objective: Objective,
    n: int,
    canvas: tuple[int, int],
    *,
    input_range: tuple[float, float] = (0.0, 1.0),
    recipe: Recipe = Recipe(),
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> RenderResult:
    """Maximize `objective` for a batch of n images of size canvas by gradient ascent."""
    tf, keras = _tf.tf(), _tf.keras()
    shape = (n, *canvas, models.image_channels(model))
    param = params.PARAMS[recipe.param](shape, seed=seed)
    transform = recipe.transforms or transforms.default_for(min(canvas))
    relu, relu_state = relaxed_relu()
    compute_dtype = recipe.compute_dtype
    hooks = models.Hooks(
        relu=relu,
        relu_layers=objective.layers,
        fast_conv=recipe.fast_conv,
        compute_dtype=compute_dtype,
        pool_first=recipe.fast_conv,
    )
    lo, hi = input_range
    optimizer = keras.optimizers.Adam(recipe.learning_rate)
    optimizer.build(param.variables)

    def step(step_index, relax, polish):
        relu_state["relax"] = relax
        with tf.GradientTape() as tape:
            image = param.image()
            unit = tf.cond(polish, lambda: image, lambda: transform(image, StepRandom(seed, step_index)))
            x = lo + unit * (hi - lo)
            if compute_dtype:
                x = tf.cast(x, compute_dtype)
            _, taps = models.run_graph(model, x, objective.layers, hooks, stop=True)
            taps = {k: tf.cast(v, tf.float32) for k, v in taps.items()}
            values = objective(taps, unit)
            loss = -tf.reduce_sum(values)
        grads = tape.gradient(loss, param.variables)
        optimizer.apply_gradients(zip(grads, param.variables))
        return values

    compiled = tf.function(step, jit_compile=recipe.jit, reduce_retracing=True, autograph=False)
    history = np.zeros((recipe.steps, n), dtype=np.float32)
    for i in range(recipe.steps):
        relax, polish = i < recipe.relax_steps, i >= recipe.steps - recipe.polish_steps
        history[i] = compiled(tf.constant(i, tf.int32), tf.constant(relax), tf.constant(polish)).numpy()
        if progress is not None:
            progress(1)
    return RenderResult(param.image().numpy(), history)
