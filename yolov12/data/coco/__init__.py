"""COCO 2017 preparation: download (resumable, verified), validation of an existing copy, and conversion to YOLO labels.

``prepare_coco(root)`` turns an official COCO 2017 copy::

    root/train2017/*.jpg   root/val2017/*.jpg
    root/annotations/{instances,person_keypoints}_{train,val}2017.json

into one Ultralytics dataset root per task under ``out`` (default ``root/yolo``)::

    out/coco.json                       manifest: ground-truth JSON paths, counts, data YAML paths
    out/coco-{detect,segment,pose}.yaml data YAMLs with absolute paths
    out/{detect,segment,pose}/
        images/{train2017,val2017}      symlinks to root/{train2017,val2017} (the 19 GB are never copied)
        annotations                     symlink to root/annotations (where Ultralytics' save_json COCO eval looks)
        labels/{train2017,val2017}/     one .txt per labelled image (.coco_source.json records what made them)
        {train2017,val2017}.txt         image lists, "./images/<split>/<file>" lines

Why image lists and not ``train: images/train2017``: Ultralytics' ``check_det_dataset`` calls ``Path.resolve()`` on the
YAML's split paths, which follows the ``images/<split>`` symlink to ``root/<split>``; the label lookup (``/images/`` ->
``/labels/``) would then miss our label tree. Lines of a list file are used as written, so they keep the symlinked
path. The list names end in ``val2017.txt`` like Ultralytics' own COCO YAMLs.

Labels follow Ultralytics' own COCO converter (``ultralytics.data.converter.convert_coco``), rewritten here because that
one writes into an auto-incremented directory and cannot write three task trees from one JSON load:

- classes: COCO's 80 category ids (1..90, with gaps) map to 0..79 in category-id order (``coco91_to_80``);
- ``iscrowd=1`` annotations are skipped (counted), as are boxes of zero width or height;
- detect: ``class cx cy w h``, normalised and clipped to the image;
- segment: ``class x1 y1 x2 y2 ...``; an object drawn as several polygons is merged into one with Ultralytics'
  ``merge_multi_segment`` (joins the parts at their closest points), so masks match Ultralytics' COCO labels; an
  annotation without a usable polygon gets its box as a 4-point polygon (counted as ``box_polygons``);
- pose: ``0 cx cy w h`` + 17 x ``x y v``; persons with no labelled keypoint are skipped (COCO keypoint evaluation
  ignores them), and the pose image lists hold only images with at least one labelled person, like the lists of
  Ultralytics' coco-pose (56599 train / 2346 val images). The pose YAML has the single class ``person``, as
  Ultralytics' coco-pose.yaml, so pose models keep nc=1.

Modules: ``spec`` (official archives, counts, categories), ``download`` (resumable, verified), ``extract``,
``validate`` (layout and counts), ``convert`` (annotations -> label rows), ``write`` (label trees, lists, YAMLs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .download import download
from .extract import archive_url, fetch_missing
from .spec import (ANNOTATION_STEMS, ARCHIVES, COCO80_NAMES, DEFAULT_BASE_URL, EXPECTED_KEYS, FLIP_IDX,
                   KEYPOINT_NAMES, KPT_SHAPE, LABEL_FORMAT, NUM_KEYPOINTS, OFFICIAL_EXPECTED, PERSON_ID, SPLITS,
                   STAMP_NAME, TASKS, CocoArchive, CocoError, coco80_to_91, coco91_to_80, say)
from .validate import resolve_expected, validate_layout
from .write import ensure_symlink, prepare_instances, prepare_keypoints, write_if_changed, write_yamls

__all__ = ["ANNOTATION_STEMS", "ARCHIVES", "COCO80_NAMES", "DEFAULT_BASE_URL", "EXPECTED_KEYS",
           "FLIP_IDX", "KEYPOINT_NAMES", "KPT_SHAPE", "LABEL_FORMAT", "NUM_KEYPOINTS", "OFFICIAL_EXPECTED", "PERSON_ID",
           "SPLITS", "STAMP_NAME", "TASKS", "CocoArchive", "CocoError", "archive_url", "coco80_to_91", "coco91_to_80",
           "download", "prepare_coco"]


def prepare_coco(root: str | Path, download: bool = False, base_url: str = DEFAULT_BASE_URL,
                 expected: dict[str, Any] | None = None, out: str | Path | None = None) -> dict:
    """Make COCO 2017 at ``root`` ready for training and evaluation; return the manifest written to ``out/coco.json``.

    download: fetch the archives whose contents are missing from ``base_url`` into ``root`` (resumed, size and MD5
        checked), then extract them there. Without it, an existing copy is only validated.
    expected: counts (and archive sizes/MD5s) to check against; ``None`` = the official values (``OFFICIAL_EXPECTED``),
        a dict replaces them entirely (allowed keys: ``EXPECTED_KEYS``).
    out: where the YOLO dataset roots, data YAMLs and manifest go (default ``root/yolo``).

    Raises ``CocoError`` naming what is missing or wrong and how to get it. Finished work is not redone: a label tree
    whose recorded source (path, size, mtime) matches the annotation JSON is kept as is.
    """
    progress = True
    root = Path(root).expanduser().resolve()
    out = Path(out).expanduser().resolve() if out is not None else root / "yolo"
    expected = resolve_expected(expected)
    if download:
        fetch_missing(root, base_url, expected, progress)
    image_counts = validate_layout(root, expected)
    for task in TASKS:
        for split in SPLITS:
            ensure_symlink(out / task / "images" / split, root / split)
        # Ultralytics' own COCO evaluation (save_json) reads <path>/annotations/<ground-truth json>
        ensure_symlink(out / task / "annotations", root / "annotations")
    counts: dict[str, Any] = {"images": image_counts}
    for split in SPLITS:
        counts[f"instances_{split}"] = prepare_instances(root, out, split, expected, progress)
        counts[f"person_keypoints_{split}"] = prepare_keypoints(root, out, split, expected, progress)
    annotations = {stem: str(root / "annotations" / f"{stem}.json") for stem in ANNOTATION_STEMS}
    manifest = {
        "format": LABEL_FORMAT,
        "root": str(root),
        "out": str(out),
        "ground_truth": {stem: annotations[stem] for stem in ("instances_val2017", "person_keypoints_val2017")},
        "annotations": annotations,
        "yaml": write_yamls(out),
        "counts": counts,
        "classes": {"names": list(COCO80_NAMES), "coco80_to_91": coco80_to_91()},
    }
    write_if_changed(out / "coco.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    say(f"ready: {out / 'coco.json'}", progress)
    return manifest
