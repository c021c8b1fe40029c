"""The plan of a pattern run, before it starts: what it renders, on what device, how long it takes and how much
memory.

The estimate is measured. A short calibration renders a few steps of the run's own batches, after a warm-up
step that traces the step function as every render call does: the costliest call (images x prefix FLOPs,
models/cost.py) and the largest call of the cheapest layer. Every call of the run is then scaled from them:
per image-step, a + b x FLOPs (the canvas-wide work, and the network's), and per call a trace that grows with
the layer's depth (`Rate`). The rest is rough: the self-check's repairs (REPAIR_SHARE of the maps rendered again,
one call per layer), the scan of the natural images (a forward pass each, and decoding files), and scoring,
pictures and pages (per pattern and per map shown). A run whose steps would take under CALIBRATE_ABOVE seconds
at a nominal rate (`nominal`) is not worth a calibration, and is estimated at that rate.

Peak memory is the process's peak after the calibration, which ran the run's largest batch, plus the patterns
the run holds and what each render call leaves behind; on a GPU, the GPU's peak during the calibration too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import models
from ..evaluation import self_check
from ..files.output import OutputDir
from ..models import cost
from ..patterns import PatternJob
from ..patterns.store import Store
from ..runtime import _tf, device
from ..runtime.device import Device
from ..synthesis import render
from . import batches
from .budget import bytes_text, duration_text
from .driver import tasks_for

CALIBRATION_STEPS = 3  # timed after the warm-up step
CALIBRATE_ABOVE = 20.0  # seconds of steps at the nominal rate: a shorter run is estimated without a calibration
# Nominal rates, for a run not worth calibrating: an image-step's canvas-wide work by its values (0.2 ms at 28x28,
# 38 ms at 224x224x3, as calibrated on the MNIST CNN and a MobileNetV2 here), its network at 50 GFLOP/s, a trace 1.5 s.
NOMINAL_PER_VALUE, NOMINAL_FLOPS, NOMINAL_TRACE = 2.5e-7, 50e9, 1.5
MIN_IMAGES = 8  # a step costs at least this many images' work: a smaller batch leaves the cores idle
# The self-check's repairs: REPAIR_SHARE of a layer's maps rendered again in one call, for REPAIR_CALLS of the layers
# (9% of the maps in 9 calls for 4 layers in the MNIST CNN's gallery; 0.7% in 16 calls for 31 in the CIFAR ResNet's).
REPAIR_SHARE, REPAIR_CALLS = 0.1, 0.5
DECODE_SECONDS = 0.015  # an image file read, decoded and resized by the scan
FOLDER_SECONDS = 0.5  # a folder's manifest, grid and scoring pass
PNG_SECONDS_PER_PIXEL = 5e-8  # a pattern written, read back and drawn: 7.5 ms at 224x224x3
PAGE_SECONDS = 0.035  # a map's pictures and page in the gallery
# What each render call leaves in memory (TensorFlow's traced graphs): about 8 MB and 0.6 MB per layer it runs
# through, on the CIFAR ResNet (10 to 45 MB a call).
KEPT_PER_CALL, KEPT_PER_LAYER = 8e6, 0.6e6


@dataclass(frozen=True)
class Call:
    """One render call of a run: a batch of one layer's images for `steps` steps."""

    layer: str
    depth: int  # the layer's place in execution order
    flops: float  # forward FLOPs per image up to the layer
    images: int
    steps: int
    work: tuple | None = field(default=None, compare=False)  # (objective, recipe, batch, seed) to calibrate with


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


@dataclass
class Work:
    """A run's render calls, a repair call per layer the self-check may repair, and the folders it renders into."""

    calls: list[Call]
    repairs: list[Call]
    folders: list[str]  # the layer of each folder with maps to render


def work_of(jobs: Sequence[PatternJob], out: OutputDir, flops: dict[str, float]) -> Work:
    """The render calls the driver makes for `jobs` in `out`: maps `out` holds under the same settings do not count."""
    stores = [Store(job, out) for job in jobs]
    depth = {name: i for i, name in enumerate(flops)}
    steps = {job.request.layer.name: job.request.recipe.steps for job in jobs}
    repair = {job.request.layer.name: job.request.recipe.repair for job in jobs}
    calls = []
    for task in tasks_for(stores)[0]:
        request = task.request
        name = request.layer.name
        for objective, recipe, batch in batches.render_calls(request, task.pairs):
            work = (objective, recipe, batch, request.seed)
            calls.append(Call(name, depth[name], flops[name], len(batch.keys), recipe.steps, work))
    missing: dict[str, list[int]] = {}  # layer -> maps to render, over its seeds
    for store in stores:
        if store.missing():
            missing.setdefault(store.job.request.layer.name, []).append(len(store.missing()))
    repairs = [
        Call(name, depth[name], flops[name], math.ceil(REPAIR_SHARE * sum(maps)), steps[name])
        for name, maps in missing.items()
        if repair[name]
    ]
    folders = [name for name, maps in missing.items() for _ in maps]
    return Work(calls, repairs, folders)


@dataclass(frozen=True)
class Around:
    """The work around the patterns: the scan of the natural images, the pages, and the patterns held."""

    scan_images: int = 0
    scan_layer: str | None = None  # the deepest layer scanned
    scan_files: bool = False  # images decoded from files
    shown_maps: int = 0  # maps with pictures and a page
    held_bytes: int = 0  # what the run keeps in memory: the patterns it shows
    fixed: float = 0.0  # seconds of anything else (a gallery's class patterns read by other models)


@dataclass(frozen=True)
class Calibration:
    """The rate of a run's calls, and the memory its calibration took."""

    rate: Rate
    seconds: float | None = None  # what the calibration took; None: the nominal rate, nothing measured
    peak: int | None = None  # bytes of this process at its peak, after the calibration
    device_peak: int | None = None  # bytes of the GPU at its peak during the calibration


@dataclass
class Estimate:
    patterns: float  # seconds, each part
    repairs: float
    scan: float
    scoring: float
    layers: dict[str, float]  # each layer's share of patterns, repairs and scoring
    calibration: Calibration
    images: int = 0  # patterns to render (the self-check's repairs aside)
    added_bytes: int = 0  # what the run adds to the calibration's peak: patterns held, graphs kept
    workers: int = 1

    @property
    def total(self) -> float:
        return self.patterns + self.repairs + self.scan + self.scoring

    @property
    def worst(self) -> float:
        """The total if the self-check flags every map, in each of its rounds (as on a model with random weights)."""
        return self.total - self.repairs + self_check.ROUNDS * self.patterns

    @property
    def peak(self) -> int | None:
        return self.calibration.peak + self.added_bytes if self.calibration.peak is not None else None

    def line(self) -> str:
        """'estimated 3 min 20 s (...); peak memory about 1.3 GB': people and scripts read this one line."""
        parts = [("patterns", self.patterns), ("self-check repairs", self.repairs), ("natural images", self.scan),
                 ("scoring and pages", self.scoring)]  # fmt: skip
        shown = ", ".join(f"{name} {duration_text(s)}" for name, s in parts if s >= 0.5) or "nothing to render"
        took = self.calibration.seconds
        how = f"calibrated in {duration_text(took)}" if took is not None else "not calibrated: a short run"
        workers = f", over {self.workers} workers as fast as this process" if self.workers > 1 else ""
        memory = f"; peak memory about {bytes_text(self.peak)}" if self.peak else ""
        gpu = self.calibration.device_peak
        on_gpu = f", {bytes_text(gpu)} of it on the GPU" if gpu else ""
        worst = (
            f"; up to {duration_text(self.worst)} if the self-check renders every map again" if self.patterns else ""
        )
        return f"estimated {duration_text(self.total)} ({shown}; {how}{workers}){worst}{memory}{on_gpu}"


def estimate(
    model, jobs: Sequence[PatternJob], out: OutputDir, around: Around = Around(), *,
    calibration: Calibration | bool | None = None, workers: int = 1,
) -> Estimate:  # fmt: skip
    """The time and memory of rendering `jobs` into `out`, and of the work `around` them.

    calibration: one measured before on this model; or True to measure one always (`--plan`), False never, None
    when the run is long enough to be worth it. workers: the executor's, each assumed as fast as this process.
    """
    canvas = jobs[0].request.canvas if jobs else (1, 1)
    flops = cost.cumulative_flops(model, canvas) if jobs else {}
    work = work_of(jobs, out, flops)
    pixels = canvas[0] * canvas[1] * models.image_channels(model)
    found = (
        calibration if isinstance(calibration, Calibration) else _calibration(model, work.calls, calibration, pixels)
    )
    rate = found.rate
    layers = dict.fromkeys(work.folders, FOLDER_SECONDS)
    for c in work.calls:
        layers[c.layer] += rate.call(c) / workers + c.images * (rate.forward(c.flops) + pixels * PNG_SECONDS_PER_PIXEL)
    for c in work.repairs:
        layers[c.layer] += REPAIR_CALLS * rate.call(c) / workers
    patterns = sum(map(rate.call, work.calls)) / workers
    repairs = REPAIR_CALLS * sum(map(rate.call, work.repairs)) / workers
    scoring = sum(layers.values()) - patterns - repairs + around.fixed + around.shown_maps * PAGE_SECONDS
    scan = _scan(rate, around, flops)
    images = sum(c.images for c in work.calls)
    kept = sum(KEPT_PER_CALL + KEPT_PER_LAYER * c.depth for c in work.calls + work.repairs)
    return Estimate(patterns, repairs, scan, scoring, layers, found, images, int(around.held_bytes + kept), workers)


def _calibration(model, calls: Sequence[Call], calibrate: bool | None, values: int) -> Calibration:
    rate = nominal(values)
    short = sum(c.steps * rate.step(c.images, c.flops) for c in calls) <= CALIBRATE_ABOVE
    if not calls or calibrate is False or (calibrate is None and short):
        return Calibration(rate, None, device.process_peak())
    return measure(model, calls)


def _scan(rate: Rate, around: Around, flops: dict[str, float]) -> float:
    if not around.scan_images or around.scan_layer not in flops:
        return 0.0
    each = rate.forward(flops[around.scan_layer]) + (DECODE_SECONDS if around.scan_files else 0.0)
    return around.scan_images * each + rate.tracing(list(flops).index(around.scan_layer))


def measure(model, calls: Sequence[Call]) -> Calibration:
    """Calibrate on `pick(calls)`: a few timed steps of each, after a warm-up step."""
    tf, found = _tf.tf(), _tf.device()
    device.reset_peak(tf, found)
    started, points = time.perf_counter(), []
    for c in pick(calls):
        objective, recipe, batch, seed = c.work
        first, per = render.time_steps(model, objective, batch, recipe, seed=seed, steps=CALIBRATION_STEPS)
        points.append((c, first, per))
    took = time.perf_counter() - started
    return Calibration(fit(points), took, device.process_peak(), device.peak(tf, found))


@dataclass
class Plan:
    """What a run renders, where, and how long and how much memory it takes: `lines()` says it."""

    work: list[str]  # what is rendered, a line each
    device: Device
    precision: str  # as asked: "auto", "float32" or "bfloat16"
    resolved: str  # what it computes in
    estimate: Estimate
    notes: list[str] = field(default_factory=list)  # the budget's choice; what the estimate leaves out

    def lines(self) -> list[str]:
        precision = f"{self.resolved} ({self.precision})" if self.precision == "auto" else self.resolved
        return [*self.work, f"on {self.device.text()}, in {precision}", self.estimate.line(), *self.notes]
