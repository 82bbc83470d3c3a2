"""Aggregation: the results contract of one config (docs/results-schema.md).

One tidy row per (study, variant, scale, seed) and result kind, each with its MLflow run id and source file;
paired-bootstrap deltas of every ablation variant against its study's baseline; latency cells with their
intervals and every per-iteration sample; per-job cost from Snakemake's benchmarks; ``studies.json`` and
``config.json``; then the MLflow summary runs (``yolov12.workflow.summary``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..evaluate.cocoeval import measured
from ..io import atomic_path, write_json
from ..registry import JOB_KINDS, TASK_TABLE
from . import kinds
from .plan import Plan, make_plan
from .studies import job_folder
from .train import read_rows, unvalidated

COCO_COLUMNS = ["AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "AR1", "AR10", "AR100"]
IDENTITY = ("study", "study_table", "variant", "run_dir", "family", "scale", "task", "hierarchy", "seed")


def load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def accuracy_row(base: dict[str, Any], train: dict[str, Any], ev: dict[str, Any]) -> dict[str, Any]:
    coco, ultra = ev.get("coco") or {}, ev.get("ultralytics") or {}
    bbox, counts = coco.get("bbox") or {}, ev.get("counts") or {}
    out = {**base, "mlflow_run_id": ev.get("mlflow_run_id"), "converged": bool(train["converged"]),
           "diverged_epoch": train.get("diverged_epoch"), "epochs": train.get("epochs"),
           "epochs_done": train.get("epochs_done"), "imgsz": (ev.get("settings") or {}).get("imgsz"),
           "precision": ev.get("precision"), "subset": ev.get("subset"),
           "dataset": (ev.get("dataset") or {}).get("data"),
           "eval_backend": bbox.get("backend") or ("ultralytics" if ultra else None),
           **{k: counts.get(k) for k in ("gt_images", "evaluated_images", "gt_instances", "evaluated_instances")}}
    out.update({k: measured(bbox.get(k)) for k in COCO_COLUMNS})  # COCO's -1 (no objects of a size) is a gap
    segm, kpts = coco.get("segm") or {}, coco.get("keypoints") or {}
    out.update(mask_AP=measured(segm.get("AP")), mask_AP50=measured(segm.get("AP50")),
               kpt_AP=measured(kpts.get("AP")), kpt_AP50=measured(kpts.get("AP50")),
               top1=ultra.get("metrics/accuracy_top1"), top5=ultra.get("metrics/accuracy_top5"))
    ran = train.get("optimizer") or {}  # what trained (optimizer: auto picks its own optimizer and lr), train.json
    out.update(optimizer_ran=ran.get("optimizer"), lr0_ran=ran.get("lr0"), momentum_ran=ran.get("momentum"))
    if TASK_TABLE[base["task"]].rotated:  # Ultralytics' rotated-box mAP: the COCO toolkit has none
        out.update(obb_mAP50=ultra.get("metrics/mAP50(B)"), obb_mAP50_95=ultra.get("metrics/mAP50-95(B)"),
                   eval_backend="ultralytics")
    return out


def curve_rows(base: dict[str, Any], train: dict[str, Any]) -> list[dict[str, Any]]:
    """The training curve; a validation metric is empty for an epoch that was not validated."""
    validated = train.get("validated_epochs")
    rows = []
    for row in read_rows(Path(train["results_csv"])):
        if validated is not None and int(row["epoch"]) not in validated:
            row = {**unvalidated(row), **{k: None for k in row if k not in unvalidated(row)}}
        rows.append({**base, "mlflow_run_id": train.get("mlflow_run_id"), **row})
    return rows


def latency_rows(base: dict[str, Any], lat: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """One row per cell (its samples removed) and the long table of per-iteration samples."""
    from ..latency import decode_samples

    cells, samples = [], []
    for cell in lat.get("cells", []):
        flat = {k: v for k, v in cell.items() if not k.startswith("samples") and not isinstance(v, (dict, list))}
        ci = cell.get("median_ci_ms") or [None, None]
        h, w = cell.get("imgsz_hw") or (None, None)
        flat.update(median_ci_lo=ci[0], median_ci_hi=ci[1], imgsz_h=h, imgsz_w=w)
        cells.append({**base, "mlflow_run_id": lat.get("mlflow_run_id"), **flat})
        key = {k: flat.get(k) for k in ("device", "precision", "runtime", "backend", "batch", "imgsz_h", "imgsz_w")}
        if cell.get("status") == "ok":
            for i, ms in enumerate(decode_samples(cell)):
                samples.append({"run_dir": base["model_dir"], **key, "i": i, "ms": float(ms)})
    return cells, samples


def benchmark_rows(results: Path, plan: Plan) -> list[dict[str, Any]]:
    """jobs.csv: per job its wall and CPU time and peak memory, and how many architectures it measured (a session
    job: every architecture of its scale; any other job: one)."""
    rows = []
    for kind in JOB_KINDS:
        for run_dir in plan.run_dirs(kind):
            path = results / "benchmarks" / kind / f"{run_dir}.tsv"
            if path.is_file():
                b = pd.read_csv(path, sep="\t").iloc[-1]
                cells = len(plan.identity(kind, run_dir)["cells"]) if JOB_KINDS[kind].session else 1
                rows.append({"run_dir": run_dir, "kind": kind, "cells": cells, "wall_s": float(b["s"]),
                             "cpu_s": _number(b, "cpu_time"), "max_rss_mb": _number(b, "max_rss")})
    return rows


def _number(row: pd.Series, key: str) -> float | None:
    """A benchmark column as a number; a gap where Snakemake wrote none (NA: psutil could not sample it)."""
    try:
        value = float(row[key])
    except (KeyError, TypeError, ValueError):
        return None
    return None if value != value else value  # NaN: pandas' reading of NA


def write_csv(path: Path, records: list[dict[str, Any]], compression: str | None = None) -> Path:
    with atomic_path(path) as tmp:
        pd.DataFrame.from_records(records).to_csv(tmp, index=False, compression=compression)
    return path


class Tables:
    """The aggregated tables being filled, by name (each kind's ``TABLES``: name -> file), and the keys already
    taken (a row shared by several study rows is written once)."""

    def __init__(self, files: dict[str, str]):
        self.files = files
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in files}
        self._seen: set[tuple] = set()

    def once(self, *key: Any) -> bool:
        """True the first time ``key`` is asked for."""
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def aggregate(plan: Plan) -> dict[str, Path]:
    from .deltas import paired_deltas
    from .summary import summary_runs

    results = Path(plan.results)
    index = plan.index()
    out = Tables(kinds.tables())
    measured = set()
    baselines = {s["study"]: s["baselines"] for s in index["studies"]}
    for row in index["rows"]:
        base = {"config": plan.name, **{k: row[k] for k in IDENTITY}, "model_dir": row["model_dir"],
                "trained_model": row["trained_model"],
                "baseline": baselines.get(row["study"], {}).get(row["scale"]) == row["variant"]}
        # a training's folder, its architecture's (export) and its scale's sessions (complexity, latency; a run that
        # a kind does not measure has no folder of that kind: its file is one that never exists)
        files = {k: results / "runs" / (job_folder(row, k) or "not-measured") / j.result for k, j in JOB_KINDS.items()}
        architecture = (row["study"], row["variant"], row["scale"])
        first_seed = architecture not in measured  # a kind measuring the architecture: its rows once, not per seed
        measured.add(architecture)
        for kind, job in JOB_KINDS.items():
            rows_of = kinds.hook(kind, "aggregate")  # the kind's rows of this study row (kinds.<kind>.aggregate)
            if rows_of and (job.per_training or first_seed):
                rows_of(out, base, row, files)
    tables = out.rows
    written = {name: write_csv(results / f, tables[name], "gzip" if f.endswith(".gz") else None)
               for name, f in out.files.items()}
    deltas = paired_deltas(plan, index, tables["accuracy"])
    written["deltas"] = write_csv(results / "deltas.csv", deltas)
    written["jobs"] = write_csv(results / "jobs.csv", benchmark_rows(results, plan))
    written["studies"] = write_json(results / "studies.json", index["studies"], indent=1)
    written["config"] = write_json(results / "config.json", plan.config, indent=1)
    summary_runs(plan, index, tables, deltas)
    return written


def aggregate_from_config(config_text: str, results: str, basedir: str = ".",
                          uri: str | None = None) -> dict[str, Path]:
    text = config_text.strip()
    config = json.loads(text if text.startswith("{") else Path(text).read_text())
    plan = make_plan(config, "aggregate --config", basedir)
    plan.tracking_override = uri
    if Path(plan.results) != Path(results):
        raise ValueError(f"--results {results} is not the config's results folder {plan.results}")
    return aggregate(plan)
