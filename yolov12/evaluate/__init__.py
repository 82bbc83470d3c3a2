"""``yolov12 val``: run a checkpoint over a dataset, save COCO-format predictions, score them with the COCO toolkit.

Ultralytics' validator runs the model (letterboxing, NMS, scaling back to the original image) and collects the
predictions in COCO results format; this module maps them onto the ground truth's ids and scores them with
pycocotools (or faster-coco-eval). Which metrics:

- detect: bbox AP, AP50, AP75, AP_S/M/L, AR@1/10/100, AR_S/M/L (pycocotools ``bbox``);
- segment: the same for ``bbox`` and ``segm``;
- pose: ``bbox`` and ``keypoints`` (OKS; COCO's 17 sigmas for 17 keypoints, otherwise 1/K each, as Ultralytics);
- classify: top-1 / top-5 accuracy (Ultralytics' classification validator);
- obb: Ultralytics' own rotated-box mAP50 / mAP50-95 — the COCO toolkit has no rotated-box IoU. It is Ultralytics'
  metric (all-point interpolated per class, no area ranges, no max-detections cap beyond ``max_det``), so obb numbers
  are not comparable to COCO-toolkit numbers.

Category ids: class *i* of the model is the *i*-th smallest category id of the ground truth (COCO's 80 classes ->
ids 1..90 with gaps; the synthetic sets -> 1..nc), unless the dataset manifest lists ``category_ids``. Image ids are
taken from the ground truth by file name.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from ..io import write_json
from .cocoeval import BACKENDS, EvaluationError, load_gt, score

IOU_TYPES = {"detect": ["bbox"], "segment": ["bbox", "segm"], "pose": ["bbox", "keypoints"], "obb": [],
             "classify": []}


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dataset_manifest(data: str | Path) -> dict[str, Any]:
    """The manifest the suite's data tools write beside a dataset (synthetic: dataset.json; COCO: coco.json)."""
    p = Path(data)
    folder = p if p.is_dir() else p.parent
    for name in ("dataset.json", "coco.json"):
        if (folder / name).is_file():
            return json.loads((folder / name).read_text())
    return {}


def ground_truth_for(task: str, data, gt, manifest) -> Path | None:
    if gt:
        return Path(gt)
    if manifest.get("coco_gt"):  # synthetic sets: one ground-truth file per task
        return Path(manifest["coco_gt"])
    official = manifest.get("ground_truth") or {}  # COCO 2017 prepared by 'yolov12 data coco'
    stem = "person_keypoints_val2017" if task == "pose" else "instances_val2017"
    return Path(official[stem]) if stem in official else None


def category_ids_for(gt: dict[str, Any], manifest: dict[str, Any], nc: int, gt_path) -> list[int]:
    ids = manifest.get("category_ids") or sorted(c["id"] for c in gt["categories"])
    if len(ids) != nc:
        raise EvaluationError(f"the model has {nc} classes but {gt_path} has {len(ids)} categories; "
                              "evaluate a checkpoint trained on this dataset")
    return list(ids)


def to_ground_truth_ids(predictions, class_map, category_ids, gt, gt_path) -> list[dict[str, Any]]:
    """Re-key Ultralytics' predictions: image id by file name, category id by class index."""
    by_name = {im["file_name"].split("/")[-1]: im["id"] for im in gt["images"]}
    class_of = {c: i for i, c in enumerate(class_map)}
    missing = sorted({p["file_name"] for p in predictions} - set(by_name))
    if missing:
        raise EvaluationError(f"{len(missing)} predicted image(s) are not in {gt_path}: {missing[:5]}; "
                              "the ground truth belongs to another dataset or split")
    out = []
    for p in predictions:
        q = {k: v for k, v in p.items() if k != "file_name"}
        q["image_id"] = by_name[p["file_name"]]
        q["category_id"] = category_ids[class_of[p["category_id"]]]
        out.append(q)
    return out


def checkpoint_task(checkpoint: str | Path):
    from ultralytics import YOLO

    if not Path(checkpoint).is_file():
        raise EvaluationError(f"checkpoint {checkpoint} does not exist")
    model = YOLO(str(checkpoint))
    return model, model.task


def evaluate(checkpoint: str | Path, data: str | Path, task: str | None = None, gt: str | Path | None = None,
             backend: str = "pycocotools", imgsz: int | None = None, conf: float = 0.001, iou: float = 0.7,
             max_det: int = 100, rect: bool = True, half: bool = False, batch: int = 16, device: str | None = None,
             out: str | Path | None = None, workers: int = 0, verbose: bool = False) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on the val split of ``data``; write ``out`` (JSON) if given and return the result."""
    if backend not in BACKENDS:
        raise EvaluationError(f"backend {backend!r} is not allowed; allowed values: {list(BACKENDS)}")
    model, ckpt_task = checkpoint_task(checkpoint)
    if task and task != ckpt_task:
        raise EvaluationError(f"checkpoint {checkpoint} is a {ckpt_task} model; it cannot be evaluated as {task}")
    task = ckpt_task
    if imgsz is None:  # the size the checkpoint was trained at
        imgsz = int((model.ckpt or {}).get("train_args", {}).get("imgsz", 640))
    manifest = dataset_manifest(data)
    gt_path = ground_truth_for(task, data, gt, manifest) if IOU_TYPES[task] else None
    if IOU_TYPES[task] and gt_path is None:
        raise EvaluationError(f"no COCO-format ground truth for {data}: pass --gt, or prepare the dataset with "
                              "'yolov12 data synth' / 'yolov12 data coco' (they record it)")
    gt_json = load_gt(gt_path) if gt_path else None

    captured = {}
    model.add_callback("on_val_end", lambda validator: captured.setdefault("validator", validator))
    settings = {"imgsz": imgsz, "conf": conf, "iou": iou, "max_det": max_det, "rect": rect, "half": half,
                "batch": batch, "device": device or "auto", "split": "val"}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        metrics = model.val(data=str(data), imgsz=imgsz, conf=conf, iou=iou, max_det=max_det, rect=rect, half=half,
                            batch=batch, device=device, workers=workers, save_json=bool(IOU_TYPES[task]),
                            plots=False, project=tmp, name="val", exist_ok=True, verbose=verbose)
    validator = captured["validator"]
    result: dict[str, Any] = {
        "task": task, "settings": {**settings, "device": str(validator.device)},
        "checkpoint": {"path": str(Path(checkpoint).resolve()), "sha256": sha256(checkpoint)},
        "dataset": {"data": str(Path(data).resolve()), "gt": str(gt_path.resolve()) if gt_path else None,
                    "gt_sha256": sha256(gt_path) if gt_path else None},
        "ultralytics": {k: float(v) for k, v in metrics.results_dict.items()},
        "coco": {}, "seconds": None,
    }
    if IOU_TYPES[task]:
        nc = len(model.names)
        predictions = to_ground_truth_ids(validator.jdict, validator.class_map,
                                          category_ids_for(gt_json, manifest, nc, gt_path), gt_json, gt_path)
        for iou_type in IOU_TYPES[task]:
            result["coco"][iou_type] = score(gt_path, predictions, iou_type, backend, max_dets=max_det)
        if out:
            write_json(Path(out).with_suffix(".predictions.json"), predictions)
            result["predictions"] = str(Path(out).with_suffix(".predictions.json").resolve())
    result["seconds"] = round(time.perf_counter() - t0, 2)
    if out:
        write_json(out, result, indent=1)
    return result
