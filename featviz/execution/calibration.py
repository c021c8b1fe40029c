"""How fast a pattern run goes here, measured on its own batches before it starts (execution/plan.py uses it).

A short calibration renders a few steps of the run's own batches, after a warm-up step that traces the step
function as every render call does: the costliest call (images x prefix FLOPs, models/cost.py) and the largest
call of the cheapest layer. Every call of the run is then scaled from them: per image-step, a + b x FLOPs (the
canvas-wide work, and the network's), and per call a trace that grows with the layer's depth (`Rate`). The
costliest call's few-step patterns also tell whether the maps are alike, as with random weights: the self-check
then renders nearly every map again (`Calibration.repairs`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ..evaluation import scoring, self_check
from ..pixels import images
from ..runtime import _tf, device
from ..synthesis import render

CALIBRATION_STEPS = 3  # timed after the warm-up step
CALIBRATE_ABOVE = 5.0  # seconds of steps at the nominal rate: a shorter run is estimated without a calibration
# Nominal rates, for a run not worth calibrating: an image-step's canvas-wide work by its values (0.2 ms at 28x28,
# 38 ms at 224x224x3, as calibrated on the MNIST CNN and a MobileNetV2 here), its network at 50 GFLOP/s, a trace 1.5 s.
NOMINAL_PER_VALUE, NOMINAL_FLOPS, NOMINAL_TRACE = 2.5e-7, 50e9, 1.5
MIN_IMAGES = 8  # a step costs at least this many images' work: a smaller batch leaves the cores idle
# The self-check's repairs, counted as REPAIR_CALLS calls per layer of REPAIR_SHARE of its patterns each, every seed
# in one call: a rough count. What they rendered, from a log of every call (docs/benchmarks.md): the MNIST gallery
# 253 images for 702 patterns (36%) in 19 calls over 3 layers and the class layer; the CIFAR-10 ResNet's 403 for
# 3,810 (11%) in 44 calls over 30 layers and the class layer, 12 of them with none. A call costs a trace and at
# least MIN_IMAGES' steps, so counting every layer in every round of the ladders (four calls, 62% of its patterns)
# counted the ResNet's 2 min of repairs as 10 min 50 s.
# Every pattern in every round when the calibration's patterns are ALIKE (under ALIKE, 15%, of them specific after
# a few steps: 3% on a MobileNetV2 with random weights, 36% to 80% on trained layers; benchmarks/bench_alike.py).
REPAIR_SHARE, REPAIR_CALLS, ALIKE = 0.1, 2, 0.15
# With alike patterns every map is flagged and climbs three rungs; the fourth, for the maps still failed, is counted
# as a sixteenth of them (the MobileNetV2 with random weights ended with 8 of 64 failed; its repairs took 293 s,
# counted as 304 s).
LAST_RUNG_SHARE = 1 / 16


@dataclass(frozen=True)
class Call:
    """One render call of a run: a batch of one layer's images for `steps` steps."""

    layer: str
    depth: int  # the layer's place in execution order
    flops: float  # forward FLOPs per image up to the layer
    images: int
    steps: int
    work: tuple | None = field(default=None, compare=False)  # (objective, recipe, batch, seed, kind) to calibrate with


@dataclass(frozen=True)
class Rate:
    """What a render call costs here: per image-step a + b x FLOPs; per call a trace, by the layer's depth."""

    per_image: float  # seconds per image-step, whatever the layer
    per_flop: float  # seconds per image-step per forward FLOP up to the layer
    trace: tuple[tuple[int, float], ...]  # (depth, seconds of the first step beyond a step), by depth

    def step(self, images: int, flops: float) -> float:
        return max(images, MIN_IMAGES) * (self.per_image + self.per_flop * flops)

    def tracing(self, depth: int) -> float:
        (d0, t0), (d1, t1) = self.trace[0], self.trace[-1]
        if d1 == d0:
            return t0
        return max(min(t0, t1), t0 + (t1 - t0) * (depth - d0) / (d1 - d0))

    def call(self, c: Call) -> float:
        return self.tracing(c.depth) + c.steps * self.step(c.images, c.flops)

    def forward(self, flops: float) -> float:
        """Seconds of one image's forward pass up to a layer: half a step's network work."""
        return self.per_flop * flops / 2


def nominal(values: int) -> Rate:
    """The nominal rate of images of `values` pixel values each."""
    return Rate(NOMINAL_PER_VALUE * values, 2 / NOMINAL_FLOPS, ((0, NOMINAL_TRACE),))


def fit(points: Sequence[tuple[Call, float, float]]) -> Rate:
    """The rate through calibrated calls: (call, seconds of its first step, seconds per step after it).

    Two layers give a + b x FLOPs per image-step; one layer, or two of about the same FLOPs, b alone. Neither
    goes below zero.
    """
    per = sorted((c.flops, seconds / max(c.images, MIN_IMAGES)) for c, _, seconds in points)
    (f0, u0), (f1, u1) = per[0], per[-1]
    mean = sum(s for _, _, s in points) / sum(max(c.images, MIN_IMAGES) for c, _, _ in points)  # per image-step
    if f1 > 1.5 * f0 and u1 > u0:
        b = (u1 - u0) / (f1 - f0)
        a = u0 - b * f0
        if a < 0:
            a, b = 0.0, u1 / f1
    elif f1 > 0 and u1 >= u0:
        a, b = 0.0, mean / f1
    else:  # the costlier layer steps no slower: the canvas-wide work, not the network's, sets the pace
        a, b = mean, 0.0
    trace = tuple(sorted((c.depth, max(0.0, first - seconds)) for c, first, seconds in points))
    return Rate(a, b, trace)


def pick(calls: Sequence[Call]) -> list[Call]:
    """The calls to calibrate on: the cheapest layer's largest call, and the costliest call (images x FLOPs)."""
    costliest = max(calls, key=lambda c: (c.images * c.flops, c.images))
    cheapest = min(calls, key=lambda c: (c.flops, -c.images))
    return [costliest] if cheapest.layer == costliest.layer else [cheapest, costliest]


@dataclass(frozen=True)
class Calibration:
    """The rate of a run's calls, and the memory its calibration took."""

    rate: Rate
    seconds: float | None = None  # what the calibration took; None: the nominal rate, nothing measured
    peak: int | None = None  # bytes of this process at its peak, after the calibration
    device_peak: int | None = None  # bytes of the GPU at its peak during the calibration
    specific: float | None = None  # the share of the costliest call's maps whose few-step pattern is specific

    @property
    def alike(self) -> bool:
        """Are the maps' patterns alike after the calibration's steps, as with random weights?"""
        return self.specific is not None and self.specific < ALIKE

    def repairs(self, layer: Call) -> list[Call]:
        """The self-check's repair calls for all of a layer's patterns: REPAIR_CALLS of REPAIR_SHARE of them; with
        alike patterns, one per round of the ladders, of the share that round renders."""
        if self.alike:
            shares = [1.0] * (self_check.LADDER - 1) + [LAST_RUNG_SHARE]
        else:
            shares = [REPAIR_SHARE] * REPAIR_CALLS
        return [replace(layer, images=math.ceil(share * layer.images)) for share in shares]


def measure(model, calls: Sequence[Call]) -> Calibration:
    """Calibrate on `pick(calls)`: a few timed steps of each, after a warm-up step; and how alike the costliest
    call's patterns are after them."""
    tf, found = _tf.tf(), _tf.device()
    device.reset_peak(tf, found)
    started, points, picked = time.perf_counter(), [], pick(calls)
    for c in picked:
        objective, recipe, batch, seed, _ = c.work
        first, per, pictures = render.time_steps(model, objective, batch, recipe, seed=seed, steps=CALIBRATION_STEPS)
        points.append((c, first, per))
    took = time.perf_counter() - started
    specific = specific_share(model, picked[-1], pictures)  # pick puts the costliest call last
    return Calibration(fit(points), took, device.process_peak(), device.peak(tf, found), specific)


def specific_share(model, call: Call, pictures) -> float | None:
    """The share of a call's maps (its first seed's) whose picture drives it harder than any other map's does."""
    _, _, batch, _, kind = call.work
    first = [i for i in range(len(batch.keys)) if batch.seeds is None or batch.seeds[i] == batch.seeds[0]]
    maps = [batch.keys[i] for i in first]
    if len(set(maps)) < 2:
        return None
    inputs = images.to_range(pictures[first], batch.input_range)
    return float(scoring.specific(scoring.responses(model, call.layer, maps, inputs, kind)).mean())
