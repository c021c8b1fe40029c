"""`featviz ...` with every render call timed: `python _timed_calls.py LOG featviz-arguments...`.

Each call of the in-process executor appends a JSON line to LOG: its layer, its remedy (null for a first
render, else the self-check's repair), its images and its seconds, tracing included. bench_plan.py sets the
plan's parts against them. Only the in-process executor's calls are timed (not `--executor ray`).
"""

from __future__ import annotations

import json
import sys
import time

from featviz.cli import main
from featviz.execution.tasks import Task


def timed(render, log):
    def call(task: Task, model, progress=None):
        started = time.perf_counter()
        found = render(task, model, progress)
        row = {"layer": task.request.layer.name, "remedy": task.remedy, "images": task.images,
               "seconds": time.perf_counter() - started}  # fmt: skip
        log.write(json.dumps(row) + "\n")
        log.flush()
        return found

    return call


if __name__ == "__main__":
    with open(sys.argv[1], "w") as log:
        Task.render = timed(Task.render, log)
        sys.argv = ["featviz", *sys.argv[2:]]
        main()
