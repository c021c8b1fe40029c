"""What this CPU is and can do, read from /proc/cpuinfo (Linux), with a portable fallback."""

from __future__ import annotations

import functools
import platform


@functools.cache
def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def native_bfloat16() -> bool:
    """True on CPUs with bfloat16 instructions (AVX512-BF16 or AMX), where it is about 2x faster."""
    flags = _cpuinfo()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def name() -> str:
    """The CPU's model name, e.g. 'AMD EPYC 7B13'."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
