"""MLflow summary runs: one per (study, variant, scale) in the experiment of EVERY study that uses it, so each
study's experiment holds all its variants, its baseline included, with accuracy (mean over seeds, delta and its
interval), params, GFLOPs (paper convention and true), latency per cell, the hardware, and the ids of the job runs
behind each number (tags ``job.<kind>``). Unavailable and failed latency cells are tags with their reasons. The
MLflow compare view then plots AP against latency per study.

Updated in place by every aggregation: the summary run of a row keeps its id while its params (the knobs) and its
set of metrics still fit (new values are logged as the latest); otherwise it is replaced (the old one tagged with
its successor and soft-deleted), so the experiment holds one per row. Each job run behind a summary gets MLflow's
parent link (``mlflow.parentRunId``) to the first summary run that uses it (a baseline shared by ten studies has
one parent; the others name it in their ``job.<kind>`` tags).
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
from .complexity_job import architecture_record
from .studies import job_folder

ACC_METRICS = ("AP", "AP50", "AP75", "mask_AP", "kpt_AP", "top1", "top5", "obb_mAP50_95")


def _cell_key(c: dict[str, Any]) -> str:
    return ".".join(str(c.get(k)) for k in ("device", "precision", "runtime", "backend")).replace(":", "")


def _summary_run(c, exp: str, ident: str, name: str, tags: dict[str, str], params: dict[str, str],
                 metric_keys: set[str]) -> str:
    """The row's summary run, updated in place where it still fits, else a new one superseding the old."""
    old = tracking.retry(c.search_runs, [exp], f"tags.summary = '{ident}'")
    keep = next((r for r in old if r.data.params == params and set(r.data.metrics) <= metric_keys), None)
    if keep is not None:
        run_id = keep.info.run_id
        tracking.retry(c.update_run, run_id, status="RUNNING", name=name)
        for k, v in tags.items():
            tracking.retry(c.set_tag, run_id, k, v)
    else:
        run_id = tracking.retry(c.create_run, exp, run_name=name, tags=tags, start_time=tracking.now_ms()).info.run_id
    for r in old:
        if r.info.run_id != run_id:
            tracking.retry(c.set_tag, r.info.run_id, "yolov12.superseded_by", run_id)
            tracking.retry(c.delete_run, r.info.run_id)
    return run_id


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
    made, parented = 0, set()
    for (study, variant, scale), row in rows.items():
        key = (study, variant, scale)
        name = tracking.experiment_name(plan.name, study)
        exp = tracking.experiment_id(c, name, tracking.artifact_location(uri, plan.results, name))
        ident = f"{study}/{variant}/{scale}"
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
        results = {kind: Path(plan.results) / "runs" / (job_folder(row, kind) or "not-measured") / job.result
                   for kind, job in JOB_KINDS.items()}
        for kind, result in results.items():
            if result.is_file():  # a complexity session: each architecture's own run
                held = json.loads(result.read_text())
                run_id = (architecture_record(held, row["model_dir"]) or {}).get("mlflow_run_id")
                if run_id:
                    tags[f"job.{kind}"] = run_id
        params = {k: str(v) for k, v in sorted(row["knobs_delta"].items())}
        items = [Metric(tracking.metric_name(k), float(v), tracking.now_ms(), 0)
                 for k, v in metrics.items() if tracking.finite(v)]
        run_id = _summary_run(c, exp, ident, f"{variant} ({scale})", tags, params, {m.key for m in items})
        tracking.retry(c.log_batch, run_id, metrics=items[:900],
                       params=[Param(k, v) for k, v in params.items()
                               if k not in c.get_run(run_id).data.params][:90])
        for kind in JOB_KINDS:
            job_run = tags.get(f"job.{kind}")
            if job_run and job_run not in parented:
                parented.add(job_run)
                tracking.retry(c.set_tag, job_run, "mlflow.parentRunId", run_id)
        run = c.get_run(run_id)
        for result in results.values():  # the job results behind every number
            if result.is_file():
                tracking.retry(c.log_artifact, run.info.run_id, str(result), "results")
        tracking.retry(c.set_terminated, run.info.run_id, "FINISHED", tracking.now_ms())
        made += 1
    return made
