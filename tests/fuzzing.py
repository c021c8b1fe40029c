"""Mutated model configs and files for fuzzing featviz's loaders, shared by tests and benchmarks.

Every mutation starts from a real config: the tiny CNN saved by this Keras
as .keras and .h5, and files written the way Keras 2.0 to 3.3 wrote them
(tests/keras2.py, tests/saved.py). `cases(seeds)` is a hypothesis strategy
of mutated files; `write_case` writes one; `pure_outcome` runs featviz's
config checks and repair on it in this process; `LoadWorker` loads it
with featviz in a child process, so that a hang, a crash or a huge
allocation ends that child, not the fuzzer.

Importable without pytest: benchmarks/fuzz_loaders.py uses it too.
"""

from __future__ import annotations

import copy
import json
import os
import re
import select
import signal
import subprocess
import sys
import traceback
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MARKER_MODULE = "featviz_fuzz_marker"
GOOD_ENDS = ("loaded", "passed", "featviz-error")  # passed: the checks and repair returned
# Arguments that size a layer's weights or its input.
SIZE_KEYS = (
    "filters",
    "units",
    "kernel_size",
    "pool_size",
    "strides",
    "dilation_rate",
    "depth_multiplier",
    "batch_shape",
    "batch_input_shape",
    "input_shape",
    "input_dim",
    "output_dim",
    "groups",
    "axis",
)
HUGE = (2**31, 2**32 + 1, 2**40, 2**63, 2**64, 10**30, -1, -(2**63), 0, 1e308, float("inf"), float("nan"))


# --- seeds ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    name: str
    path: Path
    config: dict = field(compare=False)

    @property
    def kind(self) -> str:
        return "keras" if self.path.suffix == ".keras" else "h5"


def build_seeds(folder: Path) -> list[Seed]:
    """Real model files, as this Keras and older releases wrote them, and their configs."""
    import helpers
    import keras2
    import saved

    folder.mkdir(parents=True, exist_ok=True)
    tiny = helpers.tiny_cnn()
    tiny.save(folder / "tiny.keras")
    tiny.save(folder / "tiny.h5")
    keras2.write_sequential(folder / "keras24.h5", tiny, slash_names=True)
    saved.write_list_style_sequential(folder / "keras21.h5", tiny)
    saved.write_keras20_functional(folder / "keras20.h5", saved.separable_residual())
    saved.write_teachable_machine(folder / "tf215.h5", saved.mobilenet_like(), tf215=True)
    saved.tutorial_model().save(folder / "tutorial.keras")
    saved.rewrite_archive(folder / "tutorial.keras", folder / "keras33.keras", saved.as_keras33)
    names = ["tiny.keras", "tiny.h5", "keras24.h5", "keras21.h5", "keras20.h5", "tf215.h5", "keras33.keras"]
    return [Seed(n, folder / n, stored_config(folder / n)) for n in names]


def stored_config(path: Path) -> dict:
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("config.json"))
    import h5py

    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["model_config"])


def write_marker_module(folder: Path, marker: Path) -> None:
    """A module that creates `marker` if anything ever imports it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{MARKER_MODULE}.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n\n\n"
        "class Evil:\n    pass\n\n\ndef touch(x):\n    return x\n"
    )


# --- mutations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deep:
    """Stands for `depth` nested lists or dicts: written into the JSON text, too deep for json.dumps."""

    depth: int
    brackets: str = "[]"

    def text(self) -> str:
        if self.brackets == "[]":
            return "[" * self.depth + "]" * self.depth
        return '{"a": ' * self.depth + "1" + "}" * self.depth

    def value(self) -> Any:
        """The same nesting as a Python object, built without recursion."""
        inner: Any = [] if self.brackets == "[]" else 1
        for _ in range(self.depth):
            inner = [inner] if self.brackets == "[]" else {"a": inner}
        return inner


def hostile_values() -> st.SearchStrategy:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.sampled_from(HUGE),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.sampled_from(["", "/", "a/b", "..", "\n", "é\u202e", "\x00", "x" * 100_000, "relu", "float32", "Conv2D"]),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=6,
    )


def outside_objects() -> st.SearchStrategy:
    """Keras-style objects that name code outside Keras: the marker module, os, builtins."""
    module = st.sampled_from([MARKER_MODULE, f"{MARKER_MODULE}.sub", "os", "builtins", "keras.src.engine", ""])
    cls = st.sampled_from(["Evil", "function", "touch", "Lambda", "TFSMLayer", f"{MARKER_MODULE}.Evil", "system"])
    registered = st.sampled_from([None, f"{MARKER_MODULE}>Evil", "Custom>Evil", "function", "Evil"])
    config = st.one_of(st.just({}), st.sampled_from(["touch", "system", "exec"]), st.just({"name": "evil"}))
    return st.fixed_dictionaries({"module": module, "class_name": cls, "registered_name": registered, "config": config})


Slot = tuple[Any, Any]  # (container, key or index); (None, None) is the root


def slots(config: Any) -> list[Slot]:
    found: list[Slot] = [(None, None)]
    stack = [config]
    while stack:
        item = stack.pop()
        keys = list(item) if isinstance(item, dict) else range(len(item)) if isinstance(item, list) else []
        for key in keys:
            found.append((item, key))
            stack.append(item[key])
    return found


def layer_dicts(config: Any) -> list[dict]:
    """Every dict with a class_name and a dict config: the layers and models, and their sub-objects."""
    return [c[k] for c, k in slots(config)[1:] if _is_object(c[k])] + ([config] if _is_object(config) else [])


def _is_object(node: Any) -> bool:
    return isinstance(node, dict) and "class_name" in node and isinstance(node.get("config"), dict)


def _get(config: Any, slot: Slot) -> Any:
    container, key = slot
    return config if container is None else container[key]


def _put(config: Any, slot: Slot, value: Any) -> Any:
    container, key = slot
    if container is None:
        return value
    container[key] = value
    return config


def _replace(draw, config):
    return _put(config, draw(st.sampled_from(slots(config))), draw(hostile_values()))


def _wrap(draw, config):
    slot = draw(st.sampled_from(slots(config)))
    value = _get(config, slot)
    wrapped = draw(st.sampled_from([[value], {"config": value}, {"class_name": "Sequential", "config": value}]))
    return _put(config, slot, wrapped)


def _unwrap(draw, config):
    slot = draw(st.sampled_from(slots(config)))
    value = _get(config, slot)
    if isinstance(value, dict) and value:
        return _put(config, slot, value[draw(st.sampled_from(sorted(value)))])
    if isinstance(value, list) and value:
        return _put(config, slot, value[0])
    return config


def _delete(draw, config):
    container, key = draw(st.sampled_from(slots(config)))
    if container is not None:
        del container[key]
    return config


def _extra_key(draw, config):
    dicts = [_get(config, s) for s in slots(config) if isinstance(_get(config, s), dict)]
    if dicts:
        target = draw(st.sampled_from(dicts))
        key = draw(
            st.sampled_from(["name", "layers", "config", "class_name", "build_config", "inbound_nodes"])
            | st.text(max_size=8)
        )
        target[key] = draw(hostile_values())
    return config


def _size(draw, config):
    """A size argument made huge, negative, fractional or of another shape: mostly one the layer has."""
    sized = [d["config"] for d in layer_dicts(config) if any(k in d["config"] for k in SIZE_KEYS)]
    if sized:
        target = draw(st.sampled_from(sized))
        own = [k for k in SIZE_KEYS if k in target]
        key = draw(st.sampled_from(own) | st.sampled_from(SIZE_KEYS))
        number = st.sampled_from(HUGE) | st.integers(1, 2**24) | st.integers(-(2**64), 2**64)
        lists = st.lists(number, min_size=1, max_size=4) | st.lists(number | st.none(), min_size=4, max_size=4)
        target[key] = draw(number | lists)
    return config


def _outside(draw, config):
    layers = layer_dicts(config)
    if not layers:
        return config
    target = draw(st.sampled_from(layers))
    evil = draw(outside_objects())
    where = draw(st.sampled_from(["self", "activation", "kernel_initializer", "layer", "dtype"]))
    if where == "self":
        target.update({k: v for k, v in evil.items() if k != "config"})
    elif where == "layer" and isinstance(target["config"].get("layers"), list):
        target["config"]["layers"].insert(draw(st.integers(0, len(target["config"]["layers"]))), evil)
    else:
        target["config"][where] = evil
    return config


def _rename(draw, config):
    layers = layer_dicts(config)
    if layers:
        name = draw(
            st.sampled_from(["a/b", "../../etc", "", "x" * 5000, "é/ü\u202e", "\n", "c1", "img"]) | st.text(max_size=20)
        )
        draw(st.sampled_from(layers))["config"]["name"] = name
    return config


def _deep(draw, config):
    depth = draw(st.sampled_from([50, 200, 990, 2000, 10_000]))
    return _put(config, draw(st.sampled_from(slots(config))), Deep(depth, draw(st.sampled_from(["[]", "{}"]))))


def _nest_model(draw, config):
    how = draw(st.sampled_from(["outer", "self", "functional"]))
    if how == "outer":
        return {"class_name": "Sequential", "config": {"name": "outer", "layers": [config]}}
    if how == "functional":
        return {
            "class_name": "Functional",
            "config": {"name": "f", "layers": [config], "input_layers": [], "output_layers": []},
        }
    inner = config.get("config") if isinstance(config, dict) else None
    if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
        inner["layers"].append(copy.deepcopy(config))
    return config


MUTATIONS: tuple[Callable, ...] = (
    _replace,
    _wrap,
    _unwrap,
    _delete,
    _extra_key,
    _size,
    _size,
    _outside,
    _rename,
    _deep,
    _nest_model,
)

# model_config attribute forms: how to store the JSON text, or something else entirely.
# How an .h5 stores model_config: as Keras does (bytes, str), or as something else entirely.
CONFIG_FORMS = ("array", "int", "empty", "missing", "latin1", "float-array", "reference", "compound")
VERSION_FORMS = ("missing", "int", "bad-bytes", "future", "array", "empty-str")
MEMBER_FORMS = ("no-metadata", "bad-metadata", "no-weights", "no-config")


@dataclass
class Case:
    seed: Seed
    config: Any
    form: str = "keep"  # CONFIG_FORMS for .h5, MEMBER_FORMS for .keras
    version: str = "keep"

    def __repr__(self) -> str:  # hypothesis prints failing examples: keep them readable
        text = config_text(self.config)
        return f"Case({self.seed.name}, form={self.form}, version={self.version}, config={text[:600]!r}...)"


@st.composite
def cases(draw, seeds: list[Seed]) -> Case:
    seed = draw(st.sampled_from(seeds))
    config = copy.deepcopy(seed.config)
    for _ in range(draw(st.integers(1, 3))):
        config = draw(st.sampled_from(MUTATIONS))(draw, config)
        if isinstance(config, Deep):
            break
    if seed.kind == "h5":
        form = draw(_mostly(st.sampled_from(["bytes", "str"]), st.sampled_from(CONFIG_FORMS)))
        return Case(seed, config, form, draw(_mostly(st.just("keep"), st.sampled_from(VERSION_FORMS))))
    return Case(seed, config, draw(_mostly(st.just("keep"), st.sampled_from(MEMBER_FORMS))))


def _mostly(usual: st.SearchStrategy, odd: st.SearchStrategy) -> st.SearchStrategy:
    """usual three times in four: the mutated config, not the file around it, is the point."""
    return st.integers(0, 3).flatmap(lambda n: odd if n == 0 else usual)


def config_text(config: Any) -> str:
    """JSON text of a config, with each Deep placeholder written out."""
    deep: dict[str, Deep] = {}

    def placeholder(obj):
        if not isinstance(obj, Deep):
            raise TypeError(type(obj).__name__)
        token = f"@@deep{len(deep)}@@"
        deep[token] = obj
        return token

    text = json.dumps(config, default=placeholder)
    for token, obj in deep.items():
        text = text.replace(f'"{token}"', obj.text())
    return text


def materialize(config: Any) -> Any:
    """The config as plain Python objects: Deep placeholders become the nesting they stand for."""
    if isinstance(config, Deep):
        return config.value()
    for container, key in slots(config)[1:]:
        if isinstance(container[key], Deep):
            container[key] = container[key].value()
    return config


# --- files ---------------------------------------------------------------------------------------


def write_case(case: Case, folder: Path) -> Path:
    """The case as a model file in `folder`, named like its seed."""
    path = folder / case.seed.name
    text = config_text(case.config)
    if case.seed.kind == "keras":
        _write_archive(case.seed.path, path, text, case.form)
    else:
        _write_h5(case.seed.path, path, text, case.form, case.version)
    return path


def _write_archive(source: Path, target: Path, text: str, form: str) -> None:
    drop = {"no-metadata": "metadata.json", "no-weights": "model.weights.h5", "no-config": "config.json"}.get(form)
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            if item.filename == drop:
                continue
            data = src.read(item)
            if item.filename == "config.json":
                data = text.encode()
            elif item.filename == "metadata.json" and form == "bad-metadata":
                data = b'{"keras_version": [1e999], "date_saved": {}}'
            dst.writestr(item, data)


def _write_h5(source: Path, target: Path, text: str, form: str, version: str) -> None:
    """A copy of an .h5 model with new attributes; libver="latest" lets an attribute exceed 64 kB."""
    import h5py
    import numpy as np

    config_value = {
        "bytes": text.encode(),
        "str": text,
        "array": np.array([text.encode()]),
        "int": 42,
        "empty": h5py.Empty("f"),
        "latin1": text.encode() + b"\xff\xfe",
        "float-array": np.arange(3.0),
        "compound": np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
    }
    version_value = {
        "int": 3,
        "bad-bytes": b"\xff\xfe",
        "future": b"9.9.9",
        "array": np.array([2, 4]),
        "empty-str": "",
    }
    with h5py.File(source, "r") as src, h5py.File(target, "w", libver="latest") as f:
        for name in src:
            src.copy(src[name], f)
        f.attrs.update(src.attrs)
        if form == "missing":
            del f.attrs["model_config"]
        elif form == "reference":
            f.attrs["model_config"] = f.ref
        else:
            f.attrs["model_config"] = config_value[form]
        if version == "missing":
            f.attrs.pop("keras_version", None)
        elif version in version_value:
            f.attrs["keras_version"] = version_value[version]


# --- outcomes ------------------------------------------------------------------------------------


class FuzzTimeout(BaseException):
    """Raised by time_limit; a BaseException, so no `except Exception` in featviz swallows it."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise FuzzTimeout in this (main) thread after `seconds` of Python code."""

    def expire(signum, frame):
        raise FuzzTimeout(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome_of(run: Callable[[], Any], seconds: float = 20, returned: str = "loaded") -> dict:
    """How run() ended: {"end": returned | "featviz-error" | "multi-line" | "unprintable" | "memory" | "exception"
    | "timeout", ...}, with the message of an error, and the type and last frames of an exception."""
    from featviz.errors import FeatvizError

    try:
        with time_limit(seconds):
            run()
    except FuzzTimeout:
        return {"end": "timeout"}
    except FeatvizError as e:
        message = str(e)
        if len(message.splitlines()) != 1:
            return {"end": "multi-line", "message": message[:2000]}
        if not message.isprintable():  # a terminal escape or a control character from the file
            return {"end": "unprintable", "message": message[:2000]}
        if "OOM when allocating" in message or "MemoryError" in message:
            return {"end": "memory", "message": message[:2000]}
        return {"end": "featviz-error", "message": message}
    except Exception as e:
        return {"end": "exception", "type": type(e).__name__, "message": str(e)[:500], "traceback": _summary(e)}
    return {"end": returned}


def _summary(e: BaseException) -> str:
    frames = traceback.extract_tb(e.__traceback__)[-4:]
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))


def pure_outcome(path: Path) -> dict:
    """featviz's checks on a file, and the repair of its config, without Keras building anything."""
    from featviz.models import checks, config_repair

    def run():
        mf = checks.check_model_file(path)
        config = checks.read_config(mf)
        checks.subclass_of(config)
        checks.code_in_config(config)
        config_repair.repair(config)

    return outcome_of(run, returned="passed")


def load_outcome(path: Path) -> dict:
    """featviz's whole loader on a file: it loads, and its layers can be listed, or it fails cleanly."""
    from featviz import models

    return outcome_of(lambda: models.list_layers(models.load(path).model), seconds=60)


def ending(outcome: dict) -> str:
    """A short label for tallies: the end; for a FeatvizError its first words after the path, numbers as N."""
    end = outcome["end"]
    if end == "featviz-error":
        message = outcome["message"]
        words = " ".join((message.split(": ", 1)[-1] if message.startswith("/") else message).split()[:5])
        return f"FeatvizError: {re.sub(r'[0-9][0-9,]*', 'N', words)}"
    if end == "exception":
        return f"{outcome['type']} at {outcome['traceback'].split(' <- ')[0]}"
    return end


# --- the loading child process -------------------------------------------------------------------


class LoadWorker:
    """A child process that loads model files with featviz, one at a time, each under a time limit.

    The parent enforces the limit, so a hang inside C code is caught too; a
    child that hangs or dies is replaced. The child may not use more than
    `memory` bytes of address space: a huge allocation fails there instead
    of taking the machine's memory.
    """

    def __init__(self, marker_dir: Path, *, seconds: float = 60, memory: int = 8 << 30):
        self.marker_dir = marker_dir
        self.seconds = seconds
        self.memory = memory
        self.proc: subprocess.Popen | None = None
        self.ready = False

    def load(self, path: Path) -> dict:
        """The outcome of featviz.models.load(path) in the child, as outcome_of reports it, or timeout/crashed."""
        self.start()
        self._wait_ready()
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"path": str(path)}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], self.seconds)
        line = self.proc.stdout.readline() if ready else ""
        if line:
            return json.loads(line)
        end = {"end": "timeout"} if not ready else {"end": "crashed", "code": self.proc.poll()}
        self.close()
        return end

    def start(self) -> None:
        """Start the child, if not running, without waiting for it to import TensorFlow."""
        if self.proc is not None:
            return
        paths = [str(self.marker_dir), str(REPO), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import fuzzing; fuzzing.serve({self.memory})"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=REPO,
        )
        self.ready = False

    def _wait_ready(self) -> None:
        if self.ready:
            return
        assert self.proc and self.proc.stdout
        started, _, _ = select.select([self.proc.stdout], [], [], 300)
        if not started or self.proc.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError("the fuzzing child process did not start")
        self.ready = True

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def serve(memory: int) -> None:
    """The child's loop: a JSON line with a path in, a JSON line with its outcome out."""
    import resource

    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything Keras prints goes to stderr, not into the replies
    from featviz.runtime import _tf

    _tf.keras()
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    replies.write("ready\n")
    replies.flush()
    for line in sys.stdin:
        outcome = load_outcome(Path(json.loads(line)["path"]))
        replies.write(json.dumps(outcome) + "\n")
        replies.flush()
