"""The in-process executor: units one after another, with step-by-step progress."""

from __future__ import annotations

from typing import Iterator, Sequence

from .. import exemplars, manifest, models
from .units import Done, Unit


class LocalExecutor:
    name = "local"

    def __init__(self, loaded: models.LoadedModel):
        self.loaded = loaded

    def render(self, units: Sequence[Unit], progress=None) -> Iterator[Done]:
        for unit in units:
            found = unit.render(self.loaded.model, progress)
            yield Done(unit, found, self.name, manifest.this_machine(unit.request.recipe.resolved_precision))

    def scan(self, layers: Sequence[str], dataset, input_range, top_k: int, progress=None) -> dict:
        return exemplars.scan(
            self.loaded.model, layers, dataset, input_range, exemplars.ScanOptions(top_k=top_k), progress
        )

    def close(self) -> None:
        pass
