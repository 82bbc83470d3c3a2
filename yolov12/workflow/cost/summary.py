"""The plan's cost, summed per study, per job kind and in total; and its table as text (docs/cost.md)."""

from __future__ import annotations

import statistics
import textwrap
from typing import Any

from ...registry import JOB_KINDS
from ...report.benchmarks import duration
from ..plan import Plan
from .model import Job, jobs
from .schedule import wall_seconds


def _study_jobs(plan: Plan) -> dict[str, set[str]]:
    """The job ids each study needs (a shared baseline belongs to every study that uses it)."""
    out: dict[str, set[str]] = {}
    for run in plan.runs:
        ids = out.setdefault(run.study, set())
        for kind in JOB_KINDS:
            folder = run.folder(kind)
            if folder in plan.groups and kind in plan.kinds(folder):
                ids.add(f"{kind}/{folder}")
    return out


def _sums(js: list[Job]) -> dict[str, Any]:
    return {"trainings": sum(j.kind == "train" for j in js), "evaluations": sum(j.kind == "evaluate" for j in js),
            "timing_sessions": sum(j.exclusive for j in js),
            "cpu_hours": sum(j.seconds * j.cpus for j in js if not j.gpus) / 3600,
            "gpu_hours": sum(j.seconds * j.gpus for j in js) / 3600, "exact": all(j.exact for j in js)}


def predict(plan: Plan, cal: dict[str, Any], cores: int, gpus: int) -> dict[str, Any]:
    """Everything the plan command prints, as data (also what workflows/cost.smk writes as cost_predicted.json)."""
    all_jobs = jobs(plan, cal)
    by_id = {j.id: j for j in all_jobs}
    studies = {name: _sums([by_id[i] for i in sorted(ids)]) for name, ids in sorted(_study_jobs(plan).items())}
    kinds = {}
    for kind in dict.fromkeys(j.kind for j in all_jobs):
        js = [j for j in all_jobs if j.kind == kind]
        peak = (cal.get("peak_rss_mb") or {}).get(kind)
        kinds[kind] = {"jobs": len(js), "seconds": sum(j.seconds for j in js),
                       "median_s": statistics.median(j.seconds for j in js), "exact": all(j.exact for j in js),
                       "peak_mb": peak, "requested_mb": max(j.mem_mb for j in js)}
    total = _sums(all_jobs)
    total["wall_s"] = wall_seconds(all_jobs, cores, gpus)
    disk = {"weights_bytes": sum(j.weights_bytes for j in all_jobs),
            "results_bytes": sum(j.disk_bytes for j in all_jobs)}
    return {"config": plan.name, "source": plan.source, "calibration": {k: cal[k] for k in ("name", "source")},
            "resources": {"cores": cores, "gpus": gpus}, "studies": studies, "kinds": kinds, "total": total,
            "disk": disk, "jobs": {j.id: round(j.seconds, 3) for j in all_jobs}}


def _hours(h: float, exact: bool) -> str:
    text = f"{h:.2f}" if h < 10 else f"{h:,.0f}"
    return text if exact else f">={text}"


def size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def render(p: dict[str, Any]) -> str:
    cal, res, total = p["calibration"], p["resources"], p["total"]
    lines = [f"plan of {p['config']} ({p['source']})",
             *textwrap.wrap(f"calibration {cal['name']}: {cal['source']}", 116, subsequent_indent="  "), "", f"{'study':14s} {'trainings':>9s} {'evals':>6s} {'timings':>7s} {'CPU-h':>9s} {'GPU-h':>9s}"]
    for name, s in [*p["studies"].items(), ("total", total)]:
        if name == "total":
            lines.append("-" * 59)
        lines.append(f"{name:14s} {s['trainings']:9d} {s['evaluations']:6d} {s['timing_sessions']:7d} "
                     f"{_hours(s['cpu_hours'], s['exact']):>9s} {_hours(s['gpu_hours'], s['exact']):>9s}")
    lines += ["(a baseline shared by studies counts in each study's row, once in the total)", "",
              f"{'job kind':13s} {'jobs':>5s} {'median':>9s} {'sum':>10s} {'peak mem':>9s} {'requested':>9s}"]
    for kind, k in p["kinds"].items():
        mark = "" if k["exact"] else ">="
        peak = f"{k['peak_mb']:.0f} MB" if k["peak_mb"] is not None else "not cal."
        lines.append(f"{kind:13s} {k['jobs']:5d} {mark + duration(k['median_s']):>9s} "
                     f"{mark + duration(k['seconds']):>10s}"
                     f" {peak:>9s} {k['requested_mb']:>6d} MB")
    wall = ("" if total["exact"] else ">=") + duration(total["wall_s"])
    lines += ["", f"wall time on {res['cores']} cores, {res['gpus']} GPUs: {wall}",
              f"disk: weights {size(p['disk']['weights_bytes'])}, data and results {size(p['disk']['results_bytes'])}"]
    if not total["exact"]:
        lines.append(">= : a lower bound; the calibration has no number for part of these jobs (docs/cost.md)")
    return "\n".join(lines)
