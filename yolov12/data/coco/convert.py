"""Converting COCO annotations to YOLO label rows (detect, segment, pose), as Ultralytics' own converter does.

Ultralytics' ``convert_coco`` (8.4) is not called: it writes one label kind per call into a fresh numbered folder
(``increment_path``: a rerun never replaces a tree), a malformed file stops it with a traceback, and a box that
crosses the image border is kept unclipped. Here one pass over each file writes detect and segment rows together into
the suite's trees, a bad file is refused in one line naming the key, what is skipped is counted (crowds, empty boxes,
unlabelled persons) and coordinates are clipped to the image. Its pieces are used where they do the same thing: the
80 -> 91 class map (``coco80_to_91``) and the merging of a multi-part polygon.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from .spec import NUM_KEYPOINTS, PERSON_ID, CocoError, Progress, coco91_to_80, say


def load_json(path: Path, progress: bool) -> dict[str, Any]:
    say(f"reading {path} ({path.stat().st_size / 1e6:,.0f} MB)", progress)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise CocoError(f"not valid JSON ({e.msg} at line {e.lineno}); re-extract annotations_trainval2017.zip",
                        file=path, key="(file)") from None
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(data.get(key), list)]
    if missing:
        raise CocoError(f"missing COCO list(s) {missing}", file=path, key=missing[0],
                        allowed="a COCO instances/keypoints file with images, annotations, categories")
    return data


def _fmt(values) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def _clip01(v: float) -> float:
    return min(max(v, 0.0), 1.0)


def _normalised_xyxy(bbox: list[float], width: int, height: int) -> tuple[float, float, float, float] | None:
    """COCO [x, y, w, h] in pixels -> clipped normalised corners; None for an empty box."""
    x, y, w, h = (float(v) for v in bbox)
    x1, y1 = _clip01(x / width), _clip01(y / height)
    x2, y2 = _clip01((x + w) / width), _clip01((y + h) / height)
    return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def _xywh(xyxy: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = xyxy
    return (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1


def _polygon(segmentation: Any, width: int, height: int) -> list[float] | None:
    """One normalised polygon from COCO polygon lists (several parts merged as Ultralytics does); None if unusable."""
    if not isinstance(segmentation, list):  # RLE on a non-crowd object: absent from COCO 2017; box fallback
        return None
    parts = [p for p in segmentation if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0]
    if not parts:
        return None
    if len(parts) > 1:
        import numpy as np
        from ultralytics.data.converter import merge_multi_segment

        points = np.concatenate(merge_multi_segment(parts), axis=0).reshape(-1).tolist()
    else:
        points = parts[0]
    scale = (width, height)
    return [_clip01(float(v) / scale[i % 2]) for i, v in enumerate(points)]


def _image_index(data: dict[str, Any], source: Path) -> dict[int, dict[str, Any]]:
    images = {}
    for image in data["images"]:
        try:
            images[image["id"]] = {"file": Path(image["file_name"]).name, "w": image["width"], "h": image["height"]}
        except KeyError as e:
            raise CocoError(f"image entry {image.get('id')!r} lacks key {e}", file=source, key="images",
                            allowed="entries with id, file_name, width, height") from None
    return images


def _annotation_image(ann: dict[str, Any], images: dict[int, dict[str, Any]], source: Path) -> dict[str, Any]:
    image = images.get(ann.get("image_id"))
    if image is None:
        raise CocoError(f"annotation {ann.get('id')} refers to image_id {ann.get('image_id')}, which is not in its "
                        "'images' list", file=source, key="annotations.image_id", allowed="ids of the 'images' list")
    return image


def _check_categories(data: dict[str, Any], source: Path) -> None:
    known = sorted(coco91_to_80())
    unknown = sorted({c.get("id") for c in data["categories"]} - set(known))
    if unknown:
        raise CocoError(f"category id(s) {unknown} are not COCO 2017 detection categories", file=source,
                        key="categories.id", allowed=f"the 80 ids of coco80_to_91() ({known[0]}..{known[-1]})")


def _non_crowd(data: dict[str, Any], source: Path, progress: bool, stats: Counter):
    """The annotations to convert, with a progress line; crowd regions are counted and skipped, as Ultralytics does."""
    report = Progress(f"convert {source.name}", len(data["annotations"]), progress)
    for i, ann in enumerate(data["annotations"], 1):
        report.update(i)
        if ann.get("iscrowd"):
            stats["crowd_skipped"] += 1
            continue
        yield ann


def instances_rows(data: dict[str, Any], source: Path, progress: bool):
    """Detect and segment rows per image file, plus counts of what was skipped."""
    images, to80, stats = _image_index(data, source), coco91_to_80(), Counter()
    _check_categories(data, source)
    detect, segment = defaultdict(list), defaultdict(list)
    for ann in _non_crowd(data, source, progress, stats):
        image = _annotation_image(ann, images, source)
        cls = to80.get(ann.get("category_id"))
        if cls is None:
            raise CocoError(f"annotation {ann.get('id')} has category_id {ann.get('category_id')}", file=source,
                            key="annotations.category_id", allowed="the 80 COCO 2017 detection category ids")
        xyxy = _normalised_xyxy(ann["bbox"], image["w"], image["h"])
        if xyxy is None:
            stats["empty_box_skipped"] += 1
            continue
        detect[image["file"]].append(f"{cls} {_fmt(_xywh(xyxy))}")
        polygon = _polygon(ann.get("segmentation"), image["w"], image["h"])
        if polygon is None:
            stats["box_polygons"] += 1
            x1, y1, x2, y2 = xyxy
            polygon = [x1, y1, x2, y1, x2, y2, x1, y2]
        segment[image["file"]].append(f"{cls} {_fmt(polygon)}")
    return images, detect, segment, stats


def keypoint_rows(data: dict[str, Any], source: Path, progress: bool):
    """Pose rows (class 0 = person) per image file, plus counts of what was skipped."""
    images, stats, pose = _image_index(data, source), Counter(), defaultdict(list)
    for ann in _non_crowd(data, source, progress, stats):
        if ann.get("category_id") != PERSON_ID:
            stats["not_person_skipped"] += 1
            continue
        image = _annotation_image(ann, images, source)
        keypoints = ann.get("keypoints") or []
        if len(keypoints) != NUM_KEYPOINTS * 3:
            raise CocoError(f"annotation {ann.get('id')} has {len(keypoints)} keypoint values", file=source,
                            key="annotations.keypoints", allowed=f"{NUM_KEYPOINTS * 3} values (17 x [x, y, v])")
        if not any(keypoints[2::3]):  # no labelled keypoint: COCO keypoint evaluation ignores such persons
            stats["no_keypoints_skipped"] += 1
            continue
        xyxy = _normalised_xyxy(ann["bbox"], image["w"], image["h"])
        if xyxy is None:
            stats["empty_box_skipped"] += 1
            continue
        points = []
        for x, y, v in zip(keypoints[0::3], keypoints[1::3], keypoints[2::3]):
            points += [_clip01(x / image["w"]), _clip01(y / image["h"]), v]
        pose[image["file"]].append(f"0 {_fmt(_xywh(xyxy))} {_fmt(points)}")
    return images, pose, stats
