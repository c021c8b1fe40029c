"""The self-check's remedies, each tried on the same flagged maps and judged the same way.

    python benchmarks/bench_remedies.py [--flag collapsed|failed|noisy] [--layers c10_bn_after_gmp:innermost,...]
                                        [--remedies sharper,apart,sharpest] [--figure FILE.png]

For each zoo or bundled layer (as bench_zoo.py names them): render every
map with featviz's default recipe, save as 8-bit, and find the collapsed
maps (another map's pattern drives them at least as hard as their own),
or with --flag failed the live maps a natural image beats (ratio < 1), or
with --flag noisy the specific maps at ratio >= 1 with more than
self_check.NOISY_DETAIL times natural images' fine detail.
Then render those maps with each remedy (execution/batches.remedied), all
in one pass from the same first render, and judge every candidate as the
self-check does (self_check.Judge, by the remedy's rule: better for its
map, and no other map loses its specificity). Prints, per remedy: the
candidates specific for their own map, the share at ratio >= 1, how many
the judge keeps, the layer's specificity after them, and how the
candidates look, then the layer's live maps with the kept ones in: median
high-frequency share and saturation as multiples of natural images' (the
first render's on the header line). --figure draws
the first flagged maps of each layer, as first rendered and as each
remedy renders them. One round; the real self-check runs the
ladder (self_check.REMEDIES), a rung per round.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_zoo
from _common import cpu_line

from featviz import models, patterns
from featviz.evaluation import naturalness, scoring, self_check
from featviz.evaluation.scoring import MapScore
from featviz.execution import batches
from featviz.models.inputs import resolve_input
from featviz.natural import datasets
from featviz.pixels import images

LAYERS = {
    "collapsed": "c10_bn_after_gmp:innermost,c10_wide256:innermost,mnist_cnn:middle,mnist_gelu_bn_after_gmp:middle,"
    "c10_tanh_flat:middle,mnist_dw_relu6:innermost",
    "failed": "c10_plain_small:middle,c10_bn_after_flat:middle,c10_wide256:middle,c10_tanh_flat:middle",
    "noisy": "cifar10_resnet_v2:middle,cifar10_plain_deep:middle,c10_elu_gap:innermost,mnist_cnn:middle,"
    "mnist_dw_relu6:middle,mnist_dw_relu6:innermost",
}
REMEDIES = {"collapsed": "sharper,apart,sharpest", "failed": "restart,sharpest,vivid", "noisy": "smoother"}


def as_saved(found: np.ndarray) -> np.ndarray:
    return images.from_uint8(images.to_uint8(found, (0.0, 1.0)), (0.0, 1.0))


def first_render(name: str, role: str):
    """(job, patterns as saved, responses matrix, natural images' Naturalness) of a zoo or bundled layer
    with the default recipe."""
    card = {c["name"]: c for c in bench_zoo.members("all", None, True)}[name]
    loaded = models.load(bench_zoo.model_path(card))
    layer = models.resolve_layer(loaded.model, card["layers"][role], flat=True)
    data = datasets.load(bench_zoo.REPO / card["dataset"])
    input_range = resolve_input(loaded.model, bench_zoo.input_of(card))
    canvas = patterns.canvas_for(loaded.model, layer, None)
    request = patterns.PatternRequest(layer, canvas, input_range=input_range)
    job = patterns.prepare(loaded, request, list(range(layer.units)), data)
    found = as_saved(batches.synthesize(loaded.model, job.request, job.maps))
    natural = naturalness.Naturalness.of(data.spread(naturalness.NATURAL_IMAGES, found.shape[1:]))
    return job, found, respond(job, found), natural


def respond(job, found: np.ndarray) -> np.ndarray:
    request = job.request
    inputs = images.to_range(found, request.input_range)
    return scoring.responses(job.loaded.model, request.layer.name, job.maps, inputs, request.kind)


def limits_of(matrix: np.ndarray, specific: np.ndarray) -> np.ndarray:
    """self_check.limits of the first render, as the second round's "apart" would see them."""
    values = np.diagonal(matrix)
    scores = {m: MapScore(m, "x.png", float(v), None, None, False, specific=bool(s))
              for m, (v, s) in enumerate(zip(values, specific))}  # fmt: skip
    return np.asarray(self_check.limits(scores, len(values)), np.float32)


def judge(job, matrix: np.ndarray, maps: list[int], candidates: np.ndarray, remedy: str, first: np.ndarray):
    """(own-specific candidates, their share at ratio >= 1, how many self_check.Judge keeps by the remedy's
    rule, and the layer's specificity after them; the layer's pictures with the kept candidates in)."""
    rows = respond(job, candidates)
    best = job.natural.best
    scale = np.where(best > 0, best, 1.0)
    others = [np.delete(matrix[:, m], m).max() for m in maps]
    own = sum(rows[k, m] > o for k, (m, o) in enumerate(zip(maps, others)))
    ratio = np.mean([rows[k, m] / scale[m] >= 1 for k, m in enumerate(maps)])
    keeper, after = self_check.Judge(matrix), first.copy()
    for k, m in enumerate(maps):
        calm = self_check.calmer(remedy, candidates[k], first[m])
        if calm and keeper.offer(m, rows[k], scale[m], self_check.RULES.get(remedy, "better")):
            after[m] = candidates[k]
    kept = int(sum(not np.array_equal(after[m], first[m]) for m in maps))
    return (f"own-specific {own:3d}/{len(maps):<3d} ratio>=1 {ratio:4.0%}  kept {kept:3d}"
            f"  layer specificity -> {keeper.specific().mean():.2f}"), after  # fmt: skip


def flagged(job, found: np.ndarray, matrix: np.ndarray, flag: str) -> list[int]:
    """The live maps of the first render that are collapsed, failed (a natural image beats them), or noisy
    (nothing else wrong, and over self_check.NOISY_DETAIL times natural images' fine detail)."""
    best = job.natural.best
    live = [m for m in job.maps if best is not None and best[m] > 0]
    if flag == "failed":
        return [m for m in live if matrix[m, m] < best[m]]
    specific = scoring.specific(matrix)
    if flag == "noisy":
        limit = self_check.NOISY_DETAIL * job.natural.looks.high_frequency
        return [
            m
            for m in live
            if specific[m] and matrix[m, m] >= best[m] and naturalness.high_frequency_share(found[m]) > limit
        ]
    return [m for m in live if not specific[m]]


def measure(name: str, role: str, flag: str, remedies: list[str]) -> dict[tuple[str, str], np.ndarray]:
    """Prints a layer's lines; returns its pictures for --figure: (title, row label) -> the flagged maps'."""
    start = time.perf_counter()
    job, found, matrix, natural = first_render(name, role)
    specific = scoring.specific(matrix)
    maps = flagged(job, found, matrix, flag)
    live = [m for m in job.maps if job.natural.best[m] > 0]
    print(f"{name} {role} ({job.request.layer.name}): {len(maps)} of {len(job.maps)} {flag}, "
          f"specificity {specific.mean():.2f}, {looks(found[maps], natural)}; the layer's live maps: "
          f"{looks(found[live], natural)} ({time.perf_counter() - start:.1f} s)", flush=True)  # fmt: skip
    if not maps:
        return {}
    title = f"{name} {role}: {flag} maps {', '.join(map(str, maps[: bench_zoo.FIGURE_MAPS]))}"
    shown = {(title, "first render"): found[maps]}
    seed = job.request.seed
    # "longer" goes on from the first render's patterns, as saved
    given = batches.Given({seed: limits_of(matrix, specific)}, {(seed, m): found[m] for m in maps})
    for remedy in remedies:
        start = time.perf_counter()
        pairs = [(seed, m) for m in maps]
        candidates = batches.synthesize_pairs(job.loaded.model, job.request, pairs, remedy=remedy, given=given)
        candidates = as_saved(candidates)
        verdict, after = judge(job, matrix, maps, candidates, remedy, found)
        print(f"  {remedy:<10} {verdict}  {looks(candidates, natural)}; the layer's live maps after: "
              f"{looks(after[live], natural)}  ({time.perf_counter() - start:.1f} s)", flush=True)  # fmt: skip
        shown[(title, remedy)] = candidates
    return shown


def looks(pictures: np.ndarray, natural: naturalness.Naturalness) -> str:
    """The pictures' median high-frequency share and saturation, as multiples of natural images'."""
    found = naturalness.Naturalness.of(pictures).relative_to(natural)
    return f"hf {found.high_frequency:.2f}x sat {found.saturation:.2f}x"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flag", choices=sorted(LAYERS), default="collapsed")
    p.add_argument("--layers", default=None, help="comma-separated model:role (role: innermost or middle)")
    p.add_argument("--remedies", default=None, help="comma-separated (default: by --flag)")
    p.add_argument("--figure", default=None, help="draw each layer's first flagged maps, per remedy, into this PNG")
    args = p.parse_args()
    print(cpu_line(), flush=True)
    shown = {}
    for spec in (args.layers or LAYERS[args.flag]).split(","):
        name, role = spec.split(":")
        shown |= measure(name, role, args.flag, (args.remedies or REMEDIES[args.flag]).split(","))
    if args.figure:
        bench_zoo.figure(args.figure, shown)


if __name__ == "__main__":
    main()
