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

What a result records (``evaluate()`` returns it and writes it to ``out``): the settings actually used (image size,
thresholds, batch, device, ``precision`` fp16|fp32), ``counts`` of the images and objects evaluated against the
ground truth's (``yolov12.evaluate.counts``; a mismatch is refused unless ``allow_subset``, then ``subset: true``),
the checkpoint and ground truth with their SHA-256, and the path of the saved predictions (``predictions``, beside
``out``), which ``yolov12.evaluate.bootstrap`` resamples to compare two models on the same images.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..io import write_json
from ..registry import task as task_row
from ..settings import EVALUATE
from .cocoeval import BACKENDS, EvaluationError, load_gt, score
from .settings import PRECISION_CHOICES, check_imgsz, check_settings, resolve_device, resolve_precision

__all__ = ["BACKENDS", "PRECISION_CHOICES", "EvaluationError", "evaluate", "iou_types"]



def iou_types(task: str) -> list[str]:
    """The COCO-toolkit scores of a task (yolov12.registry.TASK_TABLE); the last is its headline's."""
    return list(task_row(task).iou_types)


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
            try:
                return json.loads((folder / name).read_text())
            except json.JSONDecodeError as e:
                raise UserError(f"dataset manifest is not valid JSON ({e.msg})", file=f"{folder / name}:{e.lineno}",
                                key="--data", allowed="the manifest written by 'yolov12 data'") from None
    return {}


def ground_truth_for(task: str, data, gt, manifest) -> Path | None:
    if gt:
        return Path(gt)
    if manifest.get("coco_gt"):  # synthetic sets: one ground-truth file per task
        return Path(manifest["coco_gt"])
    official = manifest.get("ground_truth") or {}  # COCO 2017 prepared by 'yolov12 data coco'
    stem = f"{task_row(task).coco_annotations}_val2017"
    return Path(official[stem]) if stem in official else None


def category_ids_for(gt: dict[str, Any], manifest: dict[str, Any], nc: int, gt_path) -> list[int]:
    ids = manifest.get("category_ids") or sorted(c["id"] for c in gt["categories"])
    if len(ids) != nc:
        raise EvaluationError(f"the model has {nc} classes but the ground truth has {len(ids)} categories",
                              file=gt_path, key="categories", allowed="a checkpoint trained on this dataset")
    return list(ids)


def to_ground_truth_ids(predictions, class_map, category_ids, gt, gt_path) -> list[dict[str, Any]]:
    """Re-key Ultralytics' predictions: image id by file name, category id by class index."""
    by_name = {im["file_name"].split("/")[-1]: im["id"] for im in gt["images"]}
    class_of = {c: i for i, c in enumerate(class_map)}
    missing = sorted({p["file_name"] for p in predictions} - set(by_name))
    if missing:
        raise EvaluationError(f"{len(missing)} predicted image(s) are not in the ground truth: {missing[:5]}; it "
                              "belongs to another dataset or split", file=gt_path, key="--gt")
    out = []
    for p in predictions:
        q = {k: v for k, v in p.items() if k != "file_name"}
        q["image_id"] = by_name[p["file_name"]]
        q["category_id"] = category_ids[class_of[p["category_id"]]]
        out.append(q)
    return out


def checkpoint_task(checkpoint: str | Path):
    from .checkpoint import load_checkpoint

    model = load_checkpoint(checkpoint)
    return model, model.task


def check_dataset_for(task: str, data: str | Path, model) -> tuple[Any, int | None]:
    """Refuse a dataset the checkpoint cannot be scored on, before anything runs: bad data.yaml, a class count that
    differs from the model's, bad val label rows (file:line). Returns the DataFile and its val object count."""
    from ..data.check import check_split_labels
    from ..data.datayaml import DatasetError, read_data_yaml

    if task_row(task).classification:
        root = Path(data)
        if not (root / "val").is_dir():
            raise DatasetError("no val/ split directory", file=root, key="--data",
                               allowed="a classification dataset directory with val/<class>/ folders")
        return None, None
    d = read_data_yaml(data, task)
    if d.nc != len(model.names):
        raise DatasetError(f"the dataset has {d.nc} classes, the checkpoint {len(model.names)}", file=d.file,
                           key="names", allowed="a checkpoint trained on this dataset")
    model_kpt = getattr(model.model, "kpt_shape", None)
    if task_row(task).keypoints and model_kpt is not None and list(model_kpt) != list(d.kpt_shape):
        # Ultralytics would fail deep inside its pose validator reshaping the keypoints
        raise DatasetError(f"the dataset's keypoints are {d.kpt_shape}, the checkpoint's {list(model_kpt)}",
                           file=d.file, key="kpt_shape", allowed=f"{list(model_kpt)} (a checkpoint trained on it)")
    return d, check_split_labels(d, "val", task).instances["val"]


# Ultralytics' metric block and the COCO toolkit score the same predictions against labels of the same images, with
# a different interpolation (Ultralytics: all-point per class; COCO: 101 recall points), which moves AP by well under
# a point on real sets. A larger gap means they did not see the same ground truth (val labels emptied or relabelled
# while the COCO JSON is intact, or the reverse): which one is right cannot be told from here, so the block that is
# not the reported metric goes, with the reason kept in the result.
AGREEMENT = 0.05  # absolute AP (5 points)
CROSS_KEYS = {"bbox": "B", "segm": "M", "keypoints": "P"}


def cross_check(ultralytics: dict[str, float], coco: dict[str, dict[str, Any]]) -> tuple[dict[str, float], str | None]:
    """(the Ultralytics block, None) when it agrees with the COCO numbers; ({}, reason) when it does not."""
    for iou_type, letter in CROSS_KEYS.items():
        ours = coco.get(iou_type) or {}
        for coco_key, ultra_key in (("AP", f"metrics/mAP50-95({letter})"), ("AP50", f"metrics/mAP50({letter})")):
            a, b = ours.get(coco_key), ultralytics.get(ultra_key)
            if a is None or b is None:
                continue
            if abs(float(a) - float(b)) > AGREEMENT:
                return {}, (f"Ultralytics' {ultra_key} = {float(b):.4f} disagrees with the COCO toolkit's {iou_type} "
                            f"{coco_key} = {float(a):.4f} by more than {AGREEMENT} (the val labels and the COCO "
                            "ground truth differ?): Ultralytics' block dropped")
    return ultralytics, None


def classify_records(validator) -> list[dict[str, Any]]:
    """Per-image outcome of a classification run (class-folder/file, target, top-5 predictions), in the
    validator's order."""
    import torch

    files = [f"{Path(s[0]).parent.name}/{Path(s[0]).name}" for s in validator.dataloader.dataset.samples]
    preds, targets = torch.cat(validator.pred).tolist(), torch.cat(validator.targets).tolist()
    if not len(files) == len(preds) == len(targets):
        raise RuntimeError(f"classification outcomes for {len(preds)} images, dataset has {len(files)}")
    return [{"file": f, "target": t, "top5": p, "correct": p[0] == t} for f, t, p in zip(files, targets, preds)]


def evaluate(checkpoint: str | Path, data: str | Path, task: str | None = None, gt: str | Path | None = None,
             backend: str = EVALUATE.backend, imgsz: int | None = None, conf: float = EVALUATE.conf,
             iou: float = EVALUATE.iou, max_det: int = EVALUATE.max_det, rect: bool = True, half: bool | None = None,
             batch: int = EVALUATE.batch,
             device: str | None = None, out: str | Path | None = None, workers: int = 0, verbose: bool = False,
             precision: str = EVALUATE.precision, allow_subset: bool = False, artifact: str | Path | None = None
             ) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on the val split of ``data``; write ``out`` (JSON) if given and return the result.

    precision: fp32 (the default: the evaluate settings', yolov12.settings), fp16 (CUDA only) or auto (fp16 on CUDA,
    as the paper validates; fp32 elsewhere); ``half`` is
    the old spelling (True = fp16, False = fp32, None = use ``precision``). allow_subset: score the images that could
    be evaluated when some could not. artifact: an export of ``checkpoint`` (ONNX, TorchScript, TensorRT engine)
    that runs instead of the checkpoint, through the same validator, NMS and scoring (``yolov12.evaluate.artifact``);
    a static-shape export needs ``rect=False``.
    """
    from . import counts as counting
    from .checkpoint import load_checkpoint, max_stride, training_args

    if half is not None:
        spelled = "fp16" if half else "fp32"
        if precision not in ("auto", spelled):
            raise UserError(f"half={half} contradicts precision={precision!r}", key="--precision",
                            allowed=f"{spelled}, or leave half unset")
        precision = spelled
    check_settings(imgsz=imgsz, conf=conf, iou=iou, max_det=max_det, batch=batch, device=device,
                   precision=precision, backend=backend)
    model = load_checkpoint(checkpoint)
    if task and task != model.task:
        raise EvaluationError(f"a {model.task} checkpoint cannot be evaluated as {task}", file=checkpoint,
                              key="--task", allowed=[model.task])
    task = model.task
    source = "--imgsz" if imgsz is not None else "the checkpoint's training size"
    imgsz = check_imgsz(imgsz if imgsz is not None else int(training_args(model).get("imgsz", 640)),
                        max_stride(model), source, checkpoint)
    device = resolve_device(device)
    precision = resolve_precision(precision, device)
    data_file, label_instances = check_dataset_for(task, data, model)
    manifest = dataset_manifest(data)
    gt_path = ground_truth_for(task, data, gt, manifest) if iou_types(task) else None
    if iou_types(task) and gt_path is None:
        raise EvaluationError("no COCO-format ground truth for this dataset", file=data, key="--gt",
                              allowed="--gt FILE, or a dataset prepared by 'yolov12 data synth' / 'yolov12 data coco' "
                                      "(they record it)")
    gt_json = load_gt(gt_path) if gt_path else None

    captured: dict[str, Any] = {}

    def count_before_inference(validator) -> None:
        """Runs once the dataset is scanned, before the model sees an image: a silent subset stops here."""
        if task_row(task).classification:
            captured["counts"] = counting.classify_counts(validator), None
        elif iou_types(task):
            captured["counts"] = counting.coco_counts(validator, gt_json, iou_types(task)[-1], data_file)
        else:
            captured["counts"] = counting.label_counts(validator, data_file, label_instances), None
        if counting.is_subset(captured["counts"][0]) and not allow_subset:
            counting.refuse_subset(captured["counts"][0], data)

    runner = model
    if artifact is not None:
        from .artifact_file import load_artifact

        if rect:  # a static-shape export takes square letterboxed batches only
            raise UserError("an exported artifact is evaluated with rect=False", key="rect", allowed=[False])
        runner = load_artifact(artifact, task)
    runner.add_callback("on_val_start", count_before_inference)
    runner.add_callback("on_val_end", lambda validator: captured.setdefault("validator", validator))
    settings = {"imgsz": imgsz, "conf": conf, "iou": iou, "max_det": max_det, "rect": rect, "batch": batch,
                "device": device, "precision": precision, "split": "val"}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        metrics = runner.val(data=str(data), imgsz=imgsz, conf=conf, iou=iou, max_det=max_det, rect=rect,
                            quantize=16 if precision == "fp16" else None, batch=batch, device=device,
                            workers=workers, save_json=bool(iou_types(task)), plots=False, project=tmp, name="val",
                            exist_ok=True, verbose=verbose)
    validator = captured["validator"]
    ran = "fp16" if validator.args.quantize == 16 else "fp32"
    if ran != precision:  # never report a precision that did not run
        raise RuntimeError(f"asked Ultralytics for {precision} validation, it ran {ran}")

    counts, evaluated_ids = captured["counts"]
    subset = counting.is_subset(counts)

    result: dict[str, Any] = {
        "task": task, "precision": precision, "settings": {**settings, "device": str(validator.device)},
        "counts": counts, "subset": subset,
        "checkpoint": {"path": str(Path(checkpoint).resolve()), "sha256": sha256(checkpoint)},
        "dataset": {"data": str(Path(data).resolve()), "gt": str(gt_path.resolve()) if gt_path else None,
                    "gt_sha256": sha256(gt_path) if gt_path else None},
        "ultralytics": {k: float(v) for k, v in metrics.results_dict.items()},
        "coco": {}, "predictions": None, "seconds": None,
    }
    if artifact is not None:
        result["artifact"] = {"path": str(Path(artifact).resolve()), "sha256": sha256(artifact),
                              "format": Path(artifact).suffix.lstrip(".")}
        result["settings"]["batch"] = validator.args.batch  # a static export runs its own batch size
    predictions: list[dict[str, Any]] | None = None
    if iou_types(task):
        predictions = to_ground_truth_ids(validator.jdict, validator.class_map,
                                          category_ids_for(gt_json, manifest, len(model.names), gt_path), gt_json,
                                          gt_path)
        for iou_type in iou_types(task):
            result["coco"][iou_type] = score(gt_path, predictions, iou_type, backend, max_dets=max_det,
                                             img_ids=evaluated_ids if subset else None)
    elif task_row(task).classification:
        predictions = classify_records(validator)
        agreed, reason = cross_check(result["ultralytics"], result["coco"])
        if reason:  # one of the two scored something else than the other: keep only the COCO numbers, say why
            result["ultralytics"], result["ultralytics_dropped"] = agreed, reason
    result["seconds"] = round(time.perf_counter() - t0, 2)
    if out:
        if predictions is not None:
            result["predictions"] = str(write_json(Path(out).with_suffix(".predictions.json"), predictions).resolve())
        write_json(out, result, indent=1)
    return result
