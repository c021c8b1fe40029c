"""Check a model file before Keras opens it: where it is, what it is, what it asks to run.

Nothing here imports Keras. The checks are a filter in front of Keras's own
safe mode, not a sandbox: see the README's Security section.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FeatvizError, first_line

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
KERAS_SUFFIXES = {".keras": "keras", ".h5": "h5", ".hdf5": "h5"}
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
# Modules whose classes Keras itself provides; anything else is user code.
_SAFE_MODULES = re.compile(r"^(keras|tf_keras|builtins)(\.|$)")
# Real configs nest about 12 levels, and 4 more for each model inside a model; far deeper ones
# would only exhaust the recursion of the code that reads them (featviz's repair, Keras).
MAX_DEPTH = 100


@dataclass(frozen=True)
class ModelFile:
    path: Path
    kind: str  # "keras" or "h5"
    sha256: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_model_file(path: str | Path) -> ModelFile:
    """Refuse anything but a local regular file with a Keras or HDF5 signature."""
    text = str(path)
    if _SCHEME.match(text):
        raise FeatvizError(f"{text}: only local model files are accepted, not URLs")
    p = Path(text)
    if not p.exists():
        raise FeatvizError(f"{p}: no such model file")
    if not p.is_file():
        raise FeatvizError(f"{p}: not a regular file")
    kind = KERAS_SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise FeatvizError(f"{p}: not a model file (expected .keras, .h5 or .hdf5)")
    head = _read_head(p)
    _check_signature(p, kind, head)
    return ModelFile(p, kind, sha256_of(p))


def _read_head(p: Path) -> bytes:
    try:
        with open(p, "rb") as f:
            return f.read(2048)
    except OSError as e:
        raise FeatvizError(f"{p}: cannot read ({e.strerror})") from None


def _check_signature(p: Path, kind: str, head: bytes) -> None:
    if not head:
        raise FeatvizError(f"{p}: the file is empty")
    if head.startswith(b"version https://git-lfs"):
        raise FeatvizError(f"{p}: this is a Git LFS pointer, not the model; run 'git lfs pull'")
    if kind == "keras" and not head.startswith(ZIP_SIGNATURE):
        raise FeatvizError(f"{p}: not a .keras model (a .keras file is a zip archive; this one is {_describe(head)})")
    if kind == "h5" and not _has_hdf5_signature(p, head):
        raise FeatvizError(f"{p}: not an HDF5 model file ({_describe(head)})")


def _has_hdf5_signature(p: Path, head: bytes) -> bool:
    # HDF5 allows a user block: the signature may sit at 0, 512, 1024, 2048, ...
    if head.startswith(HDF5_SIGNATURE):
        return True
    size = p.stat().st_size
    with open(p, "rb") as f:
        offset = 512
        while offset + 8 <= size:
            f.seek(offset)
            if f.read(8) == HDF5_SIGNATURE:
                return True
            offset *= 2
    return False


def _describe(head: bytes) -> str:
    sample = head[:256].lstrip().lower()
    if sample.startswith((b"<!doctype html", b"<html")):
        return "it looks like an HTML page"
    if head.startswith(HDF5_SIGNATURE):
        return "it is an HDF5 file"
    if head.startswith(ZIP_SIGNATURE):
        return "it is a zip archive"
    if all(32 <= b < 127 or b in b"\r\n\t" for b in head[:256]):
        return "it looks like a text file"
    return "its first bytes are unknown"


def read_config(mf: ModelFile) -> dict[str, Any]:
    """The model's architecture config, read without Keras."""
    if mf.kind == "keras":
        return _keras_config(mf.path)
    return _h5_config(mf.path)


def _keras_config(p: Path) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(p) as z:
            raw = z.read("config.json")
    except KeyError:
        raise FeatvizError(f"{p}: the .keras archive has no config.json") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise FeatvizError(f"{p}: corrupt .keras archive ({e})") from None
    return _parse_json(p, raw, "config.json")


def _h5_config(p: Path) -> dict[str, Any]:
    import h5py

    try:
        with h5py.File(p, "r") as f:
            raw = f.attrs.get("model_config")
            # Keras 2 weights files: layer_names; Keras 3 (.weights.h5): layers/ and vars/
            has_weights = "model_weights" in f or "layer_names" in f.attrs or "layers" in f
    except (OSError, RuntimeError, ValueError) as e:
        raise FeatvizError(f"{p}: corrupt or truncated HDF5 file ({said(e)})") from None
    if raw is None and has_weights:
        raise FeatvizError(
            f"{p}: the HDF5 file holds only weights (no model_config); if the architecture was saved with "
            "model.to_json(), pass that file too: --architecture model.json"
        )
    if raw is None:
        raise FeatvizError(f"{p}: the HDF5 file holds no Keras model (no model_config)")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):  # h5py gives arrays, numbers, references, h5py.Empty as they were stored
        raise FeatvizError(f"{p}: model_config is {type(raw).__name__} data, not the JSON text of a Keras model")
    return _parse_json(p, raw, "model_config")


def read_json_config(p: Path) -> dict[str, Any]:
    """A model architecture saved as JSON (Keras's model.to_json())."""
    if not p.is_file():
        raise FeatvizError(f"{p}: no such architecture file")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise FeatvizError(f"{p}: cannot read ({e.strerror})") from None
    return _parse_json(p, raw, "the architecture file")


def subclass_of(config: dict[str, Any]) -> str | None:
    """'package>MyModel' when the model itself is a subclassed model, whose code is not in the file."""
    cls = config.get("class_name")
    if not isinstance(cls, str) or cls in ("Sequential", "Functional", "Model"):
        return None
    registered = config.get("registered_name")
    module = config.get("module")
    if isinstance(module, str) and _SAFE_MODULES.match(module):
        return None
    if isinstance(registered, str) and registered:
        return shown(registered)
    return f"{shown(module) if isinstance(module, str) and module else '?'}.{shown(cls)}"


def _parse_json(p: Path, raw: bytes | str, what: str) -> dict[str, Any]:
    try:
        config = json.loads(raw)
        too_deep = _depth(config) > MAX_DEPTH
    except (ValueError, UnicodeDecodeError) as e:
        raise FeatvizError(f"{p}: {what} is not valid JSON ({e})") from None
    except RecursionError:
        too_deep = True
    if too_deep:
        raise FeatvizError(f"{p}: {what} is nested more than {MAX_DEPTH} levels deep, which no Keras model is")
    if not isinstance(config, dict):
        raise FeatvizError(f"{p}: {what} does not describe a model")
    return config


def _depth(obj: Any) -> int:
    """How deeply lists and dicts nest in obj, counted without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def shown(text: str, limit: int = 80) -> str:
    """A string from a model file, fit for a one-line message: unprintable characters (newlines, terminal
    escapes, bidirectional overrides) escaped, at most `limit` characters."""
    escaped = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    return escaped[:limit] + ("..." if len(escaped) > limit else "")


def said(e: BaseException) -> str:
    """The first line of an error from Keras or h5py, which may quote the file, fit for a one-line message."""
    return shown(first_line(e), limit=203)


def code_in_config(config: Any) -> list[str]:
    """What in a model config would run code: Lambda layers and non-Keras classes."""
    found: list[str] = []
    for node in _walk(config):
        cls = node.get("class_name")
        if not isinstance(cls, str):
            continue
        name = _layer_name(node)
        if cls in ("Lambda", "__lambda__", "TFSMLayer"):
            found.append(f"{cls} layer {shown(repr(name))}" if name else cls)
        module = node.get("module")
        if isinstance(module, str) and not _SAFE_MODULES.match(module):
            found.append(f"{shown(module)}.{shown(cls)}")
        registered = node.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            found.append(f"custom object {shown(repr(registered))}")
        if cls == "function" and isinstance(node.get("config"), dict):
            found.append("a serialized function")
    return sorted(set(found))


def _layer_name(node: dict) -> str | None:
    config = node.get("config")
    return config.get("name") if isinstance(config, dict) else None


def _walk(obj: Any) -> Iterator[dict]:
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
