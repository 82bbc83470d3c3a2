"""MLflow summary runs: one per (study, variant, scale) in the experiment of EVERY study that uses it, so each
study's experiment holds all its variants, its baseline included, with accuracy (mean over seeds, delta and its
interval), params, GFLOPs (paper convention and true), latency per cell, the hardware, and the ids of the job runs
behind each number (tags ``job.<kind>``). Unavailable and failed latency cells are tags with their reasons. The
MLflow compare view then plots AP against latency per study.

Rebuilt by every aggregation: an earlier summary run of the same row is deleted first, so the experiment holds one.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..registry import JOB_KINDS
from ..stats import mean_std
from . import tracking

ACC_METRICS = ("AP", "AP50", "AP75", "mask_AP", "kpt_AP", "top1", "top5", "obb_mAP50_95")


def _cell_key(c: dict[str, Any]) -> str:
    return ".".join(str(c.get(k)) for k in ("device", "precision", "runtime", "backend")).replace(":", "")


def summary_runs(plan, index: dict[str, Any], tables: dict[str, list[dict[str, Any]]],
                 delta_rows: list[dict[str, Any]]) -> int:
    from mlflow.entities import Metric, Param

    from ..gitinfo import git_commit
    from .hardware import cpu_model

    uri = plan.tracking_uri
    c = tracking.client(uri)
    commit = os.environ.get("YOLOV12_GIT_COMMIT") or git_commit() or "unknown"
    acc, deltas = defaultdict(list), {}
    for r in tables["accuracy"]:
        acc[(r["study"], r["variant"], r["scale"])].append(r)
    for d in delta_rows:
        deltas.setdefault((d["study"], d["variant"], d["scale"]), []).append(d)
    cx = {(r["study"], r["variant"], r["scale"]): r for r in tables["complexity"]}
    lat = defaultdict(list)
    for r in tables["latency"]:
        lat[(r["study"], r["variant"], r["scale"])].append(r)
    rows = {}
    for row in index["rows"]:
        rows.setdefault((row["study"], row["variant"], row["scale"]), row)
    made = 0
    for (study, variant, scale), row in rows.items():
        key = (study, variant, scale)
        name = tracking.experiment_name(plan.name, study)
        exp = tracking.experiment_id(c, name, tracking.artifact_location(uri, plan.results, name))
        ident = f"{study}/{variant}/{scale}"
        for old in tracking.retry(c.search_runs, [exp], f"tags.summary = '{ident}'"):
            tracking.retry(c.delete_run, old.info.run_id)
        metrics: dict[str, float] = {}
        for m in ACC_METRICS:
            mean, std, n = mean_std([r.get(m) for r in acc.get(key, [])])
            if n:
                metrics[m] = mean
                metrics[f"{m}_std"] = std
                metrics[f"{m}_n_seeds"] = n
        for d in deltas.get(key, []):
            suffix = f"_seed{d['seed']}" if len(deltas[key]) > 1 else ""
            metrics.update({f"delta_{d['metric']}{suffix}": d["delta"], f"delta_ci_lo{suffix}": d["ci_lo"],
                            f"delta_ci_hi{suffix}": d["ci_hi"]})
        if key in cx:
            metrics.update({k: cx[key].get(k) for k in ("params", "params_fused", "gflops", "gflops_true")})
        tags = {"summary": ident, "kind": "summary", "study": study, "variant": variant, "scale": scale,
                "config": plan.name, "run_dir": row["run_dir"], "knobs_delta": json.dumps(row["knobs_delta"]),
                "mlflow.source.git.commit": commit, "hardware.cpu": cpu_model(), "baseline":
                str(any(s["study"] == study and s["baselines"].get(scale) == variant for s in index["studies"]))}
        for cell in lat.get(key, []):
            k = _cell_key(cell)
            if cell.get("status") == "ok":
                metrics[f"latency_ms.{k}"] = cell.get("median_ms")
                metrics[f"latency_ms.{k}.ci_lo"] = cell.get("median_ci_lo")
                metrics[f"latency_ms.{k}.ci_hi"] = cell.get("median_ci_hi")
                if cell.get("device_name"):
                    tags[f"hardware.{cell['device']}"] = cell["device_name"]
            tags[f"cell.{k}"] = f"{cell.get('status')}" + (f": {cell['reason']}" if cell.get("reason") else "") + (
                f" (contended: {cell['contention']})" if str(cell.get("contended")).lower() == "true" else "")
        results = {kind: Path(plan.results) / "runs" / row["run_dir" if job.per_seed else "model_dir"] / job.result
                   for kind, job in JOB_KINDS.items()}
        for kind, result in results.items():
            if result.is_file():
                run_id = json.loads(result.read_text()).get("mlflow_run_id")
                if run_id:
                    tags[f"job.{kind}"] = run_id
        run = tracking.retry(c.create_run, exp, run_name=f"{variant} ({scale})", tags=tags,
                             start_time=tracking.now_ms())
        params = [Param(k, str(v)) for k, v in sorted(row["knobs_delta"].items())]
        items = [Metric(tracking.metric_name(k), float(v), tracking.now_ms(), 0)
                 for k, v in metrics.items() if tracking.finite(v)]
        tracking.retry(c.log_batch, run.info.run_id, metrics=items[:900], params=params[:90])
        for result in results.values():  # the job results behind every number
            if result.is_file():
                tracking.retry(c.log_artifact, run.info.run_id, str(result), "results")
        tracking.retry(c.set_terminated, run.info.run_id, "FINISHED", tracking.now_ms())
        made += 1
    return made
