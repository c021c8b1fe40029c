"""Pattern synthesis on a 224x224x3 model: featviz against its compute floor and a roofline, at both precisions.

    python benchmarks/bench_patterns_224.py [--model mobilenetv2|resnet50v2] [--maps 64] [--steps 64]

(with PYTHONPATH=. from a checkout, to measure its featviz rather than an installed one)

keras.applications MobileNetV2 (weights=None: random weights time the same),
64 maps of a middle layer:

  - featviz at --precision float32 and auto, end to end (tracing included);
  - the compute floor: forward FLOPs up to the layer plus the input
    gradient (2x), for every step and map, over this machine's float32 rate
    for one large convolution;
  - the roofline floor: for every layer up to the objective's, its time is
    the larger of its FLOPs (forward and input gradient) at that rate and its
    bytes at this machine's memory bandwidth (a large float32 add, numpy or
    TensorFlow, whichever is faster, measured in the same run); the floor is
    the sum over layers, steps and maps. Bytes are counted in float32:
    forward, a layer reads its inputs and writes its output; backward, it
    reads its output's gradient and writes its inputs' gradients; so
    2 x (inputs + output) x 4 bytes per image, plus its weights read once
    each way per step. Layers without FLOPs that map one tensor element by
    element or pad it (BatchNormalization, activations, ZeroPadding2D) are
    taken as fused into their neighbour and move nothing of their own; an
    Add moves its two inputs and its output;
  - the canvas-wide share: the same steps with an objective on the image
    itself (parameterization, warp and Adam, no network), as a share of a
    full step; it should stay small at 224x224;
  - xplique 2.0.2's Fourier recipe with its defaults on the same maps and
    steps, all maps in one batch, if importable (see bench_patterns.py for
    installing it), in a child process with TensorFlow's default threads;
  - peak memory (of this process).

Issue #34's goals, at float32: MobileNetV2 <= 2.5x its floor, ResNet50V2
<= 1.3x. MobileNetV2's depthwise convolutions, Adds and narrow pointwise
convolutions move more bytes than a large dense convolution per FLOP, so its
compute floor is optimistic; the roofline counts those bytes. The same
script takes --model resnet50v2.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import conv_rate, cpu_line, in_default_threads, memory_rate, prefix_flops

import featviz
from featviz import models, patterns
from featviz.execution import batches
from featviz.models import cost
from featviz.runtime import _tf
from featviz.synthesis import objectives, render

APPS = {"mobilenetv2": "MobileNetV2", "resnet50v2": "ResNet50V2"}


def build(name: str):
    keras = _tf.keras()
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, APPS[name])(weights=None, input_shape=(224, 224, 3))
    layers = models.feature_layers(model)
    return model, layers[len(layers) // 2]


def roofline(model, layer_name: str, maps: int, rate: float, bandwidth: float) -> dict:
    """One step's roofline on `maps` images: {"seconds", "bytes", "memory_bound"}.

    See the module's docstring for the counting rule. "memory_bound" is the
    share of the seconds spent in layers whose bytes take longer than their
    FLOPs.
    """
    values = cost.layer_values(model, (224, 224))
    seconds = moved = bound = 0.0
    for name, flops in cost.layer_flops(model, (224, 224)).items():
        if values[name]:
            nbytes = 2 * 4 * (values[name] * maps + model.get_layer(name).count_params())
            compute, memory = 2 * flops * maps / rate, nbytes / bandwidth
            seconds, moved = seconds + max(compute, memory), moved + nbytes
            bound += memory if memory > compute else 0.0
        if name == layer_name:
            return {"seconds": seconds, "bytes": moved, "memory_bound": bound / seconds}
    raise KeyError(layer_name)


def timed(model, layer, maps: int, recipe) -> float:
    start = time.perf_counter()
    batches.synthesize(model, patterns.PatternRequest(layer, (224, 224), recipe=recipe), list(range(maps)))
    return time.perf_counter() - start


def canvas_only(model, maps: int, recipe) -> float:
    """The same steps, with an objective on the image alone: the parameterization, warp and Adam.

    The objective is the image's mean, whose own cost is negligible (a total
    variation, used before 0.5, cost as much as the rest together).
    """
    objective = objectives.Objective(lambda taps, images: _tf.tf().reduce_mean(images, axis=[1, 2, 3]), name="mean")
    start = time.perf_counter()
    render.render(model, objective, render.Batch.of(maps, (224, 224)), recipe)
    return time.perf_counter() - start


def time_xplique(name: str, maps: int, steps: int) -> float | None:
    """xplique's feature visualization with its defaults, rendered at the model's own 224x224.

    Run it through in_default_threads: with TensorFlow's default threads, as its users do.
    """
    try:
        from xplique.features_visualizations import Objective, optimize
    except ImportError:
        return None
    model, layer = build(name)
    objective = Objective.channel(model, layer.name, list(range(maps)))
    start = time.perf_counter()
    optimize(objective, nb_steps=steps, custom_shape=(224, 224))
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=sorted(APPS), default="mobilenetv2")
    p.add_argument("--maps", type=int, default=64)
    p.add_argument("--steps", type=int, default=64)
    args = p.parse_args()
    model, layer = build(args.model)
    rate, bandwidths = conv_rate(), memory_rate()
    flops = 2 * prefix_flops(model, layer.name, (224, 224)) * args.maps * args.steps
    roof = roofline(model, layer.name, args.maps, rate, max(bandwidths))
    floors = {"compute floor": flops / rate, "roofline": roof["seconds"] * args.steps}
    print(f"{APPS[args.model]} 224x224x3, layer {layer.name}: {args.maps} maps x {args.steps} steps; {cpu_line()}")
    print(f"  featviz {featviz.__version__} from {Path(featviz.__file__).parent} (PYTHONPATH=. measures a checkout)")
    gb = roof["bytes"] * args.steps / 1e9
    numpy, tensorflow = (b / 1e9 for b in bandwidths)
    compute = f"{flops / 1e9:,.0f} GFLOP at {rate / 1e9:.0f} GFLOP/s"
    print(f"  compute floor        : {floors['compute floor']:7.2f} s  ({compute})")
    print(
        f"  roofline floor       : {floors['roofline']:7.2f} s  (the same FLOPs and {gb:,.0f} GB at "
        f"{max(numpy, tensorflow):.1f} GB/s; add: numpy {numpy:.1f}, TensorFlow {tensorflow:.1f} GB/s; "
        f"memory-bound layers {roof['memory_bound']:.0%} of it)"
    )
    timings = {}
    for precision in ("float32", "auto"):
        recipe = render.Recipe(steps=args.steps, precision=precision)
        seconds = timed(model, layer, args.maps, recipe)
        share = canvas_only(model, args.maps, recipe) / seconds
        against = _against(seconds, floors)
        print(f"  featviz {precision:<8}     : {seconds:7.2f} s  = {against}; canvas-wide work {share:.0%}")
        timings[precision] = seconds
    peer = in_default_threads("bench_patterns_224", "time_xplique", name=args.model, maps=args.maps, steps=args.steps)
    if peer is None:
        print("  xplique              : not installed (see bench_patterns.py)")
    else:
        print(
            f"  xplique (float32)    : {peer:7.2f} s  = {_against(peer, floors)}; "
            f"{peer / timings['float32']:.1f} x featviz float32, {peer / timings['auto']:.1f} x featviz auto"
        )
    print(f"  peak memory          : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.0f} MB")


def _against(seconds: float, floors: dict) -> str:
    return ", ".join(f"{seconds / floor:.2f} x {name}" for name, floor in floors.items())


if __name__ == "__main__":
    main()
