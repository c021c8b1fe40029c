"""Import TensorFlow and Keras quietly, only when a command needs them, and set it up for the device it sees.

TensorFlow 2.21 writes C++ log lines to stderr at import and at its first op
whatever TF_CPP_MIN_LOG_LEVEL says, so unless --verbose is given stderr is
pointed at /dev/null for exactly those two moments.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings

_state = {"verbose": False, "ready": False}


def set_verbose(verbose: bool) -> None:
    """Call before the first import of Keras: --verbose shows TF's logs."""
    _state["verbose"] = verbose


@contextlib.contextmanager
def _quiet_fd2():
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def keras():
    """The keras module, with TensorFlow's log noise hidden unless verbose."""
    if not _state["ready"]:
        _import()
    import keras as _keras

    return _keras


def tf():
    keras()
    import tensorflow as _tf

    return _tf


def device():
    """The device featviz computes on (device.py): the GPU TensorFlow sees, else this CPU."""
    keras()
    return _state["device"]


def configure(tf):
    """Before TensorFlow's first op: the CPU's threads for chains (chains.py), unless a GPU computes; the device."""
    from . import chains, device

    found = device.detect(tf)
    if not found.gpu:
        chains.configure(tf)
    return found


def _import() -> None:
    verbose = _state["verbose"]
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    quiet = contextlib.nullcontext() if verbose else _quiet_fd2()
    with quiet:
        import tensorflow as _tf

        _state["device"] = configure(_tf)
        import keras as _keras  # noqa: F401

        _tf.constant(0.0)  # the first op initialises devices, and logs
    if not verbose:
        _tf.get_logger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=r"(keras|tensorflow|h5py)(\..*)?")
    _state["ready"] = True
