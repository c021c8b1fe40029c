"""The one record of a layer's patterns for one seed: manifest.json beside the PNGs.

`featviz patterns` and the gallery write and read the same file. It holds

- `settings`: everything that decides the pixels, as the user asked for
  them (precision "auto" stays "auto"). A manifest whose settings match is
  reused map by map, whatever machine wrote it;
- `ran`: what actually computed them (precision, device, CPU, library versions), one record each: a kept
  repair's machine and precision (`finer` computes in float32) join the first render's;
- `dataset`: which natural images the scores are measured against;
- `maps`: one score per map (scoring.MapScore), and their summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..evaluation.scoring import MapScore, from_record, summarize
from ..runtime import _tf, cpu
from ..version import __version__
from . import layout


@dataclass
class Manifest:
    model: str
    layer: str
    settings: dict[str, Any]
    dataset: dict[str, Any]
    ran: list[dict[str, Any]] = field(default_factory=list)
    maps: dict[int, MapScore] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        ordered = [self.maps[m] for m in sorted(self.maps)]
        return {
            "featviz": __version__,
            "model": self.model,
            "layer": self.layer,
            "settings": self.settings,
            "ran": self.ran,
            "dataset": self.dataset,
            "grid": layout.GRID,
            "summary": vars(summarize(ordered)),
            "maps": [s.record() for s in ordered],
        }


def read(path: Path) -> Manifest | None:
    """The manifest at path, or None when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text("utf-8"))
        maps = {int(m["map"]): from_record(m) for m in data["maps"]}
        return Manifest(data["model"], data["layer"], data["settings"], data["dataset"], data["ran"], maps)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """'recipe.precision: bfloat16 -> float32' for each setting that differs."""
    found = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found.extend(differences(a, b, f"{prefix}{key}."))
        elif a != b:
            found.append(f"{prefix}{key}: {_show(a)} -> {_show(b)}")
    return found


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 24 else text[:12] + "…"


def this_machine(precision: str) -> dict[str, Any]:
    """What computes the patterns here: the precision that ran, the device (a GPU, or the CPU), the CPU, and the
    library versions."""
    import keras
    import tensorflow as tf

    found = _tf.device()
    return {"precision": precision, "device": found.text(), "cpu": cpu.name(), "tensorflow": tf.__version__,
            "keras": keras.__version__}  # fmt: skip
