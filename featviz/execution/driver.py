"""The driver: plan units from the manifests, run them on an executor, save and score what comes back.

Whichever executor runs the units, only the driver writes files: it saves
each unit's PNGs atomically, finishes a folder's manifest as soon as its
last unit is in (so a killed driver, started again, reuses every finished
folder), and notes which worker ran each unit in .featviz-units.json.
"""

from __future__ import annotations

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
        i = owner[done.unit.key]
        _keep(stores[i], done)
        ledger.note(done)
        pending[i] -= 1
        if not pending[i]:
            results[i] = stores[i].finish(grids[i])
    return [results[i] for i in range(len(stores))]


def _plan(stores: list[Store], progress) -> tuple[list[Unit], dict[str, int], list[int]]:
    units, owner, pending = [], {}, []
    for i, store in enumerate(stores):
        todo = store.missing()
        reused = len(store.job.maps) - len(todo)
        if progress is not None and reused:
            progress(reused * store.job.request.recipe.steps)
        chunks = patterns.chunks(todo)
        for chunk in chunks:
            unit = Unit(store.job.request, tuple(chunk))
            units.append(unit)
            owner[unit.key] = i
        pending.append(len(chunks))
    return units, owner, pending


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
