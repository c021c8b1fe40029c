"""The same image through several models, side by side.

For each model: its innermost activation grid, its prediction, and the
patterns of the maps that the image drives hardest. This is how a plain CNN,
a deep plain CNN and a ResNet V2 are compared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import models, patterns
from ..execution import batches
from ..files.output import OutputDir
from ..methods import activations
from ..methods.activations import Activations
from ..models.inputs import resolve_input
from ..natural import datasets
from ..patterns import layout
from ..pixels import grids
from ..pixels.display import Shown
from ..pixels.preprocess import InputRange
from ..runtime.progress import SILENT, Reporter
from ..synthesis.render import Recipe
from . import html


@dataclass
class ModelView:
    name: str
    acts: Activations
    top: list[tuple[int, float]]  # (map, mean activation), most active first
    patterns: np.ndarray  # (K, H, W, C) in 0..1

    @property
    def prediction(self) -> str:
        return activations.describe_predictions(self.acts.predictions(2))


@dataclass(frozen=True)
class Comparison:
    """How every model of a comparison is shown."""

    top_k: int = 8  # patterns of this many most active maps
    input_range: InputRange | None = None  # None: what each model says (models.inputs), else 0..1
    recipe: Recipe = Recipe()
    seed: int = 0

    def recipe_for(self, model, canvas: tuple[int, int], layer) -> Recipe:
        """The recipe as `featviz patterns` resolves it for this model: its colour basis is measured on the
        natural images featviz has for the model's input (datasets.for_model), as there."""
        dataset = datasets.for_model(models.input_shape(model), None)
        return patterns.recipe_for(model, self.recipe, dataset, canvas, layer)


def view(
    loaded: models.LoadedModel,
    image: str | Path,
    comparison: Comparison = Comparison(),
    progress: Callable[[int], None] | None = None,
) -> ModelView:
    """One model's side of the comparison."""
    model = loaded.model
    input_range = resolve_input(model, comparison.input_range)
    acts = activations.extract(model, image, None, input_range)
    top = acts.top(comparison.top_k)
    canvas = patterns.canvas_for(model, acts.layer, None)
    recipe = comparison.recipe_for(model, canvas, acts.layer)
    request = patterns.PatternRequest(acts.layer, canvas, input_range=input_range, recipe=recipe, seed=comparison.seed)
    found = batches.synthesize(model, request, [m for m, _ in top], progress)
    return ModelView(loaded.name, acts, top, found)


def figure(views: Sequence[ModelView]):
    """One row per model: its input, its innermost maps, and the patterns of its most active maps."""
    from matplotlib.figure import Figure  # no pyplot, so no backend: a notebook's stays as it was

    fig = Figure(figsize=(15, 3.3 * len(views)), dpi=100)
    rows = fig.subfigures(len(views), 1, squeeze=False)[:, 0]
    for row, v in zip(rows, views):
        axes = row.subplots(1, 3, width_ratios=[1, 3.2, 3.2])
        _show_input(axes[0], v)
        _show_maps(axes[1], v)
        _show_patterns(axes[2], v)
        h, w, n = v.acts.maps.shape
        row.suptitle(
            f"{v.name}: {v.prediction}  ·  innermost layer {v.acts.layer.name} ({n} maps of {h}x{w})",
            fontsize=11,
            x=0.01,
            ha="left",
        )
    return fig


def _show_input(ax, v: ModelView) -> None:
    img = v.acts.image
    lo, hi = float(img.min()), float(img.max())
    shown = img[..., 0] if img.shape[-1] == 1 else (img - lo) / max(hi - lo, 1e-8)
    ax.imshow(shown, cmap="gray", interpolation="nearest")
    ax.set_title("input", fontsize=9)
    ax.set_axis_off()


def _show_maps(ax, v: ModelView) -> None:
    tiles = np.moveaxis(v.acts.maps, -1, 0)
    _, cols = grids.grid_shape(len(tiles))
    canvas, _ = grids.mosaic(tiles, cols)
    import matplotlib

    ax.imshow(
        canvas,
        cmap=matplotlib.colormaps["viridis"].with_extremes(bad="white"),
        interpolation="nearest",
        vmin=0,
        vmax=max(float(tiles.max()), 1e-6),
    )
    ax.set_title("activations (one shared scale)", fontsize=9)
    ax.set_axis_off()


def _show_patterns(ax, v: ModelView) -> None:
    tiles = v.patterns[..., 0] if v.patterns.shape[-1] == 1 else v.patterns
    cols = min(len(tiles), 4)
    canvas, corners = grids.mosaic(tiles, cols)
    import matplotlib

    if canvas.ndim == 2:
        grey = matplotlib.colormaps["gray"].with_extremes(bad="white")
        ax.imshow(canvas, cmap=grey, interpolation="nearest", vmin=0, vmax=1)
    else:
        ax.imshow(np.nan_to_num(canvas, nan=1.0), interpolation="nearest")
    for (x, y), (m, mean) in zip(corners, v.top):
        ax.text(x - 0.5, y - 0.8, f"map {m} ({mean:.2f})", fontsize=7, va="bottom")
    ax.set_title("patterns of the most active maps (mean activation)", fontsize=9)
    ax.set_axis_off()


def write(views: Sequence[ModelView], loaded: Sequence[models.LoadedModel], image: str | Path, out) -> list[Path]:
    """compare/<image>-<models>/compare.png and index.html, and the list of comparisons; returns the paths."""
    folder = layout.compare_dir(Path(image), [m.sha256 for m in loaded])
    png = out.write(f"{folder}/compare.png", grids.figure_png(figure(views), dpi=90))
    rows = [
        (
            v.name,
            m.sha256[:12],
            v.acts.layer.name,
            models.shape_text(v.acts.maps.shape),
            v.prediction,
            ", ".join(f"{i} ({a:.2f})" for i, a in v.top),
        )
        for v, m in zip(views, loaded)
    ]
    body = (
        f'<p class="muted">The same image, {html.esc(Path(image).name)}, through {len(views)} models.</p>'
        + html.image("compare.png", "comparison")
        + html.table(["model", "sha256", "innermost layer", "maps", "prediction", "most active maps (mean)"], rows)
    )
    nav = [("gallery", layout.INDEX), ("comparisons", layout.COMPARE_INDEX)]
    page = f"{folder}/{layout.INDEX}"
    page_path = out.write(page, html.page(f"Compare: {Path(image).name}", body, page, nav).encode())
    return [png, page_path, write_listing(out)]


def write_listing(out) -> Path:
    """The style sheet and compare/index.html, listing every comparison in the folder."""
    out.write(layout.STYLE, html.CSS.encode())
    return out.write(layout.COMPARE_INDEX, _listing(out).encode())


def _listing(out) -> str:
    folders = sorted(p.parent.name for p in out.path("compare").glob(f"*/{layout.INDEX}"))
    items = "".join(
        f'<li><a href="{html.href(name + "/" + layout.INDEX)}">{html.esc(name)}</a></li>' for name in folders
    )
    return html.page("Comparisons", f"<ul>{items}</ul>", layout.COMPARE_INDEX, [("gallery", layout.INDEX)])


@dataclass
class Compared(Shown):
    """What `featviz compare --image` made: each model's view, and the files written."""

    views: list[ModelView]
    written: list[Path]

    def figure(self):
        """One row per model (module function `figure`)."""
        return figure(self.views)

    def lines(self) -> list[str]:
        rows = [
            f"{v.name}: {v.prediction}; innermost {v.acts.layer.name}; top maps " + ", ".join(str(m) for m, _ in v.top)
            for v in self.views
        ]
        return rows + [str(p) for p in self.written]


def run(
    loaded: Sequence[models.LoadedModel], image: str | Path, comparison: Comparison, out: OutputDir,
    reporter: Reporter = SILENT,
) -> Compared:  # fmt: skip
    """The same image through every model, side by side: a PNG and a page in `out`."""
    total = comparison.recipe.steps * comparison.top_k * len(loaded)
    with reporter.stage("compare", total) as progress:
        views = [view(one, image, comparison, progress) for one in loaded]
    return Compared(views, write(views, loaded, image, out))
