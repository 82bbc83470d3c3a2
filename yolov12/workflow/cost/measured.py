"""What jobs really cost: Snakemake's ``benchmark:`` files (results/<config>/benchmarks/<kind>/<job>.tsv), read,
fitted into fixed costs (the probe) and set beside a prediction (the report's cost section). No torch."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ...report.benchmarks import by_kind, read_benchmarks  # noqa: F401  (the reading is the report's too)
from ..plan import Plan
from .model import jobs


def fit_fixed_costs(plan: Plan, cal: dict[str, Any], folder: str | Path) -> tuple[dict[str, float],
                                                                                     dict[str, float]]:
    """Per kind: the median of (measured time - predicted per-image / per-model / session part), and the largest RSS
    (MB). Measured time: CPU time per core for a job that shares the node; wall time for a timing job, which holds
    the node alone and whose session's processes Snakemake's CPU sampling undercounts."""
    bench = read_benchmarks(folder)
    fixed: dict[str, list[float]] = {}
    peak: dict[str, float] = {}
    for job in jobs(plan, cal):  # cal without overhead_s: each job's seconds are its per-image part only
        got = bench.get(job.id)
        if got is None or got["s"] is None:
            continue
        # CPU time of a one-core job is its wall time on an idle machine; wall time on a shared one is not
        spent = got["cpu_time"] / job.cpus if got["cpu_time"] and not job.exclusive else got["s"]
        fixed.setdefault(job.kind, []).append(max(spent - job.seconds, 0.0))
        if got["max_rss"] is not None:
            peak[job.kind] = max(peak.get(job.kind, 0.0), got["max_rss"])
    return {k: round(statistics.median(v), 2) for k, v in fixed.items()}, {k: round(v) for k, v in peak.items()}
