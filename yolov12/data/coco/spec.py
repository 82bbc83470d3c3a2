"""COCO 2017: what the official copy holds (archives, counts, categories, keypoints) and the shared helpers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ...errors import UserError

log = logging.getLogger(__name__)

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


class CocoError(UserError):
    """A COCO copy, archive or annotation file is missing or not what it should be."""


def coco80_to_91() -> list[int]:
    """Index = contiguous training class 0..79, value = COCO category id (1..90): Ultralytics' own table (the one
    its COCO JSON export maps back with), imported when asked for (this module stays light)."""
    from ultralytics.data.converter import coco80_to_coco91_class

    return list(coco80_to_coco91_class())


def coco91_to_80() -> dict[int, int]:
    """COCO category id -> contiguous training class (inverse of ``coco80_to_91``; only the 80 ids in use: a dict,
    where Ultralytics' ``coco91_to_coco80_class`` is a 91-list with None at the unused ids)."""
    return {cat_id: cls for cls, cat_id in enumerate(coco80_to_91())}


def archive_url(base_url: str, archive: CocoArchive) -> str:
    return base_url.rstrip("/") + "/" + archive.url_path


class Progress:
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
                log.info("coco: %s: %3d%% (%s / %s)", self.label, percent, self._fmt(done), self._fmt(self.total))
                self.next_step = percent - percent % 5 + 5
        elif done >= self.next_step:  # unknown total: a line per 50 MB (or 5000 items)
            log.info("coco: %s: %s", self.label, self._fmt(done))
            self.next_step = done + (50_000_000 if self.unit_bytes else 5_000)


def say(message: str, enabled: bool = True) -> None:
    if enabled:
        log.info("coco: %s", message)
