"""What this CPU is and can do, read from /proc/cpuinfo (Linux), with a portable fallback."""

from __future__ import annotations

import functools
import os
import platform


@functools.cache
def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# oneDNN ISA limits below AVX512-BF16: with one of these set, oneDNN has no native bfloat16 kernels.
NO_BF16_ISAS = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}


def native_bfloat16() -> bool:
    """True on CPUs with bfloat16 instructions (AVX512-BF16 or AMX), where it is about 2x faster.

    ONEDNN_MAX_CPU_ISA=AVX2 (say) makes this machine compute as an AVX2 CPU
    does, and then "auto" picks float32 as it would there.
    """
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() in NO_BF16_ISAS:
        return False
    flags = _cpuinfo()
    return "avx512_bf16" in flags or "amx_bf16" in flags


# oneDNN ISA limits with no bfloat16 convolutions at all, not even emulated: it refuses to build them.
NO_BF16_KERNELS = {"SSE41", "AVX", "AVX2", "AVX2_VNNI"}


def bfloat16_runs() -> bool:
    """False when ONEDNN_MAX_CPU_ISA holds oneDNN to an ISA that cannot run bfloat16 convolutions.

    A real CPU without bfloat16 still runs them, slowly, through TensorFlow's own kernels.
    """
    return os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() not in NO_BF16_KERNELS


def name() -> str:
    """The CPU's model name, e.g. 'AMD EPYC 7B13'."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
