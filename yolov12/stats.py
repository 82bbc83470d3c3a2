"""Intervals for measurements (docs/statistics.md says what each covers and what not). Deterministic: fixed seeds.

- ``bootstrap_ci`` / ``ratio_ci``: percentile bootstrap of a statistic (or a ratio of two) over exchangeable samples,
  e.g. the iterations of one timed phase (within-run only);
- ``between_runs_ci`` / ``paired_ratio_ci`` / ``run_to_run_cv``: latency over independent processes, the unit that
  carries run-to-run noise (Student t on logs; ratios from the processes that timed both cells);
- ``seed_image_interval`` / ``seed_spread``: an accuracy delta of seed means over training seeds and validation
  images, or image-only with one seed, and the spread a one-seed ordering must clear;
- ``holm``: the per-study multiple-comparison correction; ``mean_std``: a metric over seeds.
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


# ------------------------------------------------------------------------------------- latency between processes
# The independent unit of a timing is a process (a fresh interpreter with its own warm-up), not an iteration:
# iterations within one process share its clocks, caches and memory layout, so their spread understates how much
# a second run would differ (docs/statistics.md). Intervals come from the per-process medians, as pyperf reasons.

def _finite(values) -> np.ndarray:
    x = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    return x[np.isfinite(x)]


def _t_interval(logs: np.ndarray, level: float) -> tuple[float, float]:
    """Student t interval of the mean of ``logs`` (scipy), or (NaN, NaN) for fewer than 2 values."""
    from scipy import stats  # imported here: the workflow's parse imports this module and must stay light

    if logs.size < 2:
        return float("nan"), float("nan")
    if np.ptp(logs) == 0:  # identical values: a zero-width interval (scipy would return NaN for sd = 0)
        return float(logs[0]), float(logs[0])
    ci = stats.ttest_1samp(logs, 0.0).confidence_interval(level)
    return float(ci.low), float(ci.high)


def between_runs_ci(run_medians: Sequence[float], level: float = LEVEL) -> tuple[float, float, float]:
    """(center, lo, hi) of a cell timed in several processes: center = the median of the per-process medians; the
    interval = Student t on the log of the per-process medians, mapped back (so it is multiplicative, and never
    below 0); (center, NaN, NaN) with fewer than 2 processes."""
    x = _finite(run_medians)
    x = x[x > 0]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    lo, hi = _t_interval(np.log(x), level)
    return float(np.median(x)), float(np.exp(lo)), float(np.exp(hi))


def paired_ratio_ci(a_run_medians: Sequence[float], b_run_medians: Sequence[float],
                    level: float = LEVEL) -> tuple[float, float, float, int]:
    """(ratio, lo, hi, n_pairs) of cell a over cell b from per-process medians measured IN THE SAME PROCESSES
    (position i of both lists = process i): the per-process log ratios cancel what a process shares (its clock,
    thermal state, other load), the interval is Student t on them, mapped back; ratio = exp(mean log ratio), the
    geometric mean of the per-process ratios, so it lies inside its interval. Pairs with a missing value are
    dropped; fewer than 2 pairs give a NaN interval."""
    a = np.asarray([np.nan if v is None else v for v in a_run_medians], dtype=float)
    b = np.asarray([np.nan if v is None else v for v in b_run_medians], dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired per-process medians of different lengths ({a.size} and {b.size})")
    ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    logs = np.log(a[ok] / b[ok])
    if logs.size == 0:
        return float("nan"), float("nan"), float("nan"), 0
    lo, hi = _t_interval(logs, level)
    return float(np.exp(logs.mean())), float(np.exp(lo)), float(np.exp(hi)), int(logs.size)


def run_to_run_cv(run_medians: Sequence[float]) -> float:
    """Coefficient of variation of the per-process medians (sample sd, ddof 1, / mean); NaN below 2 processes."""
    x = _finite(run_medians)
    return float(x.std(ddof=1) / x.mean()) if x.size > 1 and x.mean() > 0 else float("nan")


# ------------------------------------------------------------------------------- accuracy over seeds and images
SEEDS_AND_IMAGES = "seeds+images"
IMAGE_ONLY = "image-only"


def seed_image_interval(full_a: Sequence[float], full_b: Sequence[float], boot_a, boot_b,
                        level: float = LEVEL) -> dict:
    """The difference of seed means ``mean(b) - mean(a)`` of a metric, with an interval that covers both training
    seeds and validation images (docs/statistics.md, "Accuracy deltas").

    full_a, full_b: the metric of each seed's checkpoint on the full image set (n_a and n_b seeds).
    boot_a, boot_b: (n_boot, n_a) and (n_boot, n_b): the same checkpoints scored on each image resample; row r of
    both arrays must be the SAME resample (paired: every checkpoint sees the same images).

    Two levels of variance, added: images within seeds (the variance of the resampled difference of seed means)
    and seeds (sample variance of each arm's per-seed values over its number of seeds); the interval is Student t
    with Welch-Satterthwaite degrees of freedom (the image level counts as infinitely many). A bootstrap over two
    seed values cannot know how uncertain their spread is, the t quantile of few degrees of freedom does (the
    coverage test measures both). With one seed on either side the seed variance cannot be estimated: the
    interval is then the image-only percentile interval of the paired bootstrap, labelled ``image-only``.

    Returns delta, lo, hi, p_value (two-sided, of delta = 0), interval (``seeds+images`` | ``image-only``),
    se_images, se_seeds, df, n_seeds_a, n_seeds_b.
    """
    from scipy import stats

    fa, fb = np.asarray(full_a, dtype=float), np.asarray(full_b, dtype=float)
    ba, bb = np.asarray(boot_a, dtype=float).reshape(-1, fa.size), np.asarray(boot_b, dtype=float).reshape(-1,
                                                                                                           fb.size)
    if fa.size == 0 or fb.size == 0 or ba.shape[0] != bb.shape[0] or ba.shape[0] < 2:
        raise ValueError("need at least one seed per side and the same >= 2 image resamples for both")
    delta = float(fb.mean() - fa.mean())
    diffs = bb.mean(axis=1) - ba.mean(axis=1)  # the difference of seed means on each image resample
    se_img = float(diffs.std(ddof=1))
    out = {"delta": delta, "se_images": se_img, "n_seeds_a": int(fa.size), "n_seeds_b": int(fb.size)}
    if fa.size < 2 or fb.size < 2:
        q = (1 - level) / 2
        lo, hi = (float(v) for v in np.quantile(diffs, [q, 1 - q]))
        p = 1.0 if se_img == 0 and delta == 0 else 0.0 if se_img == 0 else float(2 * stats.norm.sf(abs(delta) / se_img))
        return out | {"lo": lo, "hi": hi, "p_value": p, "interval": IMAGE_ONLY, "se_seeds": float("nan"),
                      "df": float("inf")}
    va, vb = fa.var(ddof=1) / fa.size, fb.var(ddof=1) / fb.size
    se = float(np.sqrt(se_img ** 2 + va + vb))
    seed_part = va ** 2 / (fa.size - 1) + vb ** 2 / (fb.size - 1)
    df = float((se ** 2) ** 2 / seed_part) if seed_part > 0 else float("inf")
    half = float(stats.t.ppf((1 + level) / 2, df)) * se
    p = (1.0 if delta == 0 else 0.0) if se == 0 else float(2 * stats.t.sf(abs(delta) / se, df))
    return out | {"lo": delta - half, "hi": delta + half, "p_value": p, "interval": SEEDS_AND_IMAGES,
                  "se_seeds": float(np.sqrt(va + vb)), "df": df}


def seed_spread(values: Sequence[float]) -> float:
    """The spread of one model's metric over its training seeds: max - min (NaN below 2 seeds). For two seeds this
    is |a - b|, sqrt(2) standard deviations: the gate a one-seed ordering must clear (docs/statistics.md)."""
    x = _finite(values)
    return float(np.ptp(x)) if x.size > 1 else float("nan")


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control; NaN stays NaN and is not counted): sort
    ascending, multiply the i-th smallest by (m - i), carry the running maximum, cap at 1."""
    p = np.asarray([np.nan if v is None else v for v in p_values], dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    adjusted = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out[order] = np.minimum(adjusted, 1.0)
    return out
