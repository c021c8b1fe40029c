"""What computes here: the GPU TensorFlow sees, else this CPU; and what precision "auto" means on it.

featviz uses a GPU whenever TensorFlow sees one, without a flag. On a GPU
the CPU's thread setup (chains.py) is skipped and a batch runs as one
chain. "auto" means bfloat16 where the device computes it fast: a CPU with
AVX512-BF16 or AMX (cpu.py), or a GPU of compute capability 8.0 or later
(Ampere and after: bfloat16 tensor cores). Older GPUs' tensor cores compute
float16, whose largest value, 65504, gradient ascent can drive an
activation past: "auto" means float32 there.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from . import chains, cpu

BFLOAT16_CAPABILITY = (8, 0)


@dataclass(frozen=True)
class Device:
    kind: str  # "GPU" or "CPU"
    name: str  # "NVIDIA A100-SXM4-40GB", or the CPU's model name
    count: int  # GPUs, or the cores this process may use
    capability: tuple[int, int] | None = None  # a GPU's compute capability

    @property
    def gpu(self) -> bool:
        return self.kind == "GPU"

    @property
    def auto_precision(self) -> str:
        """What --precision auto computes in on this device."""
        if self.gpu:
            fast = self.capability is not None and tuple(self.capability) >= BFLOAT16_CAPABILITY
        else:
            fast = cpu.native_bfloat16()
        return "bfloat16" if fast else "float32"

    def text(self) -> str:
        """'NVIDIA A100-SXM4-40GB (GPU, compute capability 8.0)', or 'Intel(R) Xeon(R) Processor (CPU, 2 cores)'."""
        if not self.gpu:
            return f"{self.name} (CPU, {self.count} core{'s' if self.count != 1 else ''})"
        more = f"{self.count} GPUs, " if self.count > 1 else "GPU, "
        capability = ".".join(map(str, self.capability)) if self.capability else "unknown"
        return f"{self.name} ({more}compute capability {capability})"


def detect(tf) -> Device:
    """The device of a TensorFlow module: its first GPU when it sees any, else this CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return Device("CPU", cpu.name(), chains.cores())
    try:
        details = tf.config.experimental.get_device_details(gpus[0])
    except (ValueError, RuntimeError):
        details = {}
    capability = details.get("compute_capability")
    name = details.get("device_name") or gpus[0].name
    return Device("GPU", name, len(gpus), tuple(capability) if capability else None)


def reset_peak(tf, device: Device) -> None:
    """Start measuring the GPU's peak memory afresh (nothing on a CPU)."""
    if device.gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")


def peak(tf, device: Device) -> int | None:
    """Bytes at the GPU's peak since reset_peak(); None on a CPU."""
    if not device.gpu:
        return None
    return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])


def process_peak() -> int | None:
    """This process's peak resident memory so far, in bytes (None where the system does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
