"""Units of pattern work, and what comes back from running one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..patterns import layout
from ..patterns.request import PatternRequest
from ..pixels import images as pictures
from .batches import Given, remedy_recipe, synthesize_pairs

TASKS_LEDGER = ".featviz-tasks.json"  # task key -> the worker that rendered it


@dataclass(frozen=True)
class Task:
    """Maps of one request, for one seed or several rendered together (small layers fill a batch that way).

    With `seeds`, every map at every seed. A self-check repair gathers the flagged maps of several seeds into
    one batch instead: `seed_of` gives each map's seed, and a map may then appear once per seed.
    """

    request: PatternRequest
    maps: tuple[int, ...]
    seeds: tuple[int, ...] = ()  # (): request.seed alone
    remedy: str | None = None  # a self-check remedy (evaluation/self_check.py) for maps flagged the first time
    seed_of: tuple[int, ...] = ()  # (): every map at every one of all_seeds
    limits: tuple[tuple[int, tuple[float, ...]], ...] = ()  # (seed, one per map of the layer): self_check.HOLDING
    # self_check.GOING_ON: each of `pairs`' saved pattern, 8-bit as saved, to go on from
    starts: tuple[np.ndarray, ...] = field(default=(), compare=False)

    @property
    def all_seeds(self) -> tuple[int, ...]:
        if self.seed_of:
            return tuple(dict.fromkeys(self.seed_of))
        return self.seeds or (self.request.seed,)

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """(seed, map) of each image, in the order `render` returns them."""
        if self.seed_of:
            return list(zip(self.seed_of, self.maps))
        return [(s, m) for s in self.all_seeds for m in self.maps]

    @property
    def images(self) -> int:
        return len(self.pairs)

    @property
    def precision(self) -> str:
        """What it computes in: the request's resolved precision, or its remedy's ("finer": float32)."""
        return remedy_recipe(self.request.recipe, self.remedy).resolved_precision

    @property
    def key(self) -> str:
        """'layers/04-conv3-dee0c6/seed-0/0000-0127' (with '+seeds-0,1,2' for several): where its maps go."""
        folder = layout.pattern_dir(self.request.layer, self.all_seeds[0], self.request.kind)
        more = f"+seeds-{','.join(map(str, self.all_seeds))}" if len(self.all_seeds) > 1 else ""
        remedy = f"+{self.remedy}" if self.remedy else ""
        return f"{folder}/{self.maps[0]:04d}-{self.maps[-1]:04d}{more}{remedy}"

    def render(self, model, progress=None) -> np.ndarray:
        """(images, H, W, C): the pattern of each of `pairs`."""
        limits = {seed: np.asarray(row, np.float32) for seed, row in self.limits}
        starts = {pair: pictures.from_uint8(start, (0.0, 1.0)) for pair, start in zip(self.pairs, self.starts)}
        return synthesize_pairs(model, self.request, self.pairs, progress, self.remedy, Given(limits, starts))


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
