"""How alike a layer's patterns are after the plan's calibration, beside how many maps the self-check flags.

    python benchmarks/bench_alike.py [--flagged]

The plan (featviz/execution/calibration.py) renders a few steps of a run's
costliest call to time it, then measures how many of those few-step
patterns are already specific (each drives its own map harder than any
other map's pattern does). A model with random weights draws alike
patterns, and its self-check renders nearly every map again; under
ALIKE of them specific, the estimate counts repairs for every map. This
prints that share for trained layers and for a MobileNetV2 with random
weights, each from the real calibration of `featviz patterns --plan`.
--flagged also renders each layer in full (minutes at 224 px) and prints
the share of maps the self-check flagged in its first round.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_line

MODELS = Path(__file__).resolve().parent.parent / "models"
CIFAR = MODELS / "cifar10_exemplars.npz"
# (model, layer, input range, natural images); "random-224" is built here
CASES = [
    ("mnist_cnn.keras", "conv1", None, None),
    ("mnist_cnn.keras", "conv2", None, None),
    ("mnist_cnn.keras", "conv3", None, None),
    ("cifar10_resnet_v2.keras", "post_relu", None, None),
    (str(MODELS / "zoo" / "c10_bn_after_gmp.keras"), "block7_relu", None, CIFAR),
    (str(MODELS / "zoo" / "c10_mobilenet_v2_224.keras"), "block_13_expand_relu", "-1,1", CIFAR),
    ("random-224", "block_13_expand_relu", None, None),
]
MAPS = 64  # the first maps of each layer, at most


def random_224(folder: Path) -> str:
    from featviz.runtime import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(0)
    path = folder / "mobilenetv2_035_random.keras"
    keras.applications.MobileNetV2(alpha=0.35, weights=None, input_shape=(224, 224, 3)).save(path)
    return str(path)


def one(path: str, layer: str, input_range: str | None, dataset: Path | None, flagged: bool, out: Path) -> str:
    from featviz import models
    from featviz.files import bundled
    from featviz.files.output import OutputDir
    from featviz.methods import layer_patterns
    from featviz.pixels.preprocess import from_options

    loaded = models.load(bundled.model(path))
    asked = from_options(input_range, None, None, None)
    units = models.resolve_layer(loaded.model, layer, flat=True).units
    options = layer_patterns.PatternOptions(layer=layer, maps=f"0-{min(units, MAPS) - 1}", input=asked, dataset=dataset)
    with OutputDir(out) as folder:
        calibration = layer_patterns.plan(loaded, options, folder).estimate.calibration
        text = f"{calibration.specific:.0%} specific after the calibration"
        if flagged:
            done = layer_patterns.run(loaded, options, folder).done
            first = sum(1 for s in done.scores if s.remedy)  # a remedy was tried: flagged in the first round
            text += f"; the self-check flagged {first} of {len(done.scores)} maps"
    return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flagged", action="store_true", help="also render each layer and count the flagged maps")
    a = p.parse_args()
    print(cpu_line())
    with tempfile.TemporaryDirectory() as tmp:
        for path, layer, input_range, dataset in CASES:
            model = random_224(Path(tmp)) if path == "random-224" else path
            found = one(
                model, layer, input_range, dataset, a.flagged, Path(tmp) / f"out-{len(layer)}-{Path(path).stem}"
            )
            print(f"{Path(path).stem:28} {layer:22} {found}", flush=True)


if __name__ == "__main__":
    main()
