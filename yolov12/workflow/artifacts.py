"""Which exported files the latency matrix times, so that the export job makes and scores exactly those files and
the timing session times them (docs/deployment.md, "A timing cell and the artifact it timed").

A cell of a file-based runtime (``yolov12.registry.ARTIFACT_RUNTIMES``: ONNX Runtime, TensorRT) times a file. In the
workflow that file is made by the architecture's export job, at the timing size (``latency.imgsz``: a static export
has one input size), scored beside eager on the validation split at that same size, and its SHA-256 recorded; the
session then times that file and records the checksum of what it timed. The pairing is by checksum, never by name.

Pure (no torch, no Ultralytics): the workflow's parse uses it.
"""

from __future__ import annotations

from typing import Any

from ..errors import UserError
from ..registry import ARTIFACT_RUNTIMES


def device_kind(device: str) -> str:
    """``cpu`` or ``cuda``: an export made on one CUDA device serves every CUDA cell (same file, same checksum)."""
    return "cuda" if str(device).startswith("cuda") else "cpu"


def artifact_key(artifact: dict[str, Any]) -> str:
    """``onnx_fp32_cpu``: the name of one exported file of an export job (and of its accuracy)."""
    return f"{artifact['format']}_{artifact['precision']}_{artifact['device']}"


def cell_artifact(device: str, precision: str, runtime: str) -> tuple[dict[str, str] | None, str | None]:
    """(the file a cell times, why it has none). (None, None): the runtime times no file (eager, compile, ...).

    ONNX on the CPU is exported in fp32 (Ultralytics exports half precision on a GPU only); bf16 has no ONNX /
    TensorRT file (the cell is unavailable at run time with its own reason)."""
    fmt = ARTIFACT_RUNTIMES.get(runtime)
    if fmt is None:
        return None, None
    kind = device_kind(device)
    if precision == "bf16":
        return None, f"{runtime} has no bf16 file to export"
    if kind == "cpu" and precision != "fp32":
        return None, f"Ultralytics exports {precision} on a GPU only: no {precision} {fmt} file for a CPU cell"
    if fmt == "engine" and kind == "cpu":
        return None, "TensorRT needs a CUDA device"
    return {"format": fmt, "precision": precision, "device": kind}, None


def files_of(latency: dict[str, Any], runtimes: tuple[str, ...] | list[str]) -> list[dict[str, str]]:
    """The distinct files the cells of one architecture time (devices x precisions x its runtimes), sorted."""
    found = {}
    for device in latency["devices"]:
        for precision in latency["precisions"]:
            for runtime in runtimes:
                artifact, _ = cell_artifact(device, precision, runtime)
                if artifact:
                    found[artifact_key(artifact)] = artifact
    return [found[k] for k in sorted(found)]


def check_runtime_studies(latency: dict[str, Any], studies: list[str], source: str) -> dict[str, list[str]]:
    """``latency.runtime_studies`` checked: each key a runtime of ``latency.runtimes``, each value studies of this
    config (a budget: that runtime times only those studies' cells)."""
    only = latency.get("runtime_studies") or {}
    for runtime, names in only.items():
        if runtime not in latency["runtimes"]:
            raise UserError(f"names runtime {runtime!r}, not one of latency.runtimes", file=source,
                            key=f"latency.runtime_studies.{runtime}", allowed=list(latency["runtimes"]))
        unknown = [s for s in names if s not in studies]
        if unknown:
            raise UserError(f"names {unknown}, not a study of this config", file=source,
                            key=f"latency.runtime_studies.{runtime}", allowed=sorted(studies))
    return only


def timed_runtimes(latency: dict[str, Any], runs: list, source: str) -> dict[str, tuple[str, ...]]:
    """Per architecture folder, the runtimes its cells are timed on: ``latency.runtimes``, less a runtime that
    ``latency.runtime_studies`` keeps to other studies (an architecture shared by several studies gets the union)."""
    only = check_runtime_studies(latency, sorted({r.study for r in runs}), source)
    out: dict[str, set[str]] = {}
    for r in runs:
        if "latency" in r.measure:
            out.setdefault(r.model_dir, set()).update(
                rt for rt in latency["runtimes"] if rt not in only or r.study in only[rt])
    return {d: tuple(rt for rt in latency["runtimes"] if rt in rts) for d, rts in out.items()}


def session_cells(session_identity: dict[str, Any], latency: dict[str, Any]) -> int:
    """How many cells a timing session times: per architecture, devices x precisions x its own runtimes (an entry
    names ``runtimes`` when ``latency.runtime_studies`` left some out). For the cost model."""
    per = len(latency["devices"]) * len(latency["precisions"])
    return per * sum(len(c.get("runtimes", latency["runtimes"])) for c in session_identity["cells"])


def export_identity(plan, run_dir: str, runs: list) -> dict[str, Any]:
    """An architecture's export job identity: the files its timing cells time (``artifacts``, at the timing size
    ``latency.imgsz``: each scored beside eager at that size), else one ONNX file at ``export.imgsz``; the training
    whose weights it carries and how the files are scored (evaluate settings, bootstrap, tolerance)."""
    from . import identity

    run = next(r for r in runs if r.model_dir == run_dir)
    files = plan._timed_files.get(run_dir)
    c = plan.config
    settings: dict[str, Any] = ({"imgsz": c["latency"]["imgsz"], "artifacts": files} if files
                                else {"imgsz": c["export"]["imgsz"]})
    trained = plan.exported_training(run_dir, runs)
    if trained:  # the weights it carries, and how it is scored
        settings.update(trained=plan.train_identity(trained), settings=dict(c["evaluate"]),
                        bootstrap=dict(c["bootstrap"]), ap_tolerance=c["export"]["ap_tolerance"])
    return identity.canonical({"job": "export", **plan.arch_identity(run), **settings})
