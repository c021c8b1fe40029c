"""Commands that synthesize images for a layer's maps: patterns, trust, accentuate."""

from __future__ import annotations

import click

from .. import defaults
from . import options
from .options import BARS, echo


@click.command()
@click.argument("model", required=False)
@options.layer
@click.option("--maps", "maps_spec", default=None, metavar="LIST", help="Maps to render, e.g. 0-5,17 (default: all).")
@options.steps
@options.repair
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the start image and the transforms.")
@click.option("--size", type=click.IntRange(min=1), default=None,
              help="Canvas size N (NxN); default: the model's input size.")  # fmt: skip
@click.option("--objective", "kind", type=click.Choice(defaults.OBJECTIVES), default=defaults.OBJECTIVE,
              show_default=True, help="Maximize the mean of each map, or its centre unit.")  # fmt: skip
@click.option("--at", default=None, metavar="Y,X", help="Maximize the unit at this position of each map instead.")
@click.option("--direction", default=None, metavar="FILE.npy",
              help="One pattern along this direction (one weight per map).")  # fmt: skip
@click.option("--diversity", type=click.IntRange(min=2), default=None, metavar="K",
              help="K different patterns per map, with lucid's diversity term aimed at the natural images' spread "
              "(into seed-S-diverse-K/).")  # fmt: skip
@click.option("--param", type=click.Choice(defaults.PARAMS), default=None,
              help="Image parameterization: pixels through a sigmoid, a 1/f-scaled Fourier spectrum, or maco (the "
              "phase only, the magnitude fixed to the --dataset's) (default: pixels for grey images; fourier for "
              "colour images and class patterns).")  # fmt: skip
@click.option("--weights", "show_weights", is_flag=True,
              help="Print what each map is built from instead: the maps below it of largest positive and negative "
              "weight (kernel slices summed, expanded through BatchNormalization and residual sums); renders "
              "nothing.")  # fmt: skip
@options.colour
@options.precision
@options.inputs
@options.dataset
@click.option("--labels", default=None, metavar="FILE", help="Class names, one per line (default: the model card).")
@click.option("--transfer", default=None, metavar="MODEL,...",
              help="For class patterns: other models to read them (default: the other bundled models of the same "
              "data).")  # fmt: skip
@options.plan
@options.executor
@options.output
@options.model
def patterns(model: str | None, **o) -> None:
    """Synthesize the pattern each map of a layer responds to most.

    A flat layer works too: `--layer predictions` gives one pattern per
    class, maximizing its logit. Maps that OUT already holds under the same
    settings are reused.
    """
    from ..methods import built_from, layer_patterns
    from ..synthesis.render import Recipe

    loaded = options.load(model, o)
    recipe = Recipe(steps=o["steps"], param=o["param"], colour=options.colour_of(o), precision=o["precision"],
                    repair=o["repair"])  # fmt: skip
    asked = layer_patterns.PatternOptions(
        layer=o["layer"], maps=o["maps_spec"], labels=o["labels"], size=o["size"], kind=o["kind"], at=o["at"],
        seed=o["seed"], recipe=recipe, input=options.asked_input(o), dataset=o["dataset"],
        transfer=tuple(o["transfer"].split(",")) if o["transfer"] else (), direction=o["direction"],
        diversity=o["diversity"] or 0,
    )  # fmt: skip
    if o["show_weights"]:  # read from the weights: nothing rendered, nothing written
        echo(built_from.run(loaded, asked).lines())
        return
    if o["plan_only"]:
        return echo(layer_patterns.plan(loaded, asked, options.folder(o), options.workers(o)).lines())
    with options.runner(loaded, o) as runner, options.folder(o) as out:
        echo(layer_patterns.run(loaded, asked, out, runner, BARS).lines())


@click.command()
@click.argument("model", required=False)
@options.layer
@options.steps
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the patterns.")
@options.dataset
@options.observer
@options.inputs
@options.output
@options.model
def trust(model: str | None, **o) -> None:
    """How far to trust a layer's patterns: ratio, specificity, clipping and path, per map.

    The patterns are rendered into OUT (or reused from it) as `featviz
    patterns` would. A path marked ! is no closer to the map's top natural
    images than random images' paths are (docs/method.md, "Can you trust a pattern?").
    """
    from ..evaluation.two_choice import observer_for
    from ..methods import trust as trust_api
    from ..methods.layer_patterns import PatternOptions
    from ..synthesis.render import Recipe

    loaded = options.load(model, o)
    asked = PatternOptions(layer=o["layer"], seed=o["seed"], recipe=Recipe(steps=o["steps"]),
                           input=options.asked_input(o), dataset=o["dataset"])  # fmt: skip
    judge = observer_for(loaded, o["observer"])
    with options.folder(o) as out:
        echo(trust_api.run(loaded, asked, out, judge, BARS).lines())


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="[MODEL] IMAGE")
@options.layer
@click.option("--maps", "maps_spec", required=True, metavar="LIST", help="Maps to accentuate, e.g. 0-5,17.")
@click.option("--strength", type=click.FloatRange(min=0), default=100.0, show_default=True,
              help="Weight of the mean squared pixel change: higher keeps the image closer to the "
              "original.")  # fmt: skip
@click.option("--steps", type=click.IntRange(min=1), default=128, show_default=True, help="Gradient-ascent steps.")
@options.inputs
@options.output
@options.model
def accentuate(paths: tuple[str, ...], **o) -> None:
    """Change IMAGE as little as possible until each map responds strongly (feature accentuation).

    Prints each map's mean activation on the image and on its accentuated
    copy, and the root-mean-square pixel change (0..1 units).
    """
    from ..methods import accentuate as accentuate_api

    model_path, image_path = options.split_model_image(paths)
    loaded = options.load(model_path, o)
    settings = accentuate_api.Options(options.resolved_input(loaded, o), o["strength"], o["steps"])
    asked = accentuate_api.Asked(image_path, o["layer"], o["maps_spec"])
    with options.folder(o) as out:
        echo(accentuate_api.accentuate_image(loaded, asked, settings, out, BARS).lines())
