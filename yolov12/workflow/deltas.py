"""Each ablation variant against its study's baseline (same scale, same seed): the paired bootstrap on the
validation images (yolov12.evaluate.bootstrap, docs/bootstrap.md) gives the delta's interval without retraining."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..registry import JOB_KINDS

# the headline metric of each task and the COCO iou type the bootstrap resamples (OBB: Ultralytics' rotated mAP,
# no per-image COCO predictions, so no interval)
DELTA_METRIC = {"detect": ("AP", "bbox"), "segment": ("mask_AP", "segm"), "pose": ("kpt_AP", "keypoints"),
                "classify": ("top1", None), "obb": ("obb_mAP50_95", None)}


def _eval(plan, run_dir: str) -> dict[str, Any] | None:
    path = Path(plan.results) / "runs" / run_dir / JOB_KINDS["evaluate"].result
    return json.loads(path.read_text()) if path.is_file() else None


def paired_deltas(plan, index: dict[str, Any], accuracy: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from ..evaluate.bootstrap import compare_results

    boot = plan.config["bootstrap"]
    baselines = {s["study"]: s["baselines"] for s in index["studies"]}
    rows = {(r["study"], r["variant"], r["scale"], r["seed"]): r for r in accuracy}
    out = []
    for (study, variant, scale, seed), row in sorted(rows.items(), key=str):
        base_variant = baselines.get(study, {}).get(scale)
        base = rows.get((study, base_variant, scale, seed))
        if base is None or variant == base_variant or not row["converged"] or not base["converged"]:
            continue
        metric, iou_type = DELTA_METRIC[row["task"]]
        value, base_value = row.get(metric), base.get(metric)
        entry = {"study": study, "variant": variant, "scale": scale, "seed": seed, "baseline_variant": base_variant,
                 "metric": metric, "value": value, "baseline_value": base_value,
                 "delta": None if value is None or base_value is None else value - base_value,
                 "ci_lo": None, "ci_hi": None, "level": boot["level"], "n_boot": None, "n_images": None,
                 "method": None}
        ev, ev_base = _eval(plan, row["run_dir"]), _eval(plan, base["run_dir"])
        if row["task"] != "obb" and ev and ev_base and ev.get("predictions") and ev_base.get("predictions"):
            d = compare_results(ev_base, ev, metric="top1" if row["task"] == "classify" else "AP",
                                iou_type=iou_type, n_boot=boot["n_boot"], level=boot["level"], seed=0)
            entry.update(delta=d["delta"], ci_lo=d["lo"], ci_hi=d["hi"], n_boot=d["n_boot"],
                         n_images=d["n_images"], method="paired bootstrap over validation images")
        elif entry["delta"] is not None and not math.isnan(entry["delta"]):
            entry["method"] = "no per-image predictions for this task: no interval"
        out.append(entry)
    return out
