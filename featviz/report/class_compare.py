"""The class patterns of several models side by side, and how each model reads the others' patterns.

Models trained on the same data should agree on what a "6" looks like. The
share of one model's class patterns that another model reads as their class
(transfer) tells a picture of the class from an image that only fools its
own model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import models, patterns
from ..errors import FeatvizError
from ..evaluation import transfer
from ..execution import batches
from ..files.output import OutputDir, short_hash
from ..models import card, head
from ..models.inputs import resolve_input
from ..patterns import layout
from ..pixels import grids
from ..pixels.display import Shown
from ..runtime.progress import SILENT, Reporter
from . import html
from .compare import Comparison, write_listing


@dataclass
class ClassRow:
    name: str
    patterns: np.ndarray  # (classes, H, W, C) in 0..1
    reads: dict[str, list[transfer.Verdict]]  # model name -> its verdicts on these patterns (its own included)

    def share(self, reader: str) -> float:
        return float(np.mean([v.predicted == c for c, v in enumerate(self.reads[reader])]))


def class_rows(
    loaded: Sequence[models.LoadedModel], comparison: Comparison, progress: Callable[[int], None] | None = None
) -> list[ClassRow]:
    """Every model's class patterns, each read by every model."""
    made = [(one, _class_patterns(one, comparison, progress)) for one in loaded]
    return [ClassRow(one.name, found, _reads(loaded, found, comparison)) for one, found in made]


def _class_patterns(one: models.LoadedModel, comparison: Comparison, progress) -> np.ndarray:
    target = head.class_layer(one.model)
    if target is None:
        raise FeatvizError(f"{one.name}: the model has no class output (a Dense layer giving its output)")
    canvas = patterns.canvas_for(one.model, target, None)
    input_range = resolve_input(one.model, comparison.input_range)
    recipe = comparison.recipe_for(one.model, canvas, target)
    request = patterns.PatternRequest(target, canvas, input_range=input_range, recipe=recipe, seed=comparison.seed)
    return batches.synthesize(one.model, request, list(range(target.units)), progress)


def _reads(loaded, found: np.ndarray, comparison: Comparison) -> dict[str, list[transfer.Verdict]]:
    return {
        other.name: transfer.verdicts(other.model, found, resolve_input(other.model, comparison.input_range))
        for other in loaded
    }


def figure(rows: Sequence[ClassRow], names: Sequence[str] | None = None):
    """One row per model: its pattern of every class, each labelled with how many models read it as its class."""
    tiles = np.concatenate([r.patterns for r in rows])
    count = len(rows[0].patterns)
    labels = [
        f"{names[c] if names else c}: {sum(r.reads[o][c].predicted == c for o in r.reads)}/{len(r.reads)}"
        for r in rows
        for c in range(count)
    ]
    grey = tiles[..., 0] if tiles.shape[-1] == 1 else tiles
    title = (
        "Class patterns, one row per model: "
        + ", ".join(r.name for r in rows)
        + " (k/n: models reading it as its class)"
    )
    fig = grids.tile_figure(grey, labels, title=title, scale=grids.GREY_UNIT, columns=count)
    return fig


def write(rows: Sequence[ClassRow], loaded: Sequence[models.LoadedModel], out, names=None) -> list[Path]:
    """compare/classes-<models>/compare.png and index.html with the transfer table."""
    folder = f"compare/classes-{short_hash('|'.join(m.sha256 for m in loaded))}"
    png = out.write(f"{folder}/compare.png", grids.figure_png(figure(rows, names), dpi=90))
    table = html.table(
        ["patterns of", *[f"read by {r.name}" for r in rows]],
        [[r.name, *[f"{r.share(o.name):.0%}" for o in rows]] for r in rows],
    )
    body = (
        '<p class="muted">Each model\'s pattern of every class (its logit maximized), and the share of them '
        "that each model reads as their class. The diagonal is each model reading its own patterns.</p>"
        + html.image("compare.png", "class patterns")
        + table
    )
    page = f"{folder}/{layout.INDEX}"
    nav = [("gallery", layout.INDEX), ("comparisons", layout.COMPARE_INDEX)]
    page_path = out.write(page, html.page("Class patterns compared", body, page, nav).encode())
    return [png, page_path, write_listing(out)]


@dataclass
class ClassesCompared(Shown):
    """What `featviz compare --classes` made: each model's class patterns and how the others read them."""

    rows: list[ClassRow]
    written: list[Path]
    names: list[str] | None = None  # the class names, when the model card gives them

    def figure(self):
        """One row per model (module function `figure`)."""
        return figure(self.rows, self.names)

    def lines(self) -> list[str]:
        reads = [
            f"{row.name}'s class patterns, read as their class by: "
            + ", ".join(f"{o} {row.share(o):.0%}" for o in row.reads)
            for row in self.rows
        ]
        return reads + [str(p) for p in self.written]


def run(
    loaded: Sequence[models.LoadedModel], comparison: Comparison, out: OutputDir, reporter: Reporter = SILENT
) -> ClassesCompared:
    """Every model's class patterns, read by every model: a PNG and a page in `out`."""
    units = sum(head.class_layer(one.model).units for one in loaded if head.class_layer(one.model))
    with reporter.stage("class patterns", comparison.recipe.steps * units) as progress:
        rows = class_rows(loaded, comparison, progress)
    names = card.names(loaded[0].path)
    return ClassesCompared(rows, write(rows, loaded, out, names), names)
