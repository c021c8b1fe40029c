"""Fuzz featviz's model loaders for longer than the tests do, and tally how every input ended.

    python benchmarks/fuzz_loaders.py --examples 5000 --seconds 600

Each input is a real model config mutated by tests/fuzzing.py, written as a
.keras or .h5 file. It goes through featviz's config checks and repair in
this process, then through featviz.models.load in a child process. Every
input must load or raise FeatvizError with a one-line message: anything
else (another exception, a timeout, a crash, code from the file run, an
allocation that ran out of memory) is listed with its file, kept under
--keep, and makes the exit status 1.

`--examples 20000 --seconds 720 --seed 20260` on 2 busy cores (December
2026) tried 20,000 inputs in 677 s. Checks and repair: 10,477 passed, 9,523
FeatvizError. Load: 2,618 loaded, 17,382 FeatvizError (Keras could not
load the config and neither could the repair, 7,314; model_config not JSON
text, 4,540; nested over 100 levels, 1,568; code refused, 1,448; more
weights asked for than the file holds, 70; the rest other broken files).
No other exception, timeout, crash, code run or out-of-memory error; the
slowest load took 2.2 s.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # this checkout's featviz, and the fuzzing helpers

import fuzzing  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="inputs to try at most")
    parser.add_argument("--seconds", type=float, default=600, help="stop after this long")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed, to repeat a run")
    parser.add_argument("--keep", type=Path, default=Path("fuzz-failures"), help="where failing inputs are copied")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="featviz-fuzz-") as tmp:
        return run(Path(tmp), args)


def run(tmp: Path, args: argparse.Namespace) -> int:
    marker = tmp / "MARKER"
    fuzzing.write_marker_module(tmp / "marker", marker)
    sys.path.insert(0, str(tmp / "marker"))
    worker = fuzzing.LoadWorker(tmp / "marker")
    worker.start()  # it imports TensorFlow while the seeds are written
    seeds = fuzzing.build_seeds(tmp / "seeds")
    stages = {"checks and repair": fuzzing.pure_outcome, "load": worker.load}
    tallies = {stage: Counter() for stage in stages}
    slowest = dict.fromkeys(stages, (0.0, ""))
    failures: list[str] = []
    start = time.monotonic()

    def one(case: fuzzing.Case) -> None:
        if time.monotonic() - start > args.seconds:
            return
        path = fuzzing.write_case(case, tmp)
        for stage, run_stage in stages.items():
            began = time.monotonic()
            outcome = run_stage(path)
            took = time.monotonic() - began
            if marker.exists():
                outcome = {"end": "code-ran"}
                marker.unlink()
            tallies[stage][fuzzing.ending(outcome)] += 1
            slowest[stage] = max(slowest[stage], (took, fuzzing.ending(outcome)))
            if outcome["end"] not in fuzzing.GOOD_ENDS:
                failures.append(_keep(path, args.keep, len(failures), stage, outcome))

    strategy_settings = settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    test = given(fuzzing.cases(seeds))(one)
    test = strategy_settings(seed(args.seed)(test) if args.seed is not None else test)
    try:
        test()
    finally:
        worker.close()
    _report(tallies, slowest, failures, time.monotonic() - start)
    return 1 if failures else 0


def _keep(path: Path, folder: Path, index: int, stage: str, outcome: dict) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / f"{index:04d}-{path.name}"
    shutil.copyfile(path, kept)
    detail = outcome.get("message", "") or outcome.get("code", "")
    return f"{kept} [{stage}] {fuzzing.ending(outcome)}: {str(detail)[:300]!r} {outcome.get('traceback', '')}"


def _report(tallies: dict[str, Counter], slowest: dict, failures: list[str], seconds: float) -> None:
    for stage, counts in tallies.items():
        took, label = slowest[stage]
        print(f"{stage}: {sum(counts.values())} inputs in {seconds:.0f} s; the slowest took {took:.1f} s ({label})")
        for label, n in counts.most_common():
            print(f"  {n:6d}  {label}")
    print(f"{len(failures)} inputs ended otherwise than loaded or FeatvizError")
    shown = Counter()
    for line in failures:  # the first three files of each kind of failure
        kind = line.split("] ", 1)[-1].split(":", 1)[0]
        shown[kind] += 1
        if shown[kind] <= 3:
            print(f"  {line}")


if __name__ == "__main__":
    sys.exit(main())
