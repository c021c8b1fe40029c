"""Files that ship with featviz: the reference models, their exemplars and sample digits.

A name that is not an existing path but matches a bundled file resolves to
it, so `featviz activations digit6.png` works from any folder.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import FeatvizError

PACKAGE = Path(__file__).resolve().parent.parent  # featviz/: the wheel puts the files in featviz/bundled/
DEFAULT_MODEL = "mnist_cnn.keras"
# Held-out natural images of the bundled models' data, by the input shape they serve: (file, name).
EXEMPLARS = {
    (28, 28, 1): ("exemplars.npz", "bundled MNIST exemplars"),
    (32, 32, 3): ("cifar10_exemplars.npz", "bundled CIFAR-10 exemplars"),
}

# The gallery's default sample images, by the input shape they serve: one per class.
SAMPLES = {(28, 28, 1): "digit?.png", (32, 32, 3): "cifar-*-0.png"}


def path(name: str) -> Path:
    """A bundled file: inside the installed wheel, or in a source checkout's models/."""
    here = PACKAGE
    for candidate in (here / "bundled" / name, here.parent / "models" / name):
        if candidate.exists():
            return candidate
    raise FeatvizError(f"the bundled file {name} is missing from this installation")


def models() -> list[Path]:
    """Every bundled model file."""
    here = PACKAGE
    for folder in (here / "bundled", here.parent / "models"):
        found = sorted(folder.glob("*.keras"))
        if found:
            return found
    return []


def samples(input_shape: tuple) -> list[Path]:
    """The bundled sample images for a model of this input; the digits for any other."""
    pattern = SAMPLES.get(tuple(input_shape), SAMPLES[(28, 28, 1)])
    return sorted(path("samples").glob(pattern))


def resolve(spec: str | Path, folder: str = "") -> Path:
    """spec itself if it exists or names a folder; else the bundled file of that name, if any."""
    p = Path(spec)
    if p.exists() or len(p.parts) != 1:
        return p
    try:
        return path(f"{folder}/{p.name}" if folder else p.name)
    except FeatvizError:
        return p


def model(spec: str | Path | None) -> str | Path:
    if spec is None:
        return path(DEFAULT_MODEL)
    if "://" in str(spec):  # left as it is, for the loader to refuse
        return str(spec)
    return resolve(spec)


def image(spec: str | Path) -> Path:
    return resolve(spec, "samples")
