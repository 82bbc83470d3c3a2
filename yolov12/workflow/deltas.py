"""Each ablation variant against its study's baseline at the same scale, both as SEED MEANS: one row per (study,
variant, scale) with the interval of ``yolov12.evaluate.bootstrap.seeds_delta`` (seeds and validation images when
both sides have two or more seeds, image-only otherwise; docs/statistics.md, "Accuracy deltas"), the two-sided
p-value the report's multiple-comparison correction needs, and the spread of the baseline's seeds, the noise a
one-seed ordering must clear."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..registry import JOB_KINDS, TASK_TABLE

# each task's headline metric and the COCO iou type the bootstrap resamples are its row's (yolov12.registry); OBB
# is scored by Ultralytics' rotated mAP, with no per-image COCO predictions, so no interval
NO_PREDICTIONS = "no per-image predictions for this task: no interval"


def _eval(plan, run_dir: str) -> dict[str, Any] | None:
    path = Path(plan.results) / "runs" / run_dir / JOB_KINDS["evaluate"].result
    return json.loads(path.read_text()) if path.is_file() else None


def _converged(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """The seeds that converged and have the metric, one row per seed, in seed order."""
    ok = {r["seed"]: r for r in rows if r.get("converged") and r.get(metric) is not None}
    return [ok[s] for s in sorted(ok)]


def _model(row: dict[str, Any]) -> tuple:
    """What identifies one trained model over its seeds: its training identity without the seed (shared by every
    study that trains the same model, e.g. the default model every study uses as its baseline), else its study row."""
    return ((row["trained_model"],) if row.get("trained_model")
            else (row["study"], row["variant"], row["scale"], row["task"]))


def _spreads(accuracy: list[dict[str, Any]]) -> dict[tuple, dict[int, float]]:
    """Per model and metric: {seed: value} over every row of the model in any study (a seed counted once)."""
    out: dict[tuple, dict[int, float]] = defaultdict(dict)
    for r in accuracy:
        row = TASK_TABLE.get(r.get("task", ""))
        metric = row.headline if row else None
        if metric and r.get("converged") and r.get(metric) is not None:
            out[_model(r) + (metric,)][r["seed"]] = float(r[metric])
    return out


def paired_deltas(plan, index: dict[str, Any], accuracy: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from ..evaluate.bootstrap import Resampled, seeds_delta
    from ..stats import seed_spread

    boot = plan.config["bootstrap"]
    baselines = {s["study"]: s["baselines"] for s in index["studies"]}
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in accuracy:
        groups[(r["study"], r["variant"], r["scale"], r["task"])].append(r)
    seed_values = _spreads(accuracy)
    resampled: dict[tuple, Resampled] = {}  # one per metric and ground truth: a baseline's resamples are reused
    out = []
    for (study, variant, scale, task), rows in sorted(groups.items(), key=str):
        base_variant = baselines.get(study, {}).get(scale)
        base_rows = groups.get((study, base_variant, scale, task))
        if base_variant is None or variant == base_variant or not base_rows:
            continue
        row = TASK_TABLE[task]
        metric, iou_type = row.headline, row.headline_iou_type
        mine, base = _converged(rows, metric), _converged(base_rows, metric)
        if not mine or not base:
            continue  # a variant (or baseline) that diverged on every seed has no delta; the tables say why
        spread_of = seed_values.get(_model(base[0]) + (metric,), {})
        value = sum(float(r[metric]) for r in mine) / len(mine)
        base_value = sum(float(r[metric]) for r in base) / len(base)
        entry = {"study": study, "variant": variant, "scale": scale, "baseline_variant": base_variant,
                 "metric": metric, "seeds": ";".join(str(r["seed"]) for r in mine),
                 "baseline_seeds": ";".join(str(r["seed"]) for r in base), "value": value,
                 "baseline_value": base_value, "delta": value - base_value, "ci_lo": None, "ci_hi": None,
                 "interval": None, "p_value": None, "df": None, "se_images": None, "se_seeds": None,
                 "level": boot["level"], "n_boot": None, "n_images": None, "method": NO_PREDICTIONS,
                 "seed_spread": seed_spread(list(spread_of.values())), "seed_spread_seeds": len(spread_of)}
        evs = {r["run_dir"]: _eval(plan, r["run_dir"]) for r in base + mine}
        if row.resamplable and all(ev and ev.get("predictions") for ev in evs.values()):
            gt = next(iter(evs.values()))["dataset"].get("gt_sha256")
            key = (task, metric, iou_type, gt)
            if key not in resampled:
                resampled[key] = Resampled("top1" if row.classification else "AP", iou_type, boot["n_boot"], seed=0)
            d = seeds_delta({r["run_dir"]: evs[r["run_dir"]] for r in base},
                            {r["run_dir"]: evs[r["run_dir"]] for r in mine}, level=boot["level"],
                            resampled=resampled[key])
            entry.update(value=d["value_b"], baseline_value=d["value_a"], delta=d["delta"], ci_lo=d["lo"],
                         ci_hi=d["hi"], interval=d["interval"], p_value=d["p_value"], df=d["df"],
                         se_images=d["se_images"], se_seeds=d["se_seeds"], n_boot=d["n_boot"],
                         n_images=d["n_images"], method=d["method"])
        out.append(entry)
    return out
