"""Independent chains: a batch split into parts that TensorFlow runs at the same time, one per core.

By default oneDNN spreads every operation over all cores. A pattern step is
many small operations, and on 2 cores those scale poorly. TensorFlow also
runs independent operations at once, so featviz gives each operation one
core's share of threads and splits a render batch into independent halves.
On the 2-core development machine the MNIST CNN's conv3 steps about 15%
faster that way, in float32 and bfloat16 alike. The split changes no
pattern: each image goes through the same arithmetic whatever the batch
(checked bit for bit on the bundled MNIST and CIFAR models, at both
precisions).

The cost: what runs eagerly, one operation at a time, runs on one core.
Large passes therefore run compiled, in chains (models/forward.py).
"""

from __future__ import annotations

import itertools
import os

MAX_CHAINS = 2  # more chains would trace the model once more each

_state = {"chains": 1}


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def configure(tf) -> None:
    """Set TensorFlow's thread pools for chains; call before its first op, on a CPU (_tf.configure).

    Leaves them alone, and batches run as one chain, when FEATVIZ_CHAINS=1
    or TF_NUM_INTRAOP_THREADS is set, or when TensorFlow already runs
    (featviz imported after other TensorFlow work).
    """
    n, asked = cores(), os.environ.get("FEATVIZ_CHAINS", "")
    wanted = min(MAX_CHAINS, n, int(asked) if asked.isdigit() else MAX_CHAINS)
    if wanted < 2 or "TF_NUM_INTRAOP_THREADS" in os.environ:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n // wanted)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:
        return
    _state["chains"] = wanted


def count() -> int:
    """The chains a batch splits into here: 1 until configure() has run."""
    return _state["chains"]


def sizes(n: int, chains: int | None = None) -> list[int]:
    """How a batch of n splits into `chains` (default: count()): [64, 64] for 128 in 2, [3, 2] for 5."""
    k = max(1, min(n, chains or _state["chains"]))
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def slices(n: int, chains: int | None = None) -> list[slice]:
    """The rows of each chain in a batch of n: [slice(0, 64), slice(64, 128)] for 128 in 2."""
    parts = sizes(n, chains)
    ends = list(itertools.accumulate(parts))
    return [slice(end - size, end) for size, end in zip(parts, ends)]


def split(batch, chains: int | None = None):
    """A batch (an array, or anything sliced by rows) in its chains' parts (default: count())."""
    return [batch[part] for part in slices(len(batch), chains)]
