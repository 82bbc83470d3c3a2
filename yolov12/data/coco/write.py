"""Writing the converted label trees, image lists, symlinks and data YAMLs; finished work is not redone."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from ...io import atomic_dir, write_text
from .convert import instances_rows, keypoint_rows, load_json
from .spec import (COCO80_NAMES, FLIP_IDX, KEYPOINT_NAMES, KPT_SHAPE, LABEL_FORMAT, STAMP_NAME, TASKS, CocoError,
                   Progress, say)
from .validate import check_json_counts


def write_if_changed(path: Path, text: str) -> Path:
    """Atomic write that leaves an identical file untouched (keeps its mtime, so make-style tools do not rerun)."""
    if not (path.is_file() and path.read_text(encoding="utf-8") == text):
        write_text(path, text)
    return path


def _source_stamp(source: Path) -> dict[str, Any]:
    st = source.stat()
    return {"format": LABEL_FORMAT, "source": str(source), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _finished_counts(task_root: Path, split: str, stamp: dict[str, Any]) -> dict[str, int] | None:
    """Counts of a complete earlier conversion of the same source, else None. The stamp is written inside the label
    tree before its atomic rename, so its presence means the whole tree is there."""
    stamp_file = task_root / "labels" / split / STAMP_NAME
    if not (stamp_file.is_file() and (task_root / f"{split}.txt").is_file()):
        return None
    try:
        recorded = json.loads(stamp_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if any(recorded.get(key) != value for key, value in stamp.items()):
        return None
    return recorded.get("counts")


def _write_label_tree(task_root: Path, split: str, rows: dict[str, list[str]], stamp: dict[str, Any],
                      counts: dict[str, int], progress: bool) -> None:
    labels = task_root / "labels" / split
    report = Progress(f"write {task_root.name} labels/{split}", len(rows), progress)
    with atomic_dir(labels) as tmp:
        for i, (file_name, lines) in enumerate(sorted(rows.items()), 1):
            unique = dict.fromkeys(lines)  # COCO has a few exact duplicate objects; Ultralytics drops them too
            (tmp / Path(file_name).with_suffix(".txt").name).write_text("\n".join(unique) + "\n", encoding="utf-8")
            report.update(i)
        (tmp / STAMP_NAME).write_text(json.dumps({**stamp, "counts": counts}, indent=2, sort_keys=True) + "\n")
    # Ultralytics' label cache beside the tree describes the old labels; it is rebuilt on next use.
    (labels.parent / f"{split}.cache").unlink(missing_ok=True)


def _write_image_list(task_root: Path, split: str, file_names) -> None:
    # "./" lines resolve against the list's directory; the path keeps the images/<split> symlink (see module doc).
    lines = "".join(f"./images/{split}/{name}\n" for name in sorted(file_names))
    write_if_changed(task_root / f"{split}.txt", lines)


def ensure_symlink(link: Path, target: Path) -> None:
    """``link`` -> ``target``, replaced atomically if it points elsewhere."""
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    if link.exists() and not link.is_symlink():
        raise CocoError(f"exists and is not a symlink; remove it so it can link to {target}", file=link, key="--out")
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target, target_is_directory=True)
    os.replace(tmp, link)


def prepare_instances(root: Path, out: Path, split: str, expected: dict[str, Any], progress: bool) -> dict:
    source = root / "annotations" / f"instances_{split}.json"
    stamp = _source_stamp(source)
    finished = [_finished_counts(out / task, split, stamp) for task in ("detect", "segment")]
    if finished[0] is not None and finished[0] == finished[1]:
        say(f"{source.name}: labels up to date, skipped", progress)
        check_json_counts(root, source, finished[0], expected)
        return finished[0]
    data = load_json(source, progress)
    counts = {"images": len(data["images"]), "annotations": len(data["annotations"])}
    check_json_counts(root, source, counts, expected)
    images, detect, segment, stats = instances_rows(data, source, progress)
    del data  # the train JSON is ~450 MB of Python objects
    counts |= dict(stats) | {"labelled_images": len(detect), "objects": sum(map(len, detect.values()))}
    for task, rows in (("detect", detect), ("segment", segment)):
        _write_label_tree(out / task, split, rows, stamp, counts, progress)
        _write_image_list(out / task, split, (im["file"] for im in images.values()))
    return counts


def prepare_keypoints(root: Path, out: Path, split: str, expected: dict[str, Any], progress: bool) -> dict:
    source = root / "annotations" / f"person_keypoints_{split}.json"
    stamp = _source_stamp(source)
    finished = _finished_counts(out / "pose", split, stamp)
    if finished is not None:
        say(f"{source.name}: labels up to date, skipped", progress)
        check_json_counts(root, source, finished, expected)
        return finished
    data = load_json(source, progress)
    counts = {"images": len(data["images"]), "annotations": len(data["annotations"])}
    check_json_counts(root, source, counts, expected)
    _, pose, stats = keypoint_rows(data, source, progress)
    del data
    counts |= dict(stats) | {"labelled_images": len(pose), "objects": sum(map(len, pose.values()))}
    _write_label_tree(out / "pose", split, pose, stamp, counts, progress)
    _write_image_list(out / "pose", split, pose)  # only images with a labelled person, as Ultralytics' coco-pose
    return counts


def _data_yaml(task_root: Path, task: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "path": str(task_root),
        "train": str(task_root / "train2017.txt"),
        "val": str(task_root / "val2017.txt"),
    }
    if task == "pose":  # COCO keypoints annotate persons only: one class, as Ultralytics' coco-pose.yaml
        data |= {"kpt_shape": KPT_SHAPE, "flip_idx": FLIP_IDX, "names": {0: COCO80_NAMES[0]},
                 "kpt_names": {0: list(KEYPOINT_NAMES)}}  # the pose trainer stores these in the model
    else:
        data["names"] = dict(enumerate(COCO80_NAMES))
    return data


def write_yamls(out: Path) -> dict[str, str]:
    paths = {}
    for task in TASKS:
        text = f"# COCO 2017 {task}, written by yolov12.data.coco.prepare_coco\n"
        for key, value in _data_yaml(out / task, task).items():  # lists inline, one class name per line
            inline = None if isinstance(value, list) or key == "kpt_names" else False
            text += yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=inline, width=120)
        paths[task] = str(write_if_changed(out / f"coco-{task}.yaml", text))
    return paths
