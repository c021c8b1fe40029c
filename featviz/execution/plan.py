"""The plan of a pattern run, before it starts: what it renders, on what device, how long it takes and how much
memory.

The estimate is measured: the render calls are timed from a short calibration on the run's own batches
(execution/calibration.py). The rest is rough: the self-check's repairs (REPAIR_CALLS calls per layer of a share
of its patterns; with alike patterns, one per round of the ladders), the scan of the natural images (a forward
pass each, and decoding files), and scoring, pictures and pages (per pattern and per map shown). A run whose
steps would take under CALIBRATE_ABOVE seconds at a nominal rate (`nominal`) is estimated at that rate. A
calibration costs little more than its steps: the calls it timed reuse its compiled step (render.time_steps).

Peak memory is the process's peak after the calibration, which ran the run's largest batch, plus the patterns
the run holds and what each render call leaves behind; on a GPU, the GPU's peak during the calibration too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import models
from ..evaluation import self_check
from ..files.output import OutputDir
from ..models import cost
from ..patterns import PatternJob
from ..patterns.store import Store
from ..runtime import device
from ..runtime.device import Device
from . import batches
from .budget import bytes_text, duration_text
from .calibration import CALIBRATE_ABOVE, Calibration, Call, Rate, measure, nominal
from .driver import tasks_for

DECODE_SECONDS = 0.015  # an image file read, decoded and resized by the scan
FOLDER_SECONDS = 0.5  # a folder's manifest, grid and scoring pass
PNG_SECONDS_PER_PIXEL = 5e-8  # a pattern written, read back and drawn: 7.5 ms at 224x224x3
PAGE_SECONDS = 0.035  # a map's pictures and page in the gallery
# What each render call leaves in memory (TensorFlow's traced graphs): about 8 MB and 0.6 MB per layer it runs
# through, on the CIFAR ResNet (10 to 45 MB a call).
KEPT_PER_CALL, KEPT_PER_LAYER = 8e6, 0.6e6


@dataclass
class Work:
    """A run's render calls, the patterns of each layer the self-check may repair, and the folders it renders into."""

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
            work = (objective, recipe, batch, request.seed, request.kind)
            calls.append(Call(name, depth[name], flops[name], len(batch.keys), recipe.steps, work))
    missing: dict[str, list[int]] = {}  # layer -> maps to render, over its seeds
    for store in stores:
        if store.missing():
            missing.setdefault(store.job.request.layer.name, []).append(len(store.missing()))
    repairs = [
        Call(name, depth[name], flops[name], sum(maps), steps[name]) for name, maps in missing.items() if repair[name]
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
        """The total if the self-check flags every map, in each round of its ladders (as with random weights)."""
        return self.total - self.repairs + self_check.LADDER * self.patterns

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
        if self.calibration.alike:
            worst = (f"; the maps' first steps drew alike patterns ({self.calibration.specific:.0%} specific), as with "
                     "random weights: the self-check's repairs are counted for every map")  # fmt: skip
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
    repairs_calls = [c for layer in work.repairs for c in found.repairs(layer)]
    for c in repairs_calls:
        layers[c.layer] += rate.call(c) / workers
    patterns = sum(map(rate.call, work.calls)) / workers
    repairs = sum(map(rate.call, repairs_calls)) / workers
    scoring = sum(layers.values()) - patterns - repairs + around.fixed + around.shown_maps * PAGE_SECONDS
    scan = _scan(rate, around, flops)
    images = sum(c.images for c in work.calls)
    kept = sum(KEPT_PER_CALL + KEPT_PER_LAYER * c.depth for c in work.calls + repairs_calls)
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
