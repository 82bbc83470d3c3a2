"""Intervals for measurements: percentile bootstrap of a statistic, of a ratio of two statistics, and of a mean
over seeds. Plain NumPy, deterministic (fixed seed), used by the latency harness, the aggregation and the report.

The bootstrap resamples the observations with replacement ``n_boot`` times, recomputes the statistic on each
resample and takes the (1 - level) / 2 and (1 + level) / 2 percentiles of those values (docs/statistics.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

N_BOOT = 2000
LEVEL = 0.95


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def bootstrap_ci(samples: Sequence[float], stat: Callable[[np.ndarray], float] = np.median, n_boot: int = N_BOOT,
                 level: float = LEVEL, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``stat`` over ``samples`` (NaN, NaN when there are fewer than 2)."""
    x = np.asarray(samples, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan"), float("nan")
    idx = _rng(seed).integers(0, x.size, size=(n_boot, x.size))
    values = np.apply_along_axis(stat, 1, x[idx]) if stat is not np.median else np.median(x[idx], axis=1)
    a = (1 - level) / 2
    return float(np.quantile(values, a)), float(np.quantile(values, 1 - a))


def ratio_ci(a: Sequence[float], b: Sequence[float], stat: Callable[[np.ndarray], float] = np.median,
             n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0) -> tuple[float, float, float]:
    """``stat(a) / stat(b)`` and its interval, resampling the two independent sample sets separately."""
    x, y = (np.asarray(v, dtype=float) for v in (a, b))
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size < 2 or y.size < 2:
        return float("nan"), float("nan"), float("nan")
    rng = _rng(seed)
    sx = np.median(x[rng.integers(0, x.size, size=(n_boot, x.size))], axis=1) if stat is np.median else \
        np.apply_along_axis(stat, 1, x[rng.integers(0, x.size, size=(n_boot, x.size))])
    sy = np.median(y[rng.integers(0, y.size, size=(n_boot, y.size))], axis=1) if stat is np.median else \
        np.apply_along_axis(stat, 1, y[rng.integers(0, y.size, size=(n_boot, y.size))])
    q = (1 - level) / 2
    ratios = sx / sy
    return float(stat(x) / stat(y)), float(np.quantile(ratios, q)), float(np.quantile(ratios, 1 - q))


def mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof 1; NaN for one value) and count of the finite values."""
    x = np.asarray([v for v in values if v is not None], dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), 0
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else float("nan"), int(x.size)
