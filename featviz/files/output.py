"""Write output files atomically, only inside the output folder, never over files featviz did not write.

One featviz run writes into a folder at a time: a second run into the same
folder waits for the first to finish (OutputDir's lock), and says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import FeatvizError


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


def inside(root: Path, relative: str | Path, resolved: Path | None = None) -> Path:
    """root/relative, refusing anything that would land outside root (`resolved`: root, resolved already)."""
    target = (root / relative).resolve()
    if not target.is_relative_to(resolved or root.resolve()):
        raise FeatvizError(f"refusing to write {relative} outside {root}")
    return target


def _file_mode() -> int:
    """0o666 less the umask: what open() would give, not mkstemp's private 0o600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write via a temporary file in the same folder, then rename over the target.

    A failed write (a full disk, a read-only folder) leaves no file behind and raises FeatvizError.
    """
    p = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as e:
        raise FeatvizError(f"cannot write into {p.parent} ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, p)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise FeatvizError(f"cannot write {p} ({e.strerror or e})") from None
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
    every FLUSH_EVERY writes and when the folder is closed (also on errors).

    Use it as a context manager: it holds the folder's lock (LOCK) meanwhile.
    Another process writing into the same folder waits for it, after calling
    `waiting` with a line that says so. The lock is the operating system's
    (flock), so a process that dies, however it dies, leaves no lock behind.
    Waiting, rather than refusing, gives each run what it asked for: runs into
    one folder take turns, and no file or ledger entry of one is lost to the
    other.
    """

    LEDGER = ".featviz-written.json"
    LOCK = ".featviz.lock"
    FLUSH_EVERY = 200

    def __init__(self, root: str | Path, *, force: bool = False, waiting: Callable[[str], None] | None = None):
        self.root = Path(root)
        self.force = force
        self.waiting = waiting
        self._ledger: dict[str, str] | None = None
        self._root: Path | None = None
        self._unsaved = 0
        self._lock = None

    def __enter__(self) -> OutputDir:
        self._lock = _FolderLock(ensure_dir(self.root), self.waiting)
        self._lock.acquire()
        return self

    def __exit__(self, kind, *_) -> None:
        try:
            if kind is None:
                self.flush()
            else:  # already failing: a ledger that cannot be saved (a full disk) must not hide why
                with contextlib.suppress(FeatvizError):
                    self.flush()
        finally:
            self._lock.release()

    def path(self, relative: str | Path) -> Path:
        return inside(self.root, relative, self._resolved())

    def _resolved(self) -> Path:
        """The folder, resolved when the run took it (a symlink swapped in later does not move it)."""
        if self._root is None:
            self._root = self.root.resolve()
        return self._root

    def write(self, relative: str | Path, data: bytes) -> Path:
        target = self.path(relative)
        key = target.relative_to(self._resolved()).as_posix()
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

    def kept(self, relative: str | Path, same: Callable[[bytes], bool]) -> bool:
        """True when the file there is featviz's own, unedited, and `same(its bytes)` says it may stay as it is."""
        target = self.path(relative)
        key = target.relative_to(self._resolved()).as_posix()
        if key not in self.ledger() or not target.is_file():
            return False
        data = target.read_bytes()
        return hashlib.sha256(data).hexdigest() == self.ledger()[key] and same(data)

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


class _FolderLock:
    """The lock file in an output folder, reentrant within a process (nested OutputDirs on one folder)."""

    _held: dict[Path, list] = {}  # folder -> [FileLock, depth]

    def __init__(self, folder: Path, waiting: Callable[[str], None] | None):
        self.folder = folder.resolve()
        self.waiting = waiting

    def acquire(self) -> None:
        import filelock

        held = self._held.get(self.folder)
        if held is not None:
            held[1] += 1
            return
        lock = filelock.FileLock(self.folder / OutputDir.LOCK)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            if self.waiting is not None:
                self.waiting(f"{self.folder} is in use by another featviz run ({_holder(self.folder)}); waiting for it")
            lock.acquire()
        except OSError as e:
            raise FeatvizError(f"cannot lock {self.folder} ({e.strerror or e})") from None
        self._held[self.folder] = [lock, 1]
        with contextlib.suppress(OSError):
            (self.folder / OutputDir.LOCK).write_text(f"pid {os.getpid()}: {' '.join(_command())}\n", "utf-8")

    def release(self) -> None:
        held = self._held[self.folder]
        held[1] -= 1
        if held[1] == 0:
            del self._held[self.folder]
            with contextlib.suppress(OSError):  # empty when free: the folder's bytes do not depend on who ran last
                (self.folder / OutputDir.LOCK).write_bytes(b"")
            held[0].release()


def _holder(folder: Path) -> str:
    try:
        return (folder / OutputDir.LOCK).read_text("utf-8").strip()[:200] or "unknown process"
    except OSError:
        return "unknown process"


def _command() -> list[str]:
    import sys

    return [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv else []
