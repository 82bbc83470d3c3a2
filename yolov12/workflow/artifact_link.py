"""The workflow's side of "the accuracy of the artifact that is timed": the export job makes the files the latency
matrix times and scores each beside eager (``export_files``); the timing session times those files and
``link_cells`` ties every timed cell to the evaluation of the file it ran, by SHA-256.

Every cell of a file-based runtime ends with a verdict (``artifact_verdict`` in latency.json and latency.csv):

- ``same model``: the timed file's checksum is an evaluated file's, |ΔAP| within ``export.ap_tolerance``;
- ``fast but not the same model``: the same, beyond the tolerance (the flag);
- ``not evaluated: <why>``: a gap, never a pass (seeded weights: nothing trained to score; the export made no such
  file; the file timed is not the file scored, its checksum differs; eager scores within the tolerance of 0, so a
  loss could not show: a broken file of an untrained model is "the same" at AP 0).

The flat ``artifact_*`` columns carry the numbers (AP eager, AP artifact, ΔAP and its interval, the tolerance, the
scored file's checksum beside the timed one's) so the aggregation's latency.csv and the report show them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..evaluate.artifact import DEFAULT_TOLERANCE, FLAG, cell_sha256, evaluate_artifact, export_artifact, \
    file_sha256, mark_cells
from ..registry import ARTIFACT_RUNTIMES
from ..settings import BOOTSTRAP
from .artifacts import artifact_key, cell_artifact

SAME = "same model"
NOT_EVALUATED = "not evaluated"
# the flat columns a file cell gets (None until known): what latency.csv and the report's tables read
COLUMNS = ("artifact_key", "artifact_verdict", "artifact_flag", "artifact_sha256", "timed_sha256",
           "artifact_ap_eager", "artifact_ap", "artifact_delta", "artifact_delta_lo", "artifact_delta_hi",
           "artifact_tolerance")


def export_files(spec: dict[str, Any], weights: Path, folder: Path) -> dict[str, Any]:
    """Export ``weights`` to every file of ``spec["artifacts"]`` (default: fp32 ONNX for the CPU) at
    ``spec["imgsz"]``, check the fp32 ONNX file's outputs against PyTorch, and, when the spec carries a training
    and its data, score each file beside eager at that same size (paired; the eager result reused per device)."""
    import time

    import torch

    from ..evaluate.artifact_file import onnx_parity

    t0 = time.perf_counter()
    imgsz = int(spec["imgsz"])
    wanted = spec.get("artifacts") or [{"format": "onnx", "precision": "fp32", "device": "cpu"}]
    scored = bool(spec.get("data") and spec.get("train_result"))
    s, boot = spec.get("settings") or {}, spec.get("bootstrap") or {}
    result: dict[str, Any] = {"status": "ok", "imgsz": imgsz, "weights_file": str(weights),
                              "weights_sha256": file_sha256(weights), "max_abs_err": None, "tolerance": None,
                              "artifacts": []}
    eager: dict[str, dict] = {}  # per device: the eager result every file on that device is compared with
    for a in wanted:
        entry: dict[str, Any] = {**a, "key": artifact_key(a), "file": None, "sha256": None, "accuracy": None}
        result["artifacts"].append(entry)
        device = "cpu" if a["device"] == "cpu" else "0"
        if device != "cpu" and not torch.cuda.is_available():
            entry["reason"] = "no CUDA device in the export job: a CUDA file is made on a GPU"
            continue
        try:
            path = export_artifact(weights, folder / a["device"], a["format"], imgsz, a["precision"], device)
        except Exception as e:  # noqa: BLE001  (one file that cannot be made is a gap for its cells, not a failed job)
            entry["reason"] = f"export failed: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
            continue
        entry.update(file=str(path), sha256=file_sha256(path), bytes=path.stat().st_size)
        if entry["key"] == "onnx_fp32_cpu":
            parity = onnx_parity(weights, path, imgsz)
            result.update(onnx=str(path), max_abs_err=parity["max_abs_err"], tolerance=parity["tolerance"],
                          outputs=parity["outputs"], status=parity["status"])
        if not scored:
            entry["reason"] = "seeded weights: no training of this architecture in the plan, nothing to score"
            continue
        acc = evaluate_artifact(weights, path, spec["data"], folder / "accuracy" / entry["key"], imgsz=imgsz,
                                precision=a["precision"], device=device, conf=s["conf"], iou=s["iou"],
                                max_det=s["max_det"], batch=s["batch"], backend=s["backend"],
                                n_boot=boot.get("n_boot", BOOTSTRAP.n_boot), level=boot.get("level", BOOTSTRAP.level),
                                tolerance=spec.get("ap_tolerance", DEFAULT_TOLERANCE), eager=eager.get(device))
        eager.setdefault(device, json.loads(Path(acc["eager_result"]).read_text()))
        entry["accuracy"] = acc
    onnx_cpu = next((e for e in result["artifacts"] if e["key"] == "onnx_fp32_cpu"), None)
    if onnx_cpu and onnx_cpu["accuracy"]:
        result["accuracy"] = onnx_cpu["accuracy"]  # the CPU ONNX file's, as the report's first table reads it
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


def load_exports(results_runs: Path, model_dirs) -> dict[str, dict[str, Any] | None]:
    """``export.json`` of each architecture folder (None where there is none)."""
    out = {}
    for d in model_dirs:
        path = Path(results_runs) / d / "export.json"
        out[d] = json.loads(path.read_text()) if path.is_file() else None
    return out


def file_for_cell(export: dict[str, Any] | None, device: str, precision: str, runtime: str
                  ) -> dict[str, Any] | None:
    """What a cell of a file-based runtime times: ``{"key", "file", "sha256", "weights"}`` (file None with the
    reason when there is no such file); None for a runtime that times no file."""
    wanted, why = cell_artifact(device, precision, runtime)
    if wanted is None and why is None:
        return None
    if wanted is None:
        return {"key": None, "file": None, "reason": why}
    key = artifact_key(wanted)
    if export is None:
        return {"key": key, "file": None, "reason": "the architecture has no export result"}
    if export.get("status") == "not_converged":
        return {"key": key, "file": None, "reason": "the training did not converge: nothing was exported"}
    entry = next((a for a in export.get("artifacts") or [] if a.get("key") == key), None)
    if entry is None or not entry.get("file"):
        why = (entry or {}).get("reason") or f"the export made no {key} file"
        return {"key": key, "file": None, "reason": why}
    return {"key": key, "file": entry["file"], "sha256": entry["sha256"], "weights": export["weights_file"]}


def link_cells(cells: list[dict[str, Any]], exports: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Give every cell of a file-based runtime its verdict and the flat ``artifact_*`` columns (module
    docstring): matched to the evaluation whose file has the checksum the cell recorded for what it timed."""
    evaluations = [a["accuracy"] for e in exports.values() if e for a in e.get("artifacts") or [] if a.get("accuracy")]
    mark_cells(cells, evaluations)
    for cell in cells:
        asked = cell.get("artifact")
        if not asked and cell.get("runtime") not in ARTIFACT_RUNTIMES:
            continue  # eager, compile, CUDA graphs: no file, no verdict
        cell.update({k: None for k in COLUMNS})
        scored = cell.get("artifact_accuracy")
        cell.update(artifact_key=(asked or {}).get("key"), artifact_sha256=(asked or {}).get("sha256"),
                    timed_sha256=cell_sha256(cell))
        if scored:
            verdict = SAME if scored["same_model"] else FLAG
            if not scored.get("conclusive", True):
                verdict = (f"{NOT_EVALUATED}: eager AP {scored['ap_eager']:.3f} is within the tolerance "
                           f"{scored['tolerance']:g}: a loss could not show")
            cell.update(artifact_verdict=verdict,
                        artifact_flag=cell.get("artifact_flag"),
                        artifact_ap_eager=scored["ap_eager"], artifact_ap=scored["ap_artifact"],
                        artifact_delta=scored["delta"], artifact_delta_lo=scored["lo"],
                        artifact_delta_hi=scored["hi"], artifact_tolerance=scored["tolerance"])
            continue
        export = exports.get((cell.get("tags") or {}).get("model_dir"))
        entry = next((a for a in (export or {}).get("artifacts") or [] if a.get("key") == cell["artifact_key"]), {})
        if not (asked or {}).get("file"):
            why = (asked or {}).get("reason") or "no exported file for this cell"
        elif cell["timed_sha256"] is None:
            why = f"the cell did not run its file ({cell.get('status')})"
        elif cell["timed_sha256"] != cell["artifact_sha256"]:
            why = "the file timed is not the file scored (its SHA-256 differs)"
        else:
            why = entry.get("reason") or "the exported file was not scored"
        cell["artifact_verdict"] = f"{NOT_EVALUATED}: {why}"
    return cells
