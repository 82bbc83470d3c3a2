"""Scoring predictions with the COCO toolkit (pycocotools) or its faster reimplementation (faster-coco-eval).

Both take the same ground-truth JSON and the same predictions in COCO results format; ``tests/test_evaluate.py``
checks they agree to 1e-4 AP. Bad inputs become a one-line ``EvaluationError`` (a ``UserError``) that names the file,
the key and the offending ids, never a traceback from inside the toolkit; an empty prediction set scores 0 with a
warning (the honest answer). ``img_ids`` restricts scoring to some images (an explicitly allowed subset).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..settings import EVALUATE

BACKENDS = tuple(EVALUATE.properties["backend"]["enum"])  # the evaluate settings' list (yolov12.settings)
STATS = {
    "bbox": ["AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "AR1", "AR10", "AR100", "AR_small",
             "AR_medium", "AR_large"],
    "keypoints": ["AP", "AP50", "AP75", "AP_medium", "AP_large", "AR", "AR50", "AR75", "AR_medium", "AR_large"],
}
STATS["segm"] = STATS["bbox"]
COCO_KPT_SIGMAS = [.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]


class EvaluationError(UserError):
    """Predictions, ground truth or checkpoint do not fit together; the message says how."""


def load_gt(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise EvaluationError("ground-truth file does not exist", file=path, key="--gt",
                              allowed="a COCO-format JSON file (images, annotations, categories)")
    try:
        gt = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        where = f"{path}:{e.lineno}" if isinstance(e, json.JSONDecodeError) else path
        raise EvaluationError(f"ground-truth file is not valid JSON ({getattr(e, 'msg', e)})", file=where,
                              key="--gt") from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(gt, dict) or not isinstance(gt.get(key), list):
            raise EvaluationError(f"ground truth has no '{key}' list (not COCO format)", file=path, key=key,
                                  allowed="a COCO-format JSON file (images, annotations, categories)")
    return gt


def check_predictions(gt: dict[str, Any], predictions: list[dict[str, Any]], gt_path, iou_type: str) -> None:
    """Every prediction must name a GT image and category, and carry what the IoU type needs."""
    image_ids = {im["id"] for im in gt["images"]}
    cat_ids = {c["id"] for c in gt["categories"]}
    unknown_images = sorted({p.get("image_id") for p in predictions} - image_ids, key=str)
    if unknown_images:
        raise EvaluationError(f"{len(unknown_images)} image id(s) in the predictions are not in {gt_path}: "
                              f"{unknown_images[:5]}{' ...' if len(unknown_images) > 5 else ''}; "
                              "the predictions belong to another dataset or image ids were not mapped",
                              file=gt_path, key="image_id", allowed="ids of the ground truth's images")
    unknown_cats = sorted({p.get("category_id") for p in predictions} - cat_ids, key=str)
    if unknown_cats:
        raise EvaluationError(f"category id(s) {unknown_cats[:10]} in the predictions are not in {gt_path}; "
                              "check the class-index -> category-id mapping", file=gt_path, key="category_id",
                              allowed=f"{sorted(cat_ids)[:10]}{' ...' if len(cat_ids) > 10 else ''}")
    need = {"bbox": "bbox", "segm": "segmentation", "keypoints": "keypoints"}[iou_type]
    missing = sum(need not in p for p in predictions)
    if missing:
        raise EvaluationError(f"{missing} prediction(s) have no '{need}' field, needed for iouType '{iou_type}'",
                              key=need)


def keypoint_sigmas(predictions: list[dict[str, Any]], kpt_sigmas: list[float] | None = None) -> list[float]:
    """OKS sigmas: given, else COCO's 17 for 17 keypoints, else 1/K each (as Ultralytics)."""
    nkpt = len(predictions[0]["keypoints"]) // 3
    sigmas = kpt_sigmas or (COCO_KPT_SIGMAS if nkpt == 17 else [1.0 / nkpt] * nkpt)
    return [float(s) for s in sigmas]


def score(gt_path: str | Path, predictions: list[dict[str, Any]], iou_type: str = "bbox",
          backend: str = "pycocotools", kpt_sigmas: list[float] | None = None, max_dets: int = 100,
          img_ids: list[int] | None = None) -> dict[str, Any]:
    """COCO metrics of ``predictions`` against the ground truth at ``gt_path`` (only ``img_ids`` if given)."""
    if backend not in BACKENDS:
        raise EvaluationError(f"backend {backend!r}", key="--backend", allowed=list(BACKENDS))
    if iou_type not in STATS:
        raise EvaluationError(f"iou_type {iou_type!r}", key="iou_type", allowed=list(STATS))
    gt = load_gt(gt_path)
    if img_ids is not None:  # a deliberate subset: the toolkit sees only these images and their objects
        keep = set(img_ids)
        gt = {**gt, "images": [im for im in gt["images"] if im["id"] in keep],
              "annotations": [a for a in gt["annotations"] if a["image_id"] in keep]}
        predictions = [p for p in predictions if p.get("image_id") in keep]
    result = {"iou_type": iou_type, "backend": backend, "max_dets": 20 if iou_type == "keypoints" else max_dets,
              "n_predictions": len(predictions), "n_images": len(gt["images"])}
    if not predictions:
        warnings.warn(f"no predictions to score against {gt_path}: every {iou_type} metric is 0", stacklevel=2)
        return {**result, **dict.fromkeys(STATS[iou_type], 0.0), "warning": "empty prediction set"}
    check_predictions(gt, predictions, gt_path, iou_type)
    if iou_type == "keypoints":
        result["kpt_oks_sigmas"] = keypoint_sigmas(predictions, kpt_sigmas)
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        stats = run_backend(gt, predictions, iou_type, backend, result.get("kpt_oks_sigmas"), max_dets)
    values, gaps = defined(STATS[iou_type], stats)
    if gaps:
        result["gaps"] = gaps
    return {**result, **values, "summary": log.getvalue()}


NO_OBJECTS = "no ground-truth objects in this area range (COCO's -1): not measured"


def defined(names: list[str], stats) -> tuple[dict[str, float | None], dict[str, str]]:
    """The toolkit's numbers with its ``-1`` ("nothing to score here", e.g. no large objects) turned into a gap
    (None, with the reason): a -1 must never be averaged or printed as -100 %."""
    values, gaps = {}, {}
    for name, v in zip(names, stats):
        v = float(v)
        if v < 0 or v != v:
            values[name], gaps[name] = None, NO_OBJECTS
        else:
            values[name] = v
    return values, gaps


def measured(value) -> float | None:
    """A stored COCO number, or None for a gap; older results kept the toolkit's -1 sentinel."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return None if value < 0 or value != value else value


def pycocotools_eval(gt: dict[str, Any], predictions: list[dict[str, Any]], iou_type: str,
                     sigmas: list[float] | None = None, max_dets: int = 100):
    """A configured pycocotools ``COCOeval`` (not yet run); the toolkit's printing goes nowhere."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        if predictions:
            coco_dt = coco_gt.loadRes(copy.deepcopy(predictions))
        else:  # loadRes cannot take an empty list; an empty result set is still a valid (all-missed) answer
            coco_dt = COCO()
            coco_dt.dataset = {"images": gt["images"], "categories": gt["categories"], "annotations": []}
            coco_dt.createIndex()
        ev = COCOeval(coco_gt, coco_dt, iou_type)
    if sigmas is not None:
        ev.params.kpt_oks_sigmas = np.array(sigmas)
    if iou_type != "keypoints":  # keypoints keep the toolkit's own limit (20 per image)
        ev.params.maxDets = [1, 10, max_dets]
    return ev


def run_backend(gt, predictions, iou_type, backend, sigmas, max_dets) -> np.ndarray:
    if backend == "pycocotools":
        ev = pycocotools_eval(gt, predictions, iou_type, sigmas, max_dets)
    else:
        from faster_coco_eval import COCO, COCOeval_faster

        predictions = copy.deepcopy(predictions)  # the toolkit adds fields (area, id) to what it is given
        coco_gt = COCO(copy.deepcopy(gt))
        coco_dt = coco_gt.loadRes(predictions)
        ev = COCOeval_faster(coco_gt, coco_dt, iou_type, print_function=print, kpt_oks_sigmas=sigmas)
        if iou_type != "keypoints":
            ev.params.maxDets = [1, 10, max_dets]
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return np.asarray(ev.stats[: len(STATS[iou_type])], dtype=float)
