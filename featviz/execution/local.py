"""The in-process executor: tasks one after another, with step-by-step progress."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .. import models
from ..natural import exemplars
from ..patterns import manifest
from .tasks import Done, Task


class LocalExecutor:
    name = "local"
    workers = 1

    def __init__(self, loaded: models.LoadedModel):
        self.loaded = loaded

    def render(self, tasks: Sequence[Task], progress=None) -> Iterator[Done]:
        for task in tasks:
            found = task.render(self.loaded.model, progress)
            yield Done(task, found, self.name, manifest.this_machine(task.precision))

    def scan(self, layers: Sequence[str], dataset, input_range, top_k: int, progress=None) -> dict:
        return exemplars.scan(
            self.loaded.model, layers, dataset, input_range, exemplars.ScanOptions(top_k=top_k), progress
        )

    def close(self) -> None:
        pass
