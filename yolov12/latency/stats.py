"""Timing loop, latency statistics, the per-iteration samples and their intervals.

Method (MLPerf single-stream style): one query at a time, the next issued only after the previous one finished
(device synchronised). Warm-up runs until BOTH a minimum iteration count and a minimum duration are reached; the
timed phase likewise runs until both ``min_iters`` and ``min_s`` are reached (``max_s`` optionally caps it).

Every cell keeps its per-iteration samples (float32 milliseconds, zlib-compressed, base64 text: ``samples_b64`` with
``samples_n``), so any statistic can be recomputed later; ``decode_samples(cell)`` gives them back. The median's 95 %
interval is a percentile bootstrap (``yolov12.stats.bootstrap_ci``); docs/statistics.md says why and how.
"""

from __future__ import annotations

import base64
import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..settings import LATENCY
from ..stats import LEVEL, N_BOOT, bootstrap_ci, ratio_ci

PERCENTILES = (50, 90, 95, 99)
STAT_KEYS = ("mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms", "std_ms", "cv", "min_ms", "max_ms",
             "throughput_ips", "iters", "median_ci_ms", "ci_level")
SAMPLES_CODEC = "float32-le/zlib/base64"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), numpy's default (linear interpolation between closest ranks)."""
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        raise ValueError("percentile of an empty sample")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q = {q} must lie in [0, 100]")
    return float(np.percentile(a, q))


def throughput_ips(median_ms: float, batch: int) -> float:
    """THE definition of throughput in this suite: images per second = batch * 1000 / median latency (ms).

    The median (not the mean) so that throughput and latency are two views of the same robust number: a few slow
    iterations (a preempted thread) move the mean, not the median.
    """
    return batch * 1000.0 / median_ms if median_ms > 0 else float("nan")


def summarize(times_ms: Sequence[float], batch: int = 1, seed: int = 0) -> dict[str, float | int | list]:
    """Statistics of per-iteration latencies (milliseconds) of a batch of ``batch`` images.

    std is the sample standard deviation (ddof=1; 0 for a single sample), cv = std / mean, throughput as
    ``throughput_ips`` defines it, ``median_ci_ms`` the 95 % percentile-bootstrap interval of the median ([NaN, NaN]
    for fewer than 2 samples).
    """
    a = np.asarray(times_ms, dtype=np.float64)
    if a.size == 0:
        raise ValueError("no timed iterations")
    if batch < 1:
        raise ValueError(f"batch = {batch} must be >= 1")
    mean = float(a.mean())
    std = float(a.std(ddof=1)) if a.size > 1 else 0.0
    p50, p90, p95, p99 = (float(v) for v in np.percentile(a, PERCENTILES))
    lo, hi = bootstrap_ci(a, np.median, seed=seed)
    return {
        "mean_ms": mean,
        "median_ms": p50,
        "p90_ms": p90,
        "p95_ms": p95,
        "p99_ms": p99,
        "std_ms": std,
        "cv": std / mean if mean > 0 else float("nan"),
        "min_ms": float(a.min()),
        "max_ms": float(a.max()),
        "throughput_ips": throughput_ips(p50, batch),
        "iters": int(a.size),
        "median_ci_ms": [lo, hi],
        "ci_level": LEVEL,
    }


def cv_of(values: Sequence[float]) -> float:
    """Coefficient of variation (sample std / mean) of a few numbers, e.g. the medians of repeated runs."""
    a = np.asarray(values, dtype=np.float64)
    return float(a.std(ddof=1) / a.mean()) if a.size > 1 else 0.0


# ------------------------------------------------------------------------------------------------------- samples
def encode_samples(times_ms: Sequence[float]) -> dict:
    """``{"samples_b64", "samples_n", "samples_codec"}``: every per-iteration time, float32 (7 significant digits:
    far finer than any timer here), little-endian, zlib-compressed, base64 text (a JSON string)."""
    a = np.asarray(times_ms, dtype="<f4")
    return {"samples_b64": base64.b64encode(zlib.compress(a.tobytes(), 9)).decode("ascii"), "samples_n": int(a.size),
            "samples_codec": SAMPLES_CODEC}


def stored_precision(times_ms: Sequence[float]) -> np.ndarray:
    """The times as they are kept (float32), back in float64: a cell's statistics are computed from these, so
    ``summarize(decode_samples(cell))`` gives the cell's numbers again."""
    return np.asarray(times_ms, dtype="<f4").astype(np.float64)


def decode_samples(cell: dict) -> np.ndarray:
    """The per-iteration times (ms, float64 array) of a cell; refuses a cell whose count does not match."""
    from ..errors import UserError

    text, n = cell.get("samples_b64"), cell.get("samples_n")
    if text is None or n is None:
        raise UserError("the cell holds no samples (not timed, or written before samples were kept)",
                        key="samples_b64", allowed="a cell with status ok")
    codec = cell.get("samples_codec", SAMPLES_CODEC)
    if codec != SAMPLES_CODEC:
        raise UserError(f"samples codec {codec!r} is not known", key="samples_codec", allowed=[SAMPLES_CODEC])
    a = np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype="<f4").astype(np.float64)
    if a.size != n:
        raise UserError(f"{a.size} samples decoded, the cell says {n}", key="samples_n",
                        allowed="the number of samples encoded in samples_b64")
    return a


def ratio_with_ci(cell_a: dict, cell_b: dict, level: float = LEVEL, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """median(a) / median(b) with its percentile-bootstrap interval (the two cells' samples resampled separately).

    E.g. area attention off / on (paper Table 3): ``ratio_with_ci(off_cell, on_cell)["ratio"]`` is the speed-up.
    ``excludes_1`` says whether the interval lies entirely on one side of 1 (only then is there a verdict).
    """
    a, b = decode_samples(cell_a), decode_samples(cell_b)
    r, lo, hi = ratio_ci(a, b, np.median, n_boot=n_boot, level=level, seed=seed)
    return {"ratio": r, "ci": [lo, hi], "level": level, "n_a": int(a.size), "n_b": int(b.size),
            "excludes_1": bool(lo > 1 or hi < 1)}


# ---------------------------------------------------------------------------------------------------- timing loop
@dataclass(frozen=True)
class TimingPlan:
    """How long to warm up and to time: each phase ends when both its count and its duration are reached."""

    warmup_iters: int = LATENCY.warmup_iters  # the latency settings' (yolov12.settings)
    warmup_s: float = LATENCY.warmup_s
    min_iters: int = LATENCY.min_iters
    min_s: float = LATENCY.min_s
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


def finite(obj):
    """A copy with NaN / infinite floats replaced by None (strict JSON); the reason text keeps the value."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj
