"""The driver: tasks cut from the manifests, run them on an executor, save and score what comes back.

Whichever executor runs the tasks, only the driver writes files: it saves
each task's PNGs atomically, finishes a folder's manifest as soon as its
last task is in (so a killed driver, started again, reuses every finished
folder), and notes which worker ran each task in .featviz-tasks.json.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from ..evaluation import self_check
from ..files.output import OutputDir
from ..patterns import PatternJob
from ..patterns.store import PatternSet, Store
from ..pixels import images
from ..synthesis import render
from . import batches
from .local import LocalExecutor
from .tasks import TASKS_LEDGER, Done, Executor, Task


def run_job(
    job: PatternJob, out: OutputDir, progress: Callable[[int], None] | None = None, executor: Executor | None = None
) -> PatternSet:
    """One job's missing maps rendered into `out`; its patterns as saved and scored."""
    return run_jobs([job], out, executor, progress)[0]


def run_jobs(
    jobs: Sequence[PatternJob],
    out: OutputDir,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
    grids: Sequence[bool] | None = None,
) -> list[PatternSet]:
    """Every job's missing maps, chunk by chunk on the executor (default: this process); one PatternSet per job.

    Then the self-check's repair: the maps it flagged are rendered again with their remedy, on the same
    executor, and each keeps the better pattern (patterns/store.py: Store.consider).
    """
    stores = [Store(job, out) for job in jobs]
    tasks, owner, pending = tasks_for(stores, progress)
    ledger = _Ledger(out)
    executor = executor or LocalExecutor(jobs[0].loaded)
    grids = list(grids) if grids is not None else [True] * len(jobs)
    for i, store in enumerate(stores):
        if not pending[i]:
            store.finish(grids[i])
    try:
        for done in executor.render(tasks, progress):
            ledger.note(done)
            for i, part in zip(owner[done.task.key], _per_seed(done)):
                _keep(stores[i], part)
                pending[i] -= 1
                if not pending[i]:
                    store = stores[i]
                    store.finish(grids[i])  # saved and recorded before any repair: a stopped run resumes from here
    finally:
        render.forget_warm()  # a calibrated call not rendered here (another worker ran it, or it was not chosen)
    return _repair(stores, executor, ledger, progress, grids)


def _repair(stores: list[Store], executor: Executor, ledger: _Ledger, progress, grids: list[bool]) -> list[PatternSet]:
    """Each store's flagged maps rendered again with their remedies, a round per rung; the final PatternSets.

    The flagged maps of a layer's seeds go in one batch per remedy, as its first render did: a repair call costs
    a trace and a step whose cores a few images leave idle, whatever its size.
    """
    for _ in range(self_check.ROUNDS):
        tasks, owner = [], {}
        for group in _seed_runs(stores, _same_request):
            for task in _repair_tasks([store for _, store in group]):
                tasks.append(task)
                owner[task.key] = {store.job.request.seed: i for i, store in group}
        if not tasks:
            break
        for done in executor.render(tasks, progress):
            ledger.note(done)
            if done.images is None:  # a remedy whose task failed leaves the pattern, to be tried again
                continue
            for seed, i in owner[done.task.key].items():
                mine = [k for k, s in enumerate(done.task.seed_of) if s == seed]
                if mine:
                    maps = [done.task.maps[k] for k in mine]
                    stores[i].consider(maps, done.images[mine], done.task.remedy, done.ran)
    return [store.finish(grid) for store, grid in zip(stores, grids)]


def _repair_tasks(group: list[Store]) -> list[Task]:
    """The repair tasks of stores that differ only in their seed: per remedy, batch_size(canvas) images each."""
    wanted: dict[str, list[tuple[int, int]]] = {}
    for store in group:
        for remedy, maps in store.repairs().items():
            wanted.setdefault(remedy, []).extend((store.job.request.seed, m) for m in maps)
    request = group[0].job.request
    size = batches.batch_size(request.canvas)
    tasks = []
    for remedy, pairs in wanted.items():
        for start in range(0, len(pairs), size):
            seeds, maps = zip(*pairs[start : start + size])
            limits = _limits(group, seeds, remedy) if remedy in self_check.HOLDING else ()
            starts = _starts(group, seeds, maps, remedy) if remedy in self_check.GOING_ON else ()
            tasks.append(Task(request, maps, remedy=remedy, seed_of=seeds, limits=limits, starts=starts))
    return tasks


def _starts(group: list[Store], seeds: tuple[int, ...], maps: tuple[int, ...], remedy: str) -> tuple[np.ndarray, ...]:
    """Task.starts: each (seed, map)'s saved pattern, 8-bit as saved; for self_check.OVERTAKE, its rival's."""
    store = {s.job.request.seed: s for s in group}

    def source(seed: int, m: int) -> int:
        return store[seed].rival(m) if remedy == self_check.OVERTAKE else m

    return tuple(images.to_uint8(store[seed].patterns([source(seed, m)])[0]) for seed, m in zip(seeds, maps))


def _limits(group: list[Store], seeds: tuple[int, ...], remedy: str) -> tuple:
    """Task.limits for these seeds: each store's self_check.limits for `remedy`, from its current patterns."""
    return tuple((store.job.request.seed, store.limits(remedy)) for store in group if store.job.request.seed in seeds)


def tasks_for(stores: list[Store], progress=None) -> tuple[list[Task], dict[str, list[int]], list[int]]:
    """The tasks, which stores each one feeds (one per seed), and how many tasks each store waits for.

    Consecutive stores that differ only in their seed and miss the same maps share tasks: a layer of 16 maps
    and 3 seeds is one batch of 48 images rather than three of 16, and at 32x32 one of 80 maps, 240.
    """
    tasks, owner, pending = [], {}, [0] * len(stores)
    for group in _seed_groups(stores):
        todo = group[0][1].missing()
        first = group[0][1].job
        if progress is not None and len(first.maps) > len(todo):
            progress((len(first.maps) - len(todo)) * first.request.recipe.steps * len(group))
        per_task = max(1, batches.batch_size(first.request.canvas) // max(len(todo), 1))
        for start in range(0, len(group), per_task):
            part = group[start : start + per_task]
            seeds = tuple(store.job.request.seed for _, store in part) if len(part) > 1 else ()
            for chunk in batches.chunks(todo):
                task = Task(part[0][1].job.request, tuple(chunk), seeds)
                tasks.append(task)
                owner[task.key] = [i for i, _ in part]
                for i, _ in part:
                    pending[i] += 1
    return tasks, owner, pending


def _seed_groups(stores: list[Store]) -> list[list[tuple[int, Store]]]:
    """Runs of consecutive (index, store) whose requests differ only in their seed and that miss the same maps."""
    return _seed_runs(stores, lambda a, b: _same_request(a, b) and a.missing() == b.missing())


def _seed_runs(stores: list[Store], same: Callable[[Store, Store], bool]) -> list[list[tuple[int, Store]]]:
    """Runs of consecutive (index, store), each store `same` as the one before it."""
    groups: list[list[tuple[int, Store]]] = []
    for i, store in enumerate(stores):
        last = groups[-1][-1][1] if groups else None
        if last is not None and same(last, store):
            groups[-1].append((i, store))
        else:
            groups.append([(i, store)])
    return groups


def _same_request(a: Store, b: Store) -> bool:
    """Whether two stores' requests differ only in their seed (and they render with the same model)."""
    ra, rb = a.job.request, b.job.request
    return a.job.loaded is b.job.loaded and replace(ra, seed=rb.seed) == rb and ra.seed != rb.seed


def _per_seed(done: Done) -> list[Done]:
    """A task's result split into one Done per seed, in the task's seed order."""
    seeds = done.task.all_seeds
    if len(seeds) == 1:
        return [done]
    n = len(done.task.maps)
    parts = []
    for k, seed in enumerate(seeds):
        task = Task(replace(done.task.request, seed=seed), done.task.maps)
        found = None if done.images is None else done.images[k * n : (k + 1) * n]
        parts.append(Done(task, found, done.worker, done.ran, done.error))
    return parts


def _keep(store: Store, done: Done) -> None:
    if done.images is None:
        store.fail(done.task.maps, done.error or "unknown error")
    else:
        store.save(done.task.maps, done.images, done.ran)


class _Ledger:
    """.featviz-tasks.json: which worker rendered each task (a record of the run, not part of the report)."""

    def __init__(self, out: OutputDir):
        import json

        self.out = out
        try:
            self.tasks = json.loads(out.path(TASKS_LEDGER).read_text("utf-8"))
        except (OSError, ValueError):
            self.tasks = {}

    def note(self, done: Done) -> None:
        self.tasks[done.task.key] = {"worker": done.worker, "maps": len(done.task.maps), "failed": done.error}
        self.out.write_json(TASKS_LEDGER, dict(sorted(self.tasks.items())))
