"""What `featviz patterns` does: a layer's patterns saved and scored; or one direction's; or K diverse per map."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from .. import defaults, models
from ..errors import FeatvizError
from ..evaluation import transfer
from ..execution.driver import run_job
from ..execution.plan import Around, Plan, estimate
from ..execution.tasks import Executor
from ..files.output import OutputDir
from ..models import card, head
from ..models.inputs import resolve_input
from ..natural import datasets
from ..patterns import NaturalBest, PatternJob, PatternRequest, PatternSet, canvas_for, layout, parse_maps, prepare
from ..patterns.request import recipe_for, unit_kind
from ..pixels.display import Shown
from ..pixels.preprocess import Preprocess
from ..runtime import _tf
from ..runtime.progress import SILENT, Reporter
from ..synthesis.render import Recipe
from . import directions, diversity


@dataclass(frozen=True)
class PatternOptions:
    """A layer's patterns as a user asks for them (the command line's options); `run` checks them."""

    layer: str | int | None = None  # None: the innermost layer with maps
    maps: str | None = None  # "0-5,17", or class names with labels; None: every map
    labels: str | Path | None = None  # class names, one per line (default: the model card)
    size: int | None = None  # the canvas, size x size (default: the model's input)
    kind: str = defaults.OBJECTIVE
    at: str | None = None  # "Y,X": the unit at that position of each map
    seed: int = 0
    recipe: Recipe = Recipe()
    input: Preprocess | None = None  # the model's input convention, if the user gave one
    dataset: str | Path | None = None  # natural images for the ratio (default: the bundled ones that fit)
    transfer: tuple[str, ...] = ()  # models that read class patterns (default: the bundled siblings)
    direction: str | Path | None = None  # one pattern along this .npy direction instead
    diversity: int = 0  # K > 1: K diverse patterns per map instead

    def request(self, loaded: models.LoadedModel) -> tuple[PatternRequest, list[int]]:
        """The checked request and the maps it renders."""
        info = models.resolve_layer(loaded.model, self.layer, flat=True)
        maps = parse_maps(self.maps, info.units, card.names(loaded.path, self.labels))
        canvas = canvas_for(loaded.model, info, self.size)
        kind = unit_kind(self.at, info) if self.at else self.kind
        value_range = resolve_input(loaded.model, self.input)
        return PatternRequest(info, canvas, kind, value_range, self.recipe, self.seed), maps


@dataclass
class LayerPatterns(Shown):
    """A layer's patterns as saved and scored, and, for class patterns, what the models read in them.

    In Jupyter: the patterns as a table of tiles, each with its map and ratio.
    """

    layer: str
    done: PatternSet
    seconds: float
    readings: list[str]  # for class patterns: the model's own verdict, then other models'

    def lines(self) -> list[str]:
        d = self.done
        repaired = f", {d.repaired} repaired" if d.repaired else ""
        done = f"{d.rendered} rendered, {d.reused} reused{repaired} in {self.seconds:.1f} s"
        head_line = f"{d.summary.line(self.layer)}; {done}"
        return [head_line, *self.readings, str(d.grid), str(d.manifest), str(d.folder / "map-NNNN.png")]

    def figure(self):
        return self.done.figure()

    def _repr_html_(self) -> str:
        return self.done._repr_html_()


def run(
    loaded: models.LoadedModel, options: PatternOptions, out: OutputDir, executor: Executor | None = None,
    reporter: Reporter = SILENT,
):  # fmt: skip
    """Render (or reuse) what `options` ask for into `out`; the result describes itself (`.lines()`)."""
    if options.direction and options.diversity:
        raise FeatvizError("--direction and --diversity render different things: choose one")
    asked = _Asked(loaded, options, out, reporter)
    if options.direction:
        return directions.render_file(loaded, asked.request, options.direction, out, asked.dataset)
    if options.diversity:
        return asked.diverse()
    return asked.layer(executor)


def plan(
    loaded: models.LoadedModel, options: PatternOptions, out: OutputDir, workers: int = 1, *, calibrate: bool = True
) -> Plan:
    """What `run` would render for `options`, on what device, in how long and how much memory (execution/plan.py)."""
    if options.direction or options.diversity:
        raise FeatvizError("--plan covers a layer's patterns, not --direction or --diversity")
    return _Asked(loaded, options, out, SILENT).plan(workers, calibrate)


class _Asked:
    """One `featviz patterns` run: the checked request, its natural images, where it writes and reports."""

    def __init__(self, loaded: models.LoadedModel, options: PatternOptions, out: OutputDir, reporter: Reporter):
        self.loaded, self.options, self.out, self.reporter = loaded, options, out, reporter
        self.request, self.maps = options.request(loaded)
        self.dataset = datasets.for_model(models.input_shape(loaded.model), options.dataset)

    def plan(self, workers: int, calibrate: bool | None) -> Plan:
        model, request, data = self.loaded.model, self.request, self.dataset
        recipe = recipe_for(model, request.recipe, data, request.canvas, request.layer)
        job = PatternJob(self.loaded, replace(request, recipe=recipe), self.maps, NaturalBest(None, None))
        held = 4 * request.canvas[0] * request.canvas[1] * models.image_channels(model) * len(self.maps)
        files = data is not None and data.x is None
        around = Around(len(data) if data is not None else 0, request.layer.name, files, 0, held)
        found = estimate(model, [job], self.out, around, calibration=calibrate, workers=workers)
        work = (f"{request.layer.name}: {len(self.maps)} maps at seed {request.seed}, {recipe.steps} steps, "
                f"{found.images} to render")  # fmt: skip
        return Plan([work], _tf.device(), recipe.precision, recipe.resolved_precision, found)

    def layer(self, executor: Executor | None) -> LayerPatterns:
        request, maps, reporter = self.request, self.maps, self.reporter
        reporter.plan(self.plan(executor.workers if executor is not None else 1, None).lines())
        with reporter.stage("natural images", len(self.dataset) if self.dataset is not None else 0) as progress:
            job = prepare(self.loaded, request, maps, self.dataset, progress)
        if job.natural.best is None:
            reporter.note(f"the patterns are not scored: featviz has no natural images for "
                          f"{models.shape_text(request.canvas)} input; pass --dataset DIR (or an .npz) with images "
                          "like the training images to score them")  # fmt: skip
        started = time.perf_counter()
        with reporter.stage(f"{request.layer.name}: {len(maps)} maps", len(maps) * request.recipe.steps) as progress:
            done = run_job(job, self.out, progress, executor)
        note_restarted(reporter, done.restarted)
        readings = _readings(self.loaded, done, self.options.transfer, request)
        return LayerPatterns(request.layer.name, done, time.perf_counter() - started, readings)

    def diverse(self) -> diversity.DiversePatterns:
        """K diverse patterns per map, saved into seed-S-diverse-K/."""
        request, k = self.request, self.options.diversity
        found = diversity.for_request(self.loaded.model, request, self.maps, k, self.dataset, self.reporter)
        title = f"{self.loaded.name} · {request.layer.name}: {k} patterns per map (seed {request.seed})"
        found.save(self.out, layout.pattern_dir(request.layer, request.seed, f"diverse-{k}"), title)
        return found


def _readings(loaded, done: PatternSet, paths: tuple[str, ...], request: PatternRequest) -> list[str]:
    """For class patterns: the model's own verdict, and the other models' (transfer)."""
    if not head.is_class_layer(loaded.model, request.layer):
        return []
    asked = request.input_range if paths else None  # other models given by path take the same input convention
    found = transfer.transfer(transfer.readers(loaded, paths), done.images, asked)
    return [transfer.verdict_line(done.scores), *transfer.transfer_lines(found, [s.map for s in done.scores])]


def note_restarted(reporter: Reporter, differences: list[str]) -> None:
    """One note saying why saved patterns were rendered again."""
    if differences:
        shown = "; ".join(differences[:3]) + (" ..." if len(differences) > 3 else "")
        reporter.note(f"saved patterns were rendered again, as the settings differ ({shown})")
