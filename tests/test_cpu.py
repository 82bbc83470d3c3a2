"""CPU facts (yolov12.cpu, from psutil and, for what psutil lacks, the kernel) against what the OS says itself."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from yolov12 import cpu
from yolov12.latency import conditions, env

LINUX = sys.platform.startswith("linux")


def proc_stat_seconds() -> tuple[float, float]:
    """(busy, idle) seconds from /proc/stat's aggregate line, read here independently of psutil."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, _steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, (idle + iowait) / tick


def test_counts_and_affinity_agree_with_the_os():
    info = env.cpu_info()
    assert info["cpu_logical"] == os.cpu_count()
    assert info["cpu_physical_cores"] is None or 1 <= info["cpu_physical_cores"] <= info["cpu_logical"]
    if hasattr(os, "sched_getaffinity"):
        assert info["cpu_affinity"] == len(os.sched_getaffinity(0))
    assert isinstance(info["cpu_model"], str) and info["cpu_model"]
    assert 1 <= env.default_threads() <= info["cpu_logical"]


@pytest.mark.skipif(not LINUX, reason="/proc/cpuinfo is Linux's")
def test_model_name_and_flags_are_the_kernels():
    text = Path("/proc/cpuinfo").read_text()
    names = [ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")]
    assert cpu.model_name() == (names[0] if names else cpu.model_name())
    flag_lines = [ln for ln in text.splitlines() if ln.split(":")[0].strip() in ("flags", "Features")]
    assert cpu.isa_flags() == (set(flag_lines[0].split(":", 1)[1].split()) if flag_lines else set())


@pytest.mark.skipif(not LINUX, reason="/proc/stat is Linux's")
def test_machine_cpu_time_is_proc_stat_through_psutil():
    before = proc_stat_seconds()
    snap = conditions._proc_stat()
    after = proc_stat_seconds()
    assert snap["ncpu"] == os.cpu_count()
    slack = 1.0 / os.sysconf("SC_CLK_TCK") * 1e-6  # psutil divides the same tick counts: float rounding only
    assert before[0] - slack <= snap["busy_s"] <= after[0] + slack
    assert before[1] - slack <= snap["idle_s"] <= after[1] + slack
