"""Every private Keras name featviz relies on, fenced into this one module.

Keras has no public API for re-running a functional graph with a hook on
each layer, for the input shape of a Sequential that was built but never
called, for reading a Keras 2 config the way its own legacy `.h5` loader
does, or for the shapes of the weights a config would create before any is
allocated. featviz uses the private names below for those four jobs and
nothing else. `missing()` lists any that this Keras release lacks, and a
test fails on it, naming them, when a Keras release moves one.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from typing import Any

from ..runtime import _tf

# (module or class, attribute): what featviz reads from each.
PRIVATE_NAMES = (
    ("keras.src.models.functional.Functional", "_run_through_graph"),
    ("keras.src.models.functional.Functional", "_nodes_by_depth"),
    ("keras.src.layers.layer.Layer", "_build_shapes_dict"),
    ("keras.src.legacy.saving.saving_utils", "model_from_config"),
    ("keras.src.legacy.saving.saving_options", "keras_option_scope"),
    ("keras.src.saving.serialization_lib", "SafeModeScope"),
    ("keras.src.backend.common.global_state", "get_global_attribute"),
    ("keras.src.backend.common.global_state", "set_global_attribute"),
    ("keras.src.backend.common.variables", "register_uninitialized_variable"),
)
# Where Keras lists the variables created in a StatelessScope, to allocate when the scope ends.
_DEFERRED = "uninitialized_variables"


def missing() -> list[str]:
    """The private names of PRIVATE_NAMES that this Keras release does not have."""
    _tf.keras()
    absent = []
    for owner, attribute in PRIVATE_NAMES:
        try:
            found = _resolve(owner)
        except (ImportError, AttributeError):
            found = None
        if found is None or not _has(found, attribute):
            absent.append(f"{owner}.{attribute}")
    return absent


def _resolve(dotted: str) -> Any:
    module, _, cls = dotted.rpartition(".")
    try:
        return importlib.import_module(dotted)
    except ImportError:
        return getattr(importlib.import_module(module), cls)


def _has(owner: Any, attribute: str) -> bool:
    # _nodes_by_depth and _build_shapes_dict are set on instances in __init__ / build.
    if hasattr(owner, attribute):
        return True
    return isinstance(owner, type) and attribute in _init_source(owner)


def _init_source(cls: type) -> str:
    import inspect

    try:
        return "".join(inspect.getsource(c) for c in cls.__mro__ if c.__module__.startswith("keras"))
    except (OSError, TypeError):
        return ""


def is_functional(model) -> bool:
    """A functional graph (keras.Model(inputs, outputs)) whose layers can be re-run one by one."""
    return hasattr(model, "_run_through_graph") and hasattr(model, "_nodes_by_depth")


def run_through_graph(model, x, call: Callable[[Any], Callable]) -> Any:
    """Run a functional model on x; `call(op)` returns the callable that stands in for each op."""
    return model._run_through_graph([x], operation_fn=call)


def built_input_shape(layer) -> tuple | None:
    """The batch input shape a layer was built with, or None."""
    shape = getattr(layer, "batch_shape", None)
    return shape or (getattr(layer, "_build_shapes_dict", None) or {}).get("input_shape")


def legacy_model_from_config(config: dict[str, Any], *, safe_mode: bool):
    """A model from a Keras 2 style config, exactly as Keras's own legacy .h5 loader builds it."""
    _tf.keras()
    from keras.src.legacy.saving import saving_options, saving_utils
    from keras.src.saving import serialization_lib

    with saving_options.keras_option_scope(use_legacy_config=True), serialization_lib.SafeModeScope(safe_mode):
        return saving_utils.model_from_config(config)


def weight_shapes(build: Callable[[], Any]) -> list[tuple[int, ...]]:
    """The shapes of the weights build() creates, without allocating them.

    In a StatelessScope Keras only records each new variable's shape and
    initializer, to allocate them when the scope ends; featviz ends the scope
    without that, and forgets the variables. An exception from build() ends
    the count there: the real build will raise it again.
    """
    keras = _tf.keras()
    from keras.src.backend.common import global_state

    pending = list(global_state.get_global_attribute(_DEFERRED, None) or [])
    global_state.set_global_attribute(_DEFERRED, [])
    try:
        with keras.StatelessScope(initialize_variables=False), contextlib.suppress(Exception):
            build()
        return [tuple(v.shape) for v in global_state.get_global_attribute(_DEFERRED, None) or []]
    finally:
        global_state.set_global_attribute(_DEFERRED, pending)
