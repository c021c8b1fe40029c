"""Where pattern units and dataset scans run: in this process, or on a Ray cluster.

A unit is one chunk of maps of one layer for one seed (units.py). An
executor turns units into images, streaming each back as it finishes; the
driver (patterns.run_jobs) saves, reads back and scores them and keeps the
manifests, so the output is the same files whichever executor ran.

    local.py  in this process, one unit after another (the default)
    ray.py    Ray actors that each load the model once, from bytes the driver sends
"""


def make(kind: str, loaded, *, address: str | None = None, workers: int | None = None, gpus_per_worker: float = 0.0):
    """The executor the command line asks for: "local" (this process) or "ray"."""
    if kind == "ray":
        from .ray import RayExecutor

        return RayExecutor(loaded, address=address, workers=workers, gpus_per_worker=gpus_per_worker)
    from .local import LocalExecutor

    return LocalExecutor(loaded)
