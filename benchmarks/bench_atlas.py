"""Time and peak memory of `featviz atlas`, at each precision, with the time of each stage.

    python benchmarks/bench_atlas.py [--model mnist_cnn.keras] [--dataset PATH] [--layer NAME]
                                     [--precisions auto,float32] [--layout tsne] [--out DIR]

Runs the atlas command end to end in a child process per run (a fresh
Python, as a user runs it) and reports its wall time, the child's peak
resident memory, and the seconds of each stage: the natural images
streamed, the 2-D layout, and the cells rendered. The precision only
changes the rendering: the vectors and the layout are computed the same
way. The precision `auto` picks on this machine is printed with the CPU.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_line, in_child

# Runs `featviz atlas` with a reporter that times its stages; writes peak memory (MB), stage times and stdout.
CHILD = """
import contextlib, io, json, resource, sys, time
import featviz.cli.analysis_commands as commands
from featviz.cli import main

class Timed:
    stages = {}

    @contextlib.contextmanager
    def stage(self, label, total):
        start = time.perf_counter()
        yield lambda n: None
        self.stages[label] = time.perf_counter() - start

    def note(self, text):
        pass

report, sys.argv = sys.argv[1], ["featviz", *sys.argv[2:]]
commands.BARS, printed = Timed(), io.StringIO()
try:
    with contextlib.redirect_stdout(printed):
        main(standalone_mode=False)
finally:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    open(report, "w").write(json.dumps({"mb": peak, "stages": Timed.stages, "lines": printed.getvalue()}))
"""


def run(args: list[str]) -> tuple[float, dict]:
    """Wall seconds and the child's report of one featviz atlas command in a fresh process."""
    return in_child(CHILD, args)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mnist_cnn.keras")
    p.add_argument("--dataset", default=None)
    p.add_argument("--layer", default=None)
    p.add_argument("--precisions", default="auto,float32")
    p.add_argument("--layout", default="tsne")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="featviz-bench-atlas-")
    extra = [*(["--dataset", args.dataset] if args.dataset else []), *(["--layer", args.layer] if args.layer else [])]
    print(" ".join(["featviz atlas", args.model, *extra, "--layout", args.layout, "--classes"]), "(defaults otherwise)")
    print(f"  machine: {cpu_line()}")
    for precision in args.precisions.split(","):
        shutil.rmtree(out, ignore_errors=True)
        command = ["atlas", args.model, *extra, "--layout", args.layout, "--classes", "--precision", precision]
        seconds, found = run([*command, "--out", out])
        stages = ", ".join(f"{label} {s:.1f} s" for label, s in found["stages"].items())
        print(f"  --precision {precision:<8}: {seconds:7.1f} s wall, {found['mb']:6.0f} MB peak ({stages})")
        print("    " + "\n    ".join(found["lines"].splitlines()[:3]))


if __name__ == "__main__":
    main()
