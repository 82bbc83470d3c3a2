"""What was evaluated against what should have been: no metric is ever computed on a silent subset.

Ultralytics' dataset scan (``verify_image_label`` / ``verify_image``) drops an image whose file is corrupt, empty or
too small, or whose label row is malformed, with one log line; the validator then scores the remaining images, and
the COCO toolkit, given the full ground truth, counts every object of a dropped image as missed. Either way the
number is wrong without a word. Here the images the validator actually loaded (``dataset.im_files`` /
``dataset.samples`` after the scan) are compared with the ground truth (COCO JSON, or the label files and class
folders where there is none), each missing image gets its real reason, and the caller refuses the mismatch unless
told to score the evaluated subset (then the result says so).

Counts: ``gt_images`` / ``gt_instances`` = images / objects of the ground truth (objects the toolkit scores:
non-crowd, and for keypoints with at least one labelled keypoint); ``evaluated_*`` = those of the images the model
ran on; ``label_instances`` = the objects Ultralytics' own metric saw (it removes duplicate label rows);
``dropped`` = ``[{file, reason}]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.datayaml import DataFile, label_path, split_images
from ..data.images import image_problem
from ..errors import UserError

SHOWN = 3  # dropped files named in the error line beyond the first


def scored(annotation: dict[str, Any], iou_type: str) -> bool:
    """Whether the COCO toolkit scores this ground-truth object (it ignores crowds and keypoint-less persons)."""
    if annotation.get("iscrowd"):
        return False
    return iou_type != "keypoints" or annotation.get("num_keypoints", 1) > 0


def ultralytics_reason(dataset, image: Path) -> str:
    """Ask Ultralytics' own scan why it dropped ``image`` (used when the file itself decodes fine)."""
    try:
        from ultralytics.data.utils import verify_image_label

        nkpt, ndim = dataset.data.get("kpt_shape", (0, 0))
        result = verify_image_label((str(image), str(label_path(image)), "", dataset.use_keypoints,
                                     len(dataset.data["names"]), nkpt, ndim, dataset.single_cls))
        message = result[-1] or "no message"
        return "dropped by Ultralytics: " + message.split("ignoring corrupt image/label: ", 1)[-1]
    except Exception as e:  # noqa: BLE001  (a diagnosis must not hide the refusal it explains)
        return f"dropped by Ultralytics' dataset scan (its reason could not be recovered: {type(e).__name__})"


def dropped_entry(image: Path, dataset) -> dict[str, str]:
    return {"file": str(image), "reason": image_problem(image) or ultralytics_reason(dataset, image)}


def coco_counts(validator, gt: dict[str, Any], iou_type: str, data: DataFile) -> tuple[dict[str, Any], list[int]]:
    """Counts for a task scored against COCO ground truth, and the ids of the evaluated ground-truth images."""
    dataset = validator.dataloader.dataset
    loaded = {Path(f).name: Path(f) for f in dataset.im_files}
    listed = {p.name: p for p in split_images(data, "val")}
    by_name = {Path(im["file_name"]).name: im["id"] for im in gt["images"]}
    strangers = sorted(set(loaded) - set(by_name))
    if strangers:
        raise UserError(f"{len(strangers)} val image(s) are not in the ground truth (first: {strangers[:3]}); it "
                        "belongs to another dataset or split", key="--gt",
                        allowed=f"the COCO ground truth of the val split of {data.file}")
    dropped = []
    for name in sorted(set(by_name) - set(loaded)):
        if name in listed:
            dropped.append(dropped_entry(listed[name], dataset))
        else:
            dropped.append({"file": name, "reason": f"in the ground truth but not in the val split of {data.file}"})
    evaluated = sorted(by_name[n] for n in loaded)
    keep = set(evaluated)
    objects = [a for a in gt["annotations"] if scored(a, iou_type)]
    counts = {"gt_images": len(by_name), "evaluated_images": len(evaluated), "gt_instances": len(objects),
              "evaluated_instances": sum(a["image_id"] in keep for a in objects),
              "label_instances": int(sum(len(lb["cls"]) for lb in dataset.labels)), "dropped": dropped}
    return counts, evaluated


def label_counts(validator, data: DataFile, gt_instances: int) -> dict[str, Any]:
    """Counts for a task without COCO ground truth (obb): the label files are the ground truth."""
    dataset = validator.dataloader.dataset
    loaded = {str(Path(f)) for f in dataset.im_files}
    listed = split_images(data, "val")
    dropped = [dropped_entry(p, dataset) for p in listed if str(p) not in loaded]
    kept = int(sum(len(lb["cls"]) for lb in dataset.labels))
    counts = {"gt_images": len(listed), "evaluated_images": len(loaded), "gt_instances": gt_instances,
              "evaluated_instances": kept, "label_instances": kept, "dropped": dropped}
    if not dropped and kept != gt_instances:
        counts["dropped"] = [{"file": str(data.file), "reason": f"{gt_instances - kept} duplicate label row(s) "
                              "removed by Ultralytics"}]
    return counts


def classify_counts(validator) -> dict[str, Any]:
    """Counts for classification: every image in a class folder is ground truth; the scan and the model's class list
    decide which ones were evaluated."""
    dataset = validator.dataloader.dataset
    listed = [Path(f) for f, _ in dataset.base.samples]
    loaded = {str(Path(s[0])) for s in dataset.samples}
    names = set(validator.names.values()) if isinstance(validator.names, dict) else set(validator.names)
    dropped = []
    for image in listed:
        if str(image) in loaded:
            continue
        reason = image_problem(image)
        if reason is None and image.parent.name not in names:
            reason = f"class folder {image.parent.name!r} is not a class of the model"
        dropped.append({"file": str(image), "reason": reason or "dropped by Ultralytics' dataset scan"})
    return {"gt_images": len(listed), "evaluated_images": len(loaded), "gt_instances": len(listed),
            "evaluated_instances": len(loaded), "label_instances": len(loaded), "dropped": dropped}


def is_subset(counts: dict[str, Any]) -> bool:
    return (counts["evaluated_images"] != counts["gt_images"]
            or counts["evaluated_instances"] != counts["gt_instances"] or bool(counts["dropped"]))


def refuse_subset(counts: dict[str, Any], data: str | Path) -> None:
    """One line: the first dropped file and why, how many more, and how to score the subset deliberately."""
    dropped = counts["dropped"]
    first = dropped[0] if dropped else {"file": str(data), "reason": "counts differ"}
    others = ", ".join(Path(d["file"]).name for d in dropped[1:1 + SHOWN])
    more = f"; {len(dropped) - 1} more dropped: {others}{', ...' if len(dropped) > 1 + SHOWN else ''}" \
        if len(dropped) > 1 else ""
    raise UserError(
        f"{first['reason']} - only {counts['evaluated_images']} of {counts['gt_images']} ground-truth images "
        f"({counts['evaluated_instances']} of {counts['gt_instances']} objects) could be evaluated{more}",
        file=first["file"], key="--data",
        allowed="a val split whose every image loads, or --allow-subset to score only the evaluated images "
                "(the result then records subset: true)")
