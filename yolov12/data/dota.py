"""DOTA v1 for oriented-box (OBB) training, in Ultralytics' layout; this module validates it and writes ``dota.yaml``.

The suite does not convert DOTA itself: users run Ultralytics' ``convert_dota_to_yolo_obb`` (original
``labels/{train,val}_original`` -> normalised ``labels/{train,val}``) and optionally tile with ``split_trainval`` /
``split_test`` (see docs/data.md). ``validate_dota`` then checks every label row before a long training run finds a
bad one, counts images, background images and instances per class, and writes ``root/dota.yaml``.

Expected layout::

    root/images/train/*.png|jpg   root/labels/train/*.txt   (one row per object: class x1 y1 x2 y2 x3 y3 x4 y4)
    root/images/val/...           root/labels/val/...
    root/images/test/...          (optional, no labels)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ultralytics.data.utils import IMG_FORMATS  # the suffixes YOLODataset loads: our counts match training

from ..errors import UserError
from ..io import write_yaml as write_yaml_atomic
from .check import LabelProblem, raise_label_problems, zero_extent

# Ultralytics' DOTAv1.yaml order: the class index in every label file refers to this list.
DOTA_V1_NAMES = (
    "plane",
    "ship",
    "storage tank",
    "baseball diamond",
    "tennis court",
    "basketball court",
    "ground track field",
    "harbor",
    "bridge",
    "large vehicle",
    "small vehicle",
    "helicopter",
    "roundabout",
    "soccer ball field",
    "swimming pool",
)
# Image counts of the original (untiled) DOTA v1 splits; tiling multiplies them, so they are not checked by default.
DOTA_V1_IMAGES = {"train": 1411, "val": 458}
SPLITS = ("train", "val")
FIELDS = 9  # class + 4 corner points


class DotaError(UserError):
    """The DOTA tree is incomplete, a label row is malformed, or the counts differ from the expected ones."""


def validate_dota(
    root: str | Path, expected: dict[str, int] | None = None, write_yaml: bool = True, *, coord_margin: float = 0.0
) -> dict[str, Any]:
    """Check ``root`` (layout above); return counts per split; write ``root/dota.yaml`` when ``write_yaml``.

    ``expected`` maps a split to its image count (e.g. ``DOTA_V1_IMAGES`` for the untiled dataset).
    ``coord_margin`` widens the allowed coordinate range to ``[-margin, 1 + margin]``: tiles made by Ultralytics'
    ``split_trainval`` keep objects that are at least 70% inside a tile without clipping their corners.
    """
    root = Path(root).expanduser().resolve()
    expected = check_expected(expected)
    if not (isinstance(coord_margin, (int, float)) and 0 <= coord_margin < 1):
        raise DotaError(f"coord_margin is {coord_margin!r}", key="coord_margin", allowed="a number in [0, 1)")
    require_layout(root)
    counts = {split: validate_split(root, split, coord_margin) for split in SPLITS}
    test_dir = root / "images" / "test"
    if test_dir.is_dir():
        counts["test"] = {"images": len(image_files(test_dir))}
    check_image_counts(root, counts, expected)
    result: dict[str, Any] = {"root": str(root), "names": list(DOTA_V1_NAMES), "splits": counts, "yaml": None}
    if write_yaml:
        result["yaml"] = str(write_dota_yaml(root, has_test="test" in counts))
    return result


def check_expected(expected: dict[str, int] | None) -> dict[str, int]:
    for split, value in (expected or {}).items():
        if split not in (*SPLITS, "test"):
            raise DotaError(f"unknown split {split!r}", key="expected", allowed=[*SPLITS, "test"])
        if not isinstance(value, int) or value < 0:
            raise DotaError(f"image count {value!r}", key=f"expected[{split!r}]", allowed="integers >= 0")
    return dict(expected or {})


def require_layout(root: Path) -> None:
    if not root.is_dir():
        raise DotaError("not a directory", file=root, key="--root",
                        allowed="the DOTA root holding images/ and labels/")
    for kind in ("images", "labels"):
        for split in SPLITS:
            if not (root / kind / split).is_dir():
                raise DotaError(f"{kind}/{split} does not exist", file=root, key="--root",
                                allowed=f"a DOTA root with {kind}/{split} (labels come from "
                                "ultralytics.data.converter.convert_dota_to_yolo_obb)")


def image_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.name.rpartition(".")[-1].lower() in IMG_FORMATS)


def validate_split(root: Path, split: str, coord_margin: float) -> dict[str, Any]:
    """Check every label file of one split; count images, labelled/background images and instances per class."""
    images = image_files(root / "images" / split)
    label_files = sorted((root / "labels" / split).glob("*.txt"))
    per_class = [0] * len(DOTA_V1_NAMES)
    problems: list[LabelProblem] = []
    non_empty: set[str] = set()
    for label_file in label_files:
        classes = check_label_file(label_file, root, coord_margin, problems)
        for cls in classes:
            per_class[cls] += 1
        if classes:
            non_empty.add(label_file.stem)
    raise_label_problems(problems, DotaError)
    image_stems = {p.stem for p in images}
    labelled = len(image_stems & non_empty)
    return {
        "images": len(images),
        "labels": len(label_files),
        "labelled_images": labelled,
        "background_images": len(images) - labelled,  # no label file, or an empty one: Ultralytics trains on both
        "orphan_labels": len({p.stem for p in label_files} - image_stems),  # ignored by Ultralytics
        "instances": sum(per_class),
        "per_class": dict(zip(DOTA_V1_NAMES, per_class)),
    }


def check_label_file(path: Path, root: Path, coord_margin: float, problems: list[LabelProblem]) -> list[int]:
    """Append one problem per bad row to ``problems``; return the classes of the good rows."""
    classes = []
    # utf-8-sig: Ultralytics reads labels the same way, so a byte-order mark is not an error
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue  # Ultralytics skips blank lines too
        error = row_error(line.split(), coord_margin)
        if error:
            problems.append(LabelProblem(f"{path}:{number}", *error))
        else:
            classes.append(int(line.split()[0]))
    return classes


def row_error(fields: list[str], coord_margin: float) -> tuple[str, str, str] | None:
    """(field, what, allowed) for an invalid label row, ``None`` for a valid one."""
    if len(fields) != FIELDS:
        return "fields", f"{len(fields)} fields", f"{FIELDS} fields 'class x1 y1 x2 y2 x3 y3 x4 y4'"
    last_class = len(DOTA_V1_NAMES) - 1
    if not (fields[0].isascii() and fields[0].isdigit()) or int(fields[0]) > last_class:
        return "class", f"class {fields[0]!r} is not a DOTA v1 class index", f"integers 0..{last_class}"
    low, high = 0.0 - coord_margin, 1.0 + coord_margin  # 0.0 - 0.0 is 0.0, where -0.0 would print "-0"
    for name, text in zip(("x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4"), fields[1:]):
        try:
            value = float(text)
        except ValueError:
            return name, f"{text!r} is not a number", "numbers"
        if not math.isfinite(value) or not low <= value <= high:
            return name, f"{text} is outside [{low:g}, {high:g}] (coordinates are normalised by image size)", \
                f"[{low:g}, {high:g}]"
    zero = zero_extent("obb", [float(v) for v in fields])
    return (*zero, "objects of positive width and height") if zero else None


def check_image_counts(root: Path, counts: dict[str, dict[str, Any]], expected: dict[str, int]) -> None:
    for split, wanted in expected.items():
        found = counts.get(split, {}).get("images", 0)
        if found != wanted:
            raise DotaError(f"found {found} images, expected {wanted}", file=root / "images" / split,
                            key="expected", allowed="the expected image count, or leave expected out")


def write_dota_yaml(root: Path, has_test: bool = False) -> Path:
    data: dict[str, Any] = {"path": str(root), "train": "images/train", "val": "images/val"}
    if has_test:
        data["test"] = "images/test"
    data["names"] = dict(enumerate(DOTA_V1_NAMES))
    return write_yaml_atomic(root / "dota.yaml", data)
