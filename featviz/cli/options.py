"""Options shared by the commands, and what turns them into API arguments: the model, input, output, executor.

Nothing here imports TensorFlow: the API is imported inside the helpers, when a command runs.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence

import click

from .. import defaults


def _stack(*options):
    def apply(command):
        for option in reversed(options):
            command = option(command)
        return command

    return apply


model = _stack(
    click.option("--architecture", default=None, metavar="JSON",
                 help="The architecture (model.to_json()) for a weights-only .h5 file."),
    click.option("--trust-model-code", is_flag=True,
                 help="Allow Lambda layers and custom objects for this run (runs code from the file)."),
)  # fmt: skip
inputs = _stack(
    click.option("--input-range", default=None, metavar="LO,HI",
                 help="Pixel range the model takes, e.g. 0,255 for raw pixels "
                 "(default: what the model's own Rescaling or Normalization layer says, else 0,1)."),
    click.option("--preprocess", type=click.Choice(defaults.PREPROCESS_PRESETS), default=None,
                 help="A keras.applications convention: caffe (BGR, ImageNet means), tf (-1..1), "
                 "torch (ImageNet mean/std)."),
    click.option("--mean", default=None, metavar="R,G,B", help="Per-channel mean subtracted (0..1 or 0..255 units)."),
    click.option("--std", default=None, metavar="R,G,B", help="Per-channel standard deviation divided by."),
)  # fmt: skip
output = _stack(
    click.option("--out", default="gallery", show_default=True, type=click.Path(file_okay=False),
                 help="Output folder."),
    click.option("--force", is_flag=True, help="Overwrite files in the output folder that featviz did not write."),
)  # fmt: skip
executor = _stack(
    click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                 help="Run pattern tasks in this process, or on a Ray cluster (pip install 'featviz[ray]')."),
    click.option("--ray-address", default=None, metavar="ADDRESS",
                 help="Ray cluster to join (default: RAY_ADDRESS, else a local Ray)."),
    click.option("--workers", type=click.IntRange(min=1), default=None, help="Ray workers (default: one per CPU)."),
    click.option("--gpus-per-worker", type=click.FloatRange(min=0), default=0.0, help="GPUs for each Ray worker."),
)  # fmt: skip
layer = click.option(
    "--layer", default=None, metavar="NAME|INDEX", help="Layer to show (default: the innermost with spatial maps)."
)
steps = click.option("--steps", type=click.IntRange(min=1), default=defaults.STEPS, show_default=True,
                     help="Gradient-ascent steps per pattern.")  # fmt: skip
repair = click.option("--repair/--no-repair", default=True, show_default=True,
                      help="Render the maps the self-check flags again with a remedy; --no-repair only flags them "
                      "(faster: the first render alone).")  # fmt: skip
precision = click.option("--precision", type=click.Choice(defaults.PRECISIONS), default="auto", show_default=True,
                         help="Compute precision of the optimization; auto uses bfloat16 where the CPU has it "
                         "natively.")  # fmt: skip
colour = click.option("--colour", type=click.Choice(["dataset", "none"]), default="dataset", show_default=True,
                      help="For colour models: optimize in the decorrelated colour of the natural images "
                      "(--dataset), or plain RGB.")  # fmt: skip
dataset = click.option("--dataset", default=None, metavar="PATH",
                       help="Natural images behind the ratio: .npz with x, or a folder, one sub-folder per class "
                       "(default: the bundled exemplars, for a model of 28x28x1 or 32x32x3 input).")  # fmt: skip
plan = click.option("--plan", "plan_only", is_flag=True,
                    help="Print what the run would render, on what device, its estimated time and peak memory "
                    "(from a few timed steps), and exit.")  # fmt: skip
observer = click.option("--observer", default=None, metavar="MODEL",
                        help="The model whose features judge the two-choice test "
                        "(default: another bundled model of the same data).")  # fmt: skip


def load(path: str | None, o: dict):
    """The model at `path` (default: the bundled MNIST CNN), read as --trust-model-code and --architecture say."""
    from .. import models

    loaded = models.load(path, trust_code=o["trust_model_code"], architecture=o["architecture"])
    if o["trust_model_code"]:
        click.echo(f"featviz: warning: running code from {loaded.path} (sha256 {loaded.sha256}), "
                   "as --trust-model-code asks", err=True)  # fmt: skip
    return loaded


def asked_input(o: dict):
    """The input convention the options give, or None: then the model's own layers say."""
    from ..pixels.preprocess import from_options

    return from_options(o["input_range"], o["preprocess"], o["mean"], o["std"])


def resolved_input(loaded, o: dict):
    """The input range the model takes: as the options ask, else as its own layers say, else 0..1."""
    from ..models.inputs import resolve_input

    return resolve_input(loaded.model, asked_input(o))


def inversion_options(o: dict):
    """Feature inversion's settings: --steps (its own default when not given), --tv, --seed, --precision, the input."""
    from ..methods import inversion

    steps, tv = o["steps"] or defaults.INVERT_STEPS, o.get("tv", defaults.INVERT_TV)
    return inversion.Options(asked_input(o), steps, tv, o["precision"], o["seed"])


def workers(o: dict) -> int:
    """The workers a plan divides the pattern work among: --workers on Ray (assumed as fast as this process), else 1."""
    return o["workers"] or 1 if o["executor"] == "ray" else 1


def colour_of(o: dict) -> str | None:
    """--colour as the Recipe's colour: "dataset", or None for plain RGB."""
    return None if o["colour"] == "none" else o["colour"]


def folder(o: dict):
    """The output folder; it says on stderr when another featviz run holds it and this one waits."""
    from ..files.output import OutputDir

    return OutputDir(o["out"], force=o["force"], waiting=lambda line: click.echo(f"featviz: {line}", err=True))


@contextlib.contextmanager
def runner(loaded, o: dict) -> Iterator:
    """The executor that --executor asks for, closed however the run ends (Ctrl-C included)."""
    from .. import execution

    made = execution.make(o["executor"], loaded, address=o["ray_address"], workers=o["workers"],
                          gpus_per_worker=o["gpus_per_worker"])  # fmt: skip
    try:
        yield made
    finally:
        made.close()


def split_model_image(paths: tuple[str, ...]) -> tuple[str | None, str]:
    """[MODEL] IMAGE."""
    if len(paths) in (1, 2):
        return (None, *paths) if len(paths) == 1 else paths
    raise click.UsageError("expected [MODEL] IMAGE")


def echo(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)


class Bars:
    """The API's Reporter on a terminal: a progress bar per stage, notes and plans as 'featviz: note:' and
    'featviz: plan:' lines, on stderr."""

    @contextlib.contextmanager
    def stage(self, label: str, total: int) -> Iterator[Callable[[int], None]]:
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            yield bar.update

    def note(self, text: str) -> None:
        click.echo(f"featviz: note: {text}", err=True)

    def plan(self, lines: Sequence[str]) -> None:
        for line in lines:
            click.echo(f"featviz: plan: {line}", err=True)


BARS = Bars()
