"""CPU facts: counts, affinity, frequency and time counters from psutil; what psutil lacks, read here once.

psutil counts, times and clocks CPUs but never names them nor lists their instruction-set flags, so the model name
and the flags still come from ``/proc/cpuinfo`` (Linux; elsewhere ``platform``'s name and no flags). Light: no torch.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import psutil


def _cpuinfo_value(*keys: str) -> str | None:
    """The first processor block's value of the first of ``keys`` found in /proc/cpuinfo (x86: "model name",
    "flags"; Arm: "Features"); None where there is no such file or key."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in keys:
            return value.strip()
    return None


def model_name() -> str:
    """The CPU's model name (psutil has none): /proc/cpuinfo's, else platform's processor or machine."""
    return _cpuinfo_value("model name") or platform.processor() or platform.machine()


def isa_flags() -> set[str]:
    """The CPU's feature flags as the kernel lists them (psutil has none); empty where unknown."""
    return set((_cpuinfo_value("flags", "Features") or "").split())


def logical_cpus() -> int | None:
    return psutil.cpu_count(logical=True)


def physical_cores() -> int | None:
    """Distinct physical cores (psutil: None where the platform does not say)."""
    return psutil.cpu_count(logical=False)


def affinity() -> int | None:
    """CPUs this process may run on (its affinity mask; all logical CPUs where the platform has no masks)."""
    try:
        return len(psutil.Process().cpu_affinity())
    except (AttributeError, psutil.Error, OSError):  # macOS: no cpu_affinity
        return os.cpu_count()


def current_mhz() -> float | None:
    """The CPUs' current clock (MHz) as psutil reads it (Linux: the mean over CPUs); None where unknown."""
    try:
        freq = psutil.cpu_freq()
    except (NotImplementedError, OSError, RuntimeError):
        return None
    return float(freq.current) if freq and freq.current else None
