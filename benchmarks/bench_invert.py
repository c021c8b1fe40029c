"""What a layer keeps: feature inversion by depth over several images, per model (docs/results.md).

    python benchmarks/bench_invert.py [--set mnist|cifar] [--steps 1280] [--precision float32]
                                      [--images 10] [--json FILE] [--figure FILE.png]
    python benchmarks/bench_invert.py --load mnist.json cifar.json --figure FILE.png

For each model of the set, every image is rebuilt from noise out of the
activations of each chosen layer (featviz.methods.inversion, the recipe of
`featviz invert`), all images and layers of a model in one batch. Prints,
per model and layer, the relative depth, the SSIM of the reconstructions
against their originals (mean, sd, min..max), the relative activation
error on the saved PNG (mean, max), and as a yardstick for that error the
mean relative error between the activations of two different images of the
set; then the time per model and the CPU. --json keeps every figure;
--figure draws mean SSIM by depth (with the spread) and one image's
reconstructions per model; --load redraws and reports earlier --json files
(the figure in docs/results.md: --load mnist.json cifar.json).

The layers are those at comparable depths in both twins: the stem, then
each unit's output (the residual sum in a ResNet, the unit's second
convolution in its plain twin, which is what the next unit reads).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from featviz import models
from featviz.methods import inversion
from featviz.methods.activations import prepare_image
from featviz.models import depth
from featviz.models.inputs import resolve_input
from featviz.pixels import images

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
UNITS = [f"s{s}u{u}" for s in (1, 2, 3) for u in (1, 2, 3)]
SETS = {
    "mnist": (
        [f"digit{i}.png" for i in range(10)],
        {
            "mnist_cnn.keras": ["conv1", "conv2", "conv3"],
            "mnist_plain_deep.keras": ["stem", *(f"{u}_conv2" for u in UNITS)],
            "mnist_resnet_v2.keras": ["stem", *(f"{u}_add" for u in UNITS)],
        },
    ),
    "cifar": (
        [f"cifar-{c}-0.png" for c in CIFAR_CLASSES],
        {
            "cifar10_plain_deep.keras": ["stem", *(f"{u}_conv2" for u in UNITS)],
            "cifar10_resnet_v2.keras": ["stem", *(f"{u}_add" for u in UNITS)],
        },
    ),
}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def measure(name: str, layers: list[str], image_names: list[str], options: inversion.Options) -> dict:
    """Every image inverted from every layer of one model, in one batch; SSIM and errors per layer."""
    loaded = models.load(name)
    model, input_range = loaded.model, resolve_input(loaded.model, options.input_range)
    originals = np.stack([images.from_uint8(images.to_uint8(prepare_image(model, n))) for n in image_names])
    names = [layer for _ in image_names for layer in layers]
    pictures = np.repeat(originals, len(layers), axis=0)
    started = time.perf_counter()
    found = images.from_uint8(images.to_uint8(inversion.reconstruct(model, names, pictures, input_range, options)))
    seconds = time.perf_counter() - started
    targets = inversion.activations_of(model, names, pictures, input_range)
    errors = np.array(inversion.activation_errors(model, names, found, targets, input_range)).reshape(-1, len(layers))
    ssims = np.array([inversion.ssim(a, b) for a, b in zip(pictures, found)]).reshape(-1, len(layers))
    infos = [models.resolve_layer(model, layer) for layer in layers]
    return {
        "model": name, "layers": layers, "depths": depth.relative_depths(model, infos), "images": image_names,
        "ssim": ssims.tolist(), "error": errors.tolist(), "yardstick": yardstick(model, layers, originals,
        input_range), "seconds": seconds, "example": found.reshape(len(image_names), len(layers),
        *found.shape[1:])[0].tolist(), "original": originals[0].tolist(),
    }  # fmt: skip


def yardstick(model, layers: list[str], originals: np.ndarray, input_range) -> list[float]:
    """Per layer: the mean relative error of one image's activations from another image's, over every pair."""
    n = len(originals)
    out = []
    for layer in layers:
        acts = inversion.activations_of(model, [layer] * n, originals, input_range)
        pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
        out.append(float(np.mean([np.sum((acts[j] - acts[i]) ** 2) / np.sum(acts[i] ** 2) for i, j in pairs])))
    return out


def report(result: dict) -> None:
    ssim, error = np.array(result["ssim"]), np.array(result["error"])
    print(f"\n{result['model']}: {len(result['images'])} images x {len(result['layers'])} layers, "
          f"{result['seconds']:.0f} s")  # fmt: skip
    print("| layer | depth | SSIM mean ± sd | SSIM min..max | activation error mean (max) | two images' error |")
    print("| --- | --- | --- | --- | --- | --- |")
    for k, layer in enumerate(result["layers"]):
        s, e = ssim[:, k], error[:, k]
        spread = f"{s.mean():.3f} ± {s.std(ddof=1):.3f} | {s.min():.3f}..{s.max():.3f}"
        print(f"| {layer} | {result['depths'][k]:.2f} | {spread} | {e.mean():.4f} ({e.max():.4f}) | "
              f"{result['yardstick'][k]:.2f} |")  # fmt: skip


def figure(sets: list[list[dict]], path: Path) -> None:
    """Per set, mean SSIM by relative depth (sd shaded), one line per model; below, one image's reconstructions
    per model."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    results = [r for one in sets for r in one]
    cols = 1 + max(len(r["layers"]) for r in results)
    fig = Figure(figsize=(10, 3 + 0.85 * len(results)), dpi=80, layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[3, 0.85 * len(results)])
    for ax, one in zip(top.subplots(1, len(sets), squeeze=False)[0], sets):
        _plot(ax, one)
    axes = bottom.subplots(len(results), cols, squeeze=False)
    for row, r in zip(axes, results):
        tiles = [np.array(r["original"]), *np.array(r["example"])]
        for a, tile, title in zip(row, tiles, ["original", *r["layers"]]):
            a.imshow(tile[..., 0] if tile.shape[-1] == 1 else tile, cmap="gray", vmin=0, vmax=1)
            a.set_title(title, fontsize=6)
        for a in row:
            a.set_axis_off()
        row[0].text(-0.1, 0.5, r["model"].removesuffix(".keras"), transform=row[0].transAxes, ha="right",
                    va="center", fontsize=7)  # fmt: skip
    fig.savefig(path, dpi=80, metadata={"Software": None})


def _plot(ax, results: list[dict]) -> None:
    for r in results:
        s = np.array(r["ssim"])
        line = ax.plot(r["depths"], s.mean(0), marker="o", label=r["model"].removesuffix(".keras"))[0]
        ax.fill_between(r["depths"], s.mean(0) - s.std(0, ddof=1), s.mean(0) + s.std(0, ddof=1),
                        color=line.get_color(), alpha=0.15)  # fmt: skip
    ax.set_xlim(0, 1.02)
    ax.set_ylim(-0.15, 1.02)
    ax.set_xlabel("relative depth (convolutions from the input)", fontsize=8)
    ax.set_ylabel(f"SSIM, mean ± sd of {len(results[0]['images'])} images", fontsize=8)
    ax.set_title(f"{results[0]['model'].split('_')[0].upper()}: {len(results[0]['images'])} images", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), default="mnist")
    parser.add_argument("--steps", type=int, default=inversion.STEPS)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--models", default=None, help="Only these models of the set (comma-separated).")
    parser.add_argument("--json", type=Path, default=None, help="Keep every figure here.")
    parser.add_argument("--figure", type=Path, default=None)
    parser.add_argument("--load", type=Path, nargs="+", default=None, metavar="JSON",
                        help="Measure nothing: report and draw earlier --json files, one panel each.")  # fmt: skip
    args = parser.parse_args()
    sets = [json.loads(p.read_text()) for p in args.load] if args.load else [run(args)]
    if args.load:
        for result in (r for one in sets for r in one):
            report(result)
    if args.figure:
        figure(sets, args.figure)


def run(args) -> list[dict]:
    image_names, layers = SETS[args.set]
    chosen = args.models.split(",") if args.models else list(layers)
    options = inversion.Options(steps=args.steps, precision=args.precision)
    print(f"CPU: {cpu_name()}; --precision {args.precision}, {args.steps} steps")
    results = []
    for name in chosen:
        results.append(measure(name, layers[name], image_names[: args.images], options))
        report(results[-1])
        if args.json:
            args.json.write_text(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
