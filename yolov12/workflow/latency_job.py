"""Workflow latency job: the latency harness (yolov12.latency) over the config's matrix for one run's model.

It runs under the node's exclusive hold (``yolov12.workflow.node``): no other job of the workflow runs on the node
while its cells are timed. The result records that hold and what the node's ledger shows around it.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from . import node
from .jobs import MODEL_KEYS, _guarded, finish, model_params


def others_during(results_dir: Path, hold: dict[str, Any], end: float) -> list[str]:
    """Jobs of the workflow whose holds overlapped this one on this node (should be none)."""
    spans: dict[tuple, dict[str, Any]] = {}
    for e in node.read_ledger(node.lock_dir(results_dir)):
        spans.setdefault((e["pid"], e["job"]), {}).update(e)
    return sorted(s["job"] for s in spans.values() if s["pid"] != hold["pid"] and s.get("host") == hold["host"]
                  and s["start"] < end and s.get("end", end + 1) > hold["start"])


def run_latency(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    def work(job):
        import time

        from ..latency import measure

        m, lat = spec["model"], spec["latency"]
        knobs = dict(m["knobs"])
        # the kernel is a per-cell setting of the harness, which reports it unavailable where it cannot run
        # (flash-attn on a CPU) and still takes the fp32 reference from a kernel that can
        backend = knobs.pop("backend", "auto")
        if m.get("peer"):  # a peer of the paper's tables, from Ultralytics' own definition
            from ..latency.paper_peers import peer_spec

            model = peer_spec(m["peer"])
        else:
            model = {**{k: m[k] for k in MODEL_KEYS}, "nc": m["nc"], "knobs": knobs}
        result = measure(model,
                         backends=[None if backend == "auto" else backend], devices=lat["devices"],
                         precisions=lat["precisions"], runtimes=lat["runtimes"],
                         batches=[lat["batch"]], imgszs=[lat["imgsz"]], threads=lat["threads"],
                         warmup_iters=lat["warmup_iters"], warmup_s=lat["warmup_s"], min_iters=lat["min_iters"],
                         min_s=lat["min_s"])
        from ..latency.roofline import annotate_cells, roofline_metrics

        annotate_cells(result["cells"], model)  # each timed cell against the device's measured peaks
        hold = spec.get("node") or {}
        if hold:
            others = others_during(Path(spec["run_dir"]).parents[1], hold, time.time())
            result["isolation"] = {"exclusive": hold.get("exclusive"), "host": hold.get("host"),
                                   "other_jobs_during": others}
            if others:  # should not happen: the node lock forbids it; if it does, every cell says so
                for cell in result["cells"]:
                    cell["contended"] = True
                    cell["contention"] = "; ".join(filter(None, [cell.get("contention"),
                                                                  f"other jobs ran: {', '.join(others)}"]))
        metrics = {}
        for cell in result["cells"]:
            if cell.get("status") == "ok":
                key = f"{cell['device'].replace(':', '')}_{cell['precision']}_{cell['runtime']}_{cell.get('backend')}"
                metrics[f"latency_ms/{key}/median"] = cell["median_ms"]
                metrics[f"latency_ms/{key}/p90"] = cell["p90_ms"]
        ok = [c["median_ms"] for c in result["cells"] if c.get("status") == "ok"]
        if ok:
            metrics["latency_ms/best_median"] = min(ok)
        metrics.update(roofline_metrics(result["cells"]))
        result["median_of_ok_ms"] = statistics.median(ok) if ok else None
        job.set_tags({f"cell.{c['device']}.{c['precision']}.{c['runtime']}": c.get("status", "?") + (
            f": {c['reason']}" if c.get("reason") else "") for c in result["cells"]})
        params = {**model_params(spec), **{f"latency.{k}": v for k, v in lat.items()}}
        return finish(job, result, params, metrics)

    return _guarded("latency", spec, work)
