"""Check a dataset before anything trains on it.

Policy (also in docs/data.md):
- A broken *label* (wrong number of fields for the task, a non-numeric value, a class id outside 0..nc-1, a
  coordinate outside [0, 1]) is an ERROR naming the file and line: it means a broken conversion, and silently
  dropping it would bias every number measured on the dataset. All such errors are reported together (up to 20).
- A missing dataset file or directory (data.yaml, a split's image directory, a required key) is an ERROR naming it.
- A corrupt or truncated *image* is a counted, logged SKIP: Ultralytics' loaders drop such images too, so training
  and evaluation see the same set; the report lists them.
- An image without a label file is a background image (Ultralytics' convention), counted.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

IMAGE_SUFFIXES = {".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"}
MAX_REPORTED = 20


class DatasetError(ValueError):
    """The dataset cannot be used as it is; the message names every file/line at fault."""


@dataclasses.dataclass
class CheckReport:
    task: str
    images: dict[str, int] = dataclasses.field(default_factory=dict)
    instances: dict[str, int] = dataclasses.field(default_factory=dict)
    background: dict[str, int] = dataclasses.field(default_factory=dict)
    corrupt: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def image_ok(path: Path) -> str | None:
    """None if the image decodes completely, else the reason."""
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            im.load()  # verify() does not catch truncation; a full decode does
        return None
    except Exception as e:  # PIL raises several types for bad files
        return f"{type(e).__name__}: {e}"


def expected_fields(task: str, kpt_shape: list[int] | None) -> str:
    return {"detect": "5 (class cx cy w h)", "obb": "9 (class x1 y1 x2 y2 x3 y3 x4 y4)",
            "segment": "an odd number >= 7 (class x1 y1 x2 y2 x3 y3 ...)",
            "pose": f"{5 + math.prod(kpt_shape or [0])} (class cx cy w h + keypoints {kpt_shape})"}[task]


def fields_ok(task: str, n: int, kpt_shape: list[int] | None) -> bool:
    if task == "detect":
        return n == 5
    if task == "obb":
        return n == 9
    if task == "segment":
        return n >= 7 and n % 2 == 1
    return n == 5 + math.prod(kpt_shape)


def coordinate_indices(task: str, n: int, kpt_shape: list[int] | None) -> range | list[int]:
    """Indices of the values that are normalised coordinates (pose visibility flags are not)."""
    if task == "pose" and kpt_shape and kpt_shape[1] == 3:
        return list(range(1, 5)) + [5 + i for i in range(n - 5) if i % 3 != 2]
    return range(1, n)


def check_label_file(path: Path, task: str, nc: int, kpt_shape, errors: list[str]) -> int:
    """Append every problem of one label file to ``errors``; return its instance count."""
    count = 0
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{lineno}"
        if not fields_ok(task, len(fields), kpt_shape):
            errors.append(f"{where}: expected {expected_fields(task, kpt_shape)} fields for task {task}, "
                          f"got {len(fields)}")
            continue
        try:
            values = [float(v) for v in fields]
        except ValueError:
            errors.append(f"{where}: non-numeric value in {line.strip()!r}")
            continue
        cls = values[0]
        if cls != int(cls) or not 0 <= cls < nc:
            errors.append(f"{where}: class id {fields[0]} is not an integer in 0..{nc - 1} (nc={nc})")
            continue
        bad = [fields[i] for i in coordinate_indices(task, len(values), kpt_shape) if not -1e-6 <= values[i] <= 1 + 1e-6]
        if bad:
            errors.append(f"{where}: coordinates must be normalised to [0, 1], got {bad[:4]}")
            continue
        count += 1
    return count


def load_data_yaml(data: str | Path) -> dict[str, Any]:
    path = Path(data)
    if not path.is_file():
        raise DatasetError(f"dataset file {path} does not exist")
    d = yaml.safe_load(path.read_text()) or {}
    for key in ("train", "val", "names"):
        if key not in d:
            raise DatasetError(f"{path}: missing key '{key}' (needed: path, train, val, names)")
    return d


def split_dirs(d: dict[str, Any], data: Path, split: str) -> tuple[Path, Path]:
    root = Path(d.get("path") or data.parent)
    root = root if root.is_absolute() else (data.parent / root).resolve()
    images = root / d[split]
    if not images.is_dir():
        raise DatasetError(f"{data}: '{split}' points to {images}, which is not a directory")
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"  # Ultralytics' rule: last /images/ -> /labels/
    labels = Path(sb.join(f"{images}{os.sep}".rsplit(sa, 1))[:-1] if sa in f"{images}{os.sep}" else images)
    return images, labels


def check_dataset(data: str | Path, task: str) -> CheckReport:
    """Check a detect/segment/pose/obb ``data.yaml`` or a classification directory; raise DatasetError on errors."""
    if task == "classify":
        return check_classify(Path(data))
    if task not in ("detect", "segment", "pose", "obb"):
        raise DatasetError(f"task {task!r} is not allowed; allowed values: detect, segment, pose, obb, classify")
    data = Path(data)
    d = load_data_yaml(data)
    nc = len(d["names"])
    kpt_shape = d.get("kpt_shape")
    if task == "pose" and not kpt_shape:
        raise DatasetError(f"{data}: missing key 'kpt_shape' (needed for task pose)")
    report, errors = CheckReport(task), []
    for split in ("train", "val"):
        images, labels = split_dirs(d, data, split)
        n_img = n_inst = n_bg = 0
        for img in sorted(p for p in images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
            reason = image_ok(img)
            if reason:
                report.corrupt.append(f"{img}: {reason}")
                continue
            n_img += 1
            label = labels / img.relative_to(images).with_suffix(".txt")
            if not label.is_file():
                n_bg += 1
                continue
            found = check_label_file(label, task, nc, kpt_shape, errors)
            n_bg += found == 0
            n_inst += found
        report.images[split], report.instances[split], report.background[split] = n_img, n_inst, n_bg
    if errors:
        more = f"\n... and {len(errors) - MAX_REPORTED} more" if len(errors) > MAX_REPORTED else ""
        raise DatasetError(f"{len(errors)} label error(s) in {data}:\n" + "\n".join(errors[:MAX_REPORTED]) + more)
    for item in report.corrupt:
        print(f"skipped corrupt image {item}", flush=True)
    return report


def check_classify(root: Path) -> CheckReport:
    report = CheckReport("classify")
    if not root.is_dir():
        raise DatasetError(f"classification dataset {root} is not a directory (expected train/<class>/, val/<class>/)")
    classes = None
    for split in ("train", "val"):
        split_dir = root / split
        if not split_dir.is_dir():
            raise DatasetError(f"classification dataset {root}: missing split directory {split_dir}")
        names = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
        if classes is not None and names != classes:
            raise DatasetError(f"{split_dir}: class directories {names} differ from train's {classes}")
        classes, n_img = names, 0
        for img in sorted(p for p in split_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
            reason = image_ok(img)
            if reason:
                report.corrupt.append(f"{img}: {reason}")
            else:
                n_img += 1
        report.images[split] = n_img
    for item in report.corrupt:
        print(f"skipped corrupt image {item}", flush=True)
    return report
