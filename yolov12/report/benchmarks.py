"""Snakemake's ``benchmark:`` files of a run (results/<config>/benchmarks/<kind>/<job>.tsv) read into what each
job kind cost: the report's measured side of the cost table, and what ``yolov12.workflow.cost`` fits its fixed
costs to. No torch, no plan."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any

from ..registry import JOB_KINDS

# job kinds outside the registry's: the workflow's own bookkeeping rules
EXTRA_KINDS = ("data", "mlflow_store", "aggregate", "report")
KINDS = (*JOB_KINDS, *EXTRA_KINDS)


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


def by_kind(folder: str | Path) -> dict[str, dict[str, Any]]:
    """Measured jobs per kind: count, summed and median wall, summed CPU time, peak RSS; and the whole run's span
    (first job's start to last job's end, from the files' times: an approximation to the run's wall time)."""
    bench = read_benchmarks(folder)
    kinds: dict[str, dict[str, Any]] = {}
    for job_id, b in bench.items():
        if b["s"] is None:
            continue
        k = kinds.setdefault(job_id.split("/")[0], {"jobs": 0, "cpu_by_job": {}, "wall_by_job": {}, "walls": [],
                                                             "cpu_s": 0.0, "peak_mb": 0.0})
        k["jobs"] += 1
        k["cpu_by_job"][job_id] = b["cpu_time"] or 0.0
        k["wall_by_job"][job_id] = b["s"]
        k["walls"].append(b["s"])
        k["cpu_s"] += b["cpu_time"] or 0.0
        k["peak_mb"] = max(k["peak_mb"], b["max_rss"] or 0.0)
    for k in kinds.values():
        walls = k.pop("walls")
        k["seconds"], k["median_s"] = sum(walls), statistics.median(walls)
    timed = [b for b in bench.values() if b["s"] is not None]
    span = max(b["end"] for b in timed) - min(b["end"] - b["s"] for b in timed) if timed else None
    return {"kinds": kinds, "span_s": span}


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} days"
