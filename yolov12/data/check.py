"""Check a dataset before anything trains on it or is scored against it.

Policy (also in docs/data.md):
- A broken *label* row (wrong number of fields for the task, a non-numeric or non-finite value, a class id outside
  0..nc-1, a coordinate outside [0, 1], a box or polygon of zero width or height) is an ERROR naming the file:line
  and the field: it means a broken conversion, and silently dropping it would bias every number measured on the
  dataset. The first problem is the error line; the count and the next locations follow in the same line.
- A bad ``data.yaml`` (YAML syntax, duplicate key, missing key, ``nc`` disagreeing with ``names``, a split path that
  does not exist) is an ERROR naming the file and key (``yolov12.data.datayaml``).
- A corrupt, truncated, empty or too small *image* is a counted, logged SKIP with its real cause: Ultralytics'
  loaders drop such images too, so training sees the same set. Evaluation refuses to score without them unless asked
  (``yolov12 val --allow-subset``).
- An image without a label file is a background image (Ultralytics' convention), counted.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any

from ..registry import TASK_TABLE
from .datayaml import DataFile, DatasetError, label_path, read_data_yaml, split_images
from .images import image_problem

log = logging.getLogger(__name__)

__all__ = ["CheckReport", "DatasetError", "LabelProblem", "check_dataset", "check_label_file", "check_split_labels",
           "image_problem"]

SHOWN_LOCATIONS = 3  # further problem locations named in the one error line


@dataclasses.dataclass
class CheckReport:
    task: str
    images: dict[str, int] = dataclasses.field(default_factory=dict)
    instances: dict[str, int] = dataclasses.field(default_factory=dict)
    background: dict[str, int] = dataclasses.field(default_factory=dict)
    corrupt: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class LabelProblem:
    where: str  # file:line
    key: str  # the field at fault
    what: str
    allowed: str


# a label row is read by its task's label format (yolov12.registry.LABEL_FORMATS), the task row names it
def expected_fields(task: str, kpt_shape: list[int] | None) -> str:
    return {"box": "5 (class cx cy w h)", "corners": "9 (class x1 y1 x2 y2 x3 y3 x4 y4)",
            "polygon": "an odd number >= 7 (class x1 y1 x2 y2 x3 y3 ...)",
            "keypoints": f"{5 + math.prod(kpt_shape or [0])} (class cx cy w h + keypoints {kpt_shape})"
            }[TASK_TABLE[task].label_format]


def fields_ok(task: str, n: int, kpt_shape: list[int] | None) -> bool:
    form = TASK_TABLE[task].label_format
    if form == "box":
        return n == 5
    if form == "corners":
        return n == 9
    if form == "polygon":
        return n >= 7 and n % 2 == 1
    return n == 5 + math.prod(kpt_shape)


def coordinate_indices(task: str, n: int, kpt_shape: list[int] | None) -> range | list[int]:
    """Indices of the values that are normalised coordinates (keypoint visibility flags are not)."""
    if TASK_TABLE[task].keypoints and kpt_shape and kpt_shape[1] == 3:
        return list(range(1, 5)) + [5 + i for i in range(n - 5) if i % 3 != 2]
    return range(1, n)


def zero_extent(task: str, values: list[float]) -> tuple[str, str] | None:
    """(field, what) when the object has zero width or height, else None."""
    if TASK_TABLE[task].label_format in ("box", "keypoints"):  # a box first; else a polygon / corners
        for key, v in (("w", values[3]), ("h", values[4])):
            if v <= 0:
                return key, f"box {'width' if key == 'w' else 'height'} is {v:g}"
        return None
    xs, ys = values[1::2], values[2::2]
    for key, axis in (("x", xs), ("y", ys)):
        if max(axis) - min(axis) <= 0:
            return key, f"polygon has zero {'width' if key == 'x' else 'height'} (all {key} = {axis[0]:g})"
    return None


def row_problem(fields: list[str], task: str, nc: int, kpt_shape) -> tuple[str, str, str] | None:
    """(field, what, allowed) for a bad label row, None for a good one."""
    if not fields_ok(task, len(fields), kpt_shape):
        return "fields", f"{len(fields)} fields", f"{expected_fields(task, kpt_shape)} fields for task {task}"
    try:
        values = [float(v) for v in fields]
    except ValueError:
        bad = next(v for v in fields if not _is_float(v))
        return "value", f"non-numeric value {bad!r}", "numbers"
    if not all(math.isfinite(v) for v in values):
        return "value", "non-finite value (nan or inf)", "finite numbers"
    cls = values[0]
    if cls != int(cls) or not 0 <= cls < nc:
        return "class", f"class id {fields[0]} is out of range (nc={nc})", f"integers 0..{nc - 1}"
    bad = [fields[i] for i in coordinate_indices(task, len(values), kpt_shape) if not -1e-6 <= values[i] <= 1 + 1e-6]
    if bad:
        return "coordinates", f"coordinates {bad[:4]} are not normalised", "values in [0, 1]"
    zero = zero_extent(task, values)
    if zero:
        return zero[0], zero[1], "objects of positive width and height"
    return None


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def check_label_file(path: Path, task: str, nc: int, kpt_shape, problems: list[LabelProblem]) -> int:
    """Append every problem of one label file to ``problems``; return its count of good instances."""
    count = 0
    try:
        text = path.read_text(encoding="utf-8-sig")  # Ultralytics reads labels the same way
    except (OSError, UnicodeDecodeError) as e:
        problems.append(LabelProblem(str(path), "file", f"cannot be read as UTF-8 text ({e})", "UTF-8 text"))
        return 0
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        problem = row_problem(fields, task, nc, kpt_shape)
        if problem:
            problems.append(LabelProblem(f"{path}:{lineno}", *problem))
        else:
            count += 1
    return count


def raise_label_problems(problems: list[LabelProblem], error_type: type[DatasetError] | type = DatasetError) -> None:
    """One error for all problems: the first in full, then the count and the next locations."""
    if not problems:
        return
    first, rest = problems[0], problems[1:]
    what = first.what
    if rest:
        shown = ", ".join(p.where for p in rest[:SHOWN_LOCATIONS])
        what += f" ({len(rest)} more label error(s): {shown}{', ...' if len(rest) > SHOWN_LOCATIONS else ''})"
    error = error_type(what, file=first.where, key=first.key, allowed=first.allowed)
    error.problems = problems
    raise error


def check_split_labels(d: DataFile, split: str, task: str, decode_images: bool = False,
                       report: CheckReport | None = None) -> CheckReport:
    """Check the label rows of one split (raising on any bad row); optionally decode every image."""
    report = report or CheckReport(task)
    problems: list[LabelProblem] = []
    n_img = n_inst = n_bg = 0
    for img in split_images(d, split):
        if decode_images:
            reason = image_problem(img)
            if reason:
                report.corrupt.append(f"{img}: {reason}")
                continue
        n_img += 1
        label = label_path(img)
        if not label.is_file():
            n_bg += 1
            continue
        found = check_label_file(label, task, d.nc, d.kpt_shape, problems)
        n_bg += found == 0
        n_inst += found
    raise_label_problems(problems)
    report.images[split], report.instances[split], report.background[split] = n_img, n_inst, n_bg
    return report


def check_dataset(data: str | Path, task: str) -> CheckReport:
    """Check a detect/segment/pose/obb ``data.yaml`` or a classification directory; raise DatasetError on errors."""
    if task not in TASK_TABLE:
        raise DatasetError(f"task {task!r} is not known", key="--task", allowed=list(TASK_TABLE))
    if TASK_TABLE[task].classification:
        return check_classify(Path(data), task)
    d = read_data_yaml(data, task)
    report = CheckReport(task)
    for split in ("train", "val"):
        check_split_labels(d, split, task, decode_images=True, report=report)
    for item in report.corrupt:
        log.warning("skipped corrupt image %s", item)
    return report


def check_classify(root: Path, task: str = "classify") -> CheckReport:
    from ultralytics.data.utils import IMG_FORMATS  # the suffixes ClassificationDataset loads

    report = CheckReport(task)
    if not root.is_dir():
        raise DatasetError("not a directory", file=root, key="--data",
                           allowed="a classification dataset directory with train/<class>/ and val/<class>/")
    classes = None
    for split in ("train", "val"):
        split_dir = root / split
        if not split_dir.is_dir():
            raise DatasetError(f"missing split directory {split_dir}", file=root, key="--data",
                               allowed="a directory with train/<class>/ and val/<class>/")
        names = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
        if classes is not None and names != classes:
            raise DatasetError(f"class directories {names[:5]} differ from train's {classes[:5]}", file=split_dir,
                               key="classes", allowed="the same class directories in train/ and val/")
        classes, n_img = names, 0
        for img in sorted(p for p in split_dir.rglob("*.*") if p.suffix[1:].lower() in IMG_FORMATS):
            reason = image_problem(img)
            if reason:
                report.corrupt.append(f"{img}: {reason}")
            else:
                n_img += 1
        report.images[split] = n_img
    for item in report.corrupt:
        log.warning("skipped corrupt image %s", item)
    return report
