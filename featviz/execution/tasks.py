"""Units of pattern work, and what comes back from running one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..patterns import layout
from ..patterns.request import PatternRequest
from .batches import synthesize

TASKS_LEDGER = ".featviz-tasks.json"  # task key -> the worker that rendered it


@dataclass(frozen=True)
class Task:
    """Maps of one request, for one seed or several rendered together (small layers fill a batch that way)."""

    request: PatternRequest
    maps: tuple[int, ...]
    seeds: tuple[int, ...] = ()  # (): request.seed alone
    remedy: str | None = None  # a self-check remedy (evaluation/self_check.py) for maps flagged the first time

    @property
    def all_seeds(self) -> tuple[int, ...]:
        return self.seeds or (self.request.seed,)

    @property
    def images(self) -> int:
        return len(self.maps) * len(self.all_seeds)

    @property
    def key(self) -> str:
        """'layers/04-conv3-dee0c6/seed-0/0000-0127' (with '+seeds-0,1,2' for several): where its maps go."""
        folder = layout.pattern_dir(self.request.layer, self.all_seeds[0], self.request.kind)
        more = f"+seeds-{','.join(map(str, self.all_seeds))}" if len(self.all_seeds) > 1 else ""
        remedy = f"+{self.remedy}" if self.remedy else ""
        return f"{folder}/{self.maps[0]:04d}-{self.maps[-1]:04d}{more}{remedy}"

    def render(self, model, progress=None) -> np.ndarray:
        """(seeds x maps, H, W, C): every seed's patterns of the maps, seed after seed."""
        return synthesize(model, self.request, list(self.maps), progress, self.all_seeds, self.remedy)


@dataclass
class Done:
    task: Task
    images: np.ndarray | None  # (maps, H, W, C) in 0..1; None when the task failed
    worker: str  # "local", or the Ray worker that ran it
    ran: dict | None = None  # manifest.this_machine() of the worker
    error: str | None = None


class Executor(Protocol):
    name: str
    workers: int  # tasks it runs at once

    def render(self, tasks: Sequence[Task], progress=None) -> Iterator[Done]:
        """Each task's images, in the order they finish."""
        ...

    def scan(self, layers: Sequence[str], dataset, input_range, top_k: int, progress=None) -> dict:
        """exemplars.scan over the dataset, wherever the executor runs."""
        ...

    def close(self) -> None: ...
