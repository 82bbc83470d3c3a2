"""The timing session: one exclusive job per scale times every architecture of that scale, cells interleaved
(yolov12.latency.session); a file-based runtime's cell times the file its architecture's export scored."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import artifacts
from .. import identity as ident
from ..cost.rates import per_image

if TYPE_CHECKING:
    from ..plan import Plan
    from ..studies import Run

RESULT_BYTES = 120_000
TABLES = {"latency": "latency.csv", "latency_runs": "latency_runs.csv", "latency_samples": "latency_samples.csv.gz"}
NOT_HOW = ("studies", "runtime_studies")  # which cells are timed: a selection, not how a cell is timed


def cell(plan: Plan, run: Run) -> dict[str, Any]:
    """Its runtimes when latency.runtime_studies left some out, and the digest of the export whose files it times
    (a retrained model re-times its file)."""
    out: dict[str, Any] = {}
    runtimes, lat = plan.timed_runtimes[run.model_dir], plan.config["latency"]
    if runtimes != tuple(lat["runtimes"]):
        out["runtimes"] = list(runtimes)
    if artifacts.files_of(lat, runtimes):  # (plan.timed_files, before the plan's runs are complete)
        out["export"] = ident.digest(artifacts.export_identity(plan, run.model_dir, plan.session_runs))
    return out


def settings(plan: Plan) -> dict[str, Any]:
    return {k: v for k, v in plan.config["latency"].items() if k not in NOT_HOW}


def resources(plan: Plan, res: dict[str, int]) -> dict[str, int]:
    if not any(d.startswith("cuda") for d in plan.config["latency"]["devices"]):
        res["gpus"] = 0  # a CPU-only matrix holds no GPU
    return res


def inputs(plan: Plan, run_dir: str) -> dict[str, str]:
    """The exports whose files the session times (their export.json names them)."""
    return {f"export{i}": plan.result_path("export", c["model_dir"])
            for i, c in enumerate(plan.identity("latency", run_dir)["cells"]) if c.get("export")}


def sizes(plan: Plan, run: Run) -> dict[str, tuple[list[tuple[int, int]], tuple[str, str]]]:
    size = plan.config["latency"]["imgsz"]
    return {"latency": ([(size, size)], (plan.source, "latency.imgsz"))}


def aggregate(out, base: dict[str, Any], row: dict[str, Any], files: dict[str, Path]) -> None:
    """This architecture's cells of its scale's session; each process run of a cell once, and the per-iteration
    samples once per architecture folder (they belong to the folder, not to each study row)."""
    from ...latency.session import run_rows_of
    from ..aggregate import latency_rows, load

    lat = load(files["latency"])
    if lat is None:
        return
    mine = [c for c in lat.get("cells", []) if (c.get("tags") or {}).get("model_dir") == row["model_dir"]]
    lat = {**lat, "cells": mine}
    cells, samples = latency_rows({**base, "run_dir": row["model_dir"], "results_file": str(files["latency"])}, lat)
    out.rows["latency"] += cells
    out.rows["latency_runs"] += [r for r in run_rows_of(lat)
                                 if out.once("run", r["session"], r["cell_id"], r["process"])]
    if out.once("samples", row["model_dir"]):
        out.rows["latency_samples"] += samples


def cost(plan: Plan, cal: dict[str, Any], run: Run, run_dir: str, res: dict[str, int]):
    """Every cell in each of ``processes`` fresh interpreters, one after the other; each process starts
    (session_s.startup) and, per cell, builds and checks its model (session_s.per_cell) before its warm-up and
    timed phase. The job's own start is its overhead_s."""
    lat, exact = plan.config["latency"], True
    on_device = cal["device"] != "cpu"
    t = per_image(cal, "infer_s_per_image", run.scale, lat["imgsz"])
    cells = artifacts.session_cells(plan.identity("latency", run_dir), lat)
    if t is None or not all(d.startswith("cuda") == on_device for d in lat["devices"]):
        t, exact = 0.0, False  # the floors (warmup_s, min_s) still hold
    t = t * lat["batch"] * cal.get("threads", 1) / lat["threads"] if not on_device else t * lat["batch"]
    session = cal.get("session_s") or {}
    if set(session) != {"startup", "per_cell"}:
        exact = False  # not calibrated: the start-ups and per-cell parts are left out (a lower bound)
    procs = int(lat.get("processes", 3))
    per_cell = max(lat["warmup_iters"] * t, lat["warmup_s"]) + max(lat["min_iters"] * t, lat["min_s"])
    return procs * (session.get("startup", 0.0) + cells * (per_cell + session.get("per_cell", 0.0))), exact, 0.0
