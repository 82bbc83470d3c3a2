"""Timing sessions: a list of cells timed in several independent processes, interleaved, one process at a time.

    cells = [session_cell({"family": "yolov12", "scale": "n"}, imgsz=640),
             session_cell({"family": "yolov12", "scale": "n", "knobs": {"area": 1}}, imgsz=640)]
    result = run_session(cells, SessionSettings(processes=3))
    rows_of(result)        # latency.csv rows: one per cell, its between-process interval
    run_rows_of(result)    # latency_runs.csv rows: one per (cell, process)

Why processes: iterations within one process share its clocks, caches, memory layout and JIT decisions, so their
spread understates how much a second run differs (issue 21: a 2.8 % run-to-run CV against narrower within-run
intervals). Each process is a fresh interpreter (``python -m yolov12.latency.worker``) with its own model build and
warm-up; the processes run one after the other, never two at once (they would contend for the cores). Process p
times the cells in the session's order rotated by p (A B, B A, A B, ...), so slow drift of the machine (heat, a
neighbour) falls on every cell alike, and every process times every cell, which pairs them for ratios
(``yolov12.stats.paired_ratio_ci``). A cell's number is the median of its per-process medians; its 95 % interval is
``yolov12.stats.between_runs_ci`` over those medians (docs/statistics.md); all within-run samples stay recorded.

This module imports neither torch nor Ultralytics (the workflow's parse and the cost estimate read it).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..settings import LATENCY

# what makes a cell the cell it is: its samples are never pooled with another identity's (issue 21)
IDENTITY = ("model", "scope", "backend", "threads", "device", "precision", "runtime", "batch", "imgsz")
MIN_PROCESSES_FOR_INTERVAL = 3
# the per-process row of latency_runs.csv (docs/results-schema.md)
RUN_COLUMNS = ("cell_id", "session", "process", "position", "median_ms", "samples_n", "contended")


@dataclass(frozen=True)
class SessionSettings:
    """How every cell of a session is timed (the same for all its cells, part of the session id).

    processes: independent processes; 1 is allowed (no interval: the report prints gaps), comparisons need >= 3
    (``require_intervals``). harness: further keyword options of ``yolov12.latency.core.Bench`` / the runtimes
    (tolerances, fuse, tf32, onnx_file, compile_mode, opset, simplify, conf, iou, max_det, det_min_match)."""

    processes: int = LATENCY.processes  # the latency settings' (yolov12.settings)
    warmup_iters: int = LATENCY.warmup_iters
    warmup_s: float = LATENCY.warmup_s
    min_iters: int = LATENCY.min_iters
    min_s: float = LATENCY.min_s
    max_s: float | None = None
    harness: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        from ..errors import UserError

        if int(self.processes) != self.processes or self.processes < 1:
            raise UserError(f"processes = {self.processes!r} must be an integer >= 1", key="processes",
                            allowed=f">= {MIN_PROCESSES_FOR_INTERVAL} for an interval, 1 for a single run")

    def require_intervals(self, key: str = "processes") -> None:
        """Refuse a session too small for a between-process interval (a comparison needs one)."""
        from ..errors import UserError

        if self.processes < MIN_PROCESSES_FOR_INTERVAL:
            raise UserError(f"{self.processes} process(es) give no between-process interval", key=key,
                            allowed=f">= {MIN_PROCESSES_FOR_INTERVAL}")

    def plan(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("warmup_iters", "warmup_s", "min_iters", "min_s", "max_s")}


def session_cell(model: dict[str, Any], *, device: str = "cpu", precision: str = "fp32", runtime: str = "eager",
                 batch: int = 1, imgsz: int | tuple[int, int] = 640, backend: str | None = None,
                 scope: str = "forward", threads: int = 1, tags: dict[str, Any] | None = None,
                 artifact: dict[str, Any] | None = None) -> dict[str, Any]:
    """A cell of a session: its identity (JSON, a model dict of ``yolov12.latency.spec.ModelSpec`` fields) and
    ``tags``, labels copied to the result (e.g. the workflow's run folder) that are no part of the identity.
    ``artifact``: the exported file a file-based runtime times (``{"key", "file", "sha256"}``, or ``file`` None
    with the ``reason`` there is none: the cell is then unavailable), yolov12.workflow.artifact_link."""
    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    cell = {"model": {k: v for k, v in model.items() if v is not None}, "device": device, "precision": precision,
            "runtime": runtime, "batch": int(batch), "imgsz": [int(h), int(w)], "backend": backend, "scope": scope,
            "threads": int(threads)}
    if tags:
        cell["tags"] = dict(tags)
    if artifact is not None:
        cell["artifact"] = dict(artifact)
    return cell


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]


def cell_id(cell: dict[str, Any]) -> str:
    """Digest of the cell's full identity (model, scope, kernel setting, threads, device, precision, runtime,
    batch, imgsz): two cells differing in any setting never share an id, so their samples are never pooled."""
    ident = {k: cell.get(k) for k in IDENTITY}
    if cell.get("artifact"):  # the file it times, by content (two exports of one model are two cells)
        ident["artifact"] = cell["artifact"].get("sha256") or cell["artifact"].get("reason")
    return _digest(ident)


def session_spec(cells: list[dict[str, Any]], settings: SessionSettings) -> str:
    """Digest of the sorted cell ids and the settings: what the session measures (the same for a rerun)."""
    return _digest({"cells": sorted(cell_id(c) for c in cells), "settings": asdict(settings)})


def session_id(cells: list[dict[str, Any]], settings: SessionSettings, execution: dict[str, Any]) -> str:
    """Digest of the session's spec and of this execution (host, process id, start time in ns): two runs of the
    same cells are two sessions, whose processes must never be paired with each other (the report pairs cells by
    (session, cell_id, process))."""
    return _digest({"spec": session_spec(cells, settings), "execution": execution})


def process_order(n_cells: int, process: int) -> list[int]:
    """The cell indices process ``process`` times, in order: the session's order rotated by the process index, so
    each cell is first, second, ... in turn (with 2 cells: A B, B A, A B)."""
    k = process % n_cells if n_cells else 0
    return list(range(k, n_cells)) + list(range(k))


# ------------------------------------------------------------------------------------------------------ cost
# calibrated on this project's shared 2-core machine: a process timing 2 tiny cells (64 px, 1 + 4 iterations) took
# 3.8-6.2 s in all, i.e. about 4 s to start an interpreter and import torch and Ultralytics, 1 s per cell for the
# model build (cached per process and model), the correctness gate and the kernel profile
STARTUP_S = 4.0
CELL_OVERHEAD_S = 1.0


def estimate_session_s(n_cells: int, processes: int = 3, warmup_iters: int = 10, warmup_s: float = 1.0,
                       min_iters: int = 50, min_s: float = 2.0, iter_ms: float | None = None,
                       startup_s: float = STARTUP_S, cell_overhead_s: float = CELL_OVERHEAD_S) -> float:
    """Predicted wall seconds of a session (pure arithmetic): per process, start-up, then per cell its overhead,
    warm-up (the longer of ``warmup_s`` and ``warmup_iters`` iterations) and timed phase (the longer of ``min_s``
    and ``min_iters`` iterations). ``iter_ms``: one iteration's time if known (else only the durations count)."""
    it = (iter_ms or 0.0) / 1000.0
    per_cell = cell_overhead_s + max(warmup_s, warmup_iters * it) + max(min_s, min_iters * it)
    return processes * (startup_s + n_cells * per_cell)


# -------------------------------------------------------------------------------------------------- running
def _worker_env() -> dict[str, str]:
    """The child sees the same package as this process (the tree this module was imported from comes first)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _run_process(cells: list[dict], order: list[int], settings: SessionSettings, process: int, tmp: Path,
                 verbose: bool) -> tuple[dict | None, float, str]:
    """One fresh process timing ``cells`` in ``order``: (its output or None, wall seconds, why it failed)."""
    job = {"process": process, "cells": [cells[i] for i in order], "plan": settings.plan(),
           "harness": settings.harness, "verbose": verbose}
    src, dst = tmp / f"in-{process}.json", tmp / f"out-{process}.json"
    src.write_text(json.dumps(job))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "yolov12.latency.worker", str(src), str(dst)], env=_worker_env(),
                          stdout=subprocess.DEVNULL, stderr=None if verbose else subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if dst.is_file() and proc.returncode != 0:
        bad = json.loads(dst.read_text()).get("user_error")
        if bad:  # bad input (a missing checkpoint, an unknown model definition): refused, not a failed cell
            from ..errors import UserError

            raise UserError(bad["what"], file=bad["file"], key=bad["key"], allowed=bad["allowed"])
    if proc.returncode != 0 or not dst.is_file():
        tail = (proc.stderr or "").strip().splitlines()[-3:] if not verbose else []
        return None, wall, f"process {process} exited with {proc.returncode}" + (f": {' | '.join(tail)}" if tail
                                                                                  else "")
    return json.loads(dst.read_text()), wall, ""


def run_session(cells: list[dict[str, Any]], settings: SessionSettings | None = None, *,
                verbose: bool = True) -> dict[str, Any]:
    """Time ``cells`` (from ``session_cell``) in ``settings.processes`` fresh processes, one after the other, the
    order rotated per process; returns ``{"session", "env", "method", "models", "cells"}`` where each cell is the
    harness's cell (docs/latency.md) with the session's fields (``merge``)."""
    from ..errors import UserError

    settings = settings or SessionSettings()
    if not cells:
        raise UserError("a timing session needs at least one cell", key="cells", allowed="a non-empty list")
    ids = [cell_id(c) for c in cells]
    if len(set(ids)) != len(ids):
        raise UserError("the same cell is listed twice in one session", key="cells",
                        allowed="cells that differ in at least one of " + ", ".join(IDENTITY))
    execution = {"host": socket.gethostname(), "pid": os.getpid(), "start_ns": time.time_ns()}
    sid = session_id(cells, settings, execution)
    outputs: list[tuple[int, list[int], dict | None, float, str]] = []
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="yolov12-session-") as tmp:
        for p in range(settings.processes):  # sequential on purpose: two timed processes would contend
            order = process_order(len(cells), p)
            out, wall, why = _run_process(cells, order, settings, p, Path(tmp), verbose)
            if why and verbose:
                print(f"session {sid}: {why}", file=sys.stderr, flush=True)
            outputs.append((p, order, out, wall, why))

    def runs_of(i: int) -> list[tuple[int, int, dict | None, str]]:
        """Cell i in each process: (process, its position there, its cell or None, why the process failed)."""
        return [(p, order.index(i), out["cells"][order.index(i)] if out else None, why)
                for p, order, out, _, why in outputs]

    merged = [merge(cell, cid, sid, runs_of(i)) for i, (cell, cid) in enumerate(zip(cells, ids))]
    first = next((o for _, _, o, _, _ in outputs if o), {}) or {}
    models: dict[str, Any] = {}
    for _, _, out, _, _ in outputs:
        models.update((out or {}).get("models", {}))
    record = {"id": sid, "spec": session_spec(cells, settings), "execution": execution,
              "processes": settings.processes, "settings": asdict(settings),
              "order": [[ids[i] for i in order] for _, order, _, _, _ in outputs],
              "process_wall_s": [round(w, 2) for _, _, _, w, _ in outputs],
              "process_errors": [why for _, _, _, _, why in outputs if why],
              "wall_s": round(time.time() - t0, 2),
              "interval": "95 % Student t on the log of the per-process medians (yolov12.stats.between_runs_ci)"}
    from .stats import finite

    return finite({"session": record, "env": first.get("env", {}), "method": first.get("method", {}),
                   "models": models, "cells": merged})


def merge(cell: dict, cid: str, sid: str, runs: list[tuple[int, int, dict | None, str]]) -> dict:
    """One cell of the session from its per-process cells ``(process, position, cell or None, failure)``."""
    from ..stats import between_runs_ci, run_to_run_cv
    from .stats import decode_samples, encode_samples, summarize, throughput_ips

    ok = [(p, pos, c) for p, pos, c, _ in runs if c is not None and c.get("status") == "ok"]
    seen = next((c for _, _, c, _ in runs if c is not None), None)
    out = dict(ok[0][2] if ok else seen or {
        "model": cell["model"].get("name") or json.dumps(cell["model"], sort_keys=True), "status": "failed",
        **{k: cell[k] for k in ("device", "precision", "runtime", "batch", "scope", "threads")},
        "imgsz_hw": cell["imgsz"], "attn_backend": cell["backend"], "backend": cell["backend"]})
    out.update(cell_id=cid, session=sid, n_processes=len(ok), tags=cell.get("tags") or {},
               identity={k: cell.get(k) for k in IDENTITY})
    if cell.get("artifact"):
        out["artifact"] = cell["artifact"]
    failures = [f"process {p}: {c['status']} ({c.get('reason')})" if c is not None else why
                for p, _, c, why in runs if c is None or c.get("status") != "ok"]
    if not ok:
        out.update(status=out.get("status") or "failed", run_to_run_cv=None, median_ci_ms=None, processes=[],
                   reason=out.get("reason") or "; ".join(failures))
        return out
    medians = [c["median_ms"] for _, _, c in ok]
    center, lo, hi = between_runs_ci(medians)
    pooled = [x for _, _, c in ok for x in decode_samples(c)]  # within-run samples, every process, kept
    per_process = [{"process": p, "position": pos, "median_ms": c["median_ms"], "samples_n": c["samples_n"],
                    "contended": bool(c.get("contended")), "contention": c.get("contention") or "",
                    "within_run_ci_ms": c.get("median_ci_ms"), "kernel": c.get("kernel"), "cv": c.get("cv"),
                    "timed_s": c.get("timed_s"), "conditions": c.get("conditions"),
                    "samples_b64": c["samples_b64"]} for p, pos, c in ok]
    stats = summarize(pooled, out["batch"])
    stats.pop("median_ci_ms")  # a bootstrap over pooled iterations is the within-run interval the session replaces
    kernels = sorted({str(r["kernel"]) for r in per_process})
    busy = [r for r in per_process if r["contended"]]
    out.update(stats)
    out.update(encode_samples(pooled))
    out.update(median_ms=center, median_ci_ms=[lo, hi], throughput_ips=throughput_ips(center, out["batch"]),
               run_to_run_cv=run_to_run_cv(medians), processes=per_process,
               contended=bool(busy), contention="; ".join(f"process {r['process']}: {r['contention']}" for r in busy),
               reason="; ".join(failures + ([f"kernels differ between processes: {', '.join(kernels)}"]
                                            if len(kernels) > 1 else [])))
    out.pop("conditions", None)  # per process now (``processes[i].conditions``)
    return out


# ---------------------------------------------------------------------------------------------------- tables
def rows_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    """latency.csv rows of a session result: one per cell, scalars only (samples and per-process records are in
    latency_samples.csv.gz and latency_runs.csv), the interval as median_ci_lo / median_ci_hi, the tags merged."""
    rows = []
    for cell in result.get("cells", []):
        flat = {k: v for k, v in cell.items() if not k.startswith("samples") and not isinstance(v, (dict, list))}
        lo, hi = cell.get("median_ci_ms") or (None, None)
        h, w = cell.get("imgsz_hw") or (None, None)
        rows.append({**(cell.get("tags") or {}), **flat, "median_ci_lo": lo, "median_ci_hi": hi, "imgsz_h": h,
                     "imgsz_w": w})
    return rows


def run_rows_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    """latency_runs.csv rows: one per (cell, process) that timed it, with its median and contention flag."""
    return [{"cell_id": cell["cell_id"], "session": cell["session"], "process": r["process"],
             "position": r["position"], "median_ms": r["median_ms"], "samples_n": r["samples_n"],
             "contended": r["contended"]}
            for cell in result.get("cells", []) if cell.get("cell_id") for r in cell.get("processes") or []]
