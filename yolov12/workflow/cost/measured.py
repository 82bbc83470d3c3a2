"""What jobs really cost: Snakemake's ``benchmark:`` files (results/<config>/benchmarks/<kind>/<job>.tsv), read,
fitted into fixed costs (the probe) and set beside a prediction (the report's cost section). No torch."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any

from ..plan import Plan
from .model import jobs


def read_benchmarks(folder: str | Path) -> dict[str, dict[str, float]]:
    """``{"<kind>/<job>": {"s", "cpu_time", "max_rss", "end"}}``; the last row of each file (a retried job's last
    try); ``end`` is the file's modification time (when Snakemake wrote it: the job's end)."""
    out: dict[str, dict[str, float]] = {}
    for path in sorted(Path(folder).glob("*/*.tsv")):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]

        def number(key: str) -> float | None:
            try:
                return float(row[key])
            except (KeyError, TypeError, ValueError):  # "NA" where psutil could not sample
                return None

        out[f"{path.parent.name}/{path.stem}"] = {"s": number("s"), "cpu_time": number("cpu_time"),
                                                   "max_rss": number("max_rss"), "end": path.stat().st_mtime}
    return out


def fit_fixed_costs(plan: Plan, cal: dict[str, Any], folder: str | Path) -> tuple[dict[str, float],
                                                                                     dict[str, float]]:
    """Per kind: the median of (measured CPU time per core - predicted per-image part), and the largest RSS (MB)."""
    bench = read_benchmarks(folder)
    fixed: dict[str, list[float]] = {}
    peak: dict[str, float] = {}
    for job in jobs(plan, cal):  # cal without overhead_s: each job's seconds are its per-image part only
        got = bench.get(job.id)
        if got is None or got["s"] is None:
            continue
        # CPU time of a one-core job is its wall time on an idle machine; wall time on a shared one is not
        spent = got["cpu_time"] / job.cpus if got["cpu_time"] else got["s"]
        fixed.setdefault(job.kind, []).append(max(spent - job.seconds, 0.0))
        if got["max_rss"] is not None:
            peak[job.kind] = max(peak.get(job.kind, 0.0), got["max_rss"])
    return {k: round(statistics.median(v), 2) for k, v in fixed.items()}, {k: round(v) for k, v in peak.items()}


def by_kind(folder: str | Path) -> dict[str, dict[str, Any]]:
    """Measured jobs per kind: count, summed and median wall, summed CPU time, peak RSS; and the whole run's span
    (first job's start to last job's end, from the files' times: an approximation to the run's wall time)."""
    bench = read_benchmarks(folder)
    kinds: dict[str, dict[str, Any]] = {}
    for job_id, b in bench.items():
        if b["s"] is None:
            continue
        k = kinds.setdefault(job_id.split("/")[0], {"jobs": 0, "cpu_by_job": {}, "walls": [], "cpu_s": 0.0,
                                                             "peak_mb": 0.0})
        k["jobs"] += 1
        k["cpu_by_job"][job_id] = b["cpu_time"] or 0.0
        k["walls"].append(b["s"])
        k["cpu_s"] += b["cpu_time"] or 0.0
        k["peak_mb"] = max(k["peak_mb"], b["max_rss"] or 0.0)
    for k in kinds.values():
        walls = k.pop("walls")
        k["seconds"], k["median_s"] = sum(walls), statistics.median(walls)
    timed = [b for b in bench.values() if b["s"] is not None]
    span = max(b["end"] for b in timed) - min(b["end"] - b["s"] for b in timed) if timed else None
    return {"kinds": kinds, "span_s": span}
