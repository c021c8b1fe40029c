"""Where pattern tasks and dataset scans run: in this process, or on a Ray cluster.

A task is one chunk of maps of one layer for one seed or several
(tasks.py). An executor turns tasks into images, streaming each back as
it finishes; the driver (driver.py: run_jobs) saves, reads back and scores
them and keeps the manifests, so the output is the same files whichever
executor ran.

The modules are mapped in docs/architecture.md.
"""

from .tasks import Executor


def make(
    kind: str, loaded, *, address: str | None = None, workers: int | None = None, gpus_per_worker: float = 0.0
) -> Executor:
    """The executor the command line asks for: "local" (this process) or "ray"."""
    if kind == "ray":
        from .ray import RayExecutor

        return RayExecutor(loaded, address=address, workers=workers, gpus_per_worker=gpus_per_worker)
    from .local import LocalExecutor

    return LocalExecutor(loaded)
