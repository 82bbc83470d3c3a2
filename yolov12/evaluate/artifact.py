"""Accuracy of the artifact that is timed: an exported model scored as eager is, then compared with eager.

A deployment table pairs the latency of an export (ONNX Runtime, TensorRT, a TorchScript module, fp16) with the
accuracy of the eager PyTorch model; an export that drops a normalisation, changes the NMS input or loses accuracy
in fp16 would go unnoticed. Here the exported file itself runs through the same path as eager
(``yolov12.evaluate.evaluate(..., artifact=FILE)``): Ultralytics' validator letterboxes the same images, runs the file
through its ``AutoBackend``, applies the same NMS with the same thresholds, and the predictions are scored by the
same COCO toolkit against the same ground truth. Eager runs with the same settings (``rect=False``: a static export
takes square letterboxed images, so eager does too, otherwise the comparison would mix two preprocessings).

The result (``evaluate_artifact``): AP of eager and of the artifact, ``delta`` = artifact - eager with its paired
bootstrap interval over the validation images (``yolov12.evaluate.bootstrap.paired_delta``), the artifact's SHA-256
(the key that ties it to a timing cell that ran the same file, ``mark_cells``), and ``same_model``: False when
``|delta| > tolerance`` (default 0.005 AP, the config's ``export.ap_tolerance``) -- reported as "fast but not the
same model".
The metric is the task's COCO-toolkit AP (bbox; masks for segment, keypoints for pose), top-1 accuracy for classify;
for obb (no COCO-toolkit metric) Ultralytics' rotated mAP50-95 and its point difference, without an interval. The
``ap_*`` fields hold that metric (``metric`` names it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..registry import TASK_TABLE
from ..settings import BOOTSTRAP, EVALUATE, EXPORT
# the file side (formats, checksum, loading) lives apart so that evaluate() loads an artifact without an import cycle
from .artifact_file import FORMATS, check_artifact, file_sha256  # noqa: F401  (this module's API too)

DEFAULT_TOLERANCE = EXPORT.ap_tolerance
FLAG = "fast but not the same model"
def export_artifact(checkpoint: str | Path, out_dir: str | Path, fmt: str = "onnx", imgsz: int = EXPORT.imgsz,
                    precision: str = "fp32", device: str = "cpu") -> Path:
    """Export ``checkpoint`` with Ultralytics' exporter (static shape, batch 1, NMS outside the file as in the
    validator) to ``out_dir/<stem>_<precision><suffix>``; the path returned is the file to time and to evaluate."""
    if fmt not in FORMATS:
        raise UserError(f"export format {fmt!r}", key="format", allowed=list(FORMATS))
    if precision not in ("fp32", "fp16"):
        raise UserError(f"export precision {precision!r}", key="precision", allowed=["fp32", "fp16"])
    from ultralytics import YOLO

    made = Path(YOLO(str(checkpoint)).export(format=fmt, imgsz=imgsz, half=precision == "fp16", device=device,
                                              simplify=fmt == "onnx", dynamic=False, batch=1, verbose=False))
    out = Path(out_dir) / f"{Path(checkpoint).stem}_{precision}{FORMATS[fmt]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    if made.resolve() != out.resolve():
        shutil.move(str(made), str(out))  # the exporter writes beside the checkpoint; each precision its own file
    os.utime(out)
    return out


def evaluate_artifact(checkpoint: str | Path, artifact: str | Path, data: str | Path, out_dir: str | Path,
                      imgsz: int | None = None, precision: str = "fp32", device: str = "cpu",
                      eager_precision: str = "fp32", conf: float = EVALUATE.conf, iou: float = EVALUATE.iou,
                      max_det: int = EVALUATE.max_det, batch: int = EVALUATE.batch, backend: str = EVALUATE.backend,
                      n_boot: int = BOOTSTRAP.n_boot, level: float = BOOTSTRAP.level,
                      seed: int = 0, tolerance: float = DEFAULT_TOLERANCE, eager: dict | None = None
                      ) -> dict[str, Any]:
    """Evaluate ``artifact`` (an export of ``checkpoint``) and eager ``checkpoint`` on the val split of ``data``
    with the same settings; return AP of both, the paired-bootstrap ΔAP (artifact - eager) and the flag.

    precision: the artifact's (what it runs in); eager_precision: the reference's (fp32: the model as trained).
    eager: an earlier eager result of the same settings to reuse (it must have saved predictions)."""
    from . import evaluate, iou_types
    from .bootstrap import compare_results

    if not (isinstance(tolerance, (int, float)) and tolerance >= 0):
        raise UserError(f"tolerance {tolerance!r}", key="ap_tolerance", allowed="a number of AP >= 0, e.g. 0.005")
    check_artifact(artifact)
    out_dir = Path(out_dir)
    common = dict(imgsz=imgsz, conf=conf, iou=iou, max_det=max_det, rect=False, device=device, backend=backend)
    if eager is None:
        eager = evaluate(checkpoint, data, batch=batch, precision=eager_precision,
                         out=out_dir / f"eager_{eager_precision}.json", **common)
    art = evaluate(checkpoint, data, batch=1, precision=precision, artifact=artifact,
                   out=out_dir / f"artifact_{Path(artifact).stem}.json", **common)
    task = art["task"]
    iou_type = (iou_types(task) or [None])[-1]
    if not TASK_TABLE[task].resamplable:  # rotated boxes: no COCO-toolkit metric, no per-image matching to resample
        key = "metrics/mAP50-95(B)"
        a, b = eager["ultralytics"].get(key), art["ultralytics"].get(key)
        delta = {"metric": "mAP50-95 (Ultralytics, rotated boxes)", "value_a": a, "value_b": b, "delta": b - a,
                 "lo": None, "hi": None, "n_images": art["counts"].get("evaluated_images"),
                 "method": "point difference: the COCO toolkit has no rotated-box IoU, so no paired bootstrap"}
    else:  # bbox / segm / keypoints AP, or top-1 accuracy for classification
        delta = compare_results(eager, art, "AP", iou_type, n_boot=n_boot, level=level, seed=seed)
    same = abs(delta["delta"]) <= tolerance
    # eager scoring no more than the tolerance has nothing to lose beyond it: "same" then proves nothing (a broken
    # file of an untrained model scores 0 too), so the result says it cannot conclude (a gap, never a pass)
    conclusive = not (same and delta["value_a"] is not None and delta["value_a"] <= tolerance)
    excludes_zero = delta["lo"] is not None and (delta["lo"] > 0 or delta["hi"] < 0)
    return {"artifact": art["artifact"], "format": art["artifact"]["format"], "precision": art["precision"],
            "eager_precision": eager["precision"], "device": art["settings"]["device"], "task": task,
            "iou_type": iou_type, "metric": delta["metric"],
            "ap_eager": delta["value_a"], "ap_artifact": delta["value_b"], "delta": delta["delta"],
            "lo": delta["lo"], "hi": delta["hi"], "level": level, "n_boot": n_boot, "n_images": delta["n_images"],
            "interval_excludes_zero": excludes_zero, "tolerance": tolerance,
            "same_model": same, "flag": None if same else FLAG, "conclusive": conclusive, "method": delta["method"],
            "settings": art["settings"], "eager_result": str(out_dir / f"eager_{eager_precision}.json"),
            "artifact_result": str(out_dir / f"artifact_{Path(artifact).stem}.json")}


def cell_sha256(cell: dict[str, Any]) -> str | None:
    """SHA-256 of the file a timing cell ran: recorded by the runtime when it built the cell, else of the file if it
    is still there; None for a cell that ran no file (eager, compile)."""
    info = cell.get("runtime_info") or {}
    if info.get("sha256"):
        return info["sha256"]
    path = info.get("onnx_file") or info.get("engine")
    return file_sha256(path) if path and Path(path).is_file() else None


def mark_cells(cells: list[dict[str, Any]], evaluations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attach to every timing cell that ran an evaluated file (same SHA-256) its ``artifact_accuracy`` and, when the
    artifact is not the same model within tolerance, ``artifact_flag``; cells of other files are left as they are."""
    by_sha = {e["artifact"]["sha256"]: e for e in evaluations}
    for cell in cells:
        e = by_sha.get(cell_sha256(cell) or "")
        if e is None:
            continue
        cell["artifact_accuracy"] = {k: e[k] for k in ("ap_eager", "ap_artifact", "delta", "lo", "hi", "level",
                                                       "tolerance", "same_model")} | {
            "sha256": e["artifact"]["sha256"], "conclusive": e.get("conclusive", True)}
        cell["artifact_flag"] = e["flag"]
    return cells


def artifact_metrics(evaluation: dict[str, Any]) -> dict[str, float]:
    """MLflow metrics of one artifact evaluation (``artifact/<format>_<precision>/<name>``)."""
    key = f"{evaluation['format']}_{evaluation['precision']}"
    out = {f"artifact/{key}/{k}": float(evaluation[k]) for k in ("ap_eager", "ap_artifact", "delta", "lo", "hi")
           if evaluation[k] is not None}
    out[f"artifact/{key}/same_model"] = float(evaluation["same_model"])
    return out
