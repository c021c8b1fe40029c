"""Patterns of a colour model: featviz's colour recipe against its grey-model recipe, MACO and xplique's Fourier.

    python benchmarks/bench_colour.py [--model cifar10_resnet_v2.keras] [--layers a,b] [--steps 256]
                                      [--figure colour.png]

For each layer (default: the middle of the gallery's layers and
the default layer of `featviz patterns`) and each recipe, all maps in one run, measured in this run
and scored from the 8-bit patterns against the natural images
(--dataset; default the bundled CIFAR-10 exemplars for a 32x32x3 model):

  - time, end to end;
  - the share of live maps at ratio >= 1, and the median ratio;
  - specificity: the share of live maps whose own pattern drives them
    harder than any other map's pattern;
  - saturation: the median share of a pattern's pixels with a channel at 0 or 255.

The recipes: featviz's default for RGB (Fourier 1/f, decorrelated colour
measured on the dataset, transforms filled with its mean colour), at
--precision auto and again at float32 (what a CPU without bfloat16 runs); featviz's
grey-model recipe as 0.3 applied it to colour (pixels, plain RGB); MACO
(Fel et al. 2023: the phase alone, the magnitude fixed to the dataset's
mean amplitude spectrum, `--param maco`); and
xplique 2.0.2's Fourier recipe with its defaults (see bench_patterns.py for
installing it), if importable, in a child process with TensorFlow's default
threads. --figure writes the first maps of the
innermost layer by each recipe, one row each.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_line, in_default_threads

from featviz import models, patterns
from featviz.evaluation import scoring
from featviz.execution import batches
from featviz.models.inputs import resolve_input
from featviz.natural import datasets, exemplars
from featviz.pixels import grids, images
from featviz.pixels.preprocess import as_preprocess
from featviz.synthesis import render


@dataclass
class Run:
    name: str
    seconds: float
    unit: np.ndarray  # (maps, H, W, 3) in 0..1
    scores: list[scoring.MapScore]

    @property
    def summary(self) -> scoring.Summary:
        return scoring.summarize(self.scores)

    @property
    def short(self) -> str:
        return self.name.split()[1] if self.name.startswith("featviz") else self.name.split()[0]


def measured(model, layer, unit_images: np.ndarray, best: np.ndarray, input_range) -> list[scoring.MapScore]:
    """The scores of the 8-bit patterns, by scoring.py's rules, as `featviz patterns` records them."""
    maps = list(range(layer.maps))
    pixels = images.from_uint8(images.to_uint8(unit_images, (0.0, 1.0)), (0.0, 1.0))
    matrix = scoring.responses(model, layer.name, maps, images.to_range(pixels, input_range), "mean")
    scores = scoring.score(np.diagonal(matrix), maps, best, [str(m) for m in maps])
    for s, specific, pattern in zip(scores, scoring.specific(matrix), pixels):
        s.specific, s.clipped = bool(specific), scoring.clipped(pattern)
    return scores


def featviz_run(model, layer, request: patterns.PatternRequest, name: str, best) -> Run:
    start = time.perf_counter()
    unit = batches.synthesize(model, request, list(range(layer.maps)))
    seconds = time.perf_counter() - start
    return Run(name, seconds, unit, measured(model, layer, unit, best, request.input_range))


def xplique_run(model, model_spec: str, layer, steps: int, input_range, best) -> Run | None:
    """xplique's feature visualization with its defaults (Fourier, its standard transforms), all maps in one batch.

    It runs in a child process with TensorFlow's default threads, as its users run it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "xplique.npy")
        seconds = in_default_threads(
            "bench_colour", "xplique_images", model_spec=model_spec, layer=layer.name, steps=steps, out=out
        )
        if seconds is None:
            print("  xplique Fourier: left out (xplique is not importable, or the channels have different ranges)")
            return None
        unit = np.load(out)
    return Run("xplique Fourier", seconds, unit, measured(model, layer, unit, best, input_range))


def xplique_images(model_spec: str, layer: str, steps: int, out: str) -> float | None:
    """xplique's patterns of every map of `layer`, saved to `out` (.npy, 0..1); the seconds they took."""
    try:
        from xplique.features_visualizations import Objective, optimize
    except ImportError:
        return None
    model = models.load(model_spec).model
    convention = as_preprocess(resolve_input(model, None))
    if not convention.plain:
        return None  # xplique takes one value range for all channels
    objective = Objective.channel(model, layer, list(range(models.resolve_layer(model, layer).maps)))
    lo, hi = convention.offset[0], convention.offset[0] + convention.scale[0]
    start = time.perf_counter()
    found, _ = optimize(objective, nb_steps=steps, custom_shape=models.input_shape(model)[:2], values_range=(lo, hi))
    seconds = time.perf_counter() - start
    np.save(out, convention.to_unit(np.asarray(found[-1], dtype=np.float32)))
    return seconds


def middle_and_innermost(model) -> list[str]:
    """The middle of the gallery's layers, and the default layer of `featviz patterns`."""
    found = models.feature_layers(model)
    return [found[len(found) // 2].name, models.resolve_layer(model).name]


def report(layer, run: Run) -> str:
    s = run.summary
    share = s.at_least_one / max(s.live, 1)
    return (
        f"  {run.name:<34} {run.seconds:7.1f} s   ratio>=1 {share:6.1%} (median {s.median_ratio or 0:5.2f})   "
        f"specificity {s.specificity:.2f}   clipped {s.clipped:5.1%}"
    )


def figure(runs: list[Run], count: int, title: str):
    tiles = np.concatenate([r.unit[:count] for r in runs])
    labels = [s.caption() for r in runs for s in r.scores[:count]]
    return grids.tile_figure(tiles, labels, title=title, scale=grids.GREY_UNIT, columns=count)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="cifar10_resnet_v2.keras")
    p.add_argument("--layers", default=None, help="comma-separated (default: the middle and innermost)")
    p.add_argument("--dataset", default=None)
    p.add_argument("--steps", type=int, default=256)
    p.add_argument("--figure", default=None, help="write the innermost layer's first maps by each recipe here")
    p.add_argument("--figure-maps", type=int, default=10)
    args = p.parse_args()

    loaded = models.load(args.model)
    model = loaded.model
    canvas = tuple(models.input_shape(model)[:2])
    data = datasets.for_model(models.input_shape(model), args.dataset)
    input_range = resolve_input(model, None)
    names = args.layers.split(",") if args.layers else middle_and_innermost(model)
    stats = exemplars.scan(model, names, data, input_range, exemplars.ScanOptions(top_k=0))
    colour = patterns.recipe_for(model, render.Recipe(steps=args.steps), data, canvas)
    grey = render.Recipe(steps=args.steps, param="pixels", colour=None)
    maco = patterns.recipe_for(model, render.Recipe(steps=args.steps, param="maco"), data, canvas)
    recipes = (
        (colour, "featviz colour recipe (default)"),
        (replace(colour, precision="float32"), "featviz colour recipe, float32"),
        (grey, "featviz grey recipe (0.3)"),
        (maco, "featviz maco (phase only)"),
    )
    print(f"{loaded.name}: {args.steps} steps, canvas {canvas[0]}x{canvas[1]}, natural images: {data.source}")
    print(f"  machine: {cpu_line()}; precision auto = {colour.resolved_precision}")
    last: list[Run] = []
    for name in names:
        layer = models.resolve_layer(model, name)
        print(f"{name}: {layer.maps} maps")
        runs = [
            featviz_run(
                model,
                layer,
                patterns.PatternRequest(layer, canvas, input_range=input_range, recipe=recipe),
                label,
                stats[name].best,
            )  # fmt: skip
            for recipe, label in recipes
        ]
        runs.append(xplique_run(model, args.model, layer, args.steps, input_range, stats[name].best))
        for run in filter(None, runs):
            print(report(layer, run))
        last = [r for r in runs if r is not None and not r.name.endswith("float32")]
    print(f"  peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.figure:
        rows = "; ".join(f"row {i + 1}: {r.name}" for i, r in enumerate(last))
        title = f"{loaded.name} · {names[-1]}, maps 0-{args.figure_maps - 1} ({args.steps} steps). {rows}"
        Path(args.figure).write_bytes(grids.figure_png(figure(last, args.figure_maps, title)))
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
