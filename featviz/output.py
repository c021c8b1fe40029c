"""Write output files atomically, only inside the output folder, never over files featviz did not write."""

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


def _file_mode() -> int:
    """0o666 less the umask: what open() would give, not mkstemp's private 0o600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write via a temporary file in the same folder, then rename over the target."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return p


def json_bytes(obj: Any) -> bytes:
    """Indented JSON with a final newline; NaN is refused, so every file is valid JSON."""
    return (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode("utf-8")


def write_json(path: str | Path, obj: Any) -> Path:
    return write_bytes(path, json_bytes(obj))


class OutputDir:
    """An output folder that featviz writes into, and only into.

    Every write is atomic and stays inside the folder. A ledger
    (.featviz-written.json) records the sha256 of each file featviz wrote, so
    featviz overwrites its own earlier output but never a file someone else
    put there (or edited since), unless force is given. Rewriting a file with
    the very bytes it already holds is always allowed. The ledger is saved
    every FLUSH_EVERY writes and when the folder is closed (also on errors):
    use it as a context manager.
    """

    LEDGER = ".featviz-written.json"
    FLUSH_EVERY = 200

    def __init__(self, root: str | Path, *, force: bool = False):
        self.root = Path(root)
        self.force = force
        self._ledger: dict[str, str] | None = None
        self._unsaved = 0

    def __enter__(self) -> "OutputDir":
        return self

    def __exit__(self, *exc) -> None:
        self.flush()

    def path(self, relative: str | Path) -> Path:
        return inside(self.root, relative)

    def write(self, relative: str | Path, data: bytes) -> Path:
        target = self.path(relative)
        key = target.relative_to(self.root.resolve()).as_posix()
        digest = hashlib.sha256(data).hexdigest()
        ensure_dir(target.parent)
        if target.exists() and not self.force and not self._ours(key, target, digest):
            raise FeatvizError(f"{target} exists and featviz did not write it; pass --force to overwrite it")
        write_bytes(target, data)
        self.ledger()[key] = digest
        self._unsaved += 1
        if self._unsaved >= self.FLUSH_EVERY:
            self.flush()
        return Path(self.root) / key

    def write_json(self, relative: str | Path, obj: Any) -> Path:
        return self.write(relative, json_bytes(obj))

    def _ours(self, key: str, target: Path, digest: str) -> bool:
        current = hashlib.sha256(target.read_bytes()).hexdigest()
        return current == digest or current == self.ledger().get(key)

    def ledger(self) -> dict[str, str]:
        if self._ledger is None:
            try:
                loaded = json.loads((self.root / self.LEDGER).read_text("utf-8"))
                self._ledger = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._ledger = {}
        return self._ledger

    def flush(self) -> None:
        if self._unsaved:
            write_json(self.root / self.LEDGER, dict(sorted(self.ledger().items())))
            self._unsaved = 0
