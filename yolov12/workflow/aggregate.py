"""Aggregation: one tidy CSV per kind (accuracy, complexity, latency, curves), one row per (study, variant, scale)
run, each with its MLflow run id and the results file it came from (docs/results-schema.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..io import atomic_path
from .jobs import read_curves

COCO_COLUMNS = ["AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "AR1", "AR10", "AR100"]
KIND_FILES = {"train": "train.json", "evaluate": "eval.json", "complexity": "complexity.json",
              "latency": "latency.json", "export": "export.json"}


def load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def identity(row: dict[str, Any], config: str, kind_file: Path) -> dict[str, Any]:
    keys = ("study", "study_table", "variant", "variant_dir", "baseline", "family", "scale", "task")
    return {"config": config, **{k: row[k] for k in keys}, "results_file": str(kind_file)}


def accuracy_row(base, train, ev) -> dict[str, Any]:
    out = {**base, "mlflow_run_id": ev.get("mlflow_run_id"), "converged": bool(train["converged"]),
           "diverged_epoch": train.get("diverged_epoch"), "epochs": train.get("epochs"),
           "imgsz": (ev.get("settings") or {}).get("imgsz"), "dataset": (ev.get("dataset") or {}).get("data")}
    coco, ultra = ev.get("coco") or {}, ev.get("ultralytics") or {}
    bbox = coco.get("bbox") or {}
    out["eval_backend"] = bbox.get("backend") or ("ultralytics" if ultra else None)
    out.update({k: bbox.get(k) for k in COCO_COLUMNS})
    out.update(mask_AP=(coco.get("segm") or {}).get("AP"), mask_AP50=(coco.get("segm") or {}).get("AP50"),
               kpt_AP=(coco.get("keypoints") or {}).get("AP"), kpt_AP50=(coco.get("keypoints") or {}).get("AP50"),
               top1=ultra.get("metrics/accuracy_top1"), top5=ultra.get("metrics/accuracy_top5"),
               ultra_mAP50=ultra.get("metrics/mAP50(B)"), ultra_mAP50_95=ultra.get("metrics/mAP50-95(B)"))
    if base["task"] == "obb":
        out.update(obb_mAP50=ultra.get("metrics/mAP50(B)"), obb_mAP50_95=ultra.get("metrics/mAP50-95(B)"),
                   eval_backend="ultralytics")
    return out


def aggregate(results_dir: str | Path, config: str, rows: list[dict[str, Any]]) -> dict[str, Path]:
    results_dir = Path(results_dir)
    tables: dict[str, list[dict[str, Any]]] = {"accuracy": [], "complexity": [], "latency": [], "curves": []}
    for row in rows:
        run_dir = results_dir / "runs" / row["variant_dir"]
        files = {k: run_dir / f for k, f in KIND_FILES.items()}
        train, ev = load(files["train"]), load(files["evaluate"])
        if train is not None and ev is not None:
            tables["accuracy"].append(accuracy_row(identity(row, config, files["evaluate"]), train, ev))
        if train is not None:
            base = identity(row, config, files["train"])
            for epoch_row in read_curves(Path(train["results_csv"])):
                tables["curves"].append({**base, "mlflow_run_id": train.get("mlflow_run_id"), **epoch_row})
        cx = load(files["complexity"])
        if cx is not None:
            tables["complexity"].append({**identity(row, config, files["complexity"]),
                                         "mlflow_run_id": cx.get("mlflow_run_id"), "imgsz": cx.get("imgsz"),
                                         "params": cx.get("params"), "params_fused": cx.get("params_fused"),
                                         "gflops": cx.get("gflops"), "gflops_true": cx.get("gflops_true")})
        lat = load(files["latency"])
        if lat is not None:
            for cell in lat.get("cells", []):
                tables["latency"].append({**identity(row, config, files["latency"]),
                                          "mlflow_run_id": lat.get("mlflow_run_id"), **cell})
    written = {}
    for kind, records in tables.items():
        path = results_dir / f"{kind}.csv"
        with atomic_path(path) as tmp:
            pd.DataFrame.from_records(records).to_csv(tmp, index=False)
        written[kind] = path
    return written
