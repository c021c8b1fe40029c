"""How long work reports on itself: stages with a known total, and notes for the reader.

The API never prints. A function that runs long takes a `Reporter`; the
command line passes one that draws progress bars and writes notes on
stderr, and a notebook can pass its own. `Silent` is the default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol


class Reporter(Protocol):
    def stage(self, label: str, total: int) -> contextlib.AbstractContextManager[Callable[[int], None]]:
        """A stage of `total` steps: the context gives the function to call with each batch of steps done."""
        ...

    def note(self, text: str) -> None:
        """Something the reader should know that is not the result: a setting that was changed, a skipped score."""
        ...

    def plan(self, lines: Sequence[str]) -> None:
        """What a long run is about to do, and its estimated time and memory (execution/plan.py), before it starts."""
        ...


class Silent:
    """A Reporter that shows nothing."""

    @contextlib.contextmanager
    def stage(self, label: str, total: int) -> Iterator[Callable[[int], None]]:
        yield lambda steps: None

    def note(self, text: str) -> None:
        pass

    def plan(self, lines: Sequence[str]) -> None:
        pass


SILENT = Silent()
