"""Reading an Ultralytics ``data.yaml`` strictly, before Ultralytics does.

Ultralytics accepts a data file with a wrong ``nc``, silently tries to download a dataset whose split path is
missing, and reports YAML mistakes deep inside its loaders. Here every problem is one line naming the file and the
key: YAML syntax (with the line), duplicate keys, missing ``train``/``val``/``names``, ``names`` that are neither a
list nor a ``{0: name, 1: name, ...}`` mapping, ``nc`` that disagrees with ``names``, a malformed ``kpt_shape`` and a
split path that does not exist. A split is a directory of images, a ``.txt`` list of image paths (``./`` lines are
relative to the list, as in Ultralytics' COCO files) or a list of those.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..registry import TASK_TABLE
from ..yamlio import load_yaml

REQUIRED_KEYS = ("train", "val", "names")


class DatasetError(UserError):
    """The dataset cannot be used as it is; the message names the file (and line) and the key at fault."""


@dataclasses.dataclass
class DataFile:
    """A validated data.yaml: its path, the dataset root, the class names and the raw mapping."""

    file: Path
    root: Path
    names: list[str]
    kpt_shape: list[int] | None
    raw: dict[str, Any]

    @property
    def nc(self) -> int:
        return len(self.names)


def class_names(raw: dict[str, Any], file: Path) -> list[str]:
    names = raw["names"]
    if isinstance(names, dict):
        keys = sorted(names, key=str)
        if not all(isinstance(k, int) for k in names) or sorted(names) != list(range(len(names))):
            raise DatasetError(f"class indices are {keys[:6]}{' ...' if len(keys) > 6 else ''}", file=file,
                               key="names", allowed="a list of names, or a mapping with keys 0..nc-1")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names:
        raise DatasetError(f"names is {type(names).__name__} {names!r:.60}", file=file, key="names",
                           allowed="a non-empty list of class names, or a mapping {0: name, 1: name, ...}")
    if "nc" in raw and raw["nc"] != len(names):
        raise DatasetError(f"nc is {raw['nc']!r} but names lists {len(names)} classes", file=file, key="nc",
                           allowed=f"{len(names)} (the number of names), or leave nc out")
    return [str(n) for n in names]


def keypoint_shape(raw: dict[str, Any], file: Path, task: str | None) -> list[int] | None:
    shape = raw.get("kpt_shape")
    if shape is None:
        if task in TASK_TABLE and TASK_TABLE[task].keypoints:
            raise DatasetError(f"missing key (needed for task {task})", file=file, key="kpt_shape",
                               allowed="[number of keypoints, 2 or 3]")
        return None
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(v, int) for v in shape)
            and shape[0] > 0 and shape[1] in (2, 3)):
        raise DatasetError(f"kpt_shape is {shape!r}", file=file, key="kpt_shape",
                           allowed="[number of keypoints, 2 or 3], e.g. [17, 3]")
    return shape


def read_data_yaml(data: str | Path, task: str | None = None) -> DataFile:
    """Load and validate a detect/segment/pose/obb data.yaml (keys, names, nc, kpt_shape, root)."""
    file = Path(data)
    if not file.is_file():
        raise DatasetError("dataset file not found" if not file.exists() else "is a directory, expected a data.yaml",
                           file=file, key="--data", allowed="an Ultralytics data.yaml (classify: a dataset directory)")
    raw = load_yaml(file, "dataset file")
    if not isinstance(raw, dict):
        raise DatasetError(f"top level is {type(raw).__name__}, expected a mapping", file=file, key="(file)",
                           allowed="a mapping with keys path, train, val, names")
    for key in REQUIRED_KEYS:
        if key not in raw or raw[key] in (None, ""):
            raise DatasetError("missing key", file=file, key=key, allowed="path, train, val, names (and nc)")
    root = Path(str(raw.get("path") or file.parent)).expanduser()
    root = root if root.is_absolute() else (file.parent / root).resolve()
    return DataFile(file, root, class_names(raw, file), keypoint_shape(raw, file, task), raw)


def split_images(d: DataFile, split: str) -> list[Path]:
    """The image files of ``split``, found the way Ultralytics finds them (directory walk or list files)."""
    from ultralytics.data.utils import IMG_FORMATS  # the suffixes Ultralytics loads: our counts match its counts

    entries = d.raw[split] if isinstance(d.raw[split], list) else [d.raw[split]]
    images: list[Path] = []
    for entry in entries:
        p = Path(str(entry)).expanduser()
        p = p if p.is_absolute() else d.root / p
        if p.is_dir():
            images += [f for f in p.rglob("*.*") if f.suffix[1:].lower() in IMG_FORMATS]
        elif p.is_file() and p.suffix == ".txt":
            for line in p.read_text(encoding="utf-8-sig").splitlines():
                line = line.strip()
                if line:
                    images.append(p.parent / line[2:] if line.startswith("./") else Path(line))
        else:
            raise DatasetError(f"points to {p}, which is neither a directory nor a .txt image list", file=d.file,
                               key=split, allowed="a directory of images, a .txt list of images, or a list of them")
    images = sorted(f for f in images if f.suffix[1:].lower() in IMG_FORMATS)
    if not images:
        raise DatasetError(f"no images found in {d.raw[split]}", file=d.file, key=split,
                           allowed=f"image files with suffix {', '.join(sorted(IMG_FORMATS))}")
    return images


def label_path(image: Path) -> Path:
    """Ultralytics' rule: the last ``/images/`` of the path becomes ``/labels/``, the suffix ``.txt``."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    text = str(image)
    if sa in text:
        text = sb.join(text.rsplit(sa, 1))
    return Path(text).with_suffix(".txt")
