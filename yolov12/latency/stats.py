"""Timing loop and latency statistics.

Method (MLPerf single-stream style): one query at a time, the next issued only after the previous one finished
(device synchronised). Warm-up runs until BOTH a minimum iteration count and a minimum duration are reached; the
timed phase likewise runs until both ``min_iters`` and ``min_s`` are reached (``max_s`` optionally caps it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

PERCENTILES = (50, 90, 95, 99)
STAT_KEYS = ("mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms", "std_ms", "cv", "min_ms", "max_ms",
             "throughput_ips", "iters")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default method)."""
    a = np.sort(np.asarray(values, dtype=np.float64))
    if a.size == 0:
        raise ValueError("percentile of an empty sample")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q = {q} must lie in [0, 100]")
    pos = (a.size - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, a.size - 1)
    return float(a[lo] + (a[hi] - a[lo]) * (pos - lo))


def summarize(times_ms: Sequence[float], batch: int = 1) -> dict[str, float | int]:
    """Statistics of per-iteration latencies (milliseconds) of a batch of ``batch`` images.

    std is the sample standard deviation (ddof=1; 0 for a single sample), cv = std / mean, throughput = images per
    second over the whole timed phase (batch x iterations / total time).
    """
    a = np.asarray(times_ms, dtype=np.float64)
    if a.size == 0:
        raise ValueError("no timed iterations")
    if batch < 1:
        raise ValueError(f"batch = {batch} must be >= 1")
    mean = float(a.mean())
    std = float(a.std(ddof=1)) if a.size > 1 else 0.0
    return {
        "mean_ms": mean,
        "median_ms": percentile(a, 50),
        "p90_ms": percentile(a, 90),
        "p95_ms": percentile(a, 95),
        "p99_ms": percentile(a, 99),
        "std_ms": std,
        "cv": std / mean if mean > 0 else float("nan"),
        "min_ms": float(a.min()),
        "max_ms": float(a.max()),
        "throughput_ips": batch * 1000.0 / mean if mean > 0 else float("nan"),
        "iters": int(a.size),
    }


def cv_of(values: Sequence[float]) -> float:
    """Coefficient of variation (sample std / mean) of a few numbers, e.g. the medians of repeated runs."""
    a = np.asarray(values, dtype=np.float64)
    return float(a.std(ddof=1) / a.mean()) if a.size > 1 else 0.0


@dataclass(frozen=True)
class TimingPlan:
    """How long to warm up and to time: each phase ends when both its count and its duration are reached."""

    warmup_iters: int = 10
    warmup_s: float = 1.0
    min_iters: int = 50
    min_s: float = 2.0
    max_s: float | None = None  # optional cap on the timed phase (reported as ``capped``)

    def __post_init__(self):
        for name in ("warmup_iters", "min_iters"):
            if getattr(self, name) < 0 or int(getattr(self, name)) != getattr(self, name):
                raise ValueError(f"{name} = {getattr(self, name)!r} must be a non-negative integer")
        for name in ("warmup_s", "min_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} = {getattr(self, name)!r} must be >= 0")
        if self.min_iters < 1:
            raise ValueError("min_iters must be >= 1")
        if self.max_s is not None and self.max_s <= 0:
            raise ValueError(f"max_s = {self.max_s!r} must be > 0 or None")

    def as_dict(self) -> dict:
        return {"warmup_iters": self.warmup_iters, "warmup_s": self.warmup_s, "min_iters": self.min_iters,
                "min_s": self.min_s, "max_s": self.max_s}


def _cuda_event_timer(fn: Callable[[], object], device) -> Callable[[], float]:
    import torch

    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)

    def once() -> float:
        with torch.cuda.device(device):
            start.record()
            fn()
            end.record()
            end.synchronize()  # single stream: the next query waits for this one
        return float(start.elapsed_time(end))

    return once


def _wall_timer(fn: Callable[[], object], sync: Callable[[], None] | None) -> Callable[[], float]:
    def once() -> float:
        t0 = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        return (time.perf_counter() - t0) * 1000.0

    return once


def run_timed(fn: Callable[[], object], plan: TimingPlan, sync: Callable[[], None] | None = None,
              timer: str = "perf_counter", device=None) -> dict:
    """Warm up, then time ``fn`` per ``plan``. Returns the per-iteration times (ms) and what each phase did.

    timer: ``perf_counter`` (wall clock around ``fn`` + ``sync``) or ``cuda_events`` (events recorded on the current
    stream of ``device`` around ``fn``, the end event synchronised every iteration).
    """
    if timer == "cuda_events":
        once = _cuda_event_timer(fn, device)
    elif timer == "perf_counter":
        once = _wall_timer(fn, sync)
    else:
        raise ValueError(f"timer {timer!r}: expected 'perf_counter' or 'cuda_events'")

    t0, n = time.perf_counter(), 0
    while n < plan.warmup_iters or time.perf_counter() - t0 < plan.warmup_s:
        once()
        n += 1
    warm_s = time.perf_counter() - t0

    times: list[float] = []
    t0 = time.perf_counter()
    capped = False
    while True:
        times.append(once())
        elapsed = time.perf_counter() - t0
        if len(times) >= plan.min_iters and elapsed >= plan.min_s:
            break
        if plan.max_s is not None and elapsed >= plan.max_s:
            capped = True
            break
    return {"times_ms": times, "warmup_iters_done": n, "warmup_s_done": warm_s,
            "timed_s": time.perf_counter() - t0, "capped": capped, "timer": timer}
