"""A corpus of broken and hostile model files, built here rather than downloaded."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import helpers


def lambda_that_touches(marker: Path):
    """A Lambda layer function that creates `marker` if it ever runs."""
    return eval(f"lambda x: __import__('pathlib').Path({str(marker)!r}).touch() or x")


def lambda_model(marker: Path):
    k = helpers.keras()
    return k.Sequential(
        [
            k.Input((12, 12, 1)),
            k.layers.Conv2D(2, 3, name="c"),
            k.layers.Lambda(lambda_that_touches(marker), name="evil"),
        ]
    )


def rewrite_config(src: Path, dst: Path, edit) -> Path:
    """Copy a .keras archive, passing its config.json through edit(config) -> config or bytes."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "config.json":
                edited = edit(json.loads(data))
                data = edited if isinstance(edited, bytes) else json.dumps(edited).encode()
            zout.writestr(item, data)
    return dst


def outside_module(config: dict) -> dict:
    """Point the activation of the first conv layer at os.system."""
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Conv2D":
            layer["config"]["activation"] = {
                "module": "os",
                "class_name": "function",
                "config": "system",
                "registered_name": "function",
            }
            break
    return config


def build_corpus(folder: Path, tiny_keras: Path, tiny_h5: Path, marker: Path) -> dict[str, Path]:
    """name -> path of each broken or hostile file."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "empty.h5": b"",
        "empty.keras": b"",
        "truncated.h5": tiny_h5.read_bytes()[: tiny_h5.stat().st_size // 2],
        "lfs-pointer.h5": b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146\nsize 1234\n",
        "error-page.keras": b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>",
    }
    corpus = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        corpus[name] = folder / name
    corpus["bad-config.keras"] = rewrite_config(tiny_keras, folder / "bad-config.keras", lambda c: b"{not json")
    corpus["outside-module.keras"] = rewrite_config(tiny_keras, folder / "outside-module.keras", outside_module)
    evil = lambda_model(marker)
    evil.save(folder / "lambda.keras")
    evil.save(folder / "lambda.h5")
    corpus["lambda.keras"] = folder / "lambda.keras"
    corpus["lambda.h5"] = folder / "lambda.h5"
    if marker.exists():  # building the model called the Lambda once; only loading is under test
        marker.unlink()
    return corpus
