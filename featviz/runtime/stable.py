"""Orders that do not depend on the CPU's last bits.

The same model and image give float32 values that differ in their last
bits from one CPU to another (AVX2, AVX-512, another oneDNN kernel). A
ranking of such values flips wherever two of them are that close. Ranking
by `rank_key` instead compares them at RANK_BITS bits of mantissa (about 5
significant digits), ties broken by index: two values then swap places
only when both sit within a few last bits of a rounding boundary.
"""

from __future__ import annotations

import numpy as np

RANK_BITS = 16  # of float32's 23 mantissa bits: a relative step of 2**-16, about 1.5e-5
_DROPPED = 23 - RANK_BITS


def rank_key(values: np.ndarray) -> np.ndarray:
    """float32 values rounded to RANK_BITS bits of mantissa (nearest, ties away from zero), for ranking only."""
    bits = np.ascontiguousarray(values, np.float32).view(np.int32)
    rounded = (bits + np.int32(1 << (_DROPPED - 1))) & np.int32(~((1 << _DROPPED) - 1))
    return np.where(np.isfinite(values), rounded.view(np.float32), values).astype(np.float32)


def descending(values: np.ndarray) -> np.ndarray:
    """Indices of a 1-D array, highest rank_key first, ties by the lower index."""
    return np.argsort(-rank_key(np.asarray(values)), kind="stable")
