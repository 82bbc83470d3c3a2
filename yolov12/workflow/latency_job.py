"""Workflow latency job: one timing session (``yolov12.latency.session``) of the cells of its spec.

Two spec shapes: ``{"model": {...}, "latency": {...}}`` times one model over the config's devices x precisions x
runtimes; ``{"cells": [{"model": {...}, <labels>}, ...], "latency": {...}}`` times several models (e.g. every
variant a claim compares) in ONE session, so their processes pair and their ratios get intervals. Scalar labels of a
``cells`` entry (run_dir, study, variant, ...) are copied to that entry's result cells, never into their identity.

It runs under the node's exclusive hold (``yolov12.workflow.node``): no other job of the workflow runs on the node
while its cells are timed. The result records that hold and what the node's ledger shows around it.
"""

from __future__ import annotations

import json
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


def _model(m: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(the ModelSpec fields of a workflow model, the attention backend asked for: None = as the model defines)."""
    knobs = dict(m.get("knobs") or {})
    # the kernel is a per-cell setting of the harness, which reports it unavailable where it cannot run
    # (flash-attn on a CPU) and still takes the fp32 reference from a kernel that can
    backend = knobs.pop("backend", "auto")
    if m.get("peer"):  # a peer of the paper's tables, from Ultralytics' own definition
        from ..latency.paper_peers import peer_spec

        peer = peer_spec(m["peer"])
        model = {"ultralytics": peer.ultralytics, "nc": peer.nc}
    else:
        model = {**{k: m[k] for k in MODEL_KEYS}, "nc": m["nc"], "knobs": knobs}
    return model, None if backend == "auto" else backend


def session_of(spec: dict[str, Any], exports: dict[str, dict | None] | None = None):
    """(cells, settings) of a latency job spec, in either shape (module docstring).

    A ``cells`` entry may name its ``runtimes`` (latency.runtime_studies kept others to other studies) and carry
    ``export`` (the identity digest of its architecture's export): its file-based cells then time the files of
    that export (``exports[model_dir]``, its export.json), gated against the weights the export carries."""
    from .artifact_link import file_for_cell
    from ..latency.session import SessionSettings, session_cell

    lat = spec["latency"]
    entries = spec["cells"] if spec.get("cells") else [{"model": spec["model"]}]
    cells = []
    for entry in entries:
        m = entry.get("model", entry)
        tags = {k: v for k, v in entry.items() if k != "model" and not isinstance(v, (dict, list))} \
            if "model" in entry else {}
        model, backend = _model(m)
        for device in lat["devices"]:
            for precision in lat["precisions"]:
                for runtime in entry.get("runtimes", lat["runtimes"]):
                    artifact = file_for_cell((exports or {}).get(entry.get("model_dir")), device, precision,
                                             runtime) if entry.get("export") else None
                    timed = {"checkpoint": artifact["weights"]} if artifact and artifact.get("file") else model
                    if artifact:
                        artifact.pop("weights", None)
                    cells.append(session_cell(timed, device=device, precision=precision, runtime=runtime,
                                              batch=lat["batch"], imgsz=lat["imgsz"], backend=backend,
                                              threads=lat["threads"], tags=tags, artifact=artifact))
    settings = SessionSettings(processes=int(lat.get("processes", 3)), warmup_iters=lat["warmup_iters"],
                               warmup_s=lat["warmup_s"], min_iters=lat["min_iters"], min_s=lat["min_s"])
    return cells, settings


def _metric_key(cell: dict[str, Any], many_models: bool) -> str:
    key = f"{cell['device'].replace(':', '')}_{cell['precision']}_{cell['runtime']}_{cell.get('backend')}"
    return f"{cell['model']}/{key}" if many_models else key


def run_latency(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    def work(job):
        import time

        from ..latency.session import run_session

        from .artifact_link import link_cells, load_exports

        runs_dir = Path(spec["run_dir"]).parent
        exports = load_exports(runs_dir, [e["model_dir"] for e in spec.get("cells") or [] if e.get("export")])
        cells, settings = session_of(spec, exports)
        result = run_session(cells, settings)
        link_cells(result["cells"], exports)  # each file cell: the accuracy of the very file it timed, or a gap
        if len(result["models"]) == 1:
            result["model"] = next(iter(result["models"].values()))
        from ..latency.roofline import annotate_cells, roofline_metrics

        # each timed cell against the device's measured peaks; costs computed once per model
        by_model: dict[str, tuple[dict, list]] = {}
        for asked, timed in zip(cells, result["cells"]):
            key = json.dumps(asked["model"], sort_keys=True)
            by_model.setdefault(key, (asked["model"], []))[1].append(timed)
        for model, timed in by_model.values():
            annotate_cells(timed, model)
        hold = spec.get("node") or {}
        if hold:
            others = others_during(Path(spec["run_dir"]).parents[1], hold, time.time())
            result["isolation"] = {"exclusive": hold.get("exclusive"), "host": hold.get("host"),
                                   "other_jobs_during": others}
            if others:  # should not happen: the node lock forbids it; if it does, every cell and process says so
                why = f"other jobs ran: {', '.join(others)}"
                for cell in result["cells"]:
                    cell["contended"] = True
                    cell["contention"] = "; ".join(filter(None, [cell.get("contention"), why]))
                    for run in cell.get("processes") or []:
                        run["contended"] = True
        many = len(result["models"]) > 1
        metrics = {}
        for cell in result["cells"]:
            if cell.get("status") == "ok":
                metrics[f"latency_ms/{_metric_key(cell, many)}/median"] = cell["median_ms"]
                metrics[f"latency_ms/{_metric_key(cell, many)}/p90"] = cell["p90_ms"]
                if cell.get("run_to_run_cv") is not None:
                    metrics[f"latency_ms/{_metric_key(cell, many)}/run_to_run_cv"] = cell["run_to_run_cv"]
            if cell.get("artifact_delta") is not None:  # the timed file's own accuracy, beside eager's
                metrics[f"artifact_delta/{_metric_key(cell, many)}"] = cell["artifact_delta"]
        ok = [c["median_ms"] for c in result["cells"] if c.get("status") == "ok"]
        if ok:
            metrics["latency_ms/best_median"] = min(ok)
        metrics.update(roofline_metrics(result["cells"]))
        result["median_of_ok_ms"] = statistics.median(ok) if ok else None
        job.set_tags({f"cell.{c['model']}.{c['device']}.{c['precision']}.{c['runtime']}" if many else
                      f"cell.{c['device']}.{c['precision']}.{c['runtime']}": c.get("status", "?") + (
            f": {c['reason']}" if c.get("reason") else "") + (f" [artifact: {c['artifact_verdict']}]"
                                                              if c.get("artifact_verdict") else "")
            for c in result["cells"]})
        params = {**(model_params(spec) if spec.get("model") else {"cells": len(spec.get("cells") or [])}),
                  **{f"latency.{k}": v for k, v in spec["latency"].items()}, "latency.session": result["session"]["id"]}
        return finish(job, result, params, metrics)

    return _guarded("latency", spec, work)
