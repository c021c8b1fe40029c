"""How a layer's maps are cut into batches and tasks of work, and rendered batch by batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..evaluation import self_check
from ..patterns.request import PatternRequest
from ..synthesis import objectives, render

CHUNK = 128  # maps of one seed optimized together, and the most images in a batch on a large canvas
# On small canvases a step costs less per image in a bigger batch, so there a batch holds up to this many
# pixels: the seeds of a CIFAR ResNet's 80-map layer go together (240 images), 9% faster than one by one.
BATCH_PIXELS = 256 * 32 * 32
RESTART_SEED = 7919  # the "restart" remedy draws each failed map's start and transforms anew, from its seed + this
# "longer" steps at twice the learning rate: on c10_tanh_flat's tanh2, 56 of 64 maps at ratio >= 1 after it, as
# after 512 steps at the default rate (51 after 256 at it, 37 without "longer"; docs/method.md)
LONGER_LR = 2.0


@dataclass(frozen=True)
class Given:
    """What a self-check remedy renders from, besides the request: `limits[seed]`, one per map of the layer, for
    the remedies that hold the other maps down (self_check.HOLDING), from that seed's patterns; `starts`, the
    saved pattern of each (seed, map) in 0..1 (its rival's for "overtake"), for the remedies that go on from it
    (self_check.GOING_ON)."""

    limits: Mapping[int, np.ndarray] = field(default_factory=dict)
    starts: Mapping[tuple[int, int], np.ndarray] = field(default_factory=dict)


def batch_size(canvas: tuple[int, int]) -> int:
    """Images optimized together in one batch: CHUNK, or more on a small canvas (256 at 32x32)."""
    return max(CHUNK, BATCH_PIXELS // (canvas[0] * canvas[1]))


def chunks(maps: Sequence[int]) -> list[list[int]]:
    """The tasks a layer's maps are rendered in: CHUNK maps each (a batch may join several seeds' tasks)."""
    return [list(maps[start : start + CHUNK]) for start in range(0, len(maps), CHUNK)]


def synthesize(
    model,
    request: PatternRequest,
    maps: Sequence[int],
    progress: Callable[[int], None] | None = None,
    seeds: Sequence[int] | None = None,
    remedy: str | None = None,
) -> np.ndarray:
    """Patterns of `maps` as float images (N, H, W, C) in 0..1, batch_size(canvas) images at a time.

    With `seeds`, the maps' patterns for each seed, seed after seed, rendered
    together (default: request.seed alone). Each map's image depends on its
    own index and seed, not on the other images it is batched with.
    `remedy` renders them as a self-check remedy does (remedied). `progress` gets the images stepped.
    """
    seeds = list(seeds) if seeds is not None else [request.seed]
    return synthesize_pairs(model, request, [(s, m) for s in seeds for m in maps], progress, remedy)


def synthesize_pairs(
    model,
    request: PatternRequest,
    images: Sequence[tuple[int, int]],
    progress=None,
    remedy: str | None = None,
    given: Given = Given(),
) -> np.ndarray:
    """The pattern of each (seed, map) of `images`, as `synthesize` renders them; `given`: see `remedied`."""
    out = []
    for objective, recipe, batch in render_calls(request, images, remedy, given):
        result = render.render(model, objective, batch, recipe, seed=request.seed, progress=progress)
        out.append(result.images)
    return np.concatenate(out)


def render_calls(
    request: PatternRequest,
    images: Sequence[tuple[int, int]],
    remedy: str | None = None,
    given: Given = Given(),
) -> list[tuple[objectives.Objective, render.Recipe, render.Batch]]:
    """What `synthesize_pairs` renders, call by call: (objective, recipe, batch), batch_size(canvas) images each."""
    calls = []
    size = batch_size(request.canvas)
    for start in range(0, len(images), size):
        part = images[start : start + size]
        objective, recipe, per_seed = remedied(request, part, remedy, given)
        starts = _starts(given, part) if remedy in self_check.GOING_ON else None
        batch = render.Batch(tuple(m for _, m in part), request.canvas, request.input_range, seeds=per_seed,
                             starts=starts)  # fmt: skip
        calls.append((objective, recipe, batch))
    return calls


def _limit_rows(given: Given, seeds: tuple[int, ...], remedy: str) -> np.ndarray:
    missing = sorted({s for s in seeds if s not in given.limits})
    if missing:
        raise ValueError(f"the {remedy!r} remedy needs the limits of seed {missing[0]}'s patterns")
    return np.stack([given.limits[s] for s in seeds])


def _starts(given: Given, images: Sequence[tuple[int, int]]) -> np.ndarray:
    missing = [pair for pair in images if pair not in given.starts]
    if missing:
        raise ValueError(f"going on from a pattern needs the saved pattern of (seed, map) {missing[0]}")
    return np.stack([given.starts[pair] for pair in images]).astype(np.float32)


def remedied(
    request: PatternRequest,
    images: Sequence[tuple[int, int]],
    remedy: str | None,
    given: Given = Given(),
):
    """(objective, recipe, seeds) for the (seed, map) images rendered with a self-check remedy
    (evaluation/self_check.py), or none:

    - "uncapped": the layer without its bounded activation, so the gradient goes past the ceiling;
    - "sharper": a Fourier spectrum that falls less steeply (decay 0.5 lower, at least 1), so finer detail
      can tell the map apart; "sharpest": decay 1, lucid's (in no ladder since "apart"; bench_remedies.py);
    - "apart": sharper, and the map raised while every other map of the layer is held below its limit
      (objectives.apart); `given.limits[seed]` holds them, one per map of the layer, for that seed's patterns;
    - "vivid": apart, in the data's full colour (chroma 1): what a failed map of a colour model reaches
      when its colour is not held back;
    - "restart": another start and other transforms, relaxed for half the steps, and sharper;
    - "longer": vivid, going on from the map's saved pattern (`given.starts`) for another `steps` steps,
      unrelaxed, at LONGER_LR times the learning rate: a failed map that was still climbing when its steps
      ran out (tanh's, whose gradient fades as the map saturates). A Fourier image goes on in the colour
      basis; a pixel image in plain RGB; a MACO image cannot start from a picture (Store.repairs skips it);
    - "further": "longer" once more, from the map's saved pattern (the one "longer" left, if kept): a failed map
      still short of ratio 1;
    - "longer-muted": "longer" in the recipe's own colour, for a capped map still failed;
    - "finer": "longer-muted" once more, in float32 and on the map's own value alone (no other map held down):
      the last few thousandths below a bounded activation's ceiling, where bfloat16's steps (2^-8 below 1)
      round the value to the ceiling and its gradient to 0;
    - "overtake": apart, going on from the pattern of the map's rival (the map whose pattern drives it at least
      as hard as its own; `given.starts` holds that pattern under the map's own key), which the limits push
      down: the collapsed map starts where it already responds as much as it ever did, and climbs;
    - "smoother": a spectrum 0.5 steeper, for a noisy map: less fine detail;
    - "paler": the colour directions at self_check.PALER_CHROMA of the recipe's, for a garish map.
    """
    maps, seeds = [m for _, m in images], tuple(s for s, _ in images)
    objective = objectives.channel(request.layer.name, maps, request.kind)
    if remedy in self_check.HOLDING:  # none of the remedies that only change the recipe (remedy_recipe's first three)
        objective = objectives.apart(request.layer.name, maps, _limit_rows(given, seeds, remedy), request.kind)
    if remedy == "restart":
        seeds = tuple(s + RESTART_SEED for s in seeds)
    return objective, remedy_recipe(request.recipe, remedy), seeds


def remedy_recipe(recipe: render.Recipe, remedy: str | None) -> render.Recipe:
    """The recipe a remedy renders with (`remedied` says what each changes); `recipe` itself for none."""
    if remedy == "uncapped":
        return replace(recipe, uncapped=True)
    if remedy == self_check.SMOOTHER:
        return replace(recipe, decay=recipe.decay + 0.5)
    if remedy == self_check.PALER:
        return replace(recipe, chroma=self_check.PALER_CHROMA * recipe.chroma)
    if remedy in ("sharper", "restart", self_check.FINER, *self_check.HOLDING):
        recipe = replace(recipe, decay=max(1.0, recipe.decay - 0.5))  # a job's recipe is resolved (recipe_for)
    if remedy == "sharpest":
        recipe = replace(recipe, decay=1.0, lr=None)
    if remedy in (self_check.VIVID, self_check.LONGER, self_check.FURTHER):
        recipe = replace(recipe, chroma=1.0)
    if remedy in self_check.GOING_ON:
        recipe = replace(recipe, relax_steps=0, lr=LONGER_LR * recipe.learning_rate)
    if remedy == self_check.FINER:
        recipe = replace(recipe, precision="float32")
    if remedy == "restart":
        recipe = replace(recipe, relax_steps=max(recipe.relax_steps, recipe.steps // 2))
    return recipe
