"""The plan's estimate against the run it plans: `featviz gallery` and `featviz patterns`, each in a fresh process.

    python benchmarks/bench_plan.py [--cases mnist,cifar,224,224-gallery] [--precision auto]

For each case the command runs once into an empty temporary folder. The
script reads the plan's "estimated ..." line from stderr, times the run from
the moment the estimate is printed to the end of the process (the time the
estimate speaks of: calibration, loading and start-up come before it), and
prints both with their quotient. Issue #34's goal: the actual time within
0.5x to 2x of the estimate. Every render call is timed (_timed_calls.py), so
that the plan's two rendering parts stand beside what they count: the first
renders ("patterns") and the self-check's repairs, with their calls and images.

  - mnist: the default gallery of the bundled MNIST CNN (702 patterns);
  - cifar: the default gallery of the bundled CIFAR-10 ResNet V2;
  - cifar-seed0: the same at one seed (what a 30-minute budget cuts it to when its
    estimate passes the budget);
  - 224: `featviz patterns` on 64 maps of `block_13_expand_relu` of keras.applications
    MobileNetV2 (alpha 0.35, 224 px, random weights: they time the same), 256 steps:
    the layer of issue #34's Teachable Machine model;
  - 224-gallery: the default gallery of that MobileNetV2 with --budget 5m: the plan cuts
    it to the block outputs that fit (printed), and the run should end within the budget;
  - trained-224, trained-224-gallery: the same two runs on the same architecture trained
    on CIFAR-10 at 224 px (models/zoo/train_224.py), with the CIFAR-10 exemplars as the
    natural images: random weights make the self-check flag nearly every map, a trained
    model far fewer, and the repairs are the part of the run the estimate cannot time.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_line

UNITS = {"h": 3600.0, "min": 60.0, "s": 1.0}
LAYER_224 = "block_13_expand_relu"
GALLERY_BUDGET_224 = "5m"
MODELS = Path(__file__).resolve().parent.parent / "models"
TRAINED_224, CIFAR_EXEMPLARS = MODELS / "zoo" / "c10_mobilenet_v2_224.keras", MODELS / "cifar10_exemplars.npz"


def seconds_of(text: str) -> float:
    """The seconds in the plan's duration text, such as "1 h 2 min" or "3 min 20 s"."""
    return sum(float(n) * UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)\s*(h|min|s)\b", text))


def mobilenet(folder: Path) -> tuple[Path, str]:
    from featviz.runtime import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(alpha=0.35, weights=None, input_shape=(224, 224, 3))
    path = folder / "mobilenetv2_035.keras"
    model.save(path)
    return path, LAYER_224


def command(case: str, folder: Path) -> list[str]:
    if case == "mnist":
        return ["gallery"]
    if case in ("cifar", "cifar-seed0"):
        return ["gallery", "cifar10_resnet_v2.keras", *(["--seeds", "0"] if case == "cifar-seed0" else [])]
    if case.startswith("trained-224"):
        path, flags = str(TRAINED_224), ["--input-range", "-1,1", "--dataset", str(CIFAR_EXEMPLARS)]
    else:
        (path, _), flags = mobilenet(folder), []
    if case.endswith("gallery"):
        return ["gallery", path, "--budget", GALLERY_BUDGET_224, *flags]
    return ["patterns", path, "--layer", LAYER_224, "--maps", "0-63", *flags]


def part(line: str, name: str) -> float:
    """The seconds of one part of the estimate's line, such as "self-check repairs 3 min 4 s"; 0 when not shown."""
    found = re.search(rf"\b{re.escape(name)} ((?:\d+(?:\.\d+)? (?:h|min|s)\s*)+)", line)
    return seconds_of(found.group(1)) if found else 0.0


def calls_text(log: Path, line: str) -> str:
    """The plan's patterns and repairs against the timed calls: seconds, calls, images."""
    rows = [json.loads(text) for text in log.read_text().splitlines()]
    parts = []
    for name, label, mine in (("patterns", "patterns", lambda r: r["remedy"] is None),
                              ("self-check repairs", "repairs", lambda r: r["remedy"] is not None)):  # fmt: skip
        done = [r for r in rows if mine(r)]
        took, images = sum(r["seconds"] for r in done), sum(r["images"] for r in done)
        parts.append(f"{label}: estimated {part(line, name):.0f} s, took {took:.0f} s in {len(done)} calls "
                     f"of {images} images")  # fmt: skip
    return "; ".join(parts)


def run(argv: list[str], out: Path, log: Path) -> tuple[float, float, str]:
    """(estimated seconds, seconds from the estimate to the end, the estimate's line); each call timed into `log`."""
    timed = Path(__file__).resolve().parent / "_timed_calls.py"
    process = subprocess.Popen(
        [sys.executable, str(timed), str(log), *argv, "--out", str(out)], stderr=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line, since = "", None
    for text in process.stderr:
        if "budget" in text:
            print(f"  {text.strip()}")
        if "estimated" in text and since is None:
            line, since = text.strip(), time.perf_counter()
    summary = process.stdout.readline().strip()  # what was rendered, reused and repaired
    if process.wait() != 0 or since is None:
        raise SystemExit(f"featviz {' '.join(argv)} failed or printed no estimate")
    actual = time.perf_counter() - since
    print(f"  {summary}")
    return seconds_of(line.split("estimated", 1)[1].split("(")[0]), actual, line


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default="mnist,cifar,224,224-gallery,trained-224,trained-224-gallery")
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"])
    a = p.parse_args()
    print(cpu_line())
    print(f"{'case':19} {'estimated':>10} {'actual':>10} {'actual/estimated':>17}")
    for case in a.cases.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            argv = [*command(case, Path(tmp)), "--precision", a.precision]
            estimated, actual, line = run(argv, Path(tmp) / "out", Path(tmp) / "calls.jsonl")
            calls = calls_text(Path(tmp) / "calls.jsonl", line)
        print(f"{case:19} {estimated:9.0f}s {actual:9.0f}s {actual / estimated:16.2f}x   ({line})", flush=True)
        print(f"  {calls}", flush=True)


if __name__ == "__main__":
    main()
