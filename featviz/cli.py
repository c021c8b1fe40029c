"""The featviz command line: parse options, call the API, print what was written.

TensorFlow is imported inside the commands, never at module level, so that
`featviz --help` answers at once.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

import click

from . import __version__, _tf, defaults
from .errors import FeatvizError


class UserError(click.ClickException):
    """One line on stderr, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"featviz: error: {self.format_message()}", err=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: a clean stop that the next run resumes from."""


def _terminate(signum, frame):
    raise Terminated


class Group(click.Group):
    def invoke(self, ctx):
        with _sigterm_as_interrupt():
            try:
                return super().invoke(ctx)
            except FeatvizError as e:
                raise UserError(str(e)) from None
            except KeyboardInterrupt as e:
                click.echo("featviz: stopped; the same command resumes where this run stopped", err=True)
                ctx.exit(143 if isinstance(e, Terminated) else 130)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _output(out, force: bool):
    """The output folder, which says on stderr when another featviz run holds it and this one waits."""
    from .output import OutputDir

    return OutputDir(out, force=force, waiting=lambda line: click.echo(f"featviz: {line}", err=True))


def model_option(command):
    """--trust-model-code and --architecture: how the model file is read."""
    command = click.option(
        "--architecture",
        default=None,
        metavar="JSON",
        help="The architecture (model.to_json()) for a weights-only .h5 file.",
    )(command)
    return click.option(
        "--trust-model-code",
        is_flag=True,
        help="Allow Lambda layers and custom objects for this run (runs code from the file).",
    )(command)


def input_options(command):
    """--input-range, --preprocess, --mean and --std: how pixels become the model's input."""
    options = [
        click.option(
            "--input-range",
            default=None,
            metavar="LO,HI",
            help="Pixel range the model takes, e.g. 0,255 for raw pixels "
            "(default: what the model's own Rescaling or Normalization layer says, else 0,1).",
        ),
        click.option(
            "--preprocess",
            type=click.Choice(defaults.PREPROCESS_PRESETS),
            default=None,
            help="A keras.applications convention: caffe (BGR, ImageNet means), tf (-1..1), torch (ImageNet mean/std).",
        ),
        click.option(
            "--mean", default=None, metavar="R,G,B", help="Per-channel mean subtracted (0..1 or 0..255 units)."
        ),
        click.option("--std", default=None, metavar="R,G,B", help="Per-channel standard deviation divided by."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


layer_option = click.option(
    "--layer", default=None, metavar="NAME|INDEX", help="Layer to show (default: the innermost with spatial maps)."
)
out_option = click.option(
    "--out", default="gallery", show_default=True, type=click.Path(file_okay=False), help="Output folder."
)
steps_option = click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=defaults.STEPS,
    show_default=True,
    help="Gradient-ascent steps per pattern.",
)
precision_option = click.option(
    "--precision",
    type=click.Choice(defaults.PRECISIONS),
    default="auto",
    show_default=True,
    help="Compute precision of the optimization; auto uses bfloat16 where the CPU has it natively.",
)
colour_option = click.option(
    "--colour",
    type=click.Choice(["dataset", "none"]),
    default="dataset",
    show_default=True,
    help="For colour models: optimize in the decorrelated colour of the natural images (--dataset), or plain RGB.",
)
dataset_option = click.option(
    "--dataset",
    default=None,
    metavar="PATH",
    help="Natural images behind the ratio: .npz with x, or a folder, one sub-folder per class "
    "(default: the bundled exemplars, for a model of 28x28x1 or 32x32x3 input).",
)


def executor_options(command):
    """--executor, --ray-address, --workers and --gpus-per-worker: where pattern units run."""
    options = [
        click.option(
            "--executor",
            type=click.Choice(["local", "ray"]),
            default="local",
            show_default=True,
            help="Run pattern units in this process, or on a Ray cluster (pip install 'featviz[ray]').",
        ),
        click.option(
            "--ray-address",
            default=None,
            metavar="ADDRESS",
            help="Ray cluster to join (default: RAY_ADDRESS, else a local Ray).",
        ),
        click.option("--workers", type=click.IntRange(min=1), default=None, help="Ray workers (default: one per CPU)."),
        click.option("--gpus-per-worker", type=click.FloatRange(min=0), default=0.0, help="GPUs for each Ray worker."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


force_option = click.option(
    "--force", is_flag=True, help="Overwrite files in the output folder that featviz did not write."
)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="featviz")
@click.option("--verbose", is_flag=True, help="Show TensorFlow's own log output.")
def main(verbose: bool) -> None:
    """See what the convolutional maps of a trained Keras CNN detect.

    MODEL is a .keras or .h5 file; without it, featviz uses its bundled
    MNIST CNN.
    """
    _tf.set_verbose(verbose)


def _load(model_path: str | None, trust: bool, architecture: str | None = None):
    from . import models

    loaded = models.load(model_path, trust_code=trust, architecture=architecture)
    if trust:
        click.echo(
            f"featviz: warning: running code from {loaded.path} (sha256 {loaded.sha256}), as --trust-model-code asks",
            err=True,
        )
    return loaded


def _split_model_image(paths: tuple[str, ...]) -> tuple[str | None, str]:
    if len(paths) == 1:
        return None, paths[0]
    if len(paths) == 2:
        return paths[0], paths[1]
    raise click.UsageError("expected [MODEL] IMAGE")


@main.command()
@click.argument("model", required=False)
@model_option
def layers(model: str | None, trust_model_code: bool, architecture: str | None) -> None:
    """List the layers of MODEL: class, output shape, maps and parameters."""
    from . import models
    from .models.inputs import expected_input

    loaded = _load(model, trust_model_code, architecture)
    infos = models.list_layers(loaded.model)
    expected = expected_input(loaded.model)
    said = (
        f"{expected.preprocess.describe()}, from {expected.reason}" if expected else "nothing in the model says (0..1)"
    )
    click.echo(
        f"{loaded.name}  input {models.shape_text(models.input_shape(loaded.model))}  sha256 {loaded.sha256[:12]}"
    )
    click.echo(f"input preprocessing: {said}")
    click.echo(_layer_table(infos, models.innermost(infos)))
    click.echo("* has spatial maps   > the default layer: the innermost that computes features")


def _layer_table(infos, inner) -> str:
    from .models import shape_text

    width = max([len(i.name) for i in infos] + [4])
    rows = [f"     #  {'name':<{width}}  {'class':<20} {'output':>12} {'maps':>6} {'params':>10}"]
    for i in infos:
        mark = ">" if i is inner else ("*" if i.spatial else " ")
        maps = str(i.maps) if i.spatial else "-"
        rows.append(
            f"  {mark} {i.index:>2}  {i.name:<{width}}  {i.class_name:<20} "
            f"{shape_text(i.output_shape):>12} {maps:>6} {i.params:>10,}"
        )
    return "\n".join(rows)


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="[MODEL] IMAGE")
@layer_option
@input_options
@click.option(
    "--scale",
    type=click.Choice(["shared", "per-map"]),
    default="shared",
    show_default=True,
    help="One colour scale for all maps, or one per map.",
)
@click.option("--top", "top_k", type=click.IntRange(min=1), default=None, help="Also print the K most active maps.")
@out_option
@force_option
@model_option
def activations(
    paths, layer, input_range, preprocess, mean, std, scale, top_k, out, force, trust_model_code, architecture
) -> None:
    """Show every map of a layer for one IMAGE, as a grid PNG."""
    from . import activations as acts_api
    from . import grids, layout

    model_path, image_path = _split_model_image(paths)
    loaded = _load(model_path, trust_model_code, architecture)
    value_range = _input(loaded, input_range, preprocess, mean, std)
    acts = acts_api.extract(loaded.model, image_path, layer, value_range)
    fig = acts_api.figure(acts, scale=scale, model_name=loaded.name)
    name = layout.activations(Path(image_path), acts.layer)
    with _output(out, force) as folder:
        path = folder.write(name, grids.figure_png(fig))
    if top_k:
        for rank, (index, mean) in enumerate(acts.top(top_k), 1):
            click.echo(f"{rank:>3}. map {index:<5} mean {mean:.4f}")
    click.echo(str(path))


@main.command()
@click.argument("model", required=False)
@layer_option
@click.option("--maps", "maps_spec", default=None, metavar="LIST", help="Maps to render, e.g. 0-5,17 (default: all).")
@steps_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the start image and the transforms.")
@click.option(
    "--size", type=click.IntRange(min=1), default=None, help="Canvas size N (NxN); default: the model's input size."
)
@click.option(
    "--objective",
    "kind",
    type=click.Choice(defaults.OBJECTIVES),
    default=defaults.OBJECTIVE,
    show_default=True,
    help="Maximize the mean of each map, or its centre unit.",
)
@click.option("--at", "at", default=None, metavar="Y,X", help="Maximize the unit at this position of each map instead.")
@click.option(
    "--direction", default=None, metavar="FILE.npy", help="One pattern along this direction (one weight per map)."
)
@click.option(
    "--diversity",
    type=click.IntRange(min=2),
    default=None,
    metavar="K",
    help="K different patterns per map, with lucid's diversity term aimed at the natural images' spread "
    "(into seed-S-diverse-K/).",
)
@click.option(
    "--param",
    type=click.Choice(defaults.PARAMS),
    default=None,
    help="Image parameterization: pixels through a sigmoid, a 1/f-scaled Fourier spectrum, or maco (the phase "
    "only, the magnitude fixed to the --dataset's) (default: pixels for grey images; fourier for colour images "
    "and class patterns).",
)
@colour_option
@precision_option
@input_options
@dataset_option
@click.option("--labels", default=None, metavar="FILE", help="Class names, one per line (default: the model card).")
@click.option(
    "--transfer",
    default=None,
    metavar="MODEL,...",
    help="For class patterns: other models to read them (default: the other bundled models of the same data).",
)
@executor_options
@out_option
@force_option
@model_option
def patterns(
    model,
    layer,
    maps_spec,
    steps,
    seed,
    size,
    kind,
    at,
    direction,
    diversity,
    param,
    colour,
    precision,
    input_range,
    preprocess,
    mean,
    std,
    dataset,
    labels,
    transfer,
    executor,
    ray_address,
    workers,
    gpus_per_worker,
    out,
    force,
    trust_model_code,
    architecture,
) -> None:
    """Synthesize the pattern each map of a layer responds to most.

    A flat layer works too: `--layer predictions` gives one pattern per
    class, maximizing its logit. Maps that OUT already holds under the same
    settings are reused.
    """
    from . import datasets, models

    loaded = _load(model, trust_model_code, architecture)
    request, maps = _pattern_request(loaded, _input(loaded, input_range, preprocess, mean, std))
    images = datasets.for_model(models.input_shape(loaded.model), dataset)
    if direction:
        _direction(loaded, request, direction, images, (out, force))
        return
    if diversity:
        _diverse(loaded, request, maps, images, (out, force, diversity))
        return
    job = _prepared(loaded, request, maps, images)
    with _executor(executor, loaded, ray_address, workers, gpus_per_worker) as runner:
        done, seconds = _rendered(job, runner, out, force)
    _note_restarted(done.restarted)
    click.echo(
        f"{done.summary.line(request.layer.name)}; {done.rendered} rendered, {done.reused} reused in {seconds:.1f} s"
    )
    _class_lines(loaded, done, transfer, request)
    click.echo(f"{done.grid}\n{done.manifest}\n{done.folder / 'map-NNNN.png'}")


def _colour(choice: str) -> str | None:
    """--colour as the Recipe's colour: "dataset", or None for plain RGB."""
    return None if choice == "none" else choice


def _pattern_request(loaded, value_range):
    """The request and maps that `featviz patterns`'s options ask for (read from the click context)."""
    from . import classes, models
    from . import patterns as patterns_api
    from .synthesis.render import Recipe

    o = click.get_current_context().params
    info = models.resolve_layer(loaded.model, o["layer"], flat=True)
    maps = patterns_api.parse_maps(o["maps_spec"], info.units, classes.names(loaded.path, o["labels"]))
    canvas = patterns_api.canvas_for(loaded.model, info, o["size"])
    kind = _unit_kind(o["at"], info) if o["at"] else o["kind"]
    param = o["param"] or (defaults.CLASS_PARAM if classes.is_class_layer(loaded.model, info) else None)
    recipe = Recipe(steps=o["steps"], param=param, colour=_colour(o["colour"]), precision=o["precision"])
    return patterns_api.PatternRequest(info, canvas, kind, value_range, recipe, o["seed"]), maps


def _prepared(loaded, request, maps, images):
    """The job, with the natural images scanned (and a note when there are none to score with)."""
    from . import models
    from . import patterns as patterns_api

    with _progress(len(images) if images is not None else 0, "natural images") as bar:
        job = patterns_api.prepare(loaded, request, maps, images, bar.update)
    if job.natural.best is None:
        _note(f"the patterns are not scored: featviz has no natural images for {models.shape_text(request.canvas)} "
              "input; pass --dataset DIR (or an .npz) with images like the training images to score them")  # fmt: skip
    return job


def _rendered(job, runner, out: str, force: bool):
    """(the job's PatternSet, seconds it took), with a progress bar."""
    import time

    started = time.perf_counter()
    label = f"{job.request.layer.name}: {len(job.maps)} maps"
    with _output(out, force) as folder, _progress(len(job.maps) * job.request.recipe.steps, label) as bar:
        done = job.run(folder, progress=bar.update, executor=runner)
    return done, time.perf_counter() - started


def _direction(loaded, request, path: str, images, output: tuple) -> None:
    from . import directions

    vector = directions.load_vector(path, request.layer.units)
    with _output(*output) as folder:
        found = directions.render_direction(loaded, request, vector, folder, images)
    ratio = "not scored" if found.ratio is None else f"ratio {found.ratio:.2f}"
    click.echo(f"{request.layer.name} along {Path(path).name}: value {found.value:.4g}; {ratio}")
    click.echo(f"{found.png}\n{found.record}")


def _diverse(loaded, request, maps, images, output: tuple) -> None:
    """--diversity K: K patterns per map, scored one by one, with their spread beside the natural images'."""
    import dataclasses

    from . import diversity, exemplars, layout
    from . import patterns as patterns_api

    out, force, k = output
    diversity.style_layer(loaded.model, request.layer)  # refuses a layer with no convolution below, before any work
    recipe = patterns_api.recipe_for(loaded.model, request.recipe, images, request.canvas)
    request = dataclasses.replace(request, recipe=recipe)
    natural = None
    if images is not None:
        options = exemplars.ScanOptions(kind=request.kind, top_k=k)
        stats = exemplars.scan(loaded.model, [request.layer.name], images, request.input_range, options)
        natural = (images, stats[request.layer.name])
    with _progress(len(maps) * k * request.recipe.steps, f"{request.layer.name}: {len(maps)} maps x {k}") as bar:
        found = diversity.diverse(loaded.model, request, maps, k, natural, bar.update)
    folder_name = layout.pattern_dir(request.layer, request.seed, f"diverse-{k}")
    title = f"{loaded.name} · {request.layer.name}: {k} patterns per map (seed {request.seed})"
    with _output(out, force) as folder:
        grid = found.save(folder, folder_name, title)
    for line in found.lines():
        click.echo(line)
    click.echo(str(grid))


def _class_lines(loaded, done, transfer: str | None, request) -> None:
    """For class patterns: the model's own verdict, and other models' (transfer)."""
    from . import classes

    if not classes.is_class_layer(loaded.model, request.layer):
        return
    value_range = request.input_range
    click.echo(classes.verdict_line(done.scores))
    others = [Path(p) for p in transfer.split(",")] if transfer else classes.siblings(loaded) if loaded.bundled else []
    asked = None if not transfer else value_range
    found = classes.transfer(others, done.images, asked)
    for line in classes.transfer_lines(found, [s.map for s in done.scores]):
        click.echo(line)


@contextlib.contextmanager
def _executor(kind: str, loaded, address, workers, gpus_per_worker):
    """The executor for this run, closed however the run ends (Ctrl-C included)."""
    from . import execution

    runner = execution.make(kind, loaded, address=address, workers=workers, gpus_per_worker=gpus_per_worker)
    try:
        yield runner
    finally:
        runner.close()


def _unit_kind(at: str, info) -> str:
    """'at:Y,X' for --at Y,X, checked against the layer's maps."""
    from .synthesis.objectives import parse_kind

    try:
        y, x = parse_kind(f"at:{at}")
    except ValueError:
        raise UserError(f"--at {at!r}: use a position Y,X like 1,2") from None
    if not info.spatial or y >= info.output_shape[0] or x >= info.output_shape[1]:
        raise UserError(f"--at {at!r}: layer {info.name!r} has maps of {info.output_shape[:2]}, no unit there")
    return f"at:{y},{x}"


def _input(loaded, input_range, preprocess, mean, std):
    """The model's input preprocessing: as the options ask, else as the model's own layers say, else 0..1."""
    from .models.inputs import resolve_input
    from .preprocess import from_options

    return resolve_input(loaded.model, from_options(input_range, preprocess, mean, std))


def _note(text: str) -> None:
    click.echo(f"featviz: note: {text}", err=True)


def _progress(length: int, label: str):
    return click.progressbar(length=length, label=label, file=sys.stderr)


def _note_restarted(differences: list[str]) -> None:
    """One line saying why saved patterns were rendered again."""
    if differences:
        shown = "; ".join(differences[:3]) + (" ..." if len(differences) > 3 else "")
        _note(f"saved patterns were rendered again, as the settings differ ({shown})")


@main.command()
@click.argument("model_paths", nargs=-1, required=True, metavar="MODEL...")
@click.option("--image", "image_path", default=None, help="The image every model looks at.")
@click.option("--classes", "class_patterns", is_flag=True, help="Compare the models' class patterns instead.")
@click.option(
    "--top",
    "top_k",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Patterns of this many most active maps per model.",
)
@steps_option
@click.option("--seed", type=int, default=0, show_default=True)
@input_options
@out_option
@force_option
@model_option
def compare(
    model_paths,
    image_path,
    class_patterns,
    top_k,
    steps,
    seed,
    input_range,
    preprocess,
    mean,
    std,
    out,
    force,
    trust_model_code,
    architecture,
) -> None:
    """The same IMAGE through several models side by side, or (--classes) their class patterns.

    Writes a PNG and a page. Bundled models can be named by file name:
    mnist_cnn.keras, mnist_plain_deep.keras, mnist_resnet_v2.keras.
    """
    from .preprocess import from_options
    from .report import compare as compare_api
    from .synthesis.render import Recipe

    if (image_path is None) == (not class_patterns):
        raise click.UsageError("give --image IMAGE, or --classes")
    asked = from_options(input_range, preprocess, mean, std)
    comparison = compare_api.Comparison(top_k, asked, Recipe(steps=steps), seed)
    loaded = [_load(p, trust_model_code, architecture) for p in model_paths]
    if class_patterns:
        _compare_classes(loaded, comparison, out, force)
        return
    with _progress(steps * top_k * len(loaded), "compare") as bar:
        views = [compare_api.view(one, image_path, comparison, bar.update) for one in loaded]
    with _output(out, force) as folder:
        written = compare_api.write(views, loaded, image_path, folder)
    for v in views:
        click.echo(
            f"{v.name}: {v.prediction}; innermost {v.acts.layer.name}; top maps " + ", ".join(str(m) for m, _ in v.top)
        )
    for path in written:
        click.echo(str(path))


def _compare_classes(loaded, comparison, out, force) -> None:
    from . import classes
    from .report import class_compare

    units = sum(classes.class_layer(one.model).units for one in loaded if classes.class_layer(one.model))
    with _progress(comparison.recipe.steps * units, "class patterns") as bar:
        rows = class_compare.class_rows(loaded, comparison, bar.update)
    with _output(out, force) as folder:
        written = class_compare.write(rows, loaded, folder, classes.names(loaded[0].path))
    for row in rows:
        click.echo(
            f"{row.name}'s class patterns, read as their class by: "
            + ", ".join(f"{o} {row.share(o):.0%}" for o in row.reads)
        )
    for path in written:
        click.echo(str(path))


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="[MODEL] IMAGE")
@model_option
def check(paths, trust_model_code, architecture) -> None:
    """Which input does MODEL expect? Its top prediction for IMAGE under each common convention."""
    from . import activations as acts_api
    from . import classes, models
    from .models.inputs import expected_input
    from .preprocess import PRESETS, Preprocess

    model_path, image_path = _split_model_image(paths)
    loaded = _load(model_path, trust_model_code, architecture)
    click.echo(f"{loaded.name} on {Path(image_path).name}")
    expected = expected_input(loaded.model)
    if expected is not None:
        click.echo(f"  the model says: {expected.preprocess.describe()}, from {expected.reason}")
    conventions = {"--input-range 0,1": Preprocess(), "--input-range 0,255": Preprocess.range(0, 255)}
    conventions.update({f"--preprocess {name}": preset for name, preset in PRESETS.items()})
    channels = models.image_channels(loaded.model)
    names = classes.names(loaded.path)
    for label, convention in conventions.items():
        if not convention.fits(channels):
            continue
        preds = acts_api.predict(loaded.model, image_path, convention)
        click.echo(f"  {label:<20} -> {acts_api.describe_predictions(preds[:2], names)}")
    click.echo(
        "The convention the model was trained with gives the right class. Confidence alone misleads: "
        "a ReLU network fed 255x its range often saturates at 100%."
    )


@main.command()
@click.argument("model", required=False)
@click.option(
    "--layers",
    "layer_list",
    default=None,
    metavar="A,B,...",
    help="Layers to include (default: the convolutions and merges such as residual sums).",
)
@click.option(
    "--images",
    "image_specs",
    multiple=True,
    metavar="FILE|DIR",
    help="Sample images (repeatable; default: the bundled digits, or CIFAR-10 images for a 32x32x3 model).",
)
@dataset_option
@steps_option
@click.option(
    "--seeds",
    default=",".join(map(str, defaults.SEEDS)),
    show_default=True,
    metavar="LIST",
    help="Seeds of the patterns on map pages.",
)
@click.option(
    "--negative",
    is_flag=True,
    help="Also render each signed layer's negative patterns (what drives a map lowest), at the first seed.",
)
@click.option("--accentuate", is_flag=True, help="Also accentuate each map's top natural image (featviz accentuate).")
@click.option(
    "--diversity", type=click.IntRange(min=2), default=None, metavar="K", help="Also K diverse patterns per map."
)
@click.option(
    "--two-choice",
    "two_choice_test",
    is_flag=True,
    help="Also run the two-choice test on every layer (observer: --observer, or another bundled model of the data).",
)
@click.option("--observer", default=None, metavar="MODEL", help="The model whose features judge the two-choice test.")
@colour_option
@precision_option
@input_options
@executor_options
@out_option
@force_option
@model_option
def gallery(
    model,
    layer_list,
    image_specs,
    dataset,
    steps,
    seeds,
    negative,
    accentuate,
    diversity,
    two_choice_test,
    observer,
    colour,
    precision,
    input_range,
    preprocess,
    mean,
    std,
    executor,
    ray_address,
    workers,
    gpus_per_worker,
    out,
    force,
    trust_model_code,
    architecture,
) -> None:
    """Write a browsable static report of the whole model: index.html and a page per layer, map and image."""
    from .report import gallery as gallery_api
    from .synthesis.render import Recipe

    try:
        seed_list = [int(s) for s in seeds.split(",")]
    except ValueError:
        raise UserError(f"--seeds {seeds!r}: use a list of integers like 0,1,2") from None
    settings = gallery_api.Settings(
        layers=layer_list.split(",") if layer_list else None,
        images=image_specs,
        dataset=dataset,
        seeds=seed_list,
        recipe=Recipe(steps=steps, colour=_colour(colour), precision=precision),
        negative=negative,
        accentuate=accentuate,
        diversity=diversity or 0,
    )
    loaded = _load(model, trust_model_code, architecture)
    if two_choice_test or observer:
        settings.observer = _observer(loaded, observer)
        if settings.observer is None:
            raise UserError("--two-choice needs an observer: pass --observer MODEL (a model of the same data)")
    settings.input_range = _input(loaded, input_range, preprocess, mean, std)
    images = gallery_api.natural_images(loaded.model, settings)
    if images is None:
        _note("the patterns are not scored: featviz has no natural images for this model's input; pass --dataset")
    total = gallery_api.total_steps(gallery_api.select_layers(loaded.model, settings.layers), settings, loaded.model)
    with _executor(executor, loaded, ray_address, workers, gpus_per_worker) as runner:
        with _progress(len(images) if images is not None else 0, "natural images") as bar:
            natural = gallery_api.scan_natural(loaded, settings, bar.update, runner)
        with _output(out, force) as folder, _progress(total, "patterns") as bar:
            report = gallery_api.build(loaded, folder, settings, bar.update, natural, runner)
    _note_restarted(report.restarted)
    click.echo(
        f"{len(report.layers)} layers, {sum(r.info.maps for r in report.layers)} maps"
        + (f", {report.classes} classes; " if report.classes else "; ")
        + f"{report.rendered} patterns rendered, {report.reused} reused"
    )
    click.echo(str(report.index))


@main.command()
@click.argument("model", required=False)
@layer_option
@steps_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the patterns.")
@dataset_option
@click.option(
    "--observer",
    default=None,
    metavar="MODEL",
    help="The model whose features judge the two-choice test (default: another bundled model of the same data).",
)
@input_options
@out_option
@force_option
@model_option
def trust(
    model, layer, steps, seed, dataset, observer, input_range, preprocess, mean, std, out, force, trust_model_code,
    architecture,
) -> None:  # fmt: skip
    """How far to trust a layer's patterns: ratio, specificity, saturation and path, per map.

    The patterns are rendered into OUT (or reused from it) as `featviz
    patterns` would. A path marked ! is no closer to the map's top natural
    images than random images' paths are (README, "Can you trust a pattern?").
    """
    from . import datasets, models, patterns, two_choice
    from . import trust as trust_api
    from .synthesis.render import Recipe

    loaded = _load(model, trust_model_code, architecture)
    info = models.resolve_layer(loaded.model, layer)
    canvas = patterns.canvas_for(loaded.model, info, None)
    value_range = _input(loaded, input_range, preprocess, mean, std)
    request = patterns.PatternRequest(info, canvas, input_range=value_range, recipe=Recipe(steps=steps), seed=seed)
    images = datasets.for_model(models.input_shape(loaded.model), dataset)
    judge = _observer(loaded, observer)
    total = info.units * steps * (two_choice.REFERENCES if judge is not None else 1)
    with _output(out, force) as folder, _progress(total, f"{info.name}: patterns") as bar:
        found = trust_api.check_layer(loaded, request, images, folder, judge, bar.update)
    head = ["map", "ratio", "specific", "saturation", "path: pattern / random", "two-choice: synthetic / natural"]
    click.echo(_text_table(head, found.rows()))
    click.echo(found.line(info.name))


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="[MODEL] IMAGE")
@layer_option
@click.option("--maps", "maps_spec", required=True, metavar="LIST", help="Maps to accentuate, e.g. 0-5,17.")
@click.option(
    "--strength",
    type=click.FloatRange(min=0),
    default=100.0,
    show_default=True,
    help="Weight of the mean squared pixel change: higher keeps the image closer to the original.",
)
@click.option("--steps", type=click.IntRange(min=1), default=128, show_default=True, help="Gradient-ascent steps.")
@input_options
@out_option
@force_option
@model_option
def accentuate(
    paths, layer, maps_spec, strength, steps, input_range, preprocess, mean, std, out, force, trust_model_code,
    architecture,
) -> None:  # fmt: skip
    """Change IMAGE as little as possible until each map responds strongly (feature accentuation).

    Prints each map's mean activation on the image and on its accentuated
    copy, and the root-mean-square pixel change (0..1 units).
    """
    from . import accentuate as accentuate_api
    from . import activations, layout, models
    from . import patterns as patterns_api

    model_path, image_path = _split_model_image(paths)
    loaded = _load(model_path, trust_model_code, architecture)
    value_range = _input(loaded, input_range, preprocess, mean, std)
    info = models.resolve_layer(loaded.model, layer)
    maps = patterns_api.parse_maps(maps_spec, info.maps)
    seed = activations.prepare_image(loaded.model, image_path, (0.0, 1.0))
    with _progress(len(maps) * steps, f"{info.name}: accentuating {len(maps)} maps") as bar:
        options = accentuate_api.Options(value_range, strength, steps)
        found = accentuate_api.accentuate(loaded.model, info.name, maps, seed, options, bar.update)
    title = f"{loaded.name} · {info.name}: {Path(image_path).name} accentuated (strength {strength:g}, {steps} steps)"
    with _output(out, force) as folder:
        grid = found.save(folder, layout.accentuation_dir(Path(image_path), info), title)
    for line in found.lines():
        click.echo(line)
    click.echo(str(grid))


def _observer(loaded, path: str | None):
    """The two-choice test's observer: --observer, else another bundled model of the same data, else None."""
    from . import classes, models, two_choice

    if path is not None:
        return two_choice.Observer(models.load(path))
    others = classes.siblings(loaded) if loaded.bundled else []
    return two_choice.Observer(others[0]) if others else None


def _text_table(head: list[str], rows: list[list[str]]) -> str:
    """Columns right-aligned to their widest cell."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in [head, *rows])


if __name__ == "__main__":
    main()
