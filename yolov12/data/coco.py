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
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..io import atomic_dir, write_text

DEFAULT_BASE_URL = "http://images.cocodataset.org/"
SPLITS = ("val2017", "train2017")  # val first: its official counts are checked before the long train conversion
TASKS = ("detect", "segment", "pose")
ANNOTATION_STEMS = tuple(f"{kind}_{split}" for kind in ("instances", "person_keypoints") for split in SPLITS)


@dataclass(frozen=True)
class CocoArchive:
    name: str  # file name in root
    url_path: str  # below the base URL
    size: int  # bytes
    md5: str
    provides: tuple[str, ...]  # paths below root that extracting it creates


# Sizes and MD5s of the official archives. Each value was found in several independent public download scripts
# (MD5 lists such as `md5sum -c` checksum files, byte sizes in size-checking scripts and a wget log of val2017.zip).
ARCHIVES = (
    CocoArchive("train2017.zip", "zips/train2017.zip", 19_336_861_798, "cced6f7f71b7629ddf16f17bbcfab6b2",
                ("train2017",)),
    CocoArchive("val2017.zip", "zips/val2017.zip", 815_585_330, "442b8da7639aecaf257c1dceb8ba8c80", ("val2017",)),
    CocoArchive("annotations_trainval2017.zip", "annotations/annotations_trainval2017.zip", 252_907_541,
                "f4bbac642086de4f52a3fdda2de5fa2c", tuple(f"annotations/{stem}.json" for stem in ANNOTATION_STEMS)),
)

# What a complete official copy holds. Keys: "<split>" = .jpg files in root/<split>; "<json stem>/images" and
# "<json stem>/annotations" = list lengths in that JSON; "<archive>/size" and "<archive>/md5" = download checks.
# Annotation totals are only pinned where several public sources agree (instances_val2017: 36781); the others are
# counted and reported in the manifest but not checked.
OFFICIAL_EXPECTED: dict[str, int | str] = {
    "train2017": 118_287,
    "val2017": 5_000,
    "instances_train2017/images": 118_287,
    "instances_val2017/images": 5_000,
    "instances_val2017/annotations": 36_781,
    "person_keypoints_val2017/images": 5_000,
    **{f"{a.name}/size": a.size for a in ARCHIVES},
    **{f"{a.name}/md5": a.md5 for a in ARCHIVES},
}
EXPECTED_KEYS = (
    *SPLITS,
    *(f"{stem}/{field}" for stem in ANNOTATION_STEMS for field in ("images", "annotations")),
    *(f"{a.name}/{field}" for a in ARCHIVES for field in ("size", "md5")),
)

# The 80 detection categories in COCO category-id order; index = contiguous training class.
COCO80_IDS = (
    *range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66), 67, 70, *range(72, 83), *range(84, 91),
)
COCO80_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow", "elephant",
    "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard",
    "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli",
    "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed", "dining table", "toilet",
    "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)
PERSON_ID = 1
NUM_KEYPOINTS = 17
KPT_SHAPE = [NUM_KEYPOINTS, 3]
# Left/right keypoint pairs swap under a horizontal flip: nose stays, eyes, ears, shoulders, ... swap.
FLIP_IDX = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)

LABEL_FORMAT = 1  # bump when the label rows change, so older label trees are rebuilt
STAMP_NAME = ".coco_source.json"  # inside each label tree; Ultralytics never reads it (it looks labels up by image)
CHUNK = 1 << 20
DOWNLOAD_ATTEMPTS = 5
RETRYABLE = (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException)


class CocoError(ValueError):
    """A COCO copy, archive or annotation file is missing or not what it should be."""


def coco80_to_91() -> list[int]:
    """Index = contiguous training class 0..79, value = COCO category id (1..90)."""
    return list(COCO80_IDS)


def coco91_to_80() -> dict[int, int]:
    """COCO category id -> contiguous training class (inverse of ``coco80_to_91``)."""
    return {cat_id: cls for cls, cat_id in enumerate(COCO80_IDS)}


# --------------------------------------------------------------------------------------------------------- progress
class _Progress:
    """Prints one line each time another ~5% is done, so long jobs show they are alive without flooding logs."""

    def __init__(self, label: str, total: int | None, enabled: bool = True, unit_bytes: bool = False):
        self.label, self.total, self.enabled, self.unit_bytes = label, total, enabled, unit_bytes
        self.next_step = 0

    def _fmt(self, n: int) -> str:
        return f"{n / 1e6:,.1f} MB" if self.unit_bytes else f"{n:,}"

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        if self.total:
            percent = min(100, done * 100 // self.total)
            if percent >= self.next_step:
                print(f"coco: {self.label}: {percent:3d}% ({self._fmt(done)} / {self._fmt(self.total)})", flush=True)
                self.next_step = percent - percent % 5 + 5
        elif done >= self.next_step:  # unknown total: a line per 50 MB (or 5000 items)
            print(f"coco: {self.label}: {self._fmt(done)}", flush=True)
            self.next_step = done + (50_000_000 if self.unit_bytes else 5_000)


def _say(message: str, enabled: bool = True) -> None:
    if enabled:
        print(f"coco: {message}", flush=True)


# --------------------------------------------------------------------------------------------------------- download
class _PartFile:
    """The ``.part`` file and an MD5 of exactly the bytes it holds (so resuming never re-reads what is hashed)."""

    def __init__(self, path: Path):
        self.path, self.hasher, self.hashed = path, hashlib.md5(), 0

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def sync_hash(self) -> None:
        if self.hashed != self.size():  # first resume, or an earlier attempt died between write and hash
            self.hasher, self.hashed = _md5_of(self.path, self.size()), self.size()

    def restart(self) -> None:
        self.path.write_bytes(b"")
        self.hasher, self.hashed = hashlib.md5(), 0

    def append(self, chunk: bytes, handle) -> None:
        handle.write(chunk)
        self.hasher.update(chunk)
        self.hashed += len(chunk)


def _md5_of(path: Path, limit: int | None = None, report: _Progress | None = None):
    hasher, done = hashlib.md5(), 0
    with open(path, "rb") as f:
        while limit is None or done < limit:
            chunk = f.read(CHUNK if limit is None else min(CHUNK, limit - done))
            if not chunk:
                break
            hasher.update(chunk)
            done += len(chunk)
            if report:
                report.update(done)
    return hasher


def _fetch_once(url: str, part: _PartFile, size: int | None, progress: bool) -> str:
    """One HTTP request appending to ``part``. Returns 'complete', 'short' (stream ended early) or 'exhausted'."""
    offset = part.size()
    headers = {"User-Agent": "yolov12-suite"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # nothing after offset: the part is all the server has; verification decides
            return "exhausted"
        if e.code >= 500:  # server trouble is often passing: retried like a dropped connection
            raise
        raise CocoError(f"download of {url} failed: HTTP {e.code} {e.reason}") from e
    with response:
        if offset and response.status == 200:  # server ignored Range: it sends the whole file again
            _say(f"{url}: server does not resume (answered 200 to a Range request); restarting from byte 0", progress)
            part.restart()
            offset = 0
        elif offset and not (response.headers.get("Content-Range") or "").startswith(f"bytes {offset}-"):
            raise CocoError(f"download of {url}: asked for bytes {offset}- but the server answered "
                            f"Content-Range {response.headers.get('Content-Range')!r}")
        length = response.headers.get("Content-Length")
        total = size if size is not None else (offset + int(length) if length else None)
        report = _Progress(f"download {part.path.name[:-len('.part')]}", total, progress, unit_bytes=True)
        received = 0
        with open(part.path, "ab") as handle:
            while chunk := response.read(CHUNK):
                part.append(chunk, handle)
                received += len(chunk)
                report.update(offset + received)
    if length is not None and received < int(length):
        return "short"  # connection closed early; http.client does not raise for a short read(amt)
    return "complete"


def _mismatch(name: str, what: str, want: Any, found: Any, path: Path) -> CocoError:
    return CocoError(f"{name}: {what} mismatch: expected {want}, found {found} ({path}); "
                     f"delete {path} and run again to download it anew")


def _check_size(path: Path, name: str, size: int | None) -> None:
    found = path.stat().st_size
    if size is not None and found != size:
        raise _mismatch(name, "size", f"{size} bytes", f"{found} bytes", path)


def _check_md5(path: Path, name: str, md5: str | None, actual: str) -> None:
    if md5 is not None and actual != md5.lower():
        raise _mismatch(name, "MD5", md5.lower(), actual, path)


def download(url: str, dest: str | Path, size: int | None = None, md5: str | None = None,
             progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial ``.part`` with an HTTP Range request.

    ``dest`` appears (atomic rename) only after its size and MD5 match; a mismatch raises ``CocoError`` naming the file,
    the expected and the actual value, and keeps the ``.part`` for inspection (nothing is deleted). An existing ``dest``
    is verified and returned without downloading.
    """
    dest = Path(dest)
    if dest.exists():
        _check_size(dest, dest.name, size)
        if md5 is not None:
            total = dest.stat().st_size
            report = _Progress(f"verify MD5 of {dest.name}", total, progress and total > 100e6, unit_bytes=True)
            _check_md5(dest, dest.name, md5, _md5_of(dest, report=report).hexdigest())
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _PartFile(dest.with_suffix(dest.suffix + ".part"))
    outcome = "complete"
    for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
        offset = part.size()
        if size is not None and offset >= size:  # already whole (or too long: the size check says so)
            break
        if offset:
            _say(f"resuming {dest.name} at byte {offset:,}", progress)
        part.sync_hash()
        try:
            outcome = _fetch_once(url, part, size, progress)
        except RETRYABLE as e:
            if attempt == DOWNLOAD_ATTEMPTS:
                raise CocoError(f"download of {url} failed after {attempt} attempts: {e}; run again to resume "
                                f"from {part.path}") from e
            _say(f"{dest.name}: {e}; retrying ({attempt}/{DOWNLOAD_ATTEMPTS - 1})", progress)
            time.sleep(min(2**attempt, 30))
            continue
        if outcome != "short":
            break
        _say(f"{dest.name}: connection closed early at byte {part.size():,}; resuming", progress)
    if outcome == "short" and size is None:  # nothing else would notice the file is cut short
        raise CocoError(f"download of {url} kept ending early ({part.size():,} bytes in {part.path}); run again")
    _check_size(part.path, dest.name, size)
    part.sync_hash()
    _check_md5(part.path, dest.name, md5, part.hasher.hexdigest())  # running hash: no 2nd pass over 19 GB
    os.replace(part.path, dest)
    return dest


# --------------------------------------------------------------------------------------------------------- extract
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_extractions(root: Path, archive: str, progress: bool) -> None:
    """Temp dirs of extractions whose process died (named .<archive>.<pid>.*.extract.tmp) would hold gigabytes."""
    for tmp in root.glob(f".{archive}.*.extract.tmp"):
        pid = tmp.name[len(archive) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            _say(f"removing interrupted extraction {tmp}", progress)
            shutil.rmtree(tmp, ignore_errors=True)


def _merge_into(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``: whole when ``dst`` is absent (one rename), else entry by entry (keeps user extras)."""
    if not dst.exists() and not dst.is_symlink():
        os.replace(src, dst)
    elif src.is_dir() and dst.is_dir():
        for child in src.iterdir():
            _merge_into(child, dst / child.name)
    elif src.is_file() and dst.is_file():
        os.replace(src, dst)
    else:
        kind = "directory" if src.is_dir() else "file"
        raise CocoError(f"cannot extract {src.name}: {dst} exists and is not a {kind}; move it away and run again")


def _extract(archive: Path, root: Path, progress: bool) -> None:
    """Unzip into a temp dir beside the targets, then move into place, so a killed extraction never looks complete."""
    _remove_stale_extractions(root, archive.name, progress)
    tmp = Path(tempfile.mkdtemp(prefix=f".{archive.name}.{os.getpid()}.", suffix=".extract.tmp", dir=root))
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            report = _Progress(f"extract {archive.name}", len(members), progress)
            for i, member in enumerate(members, 1):
                zf.extract(member, tmp)  # zipfile drops absolute and '..' parts of member names
                report.update(i)
        for entry in sorted(tmp.iterdir()):
            _merge_into(entry, root / entry.name)
    except zipfile.BadZipFile as e:
        raise CocoError(f"{archive} is not a valid zip archive ({e}); delete it and run again to download it") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def archive_url(base_url: str, archive: CocoArchive) -> str:
    return base_url.rstrip("/") + "/" + archive.url_path


def _fetch_missing(root: Path, base_url: str, expected: dict[str, Any], progress: bool) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for archive in ARCHIVES:
        if not _archive_problems(root, archive, expected):
            _say(f"{archive.name}: contents already in {root}, skipped", progress)
            continue
        path = download(archive_url(base_url, archive), root / archive.name, size=expected.get(f"{archive.name}/size"),
                        md5=expected.get(f"{archive.name}/md5"), progress=progress)
        _extract(path, root, progress)


# --------------------------------------------------------------------------------------------------------- validate
def _resolve_expected(expected: dict[str, Any] | None) -> dict[str, Any]:
    """``None`` = the official COCO 2017 values; a dict replaces them entirely (keys it lacks are not checked)."""
    if expected is None:
        return dict(OFFICIAL_EXPECTED)
    unknown = sorted(set(expected) - set(EXPECTED_KEYS))
    if unknown:
        raise ValueError(f"expected: unknown key(s) {unknown}; allowed keys: {list(EXPECTED_KEYS)}")
    return dict(expected)


def _count_jpgs(directory: Path) -> int:
    with os.scandir(directory) as entries:
        return sum(1 for e in entries if e.name.lower().endswith(".jpg"))


def _image_dir_problem(root: Path, split: str, expected: dict[str, Any]) -> tuple[int, str | None]:
    directory, want = root / split, expected.get(split)
    want_text = f"expected {want} .jpg images" if want is not None else "expected .jpg images"
    if not directory.is_dir():
        return 0, f"missing image directory {directory} ({want_text})"
    found = _count_jpgs(directory)
    if found == 0 or (want is not None and found != want):
        return found, f"{directory} has {found} .jpg images, {want_text}"
    return found, None


def _archive_problems(root: Path, archive: CocoArchive, expected: dict[str, Any]) -> list[str]:
    """What is missing or wrong among the paths extracting ``archive`` creates (empty = nothing to fetch)."""
    problems = []
    for relative in archive.provides:
        if relative in SPLITS:
            problems.append(_image_dir_problem(root, relative, expected)[1])
        elif not (root / relative).is_file():
            problems.append(f"missing annotation file {root / relative}")
    return [p for p in problems if p]


def _how_to_get(root: Path) -> str:
    urls = "\n".join(f"    {archive_url(DEFAULT_BASE_URL, a)}" for a in ARCHIVES)
    return (f"To get COCO 2017, run `yolov12 data coco --root {root} --download`, or download\n{urls}\n"
            f"  and unzip them into {root}.")


def _raise_problems(root: Path, problems: list[str]) -> None:
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise CocoError(f"COCO 2017 at {root} is not usable:\n{listed}\n{_how_to_get(root)}")


def _validate_layout(root: Path, expected: dict[str, Any]) -> dict[str, int]:
    """Image directories and annotation files; every problem is listed in one CocoError."""
    if not root.is_dir():
        _raise_problems(root, [f"COCO root directory {root} does not exist"])
    problems, counts = [], {}
    for split in SPLITS:
        counts[split], problem = _image_dir_problem(root, split, expected)
        problems += [problem] if problem else []
    for stem in ANNOTATION_STEMS:
        if not (root / "annotations" / f"{stem}.json").is_file():
            problems.append(f"missing annotation file {root / 'annotations' / f'{stem}.json'}")
    _raise_problems(root, problems)
    return counts


def _check_json_counts(root: Path, source: Path, counts: dict[str, int], expected: dict[str, Any]) -> None:
    problems = []
    for field in ("images", "annotations"):
        want = expected.get(f"{source.stem}/{field}")
        if want is not None and counts[field] != want:
            problems.append(f"{source} lists {counts[field]} {field}, expected {want}")
    _raise_problems(root, problems)


# --------------------------------------------------------------------------------------------------------- convert
def _load_json(path: Path, progress: bool) -> dict[str, Any]:
    _say(f"reading {path} ({path.stat().st_size / 1e6:,.0f} MB)", progress)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise CocoError(f"{path} is not valid JSON ({e}); re-extract annotations_trainval2017.zip") from e
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(data.get(key), list)]
    if missing:
        raise CocoError(f"{path} lacks the COCO list(s) {missing}; is it a COCO instances/keypoints file?")
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
            raise CocoError(f"{source}: image entry {image.get('id')!r} lacks key {e}") from e
    return images


def _annotation_image(ann: dict[str, Any], images: dict[int, dict[str, Any]], source: Path) -> dict[str, Any]:
    image = images.get(ann.get("image_id"))
    if image is None:
        raise CocoError(f"{source}: annotation {ann.get('id')} refers to image_id {ann.get('image_id')}, "
                        f"which is not in its 'images' list")
    return image


def _check_categories(data: dict[str, Any], source: Path) -> None:
    known = coco91_to_80()
    unknown = sorted({c.get("id") for c in data["categories"]} - set(known))
    if unknown:
        raise CocoError(f"{source}: category id(s) {unknown} are not COCO 2017 detection categories "
                        f"(allowed ids: {COCO80_IDS[0]}..{COCO80_IDS[-1]} as listed by coco80_to_91())")


def _non_crowd(data: dict[str, Any], source: Path, progress: bool, stats: Counter):
    """The annotations to convert, with a progress line; crowd regions are counted and skipped, as Ultralytics does."""
    report = _Progress(f"convert {source.name}", len(data["annotations"]), progress)
    for i, ann in enumerate(data["annotations"], 1):
        report.update(i)
        if ann.get("iscrowd"):
            stats["crowd_skipped"] += 1
            continue
        yield ann


def _instances_rows(data: dict[str, Any], source: Path, progress: bool):
    """Detect and segment rows per image file, plus counts of what was skipped."""
    images, to80, stats = _image_index(data, source), coco91_to_80(), Counter()
    _check_categories(data, source)
    detect, segment = defaultdict(list), defaultdict(list)
    for ann in _non_crowd(data, source, progress, stats):
        image = _annotation_image(ann, images, source)
        cls = to80.get(ann.get("category_id"))
        if cls is None:
            raise CocoError(f"{source}: annotation {ann.get('id')} has category_id {ann.get('category_id')}, "
                            f"not a COCO 2017 detection category")
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


def _keypoint_rows(data: dict[str, Any], source: Path, progress: bool):
    """Pose rows (class 0 = person) per image file, plus counts of what was skipped."""
    images, stats, pose = _image_index(data, source), Counter(), defaultdict(list)
    for ann in _non_crowd(data, source, progress, stats):
        if ann.get("category_id") != PERSON_ID:
            stats["not_person_skipped"] += 1
            continue
        image = _annotation_image(ann, images, source)
        keypoints = ann.get("keypoints") or []
        if len(keypoints) != NUM_KEYPOINTS * 3:
            raise CocoError(f"{source}: annotation {ann.get('id')} has {len(keypoints)} keypoint values, "
                            f"expected {NUM_KEYPOINTS * 3} (17 x [x, y, v])")
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


# --------------------------------------------------------------------------------------------------------- write
def _write_if_changed(path: Path, text: str) -> Path:
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
    report = _Progress(f"write {task_root.name} labels/{split}", len(rows), progress)
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
    _write_if_changed(task_root / f"{split}.txt", lines)


def _ensure_symlink(link: Path, target: Path) -> None:
    """``link`` -> ``target``, replaced atomically if it points elsewhere."""
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    if link.exists() and not link.is_symlink():
        raise CocoError(f"{link} exists and is not a symlink; remove it so it can link to {target}")
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target, target_is_directory=True)
    os.replace(tmp, link)


def _prepare_instances(root: Path, out: Path, split: str, expected: dict[str, Any], progress: bool) -> dict:
    source = root / "annotations" / f"instances_{split}.json"
    stamp = _source_stamp(source)
    finished = [_finished_counts(out / task, split, stamp) for task in ("detect", "segment")]
    if finished[0] is not None and finished[0] == finished[1]:
        _say(f"{source.name}: labels up to date, skipped", progress)
        _check_json_counts(root, source, finished[0], expected)
        return finished[0]
    data = _load_json(source, progress)
    counts = {"images": len(data["images"]), "annotations": len(data["annotations"])}
    _check_json_counts(root, source, counts, expected)
    images, detect, segment, stats = _instances_rows(data, source, progress)
    del data  # the train JSON is ~450 MB of Python objects
    counts |= dict(stats) | {"labelled_images": len(detect), "objects": sum(map(len, detect.values()))}
    for task, rows in (("detect", detect), ("segment", segment)):
        _write_label_tree(out / task, split, rows, stamp, counts, progress)
        _write_image_list(out / task, split, (im["file"] for im in images.values()))
    return counts


def _prepare_keypoints(root: Path, out: Path, split: str, expected: dict[str, Any], progress: bool) -> dict:
    source = root / "annotations" / f"person_keypoints_{split}.json"
    stamp = _source_stamp(source)
    finished = _finished_counts(out / "pose", split, stamp)
    if finished is not None:
        _say(f"{source.name}: labels up to date, skipped", progress)
        _check_json_counts(root, source, finished, expected)
        return finished
    data = _load_json(source, progress)
    counts = {"images": len(data["images"]), "annotations": len(data["annotations"])}
    _check_json_counts(root, source, counts, expected)
    _, pose, stats = _keypoint_rows(data, source, progress)
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


def _write_yamls(out: Path) -> dict[str, str]:
    paths = {}
    for task in TASKS:
        text = f"# COCO 2017 {task}, written by yolov12.data.coco.prepare_coco\n"
        for key, value in _data_yaml(out / task, task).items():  # lists inline, one class name per line
            inline = None if isinstance(value, list) or key == "kpt_names" else False
            text += yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=inline, width=120)
        paths[task] = str(_write_if_changed(out / f"coco-{task}.yaml", text))
    return paths


# --------------------------------------------------------------------------------------------------------- main
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
    expected = _resolve_expected(expected)
    if download:
        _fetch_missing(root, base_url, expected, progress)
    image_counts = _validate_layout(root, expected)
    for task in TASKS:
        for split in SPLITS:
            _ensure_symlink(out / task / "images" / split, root / split)
        # Ultralytics' own COCO evaluation (save_json) reads <path>/annotations/<ground-truth json>
        _ensure_symlink(out / task / "annotations", root / "annotations")
    counts: dict[str, Any] = {"images": image_counts}
    for split in SPLITS:
        counts[f"instances_{split}"] = _prepare_instances(root, out, split, expected, progress)
        counts[f"person_keypoints_{split}"] = _prepare_keypoints(root, out, split, expected, progress)
    annotations = {stem: str(root / "annotations" / f"{stem}.json") for stem in ANNOTATION_STEMS}
    manifest = {
        "format": LABEL_FORMAT,
        "root": str(root),
        "out": str(out),
        "ground_truth": {stem: annotations[stem] for stem in ("instances_val2017", "person_keypoints_val2017")},
        "annotations": annotations,
        "yaml": _write_yamls(out),
        "counts": counts,
        "classes": {"names": list(COCO80_NAMES), "coco80_to_91": coco80_to_91()},
    }
    _write_if_changed(out / "coco.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _say(f"ready: {out / 'coco.json'}", progress)
    return manifest
