"""Write output files atomically, under names that come from no raw user data."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from .errors import FeatvizError


def slug(text: str, limit: int = 32) -> str:
    """A file-name-safe slug: lower-case letters, digits, '-' and '_' only."""
    cleaned = re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-_")
    return cleaned[:limit].rstrip("-_") or "x"


def short_hash(text: str, length: int = 6) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def layer_stem(index: int, name: str) -> str:
    """`03-conv3-1a2b3c`: an index, a slug and a hash, never the raw name."""
    return f"{index:02d}-{slug(name)}-{short_hash(name)}"


def ensure_dir(path: str | Path) -> Path:
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FeatvizError(f"{p}: cannot create the output folder ({e.strerror})") from None
    if not p.is_dir():
        raise FeatvizError(f"{p}: the output path is not a folder")
    return p


def inside(root: Path, relative: str | Path) -> Path:
    """root/relative, refusing anything that would land outside root."""
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise FeatvizError(f"refusing to write {relative} outside {root}")
    return target


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write via a temporary file in the same folder, then rename over the target."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return p


def write_json(path: str | Path, obj: Any) -> Path:
    return write_bytes(path, (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode("utf-8"))
