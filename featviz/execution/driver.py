"""The driver: plan units from the manifests, run them on an executor, save and score what comes back.

Whichever executor runs the units, only the driver writes files: it saves
each unit's PNGs atomically, finishes a folder's manifest as soon as its
last unit is in (so a killed driver, started again, reuses every finished
folder), and notes which worker ran each unit in .featviz-units.json.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

from .. import patterns
from ..output import OutputDir
from ..pattern_store import PatternSet, Store
from .local import LocalExecutor
from .units import UNITS_LEDGER, Done, Unit


def run_jobs(
    jobs: Sequence["patterns.PatternJob"],
    out: OutputDir,
    executor=None,
    progress: Callable[[int], None] | None = None,
    grids: Sequence[bool] | None = None,
) -> list[PatternSet]:
    """Every job's missing maps, chunk by chunk on the executor (default: this process); one PatternSet per job."""
    stores = [Store(job, out) for job in jobs]
    units, owner, pending = _plan(stores, progress)
    results: dict[int, PatternSet] = {}
    ledger = _Ledger(out)
    grids = list(grids) if grids is not None else [True] * len(jobs)
    for i, store in enumerate(stores):
        if not pending[i]:
            results[i] = store.finish(grids[i])
    for done in (executor or LocalExecutor(jobs[0].loaded)).render(units, progress):
        ledger.note(done)
        for i, part in zip(owner[done.unit.key], _per_seed(done)):
            _keep(stores[i], part)
            pending[i] -= 1
            if not pending[i]:
                results[i] = stores[i].finish(grids[i])
    return [results[i] for i in range(len(stores))]


def _plan(stores: list[Store], progress) -> tuple[list[Unit], dict[str, list[int]], list[int]]:
    """The units, which stores each one feeds (one per seed), and how many units each store waits for.

    Consecutive stores that differ only in their seed and miss the same maps share units: a layer of 16 maps
    and 3 seeds is one batch of 48 images rather than three of 16, and at 32x32 one of 80 maps, 240.
    """
    units, owner, pending = [], {}, [0] * len(stores)
    for group in _seed_groups(stores):
        todo = group[0][1].missing()
        first = group[0][1].job
        if progress is not None and len(first.maps) > len(todo):
            progress((len(first.maps) - len(todo)) * first.request.recipe.steps * len(group))
        per_unit = max(1, patterns.batch_size(first.request.canvas) // max(len(todo), 1))
        for start in range(0, len(group), per_unit):
            part = group[start : start + per_unit]
            seeds = tuple(store.job.request.seed for _, store in part) if len(part) > 1 else ()
            for chunk in patterns.chunks(todo):
                unit = Unit(part[0][1].job.request, tuple(chunk), seeds)
                units.append(unit)
                owner[unit.key] = [i for i, _ in part]
                for i, _ in part:
                    pending[i] += 1
    return units, owner, pending


def _seed_groups(stores: list[Store]) -> list[list[tuple[int, Store]]]:
    """Runs of consecutive (index, store) whose requests differ only in their seed and that miss the same maps."""
    groups: list[list[tuple[int, Store]]] = []
    for i, store in enumerate(stores):
        last = groups[-1][-1][1] if groups else None
        if last is not None and _same_but_seed(last, store):
            groups[-1].append((i, store))
        else:
            groups.append([(i, store)])
    return groups


def _same_but_seed(a: Store, b: Store) -> bool:
    ra, rb = a.job.request, b.job.request
    return (
        a.job.loaded is b.job.loaded
        and replace(ra, seed=rb.seed) == rb
        and ra.seed != rb.seed
        and a.missing() == b.missing()
    )


def _per_seed(done: Done) -> list[Done]:
    """A unit's result split into one Done per seed, in the unit's seed order."""
    seeds = done.unit.all_seeds
    if len(seeds) == 1:
        return [done]
    n = len(done.unit.maps)
    parts = []
    for k, seed in enumerate(seeds):
        unit = Unit(replace(done.unit.request, seed=seed), done.unit.maps)
        found = None if done.images is None else done.images[k * n : (k + 1) * n]
        parts.append(Done(unit, found, done.worker, done.ran, done.error))
    return parts


def _keep(store: Store, done: Done) -> None:
    if done.images is None:
        store.fail(done.unit.maps, done.error or "unknown error")
    else:
        store.save(done.unit.maps, done.images, done.ran)


class _Ledger:
    """.featviz-units.json: which worker rendered each unit (a record of the run, not part of the report)."""

    def __init__(self, out: OutputDir):
        import json

        self.out = out
        try:
            self.units = json.loads(out.path(UNITS_LEDGER).read_text("utf-8"))
        except (OSError, ValueError):
            self.units = {}

    def note(self, done: Done) -> None:
        self.units[done.unit.key] = {"worker": done.worker, "maps": len(done.unit.maps), "failed": done.error}
        self.out.write_json(UNITS_LEDGER, dict(sorted(self.units.items())))
