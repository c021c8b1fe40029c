"""The gallery's plan (execution/plan.py), before the scan: its pattern jobs, their estimate, and a smaller
default when the default gallery's estimate passes the time budget.

The rule fits the budget by construction, from the estimate: every default layer at every seed when they fit;
else every default layer at the first seed; else the block outputs (models.block_outputs) at the first seed,
innermost first, each kept while it fits in what the ones before it left (budget.fit_budget). A cut fills
CUT_FILL of the budget, so that a run a little slower than its estimate still ends within it. The class layer's
patterns follow the block outputs: a 1,000-class model's may not fit. `--layers all` asks for every default layer,
whatever the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .. import models
from ..execution.budget import duration_text, fit_budget
from ..execution.calibration import Calibration
from ..execution.plan import PAGE_SECONDS, Around, Estimate, Plan, estimate
from ..files.output import OutputDir
from ..models import LayerInfo, head
from ..models.inputs import resolve_input
from ..patterns import PatternJob
from ..runtime import _tf
from .jobs import PatternRun, Scanned, natural_images, select_layers
from .site import Settings

GALLERY_SECONDS = 5.0  # the class patterns read by the other models, the samples through the model, the index
LAYER_SECONDS = 1.0  # a layer's path check and page (38 s for the CIFAR ResNet's 30 layers)
SHOWN_NAMES = 4  # layer names a plan line lists
# A gallery cut to its budget fills this share of it: the runs took up to 1.02x their estimate (docs/benchmarks.md),
# and a trained 224-pixel MobileNetV2's gallery cut to exactly 5 min took 5 min 4 s.
CUT_FILL = 0.9


@dataclass
class GalleryPlan:
    plan: Plan
    settings: Settings  # what the run renders: as asked, or cut to the budget

    def lines(self) -> list[str]:
        return self.plan.lines()


def plan(
    loaded: models.LoadedModel, settings: Settings, out: OutputDir, workers: int = 1, *,
    calibration: Calibration | bool | None = None,
) -> GalleryPlan:  # fmt: skip
    """What `featviz gallery` renders, on what device, in how long and with how much memory: within the budget.

    workers: the executor's (execution/tasks.py). calibration: as execution.plan.estimate takes it (True: always
    time a few steps, as `--plan` does).
    """
    planner = _Planner(loaded, settings, out, workers)
    full = planner.estimate(settings, calibration)
    chosen, notes = settings, planner.left_out()
    if settings.layers is None and settings.budget is not None and full.total > settings.budget:
        chosen, line = planner.within_budget(full)
        notes.insert(0, line)
    found = full if chosen is settings else planner.estimate(chosen, full.calibration)
    return GalleryPlan(planner.plan(chosen, found, notes), chosen)


class _Planner:
    """The gallery's jobs and work for any choice of layers and seeds, as the run would make them."""

    def __init__(self, loaded: models.LoadedModel, settings: Settings, out: OutputDir, workers: int):
        self.loaded, self.settings, self.out, self.workers = loaded, settings, out, workers
        model = loaded.model
        self.input_range = resolve_input(model, settings.input_range)
        self.dataset = natural_images(model, settings)
        self.target = head.class_layer(model)

    def layers(self, settings: Settings) -> list[LayerInfo]:
        """The layers with maps, then the class layer: the gallery renders its patterns too."""
        found = select_layers(self.loaded.model, settings.layers)
        return found + ([self.target] if self.target is not None and settings.classes else [])

    def jobs(self, settings: Settings) -> list[PatternJob]:
        run = PatternRun(self.loaded, replace(settings, input_range=self.input_range), Scanned(self.dataset, {}))
        layers = self.layers(settings)
        jobs = [run.job(layer).for_seed(seed) for layer in layers for seed in settings.seeds]
        if settings.negative:  # before the scan, which says which layers are signed: every layer with maps
            firsts = [run.job(layer).for_seed(settings.seeds[0]) for layer in layers if layer.spatial]
            jobs += [replace(job, request=replace(job.request, kind="negative")) for job in firsts]
        return jobs

    def estimate(self, settings: Settings, calibration: Calibration | bool | None) -> Estimate:
        model, layers = self.loaded.model, self.layers(settings)
        units = sum(layer.units for layer in layers)
        pixels = models.input_shape(model)[0] * models.input_shape(model)[1] * models.image_channels(model)
        count = len(self.dataset) if self.dataset is not None else 0
        files = self.dataset is not None and self.dataset.x is None
        held = 4 * pixels * units * (len(settings.seeds) + settings.negative)  # every pattern shown, float32
        fixed = GALLERY_SECONDS + LAYER_SECONDS * sum(layer.spatial for layer in layers)
        around = Around(count, layers[-1].name, files, units, held, fixed)
        return estimate(model, self.jobs(settings), self.out, around, calibration=calibration, workers=self.workers)

    def within_budget(self, full: Estimate) -> tuple[Settings, str]:
        """The settings that fit the budget (the module's rule), and the line that says what was chosen."""
        settings, budget = self.settings, self.settings.budget
        one = replace(settings, seeds=list(settings.seeds)[:1])
        every = select_layers(self.loaded.model, None)
        head_line = (
            f"the whole gallery ({len(every)} layers, {len(settings.seeds)} seeds) is estimated at "
            f"{duration_text(full.total)}, over the {duration_text(budget)} budget: this run renders "
        )
        tail = (
            "; --layers all renders every layer at every seed (or raise --budget, or spread the work with --executor "
            "ray)"
        )
        found, aim = self.estimate(one, full.calibration), budget * CUT_FILL
        if found.total <= aim:
            return one, f"{head_line}every layer at seed {one.seeds[0]}{tail}"
        kept = _blocks_within(self.loaded.model, every, self.target, found, aim)
        classes = self.target is not None and self.target in kept
        blocks = [info.name for info in kept if info != self.target]
        chosen = replace(one, layers=blocks, classes=classes)
        without = f", without the class layer {self.target.name}" if self.target is not None and not classes else ""
        return chosen, (
            f"{head_line}{len(blocks)} block outputs at seed {one.seeds[0]}, innermost first ({_names(blocks)})"
            f"{without}{tail}"
        )

    def left_out(self) -> list[str]:
        s = self.settings
        extra = [flag for flag, on in (("--accentuate", s.accentuate), ("--diversity", s.diversity),
                                       ("--two-choice", s.observer is not None)) if on]  # fmt: skip
        notes = [f"not in the estimate: {', '.join(extra)}"] if extra else []
        if s.negative:
            notes.append("--negative is counted for every layer with maps; only signed layers render it")
        return notes

    def plan(self, settings: Settings, found: Estimate, notes: list[str]) -> Plan:
        layers = self.layers(settings)
        spatial = [layer.name for layer in layers if layer.spatial]
        named = [f"{len(spatial)} layers ({_names(spatial)})"] if spatial else []
        named += [f"the class layer {self.target.name}"] if self.target is not None and settings.classes else []
        units, seeds = sum(layer.units for layer in layers), len(settings.seeds)
        work = (
            f"{' and '.join(named)}: {units} maps x {seeds} seed{'s' * (seeds > 1)} = {units * seeds} patterns of "
            f"{settings.recipe.steps} steps, {found.images} to render"
        )
        recipe = settings.recipe
        return Plan([work], _tf.device(), recipe.precision, recipe.resolved_precision, found, notes)


def _blocks_within(
    model, every: list[LayerInfo], target: LayerInfo | None, found: Estimate, budget: float
) -> list[LayerInfo]:
    """The block outputs that fit the budget at one seed, innermost first, then the class layer `target` if it
    still fits; in execution order."""
    classes = [target] if target is not None else []
    cost = {
        i.name: found.layers.get(i.name, 0.0) + i.units * PAGE_SECONDS + LAYER_SECONDS * i.spatial
        for i in [*every, *classes]
    }
    fixed = found.total - sum(cost.values())  # the scan, the pages' fixed part
    blocks = models.block_outputs(model)
    kept = set(fit_budget([(info.name, cost[info.name]) for info in [*reversed(blocks), *classes]], fixed, budget))
    return [info for info in [*blocks, *classes] if info.name in kept]


def _names(names: list[str]) -> str:
    """'a, b, c', or 'a, b, ..., z' for many."""
    if len(names) <= SHOWN_NAMES:
        return ", ".join(names)
    return ", ".join(names[: SHOWN_NAMES - 1]) + f", ..., {names[-1]}"
