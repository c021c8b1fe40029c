"""Commands that write reports: gallery, compare."""

from __future__ import annotations

import click

from .. import defaults
from . import options
from .app import UserError
from .options import BARS, echo


@click.command()
@click.argument("model", required=False)
@click.option("--layers", "layer_list", default=None, metavar="A,B,...|all",
              help="Layers to include (default: the convolutions and merges such as residual sums, within "
              "--budget; all: every one of them, whatever the budget).")  # fmt: skip
@click.option("--budget", default=defaults.BUDGET, show_default=True, metavar="DURATION",
              help="When the default gallery is estimated to take longer (e.g. 90s, 30m, 2h), render its block "
              "outputs at one seed, innermost first, within it.")  # fmt: skip
@options.plan
@click.option("--images", "image_specs", multiple=True, metavar="FILE|DIR",
              help="Sample images (repeatable; default: the bundled digits, or CIFAR-10 images for a 32x32x3 "
              "model).")  # fmt: skip
@options.dataset
@options.steps
@options.repair
@click.option("--seeds", default=",".join(map(str, defaults.SEEDS)), show_default=True, metavar="LIST",
              help="Seeds of the patterns on map pages.")  # fmt: skip
@click.option("--negative", is_flag=True,
              help="Also render each signed layer's negative patterns (what drives a map lowest), at the first "
              "seed.")  # fmt: skip
@click.option("--accentuate", is_flag=True, help="Also accentuate each map's top natural image (featviz accentuate).")
@click.option("--diversity", type=click.IntRange(min=2), default=None, metavar="K",
              help="Also K diverse patterns per map.")  # fmt: skip
@click.option("--two-choice", "two_choice_test", is_flag=True,
              help="Also run the two-choice test on every layer (observer: --observer, or another bundled model of "
              "the data).")  # fmt: skip
@options.observer
@click.option("--atlas", is_flag=True,
              help="Also the activation atlas of the innermost layer (featviz atlas), linked from the "
              "index.")  # fmt: skip
@options.colour
@options.precision
@options.inputs
@options.executor
@options.output
@options.model
def gallery(model: str | None, **o) -> None:
    """Write a browsable static report of the whole model: index.html and a page per layer, map and image."""
    from ..evaluation.two_choice import observer_for
    from ..execution.budget import parse_duration
    from ..report import gallery as gallery_api
    from ..report import gallery_plan
    from ..synthesis.render import Recipe

    loaded = options.load(model, o)
    settings = gallery_api.Settings(
        layers=o["layer_list"].split(",") if o["layer_list"] else None, images=o["image_specs"],
        dataset=o["dataset"], seeds=_seeds(o["seeds"]), input_range=options.asked_input(o),
        recipe=Recipe(steps=o["steps"], colour=options.colour_of(o), precision=o["precision"], repair=o["repair"]),
        negative=o["negative"], accentuate=o["accentuate"], diversity=o["diversity"] or 0, atlas=o["atlas"],
        budget=parse_duration(o["budget"]),
    )  # fmt: skip
    if o["two_choice_test"] or o["observer"]:
        settings.observer = observer_for(loaded, o["observer"])
        if settings.observer is None:
            raise UserError("--two-choice needs an observer: pass --observer MODEL (a model of the same data)")
    if o["plan_only"]:
        return echo(
            gallery_plan.plan(loaded, settings, options.folder(o), options.workers(o), calibration=True).lines()
        )
    with options.runner(loaded, o) as runner, options.folder(o) as out:
        echo(gallery_api.run(loaded, settings, out, runner, BARS).lines())


@click.command()
@click.argument("model_paths", nargs=-1, required=True, metavar="MODEL...")
@click.option("--image", "image_path", default=None, help="The image every model looks at.")
@click.option("--classes", "class_patterns", is_flag=True, help="Compare the models' class patterns instead.")
@click.option("--invert", "invert_path", default=None, metavar="IMAGE",
              help="Rebuild IMAGE from each model's layers by depth instead (feature inversion).")  # fmt: skip
@click.option("--top", "top_k", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Patterns of this many most active maps per model.")  # fmt: skip
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help=f"Gradient steps per image (default: {defaults.STEPS} per pattern, {defaults.INVERT_STEPS} per "
              "reconstruction).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@options.precision
@options.inputs
@options.output
@options.model
def compare(model_paths: tuple[str, ...], image_path: str | None, class_patterns: bool, invert_path: str | None,
            **o) -> None:  # fmt: skip
    """The same IMAGE through several models side by side, (--classes) their class patterns, or (--invert) what
    their layers keep of an image.

    Writes PNGs and a page. Bundled models can be named by file name:
    mnist_cnn.keras, mnist_plain_deep.keras, mnist_resnet_v2.keras.
    """
    from ..report import class_compare, invert_compare
    from ..report import compare as compare_api
    from ..synthesis.render import Recipe

    if [image_path is not None, class_patterns, invert_path is not None].count(True) != 1:
        raise click.UsageError("give one of --image IMAGE, --classes, --invert IMAGE")
    recipe = Recipe(steps=o["steps"] or defaults.STEPS, precision=o["precision"])
    comparison = compare_api.Comparison(o["top_k"], options.asked_input(o), recipe, o["seed"])
    loaded = [options.load(p, o) for p in model_paths]
    with options.folder(o) as out:
        if class_patterns:
            echo(class_compare.run(loaded, comparison, out, BARS).lines())
        elif invert_path is not None:
            echo(invert_compare.run(loaded, invert_path, options.inversion_options(o), out, BARS).lines())
        else:
            echo(compare_api.run(loaded, image_path, comparison, out, BARS).lines())


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise UserError(f"--seeds {text!r}: use a list of integers like 0,1,2") from None
