"""Units and scans on a Ray cluster: actors that load the model once, from bytes the driver sends.

Connect the way Ray users expect: `RAY_ADDRESS` or `--ray-address`; with
neither, a local Ray starts for the run. Workers need neither the user's
files nor the output folder: the model travels as bytes, a dataset slice
as pixels or encoded files, and results come back to the driver, which
alone writes. A task whose worker dies is retried on a restarted actor
(Ray's retries); a task that fails twice comes back as failed, and the rest
of the run goes on.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from .. import models
from ..errors import FeatvizError, first_line
from ..natural import exemplars
from ..patterns import manifest
from .tasks import Done, Task

INSTALL = 'pip install "featviz[ray]"'
ATTEMPTS = 2  # a task that fails this often is recorded as failed


def import_ray():
    try:
        import ray
    except ImportError:
        raise FeatvizError(f"--executor ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


class Worker:
    """One Ray actor: the model, loaded once."""

    def __init__(self, model_bytes: bytes, suffix: str, trust_code: bool):
        with tempfile.TemporaryDirectory(prefix="featviz-worker-") as folder:  # the file is read once, at load
            path = Path(folder) / f"model{suffix}"
            path.write_bytes(model_bytes)
            self.loaded = models.load(path, trust_code=trust_code)
        self.name = f"ray:{os.uname().nodename}:{os.getpid()}"

    def render(self, task: Task):
        found = task.render(self.loaded.model)
        return found, self.name, manifest.this_machine(task.precision)

    def scan(self, layers, dataset, input_range, options: exemplars.ScanOptions):
        return exemplars.scan(self.loaded.model, layers, dataset, input_range, options)

    def pid(self) -> int:
        return os.getpid()


class RayExecutor:
    name = "ray"

    def __init__(self, loaded: models.LoadedModel, *, address: str | None = None, workers: int | None = None,
                 gpus_per_worker: float = 0.0):  # fmt: skip
        self.ray = import_ray()
        self.started = not self.ray.is_initialized()
        if self.started:
            address = address or os.environ.get("RAY_ADDRESS") or None
            self.ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        count = workers or max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        actor = self.ray.remote(num_cpus=1, num_gpus=gpus_per_worker, max_restarts=ATTEMPTS, max_task_retries=1)(Worker)
        self.model = self.ray.put(loaded.path.read_bytes())  # held for the run: a restarted actor reads it again
        self.actors = [actor.remote(self.model, loaded.path.suffix, loaded.trusted) for _ in range(count)]
        self.workers = count

    def render(self, tasks: Sequence[Task], progress=None) -> Iterator[Done]:
        """Units on the actors, one in flight per actor; a task whose task fails goes to the back of the queue."""
        queue = [(task, 1) for task in tasks]
        running: dict = {}
        idle = list(range(len(self.actors)))
        while queue or running:
            while queue and idle:
                task, attempt = queue.pop(0)
                i = idle.pop(0)
                running[self.actors[i].render.remote(task)] = (task, attempt, i)
            if not running:  # every actor is gone
                yield from (Done(task, None, "ray", error="no Ray worker is left") for task, _ in queue)
                return
            ready, _ = self.ray.wait(list(running), num_returns=1)
            task, attempt, i = running.pop(ready[0])
            done, alive = self._collect(ready[0], task, attempt, queue)
            if alive:
                idle.append(i)
            if done is not None:
                if progress is not None:
                    progress(task.images * task.request.recipe.steps)
                yield done

    def _collect(self, ref, task: Task, attempt: int, queue: list) -> tuple[Done | None, bool]:
        """(what came back, or None when the task is queued again; whether the actor still lives)."""
        try:
            found, worker, ran = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            alive = not isinstance(e, self.ray.exceptions.RayActorError)
            if attempt < ATTEMPTS:
                queue.append((task, attempt + 1))
                return None, alive
            return Done(task, None, "ray", error=f"failed {ATTEMPTS} times on Ray workers: {first_line(e)}"), alive
        return Done(task, found, worker, ran), True

    def scan(self, layers: Sequence[str], dataset, input_range, top_k: int, progress=None) -> dict:
        """The dataset split into one slice per worker, scanned in parallel, merged exactly.

        Slices start at multiples of the scan's block, so each image is computed as the whole scan computes it.
        """
        block = exemplars.block_for(len(dataset))
        parts = exemplars.slices(len(dataset), len(self.actors))
        options = [exemplars.ScanOptions(top_k=top_k, offset=start, block=block) for start, _ in parts]
        refs = [
            actor.scan.remote(list(layers), dataset.slice(start, stop), input_range, o)
            for actor, (start, stop), o in zip(self.actors, parts, options)
        ]
        merged = None
        for part in self.ray.get(refs):
            merged = part if merged is None else {name: merged[name].merge(part[name], top_k) for name in layers}
            if progress is not None:
                progress(part[layers[0]].count)
        return merged

    def pids(self) -> list[int]:
        return self.ray.get([actor.pid.remote() for actor in self.actors])

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        if self.started:
            self.ray.shutdown()
