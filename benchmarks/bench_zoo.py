"""Patterns on models featviz was not tuned on: the zoo (models/zoo/) and the bundled models, recipe by recipe.

    python benchmarks/bench_zoo.py [--split tune|held_out|all] [--models a,b] [--bundled]
                                   [--recipes default,maco,...] [--steps 256] [--xplique] [--json FILE]
                                   [--figure FILE.png]

One row per model, layer (its innermost and middle, as its card names them)
and recipe. Each featviz recipe runs the real pipeline (patterns.prepare,
then execution.run_job into a temporary folder: render, save, read back,
self-check and repair), timed from the first step to the scored manifest.
Everything is measured on the saved 8-bit PNGs, against the card's natural
images:

  - ratio>=1: the share of live maps whose pattern reaches ratio >= 1 (median ratio);
  - spec: specificity, the share of live maps whose own pattern drives them hardest;
  - clip: the median share of a pattern's pixels with a channel at 0 or 255;
  - hf: the median high-frequency share of the patterns, as a multiple of natural images' (evaluation/naturalness);
  - sat: their median HSV saturation, as a multiple of natural images';
  - flags: maps still collapsed / failed / capped / noisy / garish after the repairs, and how many patterns they
    replaced;
    "twins": how many of the collapsed are twins of another map (self_check.twins).

--xplique adds xplique 2.0.2's Fourier recipe at the same steps, in a child
process with TensorFlow's default threads (install it as
benchmarks/bench_patterns.py says). The goals (issue #30): ratio>=1 >= 95%,
spec >= 0.95, clip <= 10%, hf <= 3x, sat <= 1.5x.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_line, in_default_threads

from featviz import models, patterns
from featviz.evaluation import naturalness, scoring
from featviz.execution.driver import run_job
from featviz.files.output import OutputDir
from featviz.models.inputs import resolve_input
from featviz.natural import datasets
from featviz.pixels import images
from featviz.pixels.preprocess import Preprocess
from featviz.synthesis.render import Recipe

REPO = Path(__file__).resolve().parent.parent
ZOO = REPO / "models" / "zoo"
BUNDLED = [  # (file, dataset, input range, innermost, middle): the bundled models, as zoo members
    ("mnist_cnn.keras", "models/exemplars.npz", None, "conv3", "conv2"),
    ("cifar10_resnet_v2.keras", "models/cifar10_exemplars.npz", None, "post_relu", "s2u2_conv2"),
    ("cifar10_plain_deep.keras", "models/cifar10_exemplars.npz", None, "post_relu", "s2u2_conv1"),
]
# Recipes by name, for a model whose images have `channels`: changes to featviz's default Recipe.
V06 = {"decay": 1.0, "chroma": 1.0, "repair": False}  # featviz 0.6: lucid's 1/f, the data's full colour, no repair
RECIPES = {
    "default": lambda channels: {},
    "float32": lambda channels: {"precision": "float32"},
    "no-repair": lambda channels: {"repair": False},
    "v0.6": lambda channels: V06 | ({"param": "fourier", "lr": 0.05} if channels == 3 else {"param": "pixels"}),
    "maco": lambda channels: {"param": "maco"},
    "pixels": lambda channels: {"param": "pixels", "colour": None},
}


@dataclass
class Row:
    model: str
    layer: str
    role: str
    maps: int
    recipe: str
    seconds: float
    live: int
    at_least_one: int
    median_ratio: float | None
    specificity: float | None
    clipped: float | None
    hf: float
    sat: float
    collapsed: int = 0
    failed: int = 0
    capped: int = 0
    noisy: int = 0
    garish: int = 0
    repaired: int = 0
    twins: int = 0  # collapsed maps that are twins of another map (self_check.twins)

    def line(self) -> str:
        share = self.at_least_one / max(self.live, 1)
        spec = "  n/a" if self.specificity is None else f"{self.specificity:5.2f}"
        clip = "  n/a" if self.clipped is None else f"{self.clipped:5.1%}"
        flags = f"{self.collapsed}/{self.failed}/{self.capped}/{self.noisy}/{self.garish} ({self.repaired})"
        flags += f" twins {self.twins}" if self.twins else ""
        return (f"  {self.role:<9} {self.layer:<22} {self.recipe:<10} {self.seconds:7.1f} s  ratio>=1 {share:6.1%} "
                f"(median {self.median_ratio or 0:5.2f})  spec {spec}  clip {clip}  hf {self.hf:5.2f}x  "
                f"sat {self.sat:5.2f}x  flags {flags}")  # fmt: skip


SHOWN: dict[tuple[str, str], np.ndarray] = {}  # (model and layer, recipe) -> its first patterns, for --figure
FIGURE_MAPS = 12


def members(split: str, names: list[str] | None, bundled: bool) -> list[dict]:
    """The zoo's cards (and the bundled models, as cards) to measure."""
    cards = json.loads((ZOO / "zoo.json").read_text())
    chosen = [c for c in cards if split == "all" or c["split"] == split]
    if bundled:
        chosen += [
            {"name": name.removesuffix(".keras"), "file": name, "dataset": data, "featviz_flags": [],
             "layers": {"innermost": inner, "middle": middle}, "split": "bundled"}
            for name, data, _, inner, middle in BUNDLED
        ]  # fmt: skip
    return [c for c in chosen if names is None or c["name"] in names]


def input_of(card: dict) -> Preprocess | None:
    flags = card.get("featviz_flags", [])
    if "--input-range" in flags:
        lo, hi = (float(v) for v in flags[flags.index("--input-range") + 1].split(","))
        return Preprocess.range(lo, hi)
    return None


def model_path(card: dict) -> Path:
    """A zoo member's file (its card names it from the checkout's top), or a bundled model's name."""
    file = card.get("file", card["name"] + ".keras")
    return REPO / file if (REPO / file).exists() else Path(file)


def measure(loaded, card: dict, role: str, recipes: list[str], steps: int) -> list[Row]:
    layer = models.resolve_layer(loaded.model, card["layers"][role], flat=True)
    data = datasets.load(REPO / card["dataset"])
    value_range = resolve_input(loaded.model, input_of(card))
    canvas = patterns.canvas_for(loaded.model, layer, None)
    shape = (*canvas, models.image_channels(loaded.model))
    natural = naturalness.Naturalness.of(data.spread(naturalness.NATURAL_IMAGES, shape))
    rows = []
    for name in recipes:
        recipe = replace(Recipe(steps=steps), **RECIPES[name](shape[-1]))
        request = patterns.PatternRequest(layer, canvas, input_range=value_range, recipe=recipe)
        job = patterns.prepare(loaded, request, range(layer.units), data)
        with tempfile.TemporaryDirectory() as tmp, OutputDir(tmp) as out:
            start = time.perf_counter()
            done = run_job(job, out)
            seconds = time.perf_counter() - start
        rows.append(row(card, layer, role, name, seconds, done.scores, done.images, natural))
        SHOWN[(f"{card['name']} {role}: maps 0-{FIGURE_MAPS - 1}", name)] = done.images[:FIGURE_MAPS]
    return rows


def figure(path: str, shown: dict[tuple[str, str], np.ndarray]) -> None:
    """One row of pictures (as saved) per (title, label) of `shown`, at most FIGURE_MAPS each; a title
    is written where it changes."""
    from matplotlib.figure import Figure

    height = len(shown) * 1.35 + 0.3
    fig = Figure(figsize=(FIGURE_MAPS * 1.1, height))
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.1 / height, top=1 - 0.35 / height, wspace=0.06, hspace=0.35)
    for i, ((title, label), pictures) in enumerate(shown.items()):
        for j, picture in enumerate(pictures[:FIGURE_MAPS]):
            ax = fig.add_subplot(len(shown), FIGURE_MAPS, i * FIGURE_MAPS + j + 1)
            ax.imshow(picture.squeeze(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, fontsize=10)
            if j == 0 and (i == 0 or list(shown)[i - 1][0] != title):
                ax.set_title(title, fontsize=10, loc="left")
    fig.savefig(path, dpi=100)


def row(card, layer, role, recipe, seconds, scores, pictures, natural) -> Row:
    s = scoring.summarize(scores)
    found = naturalness.Naturalness.of(pictures).relative_to(natural)
    flags = {f: sum(f in (m.flags or []) for m in scores) for f in scoring.FLAGS}
    repaired = sum(bool(m.repaired) for m in scores)
    quality = (s.live, s.at_least_one, s.median_ratio, s.specificity, s.clipped)
    looks = (found.high_frequency, found.saturation)
    return Row(
        card["name"], layer.name, role, layer.units, recipe, seconds, *quality, *looks, **flags, repaired=repaired,
        twins=s.twins,
    )  # fmt: skip


def xplique_row(card: dict, role: str, steps: int, loaded) -> Row | None:
    """xplique's Fourier recipe with its defaults, all maps in one batch, in a child process."""
    layer = models.resolve_layer(loaded.model, card["layers"][role], flat=True)
    convention = input_of(card) or Preprocess()
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "x.npy")
        try:
            seconds = in_default_threads("bench_zoo", "xplique_images", model=str(model_path(card)), layer=layer.name,
                                     steps=steps, lo=convention.offset[0],
                                     hi=convention.offset[0] + convention.scale[0], out=out)  # fmt: skip
        except RuntimeError as e:  # xplique finds layers by name in the outer model only: nested ones fail
            print(f"  xplique failed on {layer.name}: {str(e).strip().splitlines()[-1][:160]}")
            return None
        if seconds is None:
            return None
        pictures = np.load(out)
    data = datasets.load(REPO / card["dataset"])
    value_range = resolve_input(loaded.model, input_of(card))
    job = patterns.prepare(loaded, patterns.PatternRequest(layer, pictures.shape[1:3], input_range=value_range),
                           range(layer.units), data)  # fmt: skip
    saved = images.from_uint8(images.to_uint8(pictures))
    matrix = scoring.responses(
        loaded.model, layer.name, range(layer.units), images.to_range(saved, value_range), "mean"
    )
    scores = scoring.score(np.diagonal(matrix), list(range(layer.units)), job.natural.best, ["x"] * layer.units)
    for s, specific, pattern in zip(scores, scoring.specific(matrix), saved):
        s.specific, s.clipped = bool(specific), scoring.clipped(pattern)
    shape = saved.shape[1:]
    natural = naturalness.Naturalness.of(data.spread(naturalness.NATURAL_IMAGES, shape))
    return row(card, layer, role, "xplique", seconds, scores, saved, natural)


def xplique_images(model: str, layer: str, steps: int, lo: float, hi: float, out: str) -> float | None:
    try:
        from xplique.features_visualizations import Objective, optimize
    except ImportError:
        return None
    keras_model = models.load(model).model
    units = models.resolve_layer(keras_model, layer, flat=True).units
    objective = Objective.channel(keras_model, layer, list(range(units)))
    start = time.perf_counter()
    shape = models.input_shape(keras_model)[:2]
    found, _ = optimize(objective, nb_steps=steps, custom_shape=shape, values_range=(lo, hi))
    seconds = time.perf_counter() - start
    np.save(out, np.clip((np.asarray(found[-1], np.float32) - lo) / (hi - lo), 0, 1))
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", choices=["tune", "held_out", "all"], default="all")
    p.add_argument("--models", default=None, help="comma-separated zoo names (default: the split's)")
    p.add_argument("--bundled", action="store_true", help="also the bundled MNIST CNN and CIFAR-10 pair")
    p.add_argument("--roles", default="innermost,middle")
    p.add_argument("--recipes", default="default", help=f"comma-separated, of: {', '.join(RECIPES)}")
    p.add_argument("--steps", type=int, default=256)
    p.add_argument("--xplique", action="store_true")
    p.add_argument("--json", default=None, help="append the rows here, one JSON object per line")
    p.add_argument("--figure", default=None, help="draw each row's first 12 patterns into this PNG")
    args = p.parse_args()
    print(f"machine: {cpu_line()}; {args.steps} steps")
    names = args.models.split(",") if args.models else None
    for card in members(args.split, names, args.bundled):
        loaded = models.load(model_path(card))
        print(f"{card['name']} ({card['split']})")
        for role in args.roles.split(","):
            rows = measure(loaded, card, role, args.recipes.split(","), args.steps)
            if args.xplique:
                rows.append(xplique_row(card, role, args.steps, loaded))
            for r in filter(None, rows):
                print(r.line(), flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(asdict(r)) + "\n")
    if args.figure:
        figure(args.figure, SHOWN)


if __name__ == "__main__":
    main()
