"""The folder of one layer's patterns for one seed: what it holds, and what a run adds to it.

The manifest is the record. A map it lists under the same settings, with
its PNG present, is done; the others are rendered. Scores are kept while
the natural images they were measured against stay the same, and measured
again (from the saved PNGs) when those change. Nothing is written when
nothing changed, so reusing a folder leaves its files as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import models
from ..evaluation import scoring, self_check, transfer
from ..evaluation.scoring import MapScore, Summary
from ..files.output import OutputDir
from ..models import bounds
from ..models.head import is_class_layer
from ..pixels import display, grids, images
from ..synthesis import colour
from . import layout, manifest
from .job import PatternJob
from .manifest import Manifest

TASK_FAILED = "the task failed"


@dataclass
class PatternSet(display.Shown):
    """One layer's patterns for one seed, as saved and read back; in Jupyter, a table of tiles."""

    folder: Path
    manifest: Path
    grid: Path
    scores: list[MapScore]  # of the requested maps, in their order
    images: np.ndarray  # (maps, H, W, C) in 0..1, read back from the PNGs; NaN where none was saved
    rendered: int = 0
    reused: int = 0
    repaired: int = 0  # maps the self-check rendered again with a remedy in this run (kept or not)
    restarted: list[str] = field(default_factory=list)  # settings that differed from the saved manifest
    layer: str = ""

    @property
    def summary(self) -> Summary:
        return scoring.summarize(self.scores)

    def lines(self) -> list[str]:
        return [self.summary.line(self.layer), str(self.grid)]

    def figure(self, title: str = ""):
        """Every pattern with its map and ratio; dead, errored and flagged maps in red."""
        return _grid_figure(self.images, self.scores, title or self.lines()[0])

    def _repr_html_(self) -> str:
        marked = [i for i, s in enumerate(self.scores) if s.marked or s.flagged]
        captions = [s.caption() for s in self.scores]
        return display.tiles_html(self.images, captions, marked=marked, columns=16, title=self.lines()[0])


class Store:
    def __init__(self, job: PatternJob, out: OutputDir):
        self.job, self.out = job, out
        request = job.request
        self.folder = layout.pattern_dir(request.layer, request.seed, request.kind)
        settings = request.settings(job.loaded.sha256)
        saved = manifest.read(out.path(f"{self.folder}/{layout.MANIFEST}"))
        self.restarted = (
            [] if saved is None or saved.settings == settings else manifest.differences(saved.settings, settings)
        )
        if saved is None or self.restarted:
            saved = Manifest(job.loaded.name, request.layer.name, settings, job.natural.dataset)
        self.record = saved
        self.stale = set(saved.maps) if saved.dataset != job.natural.dataset else _unmeasured(saved)
        saved.dataset = job.natural.dataset
        self.saved: dict[int, str | None] = {}  # maps rendered by this run -> file name (None: not finite)
        self.rendered: set[int] = set()  # maps rendered by this run's first pass
        self.tried: set[int] = set()  # maps whose remedy was tried in this run
        # map -> (the remedy tried, whether its pattern was kept), for maps rendered before or repaired in this run
        self.remedies = {m: (s.remedy, s.repaired) for m, s in saved.maps.items() if s.remedy}
        self.considered = False  # a remedy was tried since the last finish: the manifest records it
        self.rivals: dict[int, int] = {}  # collapsed map -> its rival, as last scored in this run (self_check.rivals)
        self.ranked = False  # the rivals were found in this run
        self.yielded: set[int] = set()  # maps that yielded to a collapsed map in this run (self_check.YIELD)
        self.unscored: set[int] = set()  # maps saved since the last finish
        self.failed: set[int] = set()  # maps whose task failed in this run
        self.read: dict[str, np.ndarray] = {}  # file name -> its pattern as read back; a write drops it

    def missing(self) -> list[int]:
        return [m for m in self.job.maps if not self._done(m)]

    def _done(self, m: int) -> bool:
        score = self.record.maps.get(m)
        if score is None or (score.error or "").startswith(TASK_FAILED):
            return False  # a task whose worker failed is tried again
        return score.image is None or self._path(score.image).exists()

    def _path(self, name: str) -> Path:
        return self.out.path(f"{self.folder}/{name}")

    def save(self, maps: Sequence[int], found: np.ndarray, ran: dict | None = None) -> None:
        """Write one 8-bit PNG per map; a pattern with NaN or Inf is recorded, not saved.

        `ran` is the record of the machine that computed them (default: this one).
        """
        for m, pattern in zip(maps, found):
            self.saved[m] = self._write_png(m, pattern)
            self.rendered.add(m)
            self.unscored.add(m)
            self.remedies.pop(m, None)
        self._note_machine(ran)

    def _note_machine(self, ran: dict | None) -> None:
        """Record the machine that computed a saved pattern (default: this one, at the request's precision)."""
        ran = ran or manifest.this_machine(self.job.request.recipe.resolved_precision)
        if ran not in self.record.ran:
            self.record.ran.append(ran)

    def _write_png(self, m: int, pattern: np.ndarray) -> str | None:
        """The map's 8-bit PNG, written; its file name, or None for a pattern with NaN or Inf."""
        name = layout.map_file(m) if np.isfinite(pattern).all() else None
        if name is not None:
            self.out.write(f"{self.folder}/{name}", images.png_bytes(images.to_uint8(pattern, (0.0, 1.0))))
            self.read.pop(name, None)
        return name

    def fail(self, maps: Sequence[int], error: str) -> None:
        """Maps whose task failed for good: recorded as failed, tried again on the next run."""
        for m in maps:
            self.record.maps[m] = MapScore(m, None, None, None, None, None, f"{TASK_FAILED}: {error}")
            self.failed.add(m)

    def finish(self, grid: bool) -> PatternSet:
        """Score what is new or stale, write the manifest and grid if anything changed, and read back.

        Called again after a repair, it writes only what the repair changed.
        """
        changed = sorted(self.unscored | self.stale - self.failed)
        if changed:
            self._score(changed)
        if changed or self.failed or self.considered:
            self.out.write_json(f"{self.folder}/{layout.MANIFEST}", self.record.to_json())
        if grid and (changed or self.considered or not self._path(layout.GRID).exists()):
            self._write_grid()
        self.unscored, self.stale, self.considered = set(), set(), False
        scores = [self.record.maps[m] for m in self.job.maps]
        pictures = self._read([s.image for s in scores])
        rendered = len(self.rendered) + len(self.failed)
        folder = self.out.root / self.folder
        return PatternSet(
            folder, folder / layout.MANIFEST, folder / layout.GRID, scores, pictures,
            rendered, len(self.job.maps) - rendered, len(self.tried), self.restarted, self.job.request.layer.name,
        )  # fmt: skip

    def repairs(self) -> dict[str, list[int]]:
        """The flagged maps with a remedy left to try, by remedy (self_check.REMEDIES), and the rivals of the
        collapsed maps whose remedies are done (self_check.YIELD); none unless asked. A remedy for how patterns
        look that this layer does not need (`_unneeded`) is passed over for the map's next."""
        found: dict[str, list[int]] = {}
        if not self.job.request.recipe.repair:
            return found
        unneeded: set[str] | None = None  # measured on the layer's patterns when a map first asks for such a remedy
        for m in self.job.maps:
            score = self.record.maps.get(m)
            remedy = self_check.remedy_for(score.flags or [], score.remedy) if score and score.image else None
            while remedy in self_check.LOOKS_REMEDIES:
                unneeded = self._unneeded() if unneeded is None else unneeded
                if remedy not in unneeded:
                    break
                remedy = self_check.remedy_for(score.flags or [], remedy)
            if remedy is not None:
                found.setdefault(remedy, []).append(m)
        if self.job.request.recipe.param == "maco":  # its phases cannot start from a picture
            for remedy in self_check.GOING_ON:
                found.pop(remedy, None)
        rivals = self._yielding({m for maps in found.values() for m in maps})
        if rivals:
            found[self_check.YIELD] = rivals
        return found

    def _yielding(self, busy: set[int]) -> list[int]:
        """The rivals that yield this round (self_check.YIELD): one per collapsed map whose own remedies are done,
        each rival once per run, none that another remedy renders this round."""
        found = []
        for m, rival in sorted(self.rivals.items()):
            done = m not in busy and self_check.COLLAPSED in (self.record.maps[m].flags or [])
            if done and rival not in busy and rival not in self.yielded and rival not in found:
                found.append(rival)
        return found

    def rival(self, m: int) -> int:
        """The map whose pattern drives collapsed map `m` hardest (self_check.rivals), as the patterns stand; `m`
        itself if none does. A run that has scored nothing yet (a folder made before, run again) finds them first."""
        if not self.ranked:
            folder = sorted(k for k, s in self.record.maps.items() if s.image)
            self.rivals, self.ranked = self_check.rivals(self._responses(folder)[1], folder), True
        return self.rivals.get(m, m)

    def _responses(self, folder: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The saved patterns of `folder` (0 for a map with none) and every map's response to each of them."""
        request = self.job.request
        patterns = np.nan_to_num(self._read([self._file(m) for m in folder]))
        matrix = scoring.responses(self.job.loaded.model, request.layer.name, folder,
                                   images.to_range(patterns, request.input_range), request.kind)  # fmt: skip
        return patterns, matrix

    def _unneeded(self) -> set[str]:
        """The remedies for how patterns look that this layer skips: "smoother" unless its images are Fourier
        images (it steepens the spectrum) and its patterns, as they stand, are busy; "paler" unless they are
        drawn in a colour basis (it scales the colour directions) and garish."""
        recipe, natural = self.job.request.recipe, self.job.natural.looks
        pictures = self._read([self._file(m) for m in self.job.maps])
        smooths = recipe.param == "fourier" and self_check.busy(pictures, natural)
        pales = isinstance(recipe.colour, colour.ColourBasis) and self_check.garish_layer(pictures, natural)
        return {remedy for remedy, needed in ((self_check.SMOOTHER, smooths), (self_check.PALER, pales)) if not needed}

    def limits(self, remedy: str) -> tuple[float, ...]:
        """The bounds of the remedies that hold other maps down (self_check.HOLDING), one per map of the layer,
        from the patterns as they stand."""
        return self_check.limits(self.record.maps, self.job.request.layer.units, remedy)

    def patterns(self, maps: Sequence[int]) -> np.ndarray:
        """The patterns of `maps` as they stand, (N, H, W, C) in 0..1 as saved; NaN for a map with none."""
        return self._read([self._file(m) for m in maps])

    def consider(self, maps: Sequence[int], found: np.ndarray, remedy: str, ran: dict | None = None) -> None:
        """A remedy's patterns of `maps`: each replaces the saved one when self_check.Judge accepts it.

        Candidates are judged as they would be saved (8-bit), against every map's saved pattern, by the
        remedy's rule (self_check.RULES); a "smoother" candidate only when it has less fine detail, a "paler" one
        only when it is less saturated. `ran`, the record of the machine that computed them, joins the manifest's
        when one is kept.
        """
        request, model = self.job.request, self.job.loaded.model
        folder = sorted(m for m, s in self.record.maps.items() if s.image)
        current = np.nan_to_num(self._read([self._file(m) for m in folder]))
        candidates = images.from_uint8(images.to_uint8(found, (0.0, 1.0)), (0.0, 1.0))
        both = images.to_range(np.concatenate([current, candidates]), request.input_range)
        matrix = scoring.responses(model, request.layer.name, folder, both, request.kind)
        judge, best = self_check.Judge(matrix[: len(folder)]), self.job.natural.best
        for k, m in enumerate(maps):
            scale = float(best[m]) if best is not None and best[m] > 0 else 1.0
            row, rule = folder.index(m), self_check.RULES.get(remedy, "better")
            kept = self_check.calmer(remedy, candidates[k], current[row]) and judge.offer(
                row, matrix[len(folder) + k], scale, rule
            )
            if kept:
                self.saved[m] = self._write_png(m, candidates[k])
                self._note_machine(ran)
            if remedy != self_check.YIELD or kept or m not in self.remedies:  # a refused yield keeps the map's record
                self.remedies[m] = (remedy, kept)
            if remedy == self_check.YIELD:
                self.yielded.add(m)
            self.tried.add(m)
        self._score(sorted(set(maps)))
        self.considered = True

    def _score(self, maps: list[int]) -> None:
        """Score `maps` from their PNGs; then every saved map's specificity, against all the folder's patterns."""
        request, model = self.job.request, self.job.loaded.model
        folder = sorted(set(maps) | {m for m, s in self.record.maps.items() if s.image})
        files = [self._file(m) for m in folder]
        patterns, matrix = self._responses(folder)
        rows = [folder.index(m) for m in maps]
        natural = self.job.natural
        fresh = scoring.score(np.diagonal(matrix)[rows], maps, natural.best, [files[i] for i in rows], natural.worst)
        if is_class_layer(model, request.layer):
            for s, v in zip(fresh, transfer.verdicts(model, patterns[rows], request.input_range)):
                s.verdict = v.record() if s.image is not None else None
        for s in fresh:
            s.remedy, s.repaired = self.remedies.get(s.map, (None, None))
            self.record.maps[s.map] = s
        top = bounds.ceiling(model, request.layer.name) if request.kind == "mean" else None
        self.rivals, self.ranked = self_check.rivals(matrix, folder), True
        twins = self_check.twins(self.rivals, natural.correlation)
        for m, specific, pattern, file in zip(folder, scoring.specific(matrix), patterns, files):
            score, saved = self.record.maps[m], file is not None
            score.specific = bool(specific) if saved else None
            score.clipped = scoring.clipped(pattern) if saved else None
            found = self_check.flags(score, bool(specific), pattern, top, natural.looks) if saved else None
            score.flags = found or None
            score.twin = twins.get(m) if found and self_check.COLLAPSED in found else None

    def _file(self, m: int) -> str | None:
        return self.saved.get(m, self.record.maps[m].image if m in self.record.maps else None)

    def _read(self, files: list[str | None]) -> np.ndarray:
        """The saved patterns as (N, H, W, C) in 0..1; NaN for a map with no file."""
        shape = (*self.job.request.canvas, models.image_channels(self.job.loaded.model))
        blank = np.full(shape, np.nan, np.float32)
        for f in files:
            if f is not None and f not in self.read:
                self.read[f] = images.load_image(self._path(f), channels=shape[-1])
        return np.stack([blank if f is None else self.read[f] for f in files])

    def _write_grid(self) -> None:
        ordered = [self.record.maps[m] for m in sorted(self.record.maps)]
        figure = _grid_figure(self._read([s.image for s in ordered]), ordered, self._title(ordered))
        self.out.write(f"{self.folder}/{layout.GRID}", grids.figure_png(figure))

    def _title(self, ordered: list[MapScore]) -> str:
        request, summary = self.job.request, scoring.summarize(ordered)
        return (
            f"{self.job.loaded.name} · {request.layer.name}: patterns of {len(ordered)} maps "
            f"({request.recipe.steps} steps, seed {request.seed}) · {summary.at_least_one}/{summary.live} live maps "
            "at ratio ≥ 1"
        )


def _unmeasured(saved: Manifest) -> set[int]:
    """Maps saved before specificity and clipping were measured (featviz 0.3): scored again, not rendered."""
    return {m for m, s in saved.maps.items() if s.image and s.specific is None}


def _grid_figure(patterns: np.ndarray, scores: list[MapScore], title: str):
    """Patterns as a grid: each tile labelled with its map and ratio; dead, errored and flagged maps in red."""
    tiles = np.nan_to_num(patterns[..., 0] if patterns.shape[-1] == 1 else patterns)
    marked = [i for i, s in enumerate(scores) if s.marked or s.flagged]
    labels = [s.caption() for s in scores]
    return grids.tile_figure(tiles, labels, title=title, scale=grids.GREY_UNIT, marked=marked)
