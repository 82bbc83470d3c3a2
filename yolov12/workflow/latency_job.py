"""Workflow latency job: the latency harness (yolov12.latency) over the config's matrix for one run's model."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ..io import write_json
from .jobs import MODEL_KEYS, log, model_params


def run_latency(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    from ..latency import measure

    m, lat = spec["model"], spec["latency"]
    knobs = dict(m["knobs"])
    # the kernel is a per-cell setting of the harness, which reports it unavailable where it cannot run (flash-attn
    # on a CPU) and still takes the fp32 reference from a kernel that can
    backend = knobs.pop("backend", "auto")
    result = measure({**{k: m[k] for k in MODEL_KEYS}, "nc": m["nc"], "knobs": knobs},
                     backends=[None if backend == "auto" else backend], devices=lat["devices"],
                     precisions=lat["precisions"], runtimes=lat["runtimes"],
                     batches=[lat["batch"]], imgszs=[lat["imgsz"]], threads=lat["threads"],
                     warmup_iters=lat["warmup_iters"], warmup_s=lat["warmup_s"], min_iters=lat["min_iters"],
                     min_s=lat["min_s"])
    metrics = {}
    for cell in result["cells"]:
        if cell.get("status") == "ok":
            key = f"{cell['device'].replace(':', '')}_{cell['precision']}_{cell['runtime']}"
            metrics[f"latency_ms/{key}/median"] = cell["median_ms"]
            metrics[f"latency_ms/{key}/p90"] = cell["p90_ms"]
    ok = [c["median_ms"] for c in result["cells"] if c.get("status") == "ok"]
    if ok:
        metrics["latency_ms/best_median"] = min(ok)
    params = {**model_params(spec), **{f"latency.{k}": v for k, v in lat.items()}}
    result["mlflow_run_id"] = log(spec, "latency", params, metrics)
    result["median_of_ok_ms"] = statistics.median(ok) if ok else None
    write_json(out, result, indent=1)
    return result
