"""Units of pattern work, and what comes back from running one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

import numpy as np

from .. import layout
from ..patterns import PatternRequest

UNITS_LEDGER = ".featviz-units.json"  # unit key -> the worker that rendered it


@dataclass(frozen=True)
class Unit:
    request: PatternRequest
    maps: tuple[int, ...]

    @property
    def key(self) -> str:
        """'layers/04-conv3-dee0c6/seed-0/0000-0127': where its maps go, and which ones."""
        folder = layout.pattern_dir(self.request.layer, self.request.seed, self.request.kind)
        return f"{folder}/{self.maps[0]:04d}-{self.maps[-1]:04d}"


@dataclass
class Done:
    unit: Unit
    images: np.ndarray | None  # (maps, H, W, C) in 0..1; None when the unit failed
    worker: str  # "local", or the Ray worker that ran it
    ran: dict | None = None  # manifest.this_machine() of the worker
    error: str | None = None


class Executor(Protocol):
    name: str

    def render(self, units: Sequence[Unit], progress=None) -> Iterator[Done]:
        """Each unit's images, in the order they finish."""
        ...

    def scan(self, layers: Sequence[str], dataset, input_range, top_k: int, progress=None) -> dict:
        """exemplars.scan over the dataset, wherever the executor runs."""
        ...

    def close(self) -> None: ...
