"""The command group: one line on stderr and status 2 for a user's error, and a clean stop on Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import signal

import click

from ..errors import FeatvizError
from ..runtime import _tf
from ..version import __version__

STOPPED = "featviz: stopped; the same command resumes where this run stopped"


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
                click.echo(STOPPED, err=True)
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


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="featviz")
@click.option("--verbose", is_flag=True, help="Show TensorFlow's own log output.")
def main(verbose: bool) -> None:
    """See what the convolutional maps of a trained Keras CNN detect.

    MODEL is a .keras or .h5 file; without it, featviz uses its bundled
    MNIST CNN.
    """
    _tf.set_verbose(verbose)
