"""Patterns of a layer's maps: synthesize, save, read back, score honestly.

`synthesize` returns 8-bit patterns; `save_and_score` writes one PNG per
map, reads each back through the same image reader users' files go through,
and scores it with the same objective as the natural images: the `value`
in the manifest is what the saved file really reaches.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import __version__, exemplars, grids, images, io, models, objectives, render
from .errors import FeatvizError
from .models import LayerInfo


@dataclass
class MapPattern:
    map: int
    image: str | None  # PNG path relative to the manifest
    value: float | None
    best_natural: float
    ratio: float | None
    dead: bool
    error: str | None = None


def parse_maps(spec: str | None, count: int) -> list[int]:
    """'0-5,17' -> [0, 1, 2, 3, 4, 5, 17]; None -> every map."""
    if spec is None:
        return list(range(count))
    chosen: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise FeatvizError(f"--maps {spec!r}: use indices and ranges like 0-5,17") from None
        if not (0 <= first <= last < count):
            raise FeatvizError(f"--maps {spec!r}: map indices must lie in 0..{count - 1}")
        chosen.extend(i for i in range(first, last + 1) if i not in chosen)
    return chosen


def canvas_for(model, layer: LayerInfo, size: int | None) -> tuple[int, int]:
    """The canvas (height, width): the model's input size, or size x size when the prefix allows it."""
    native = models.input_shape(model)[:2]
    if size is None:
        if None in native:
            raise FeatvizError("the model accepts any image size; choose one with --size")
        return tuple(native)
    if (size, size) == tuple(native):
        return native
    if _fits(model, layer, size):
        return size, size
    bigger = max(2 * size, *(n or 0 for n in native))
    if not _fits(model, layer, bigger):
        raise FeatvizError(
            f"--size {size}: the layers before {layer.name!r} need the model's own input size "
            f"{_size(native)}; only a convolutional prefix accepts other sizes"
        )
    raise FeatvizError(
        f"--size {size} is too small for layer {layer.name!r}: it needs at least {_smallest(model, layer, size, bigger)}"
    )


def _size(shape) -> str:
    return "x".join(str(s) for s in shape)


def _fits(model, layer: LayerInfo, size: int) -> bool:
    try:
        net = models.extractor(model, [layer.name], canvas=(size, size))
    except (FeatvizError, ValueError):
        return False
    shape = net.outputs[0].shape
    return all(d is not None and d >= 1 for d in shape[1:3])


def _smallest(model, layer: LayerInfo, lo: int, hi: int) -> int:
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _fits(model, layer, mid) else (mid, hi)
    return hi


def synthesize(
    model,
    layer: LayerInfo,
    maps: Sequence[int],
    *,
    canvas: tuple[int, int],
    kind: str = "mean",
    recipe: render.Recipe = render.Recipe(),
    seed: int = 0,
    input_range: tuple[float, float] = (0.0, 1.0),
    chunk: int = 128,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Patterns of `maps` as float images (N, H, W, C) in 0..1, optimized chunk by chunk."""
    out = []
    for start in range(0, len(maps), chunk):
        part = list(maps[start : start + chunk])
        objective = objectives.channel(layer.name, part, kind)
        result = render.render(
            model,
            objective,
            len(part),
            canvas,
            input_range=input_range,
            recipe=recipe,
            seed=seed + start,
            progress=progress,
        )
        out.append(result.images)
    return np.concatenate(out)


def score(model, layer: LayerInfo, maps: Sequence[int], inputs: np.ndarray, kind: str) -> np.ndarray:
    """The objective of map maps[i] on inputs[i], at the inputs' own size."""
    net = models.extractor(model, [layer.name], canvas=inputs.shape[1:3])
    acts = np.asarray(net(inputs, training=False))
    per_map = exemplars.reduce_maps(acts, kind)
    return per_map[np.arange(len(maps)), list(maps)]


def save_and_score(
    model,
    layer: LayerInfo,
    maps: Sequence[int],
    patterns: np.ndarray,
    out: io.OutputDir,
    folder: Path,
    *,
    kind: str,
    input_range,
    best: np.ndarray,
) -> list[MapPattern]:
    """Write map-NNNN.png per map, read them back, score them, and compute the ratios."""
    channels = patterns.shape[-1]
    readback = np.zeros_like(patterns, dtype=np.float32)
    errors: dict[int, str] = {}
    for i, m in enumerate(maps):
        if not np.isfinite(patterns[i]).all():
            errors[i] = "NaN or Inf in the gradient or the activation"
            continue
        pixels = images.to_uint8(images.to_range(patterns[i], input_range), input_range)
        path = out.write(folder / f"map-{m:04d}.png", images.png_bytes(pixels))
        readback[i] = images.load_image(path, channels=channels, input_range=input_range)
    values = score(model, layer, maps, readback, kind)
    results = []
    for i, m in enumerate(maps):
        value = None if i in errors or not np.isfinite(values[i]) else float(values[i])
        error = errors.get(i) or (None if value is not None else "the saved pattern gives a non-finite value")
        dead = not best[m] > 0
        ratio = None if dead or value is None else value / float(best[m])
        image = None if i in errors else f"map-{m:04d}.png"
        results.append(MapPattern(m, image, value, float(best[m]), ratio, bool(dead), error))
    return results


@dataclass
class Summary:
    maps: int
    dead: int
    failed: int
    live: int
    at_least_one: int
    median_ratio: float | None

    def line(self, layer: str, seconds: float) -> str:
        median = "n/a" if self.median_ratio is None else f"{self.median_ratio:.2f}"
        return (
            f"{layer}: {self.maps} maps in {seconds:.1f} s; {self.live} live, {self.dead} dead, {self.failed} failed; "
            f"{self.at_least_one}/{self.live} live maps at ratio >= 1 (median {median})"
        )


def summarize(results: Sequence[MapPattern]) -> Summary:
    ratios = [r.ratio for r in results if r.ratio is not None]
    live = [r for r in results if not r.dead and r.error is None]
    return Summary(
        len(results),
        sum(r.dead for r in results),
        sum(r.error is not None for r in results),
        len(live),
        sum(1 for r in ratios if r >= 1.0),
        float(np.median(ratios)) if ratios else None,
    )


def grid_figure(patterns: np.ndarray, results: Sequence[MapPattern], *, title: str):
    """Patterns as a grid: each tile labelled with its map and ratio; dead and failed maps in red."""
    tiles = np.nan_to_num(patterns[..., 0] if patterns.shape[-1] == 1 else patterns)
    labels = [_label(r) for r in results]
    marked = [i for i, r in enumerate(results) if r.dead or r.error]
    return grids.tile_figure(tiles, labels, title=title, cmap="gray", vmin=0.0, vmax=1.0, marked=marked)


def _label(r: MapPattern) -> str:
    if r.error:
        return f"{r.map} failed"
    if r.dead:
        return f"{r.map} dead"
    return f"{r.map} ×{r.ratio:.1f}"


@dataclass
class PatternReport:
    folder: Path
    manifest: Path
    grid: Path
    results: list[MapPattern]
    summary: Summary
    seconds: float


@dataclass
class PatternJob:
    """A checked request: the layer, maps and canvas fit the model, and the natural images are scored."""

    loaded: models.LoadedModel
    layer: LayerInfo
    maps: list[int]
    canvas: tuple[int, int]
    kind: str
    input_range: tuple[float, float]
    best: np.ndarray  # best natural value of every map of the layer
    dataset: str

    def run(
        self,
        out: str | Path | io.OutputDir,
        *,
        recipe: render.Recipe = render.Recipe(),
        seed: int = 0,
        progress: Callable[[int], None] | None = None,
    ) -> PatternReport:
        """Synthesize, save, read back and score; write the grid and manifest.json."""
        model, layer = self.loaded.model, self.layer
        if not isinstance(out, io.OutputDir):
            with io.OutputDir(out) as folder:
                return self.run(folder, recipe=recipe, seed=seed, progress=progress)
        folder = Path("patterns") / io.layer_stem(layer.index, layer.name)
        started = time.perf_counter()
        found = synthesize(
            model,
            layer,
            self.maps,
            canvas=self.canvas,
            kind=self.kind,
            recipe=recipe,
            seed=seed,
            input_range=self.input_range,
            progress=progress,
        )
        seconds = time.perf_counter() - started
        results = save_and_score(
            model, layer, self.maps, found, out, folder, kind=self.kind, input_range=self.input_range, best=self.best
        )
        summary = summarize(results)
        title = (
            f"{self.loaded.name} · {layer.name}: patterns of {len(self.maps)} maps ({recipe.steps} steps, "
            f"seed {seed}) · {summary.at_least_one}/{summary.live} live maps at ratio ≥ 1"
        )
        grid = out.write(folder / "grid.png", grids.figure_png(grid_figure(found, results, title=title)))
        manifest = out.write_json(
            folder / "manifest.json", self._manifest(recipe, seed, grid, seconds, summary, results)
        )
        return PatternReport(out.root / folder, manifest, grid, results, summary, seconds)

    def _manifest(self, recipe, seed, grid, seconds, summary, results) -> dict:
        return {
            "featviz": __version__,
            "model": self.loaded.name,
            "model_sha256": self.loaded.sha256,
            "layer": self.layer.name,
            "objective": self.kind,
            "steps": recipe.steps,
            "seed": seed,
            "size": list(self.canvas),
            "input_range": list(self.input_range),
            "dataset": self.dataset,
            "recipe": recipe_record(recipe),
            "grid": grid.name,
            "seconds": round(seconds, 3),
            "summary": asdict(summary),
            "maps": [_clean(asdict(r)) for r in results],
        }


def prepare(
    loaded: models.LoadedModel,
    layer: LayerInfo,
    maps: Sequence[int],
    *,
    size: int | None = None,
    kind: str = "mean",
    input_range: tuple[float, float] = (0.0, 1.0),
    dataset: str | Path | None = None,
) -> PatternJob:
    """Check a pattern request and score the natural images, before any long work starts."""
    model = loaded.model
    canvas = canvas_for(model, layer, size)
    data = exemplars.load_dataset(dataset)
    inputs = exemplars.model_inputs(model, data, input_range)
    best = exemplars.scan(model, [layer.name], inputs, kind=kind, top_k=0)[layer.name].best
    return PatternJob(loaded, layer, list(maps), canvas, kind, input_range, best, data.source)


def recipe_record(recipe: render.Recipe) -> dict:
    """The recipe as JSON, with what "auto" and None resolved to on this machine."""
    record = {k: v for k, v in asdict(recipe).items() if k != "transforms"}
    record.update(lr=recipe.learning_rate, precision=recipe.compute_dtype or "float32")
    record["transforms"] = "default" if recipe.transforms is None else "custom"
    return record


def _clean(entry: dict) -> dict:
    """JSON has no NaN: non-finite numbers become null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in entry.items()}
