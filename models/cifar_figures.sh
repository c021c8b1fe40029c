#!/usr/bin/env bash
# Redo every CIFAR-10 figure and measurement in the main README from the bundled pair.
#
#     bash models/cifar_figures.sh [LOGS]     # about an hour on 2 cores; logs in LOGS
#
# The two compare figures are written into gallery/compare/ (a new folder when the
# models change: git rm the old one). bench_colour's xplique rows need xplique
# installed as benchmarks/bench_patterns.py says; without it they are left out
# (check with: python -c "import xplique.features_visualizations").
set -euo pipefail
cd "$(dirname "$0")/.."
logs=${1:-/tmp/featviz-cifar-figures}
mkdir -p "$logs"
resnet=cifar10_resnet_v2.keras
plain=cifar10_plain_deep.keras

featviz compare "$resnet" "$plain" --image cifar-cat-0.png --out gallery | tee "$logs/compare-cat.txt"
featviz compare "$resnet" "$plain" --classes --out gallery | tee "$logs/compare-classes.txt"

python benchmarks/bench_colour.py --model "$resnet" --figure gallery/cifar/recipes.png | tee "$logs/colour-resnet.txt"
python benchmarks/bench_colour.py --model "$plain" | tee "$logs/colour-plain.txt"

# The trust table: the middle and the innermost layer of each model.
for pair in "$resnet s2u2_conv2" "$resnet s3u3_add" "$plain s2u2_conv1" "$plain post_relu"; do
    read -r model layer <<<"$pair"
    featviz trust "$model" --layer "$layer" --out "$logs/trust" | tee "$logs/trust-${model%.keras}-$layer.txt"
    featviz patterns "$model" --layer "$layer" --diversity 4 --out "$logs/diversity" |
        tee "$logs/diversity-${model%.keras}-$layer.txt"
done

python benchmarks/bench_gallery.py --model "$resnet" --precisions auto --convolutions-only | tee "$logs/gallery-convolutions.txt"
python benchmarks/bench_gallery.py --model "$resnet" --precisions auto | tee "$logs/gallery-default.txt"
