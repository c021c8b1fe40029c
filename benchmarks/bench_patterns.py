"""How fast is pattern synthesis, against what, and how good are the patterns?

    python benchmarks/bench_patterns.py [--layer conv3] [--steps 256] [--single-maps 16]

On the bundled MNIST CNN, all maps of one layer, default recipe, it prints
side by side, all measured in this run:

  - featviz: the batched run, end to end (tracing included); the first of
    the runs also pays the one-time XLA compilation of the warp and col2im,
    as a command-line run does;
  - featviz as one chain: the same, with TensorFlow's default threads
    (FEATVIZ_CHAINS=1; see featviz/chains.py), in a child process;
  - one map at a time: the same recipe with a batch of one, timed on
    --single-maps maps and scaled to the whole layer (--single-maps 0 runs
    every map);
  - the compute floor: the run's FLOPs (forward plus input gradient at the
    canvas size, every step and image) over the FLOP rate this machine
    reaches for one large convolution on all cores;
  - in the child process with TensorFlow's default threads, as their users
    run them: tf-keras-vis at the same steps, if it is installed (`pip install .[bench]`):
    all maps in one call (one image per map, as its documentation batches
    several outputs), and one map per call;
  - xplique 2.0.2 at the same steps, if it is importable. Its pins (TensorFlow
    <= 2.20, with CUDA) conflict with featviz's, so install it without them:
    `pip install --no-deps xplique==2.0.2 deprecated einops opencv-python-headless
    scikit-learn threadpoolctl joblib tensorflow-probability==0.25.0
    tf-keras==2.21.0 dm-tree cloudpickle gast decorator wrapt narwhals`
    (tf-keras at your TensorFlow's version);
  - quality: the fraction of live maps whose saved 8-bit pattern reaches
    ratio >= 1, and the peak memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import conv_rate, cpu_line, in_default_threads, prefix_flops

from featviz import models, patterns
from featviz.evaluation import scoring
from featviz.execution import batches
from featviz.natural import datasets, exemplars
from featviz.pixels import images
from featviz.runtime import _tf, chains
from featviz.synthesis import render


def quality(model, layer, maps, unit_images, best) -> tuple[float, float]:
    """Fraction of live maps at ratio >= 1, and the median ratio, of the 8-bit patterns (scoring.py's rule)."""
    pixels = images.from_uint8(images.to_uint8(unit_images, (0.0, 1.0)), (0.0, 1.0))
    values = scoring.objective_values(model, layer.name, maps, pixels, "mean")
    summary = scoring.summarize(scoring.score(values, maps, best, [f"{m}" for m in maps]))
    return summary.at_least_one / max(summary.live, 1), summary.median_ratio or 0.0


def time_featviz(model, layer, maps, recipe) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = batches.synthesize(model, patterns.PatternRequest(layer, (28, 28), recipe=recipe), maps)
    return time.perf_counter() - start, out


def time_single(model, layer, maps, recipe, count: int) -> float:
    chosen = maps if count <= 0 else maps[:: max(1, len(maps) // count)][:count]
    start = time.perf_counter()
    for m in chosen:
        batches.synthesize(model, patterns.PatternRequest(layer, (28, 28), recipe=recipe), [m])
    return (time.perf_counter() - start) * len(maps) / len(chosen)


def time_tf_keras_vis(model, layer, maps, steps, best, batched: bool) -> tuple[float, float] | None:
    """tf-keras-vis's ActivationMaximization with its default recipe, pixels in 0..1.

    batched: all maps in one call, one image per map, as its documentation shows for several
    outputs; else one map per call (featviz's own per-map baseline, and the README's old figure).
    """
    try:
        from tf_keras_vis.activation_maximization import ActivationMaximization
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return None
    keras = _tf.keras()
    net = models.extractor(model, [layer.name])
    head = keras.Model(net.inputs, keras.layers.GlobalAveragePooling2D()(net.outputs[0]))  # the map's mean
    am = ActivationMaximization(head, clone=False)
    shape = models.input_shape(model)
    start = time.perf_counter()
    if batched:
        seed = _tf.tf().random.uniform((len(maps), *shape), 0.0, 1.0, seed=0)
        out = list(am(CategoricalScore(list(maps)), seed_input=seed, steps=steps, input_range=(0.0, 1.0)))
    else:
        out = [am(CategoricalScore([m]), steps=steps, input_range=(0.0, 1.0))[0] for m in maps]
    seconds = time.perf_counter() - start
    pics = np.clip(np.stack(out).astype(np.float32), 0.0, 1.0)
    return seconds, quality(model, layer, maps, pics, best)[0]


def time_xplique(model, layer, maps, steps, best) -> tuple[float, float] | None:
    """xplique's feature visualization with its defaults (Fourier, its standard transforms), at the model's size."""
    try:
        from xplique.features_visualizations import Objective, optimize
    except ImportError:
        return None
    objective = Objective.channel(model, layer.name, list(maps))  # one image per map, one batch
    start = time.perf_counter()
    out, _ = optimize(objective, nb_steps=steps, custom_shape=models.input_shape(model)[:2])
    seconds = time.perf_counter() - start
    pics = np.clip(np.asarray(out[-1], dtype=np.float32), 0.0, 1.0)
    return seconds, quality(model, layer, maps, pics, best)[0]


def natural_best(model, layer) -> np.ndarray:
    stats = exemplars.scan(model, [layer.name], datasets.load(None), options=exemplars.ScanOptions(top_k=0))
    return stats[layer.name].best


def median_run(model, layer, maps, recipe, repeat: int) -> tuple[tuple[float, np.ndarray], list]:
    runs = [time_featviz(model, layer, maps, recipe) for _ in range(repeat)]
    return sorted(runs, key=lambda r: r[0])[len(runs) // 2], runs


def peers(layer: str, steps: int, repeat: int, one_per_call: bool) -> dict:
    """What runs with TensorFlow's default threads (in_default_threads): featviz as one chain, and the peers.

    Each entry is [seconds, fraction of live maps at ratio >= 1], or [seconds of each run] for featviz, or None.
    """
    model = models.load().model
    info = models.resolve_layer(model, layer)
    maps, best = list(range(info.maps)), natural_best(model, info)
    one_chain = {
        p: [r[0] for r in median_run(model, info, maps, render.Recipe(steps=steps, precision=p), repeat)[1]]
        for p in ("float32", "auto")
    }
    return {
        "one_chain": one_chain,
        "tkv_batched": time_tf_keras_vis(model, info, maps, steps, best, batched=True),
        "tkv": time_tf_keras_vis(model, info, maps, steps, best, batched=False) if one_per_call else None,
        "xplique": time_xplique(model, info, maps, steps, best),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layer", default="conv3")
    p.add_argument("--steps", type=int, default=256)
    p.add_argument("--single-maps", type=int, default=16)
    p.add_argument("--repeat", type=int, default=3, help="featviz runs; the median is reported")
    p.add_argument("--skip-tf-keras-vis", action="store_true", help="skip its one-map-per-call run: it takes minutes")
    args = p.parse_args()

    model = models.load().model
    layer = models.resolve_layer(model, args.layer)
    maps = list(range(layer.maps))
    recipe = render.Recipe(steps=args.steps)
    best = natural_best(model, layer)

    rate = conv_rate()
    flops = prefix_flops(model, layer.name, (28, 28)) * 2 * len(maps) * args.steps
    floor = flops / rate
    timings = {
        p: median_run(model, layer, maps, render.Recipe(steps=args.steps, precision=p), args.repeat)
        for p in ("float32", "auto")
    }
    (seconds, unit), runs = timings["auto"]
    frac, median = quality(model, layer, maps, unit, best)
    single = time_single(model, layer, maps, recipe, args.single_maps)
    others = in_default_threads(
        "bench_patterns",
        "peers",
        layer=layer.name,
        steps=args.steps,
        repeat=args.repeat,
        one_per_call=not args.skip_tf_keras_vis,
    )
    tkv_batched, tkv, xpl = others["tkv_batched"], others["tkv"], others["xplique"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"bundled MNIST CNN, {layer.name}: {len(maps)} maps x {args.steps} steps, canvas 28x28")
    print(f"  machine                     : {cpu_line()}")
    print(f"  large-convolution rate here : {rate / 1e9:7.1f} GFLOP/s (float32)")
    print(f"  compute floor               : {floor:7.2f} s  ({flops / 1e9:.0f} GFLOP)")
    for precision, ((took, _), all_runs) in timings.items():
        print(
            f"  featviz --precision {precision:<8}: {took:7.2f} s  = {took / floor:.2f} x floor "
            f"(median of {len(all_runs)}: {', '.join(f'{r[0]:.2f}' for r in all_runs)}; the first run is cold)"
        )
    for precision, all_runs in others["one_chain"].items():
        took = sorted(all_runs)[len(all_runs) // 2]
        print(
            f"  one chain, {precision:<8}        : {took:7.2f} s  = {took / floor:.2f} x floor "
            f"(TensorFlow's default threads; featviz here splits each batch in {chains.count()} chains)"
        )
    scope = "all maps" if args.single_maps <= 0 else f"{min(args.single_maps, len(maps))} maps timed, scaled"
    print(f"  one map at a time           : {single:7.2f} s  = {single / seconds:.1f} x featviz ({scope})")
    for label, found in (("all maps in one call", tkv_batched), ("one map per call", tkv)):
        if found is None:
            print(f"  tf-keras-vis, {label:<14}: skipped, or not installed (pip install .[bench])")
        else:
            print(
                f"  tf-keras-vis, {label:<14}: {found[0]:7.2f} s  = {found[0] / seconds:.1f} x featviz; "
                f"{found[1]:.0%} of live maps at ratio >= 1"
            )
    if xpl is None:
        print("  xplique                     : not installed (see this script's docstring)")
    else:
        print(
            f"  xplique                     : {xpl[0]:7.2f} s  = {xpl[0] / seconds:.1f} x featviz; "
            f"{xpl[1]:.0%} of live maps at ratio >= 1"
        )
    print(
        f"  quality                     : {frac:.1%} of {int((best[maps] > 0).sum())} live maps at ratio >= 1 "
        f"(median {median:.2f})"
    )
    print(f"  peak memory (process RSS)   : {peak:7.0f} MB")


if __name__ == "__main__":
    main()
