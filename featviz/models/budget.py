"""The weights a model config asks for, counted before Keras allocates any of them.

A config can ask for a convolution with 2**31 filters, or a Dense layer with
10**12 units: Keras would allocate and fill the weights before it noticed
that the file holds nothing of the kind, taking the machine's memory or
failing only after minutes. So featviz first builds the model the way the
load will, with Keras recording each weight's shape instead of allocating
it, and refuses a config whose weights could not be in the file.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from ..errors import FeatvizError
from ..runtime import _tf
from .keras_internals import legacy_model_from_config, weight_shapes

# Any config may ask for this many weights (256 MB of float32) ...
FREE_WEIGHTS = 2**26
# ... and for 4 weights per byte of the file beyond that: 16 times what float32
# weights take, room for compressed archives and 8-bit weights.
WEIGHTS_PER_BYTE = 4


def check(path: Path, config: dict[str, Any], *, legacy: bool) -> None:
    """Refuse a config that asks for more weights than the file at `path` could hold.

    legacy: built the way Keras reads an .h5 config (or featviz its repair), else as a .keras config.
    Only for files whose code is not trusted: the build here runs in safe mode.
    """
    shapes = weight_shapes(lambda: _build(config, legacy))
    total = sum(math.prod(s) for s in shapes)
    limit = max(FREE_WEIGHTS, WEIGHTS_PER_BYTE * path.stat().st_size)
    if total > limit:
        largest = max(shapes, key=math.prod)
        raise FeatvizError(
            f"{path}: the config asks for {_amount(total)} weights (the largest of shape {list(largest)}), "
            f"more than a file of {path.stat().st_size:,} bytes can hold; not building it"
        )


def _amount(n: int) -> str:
    return f"{n:,}" if n < 10**15 else f"about 10^{len(str(n)) - 1}"


def _build(config: dict[str, Any], legacy: bool) -> Any:
    config = copy.deepcopy(config)  # Keras pops keys from the config it builds
    if legacy:
        return legacy_model_from_config(config, safe_mode=True)
    return _tf.keras().saving.deserialize_keras_object(config, safe_mode=True)
