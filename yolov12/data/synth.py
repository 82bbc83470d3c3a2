"""Deterministic synthetic datasets for all five tasks: the suite's embedded default, offline and small.

Images show shapes of several classes with varied size, colour and rotation on textured backgrounds; later shapes may
partially hide earlier ones (every labelled object keeps at least ``MIN_VISIBLE`` of its area). Labels describe what
is visible (modal), as COCO does: the box and polygon of a partly hidden shape are those of its visible part; pose
keypoints behind another shape are marked occluded (v=1). OBB labels are the shape's own rotated box.

Layout is Ultralytics': ``images/{train,val}``, ``labels/{train,val}``, ``data.yaml`` with absolute paths (classify:
``train/<class>/``, ``val/<class>/``). The val split also gets COCO-format ground truth (``annotations/val.json``) so
evaluation runs the same code path as on real COCO, and ``dataset.json`` records the arguments and counts.

Same arguments, same bytes: every image draws from its own seed (``SeedSequence([seed, split, index])``), PNGs carry
no timestamps, and text is written with fixed formatting.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ..io import atomic_dir
from .synth_spec import SHAPES, TASKS, SynthSpec

log = logging.getLogger(__name__)

__all__ = ["POSE_KEYPOINTS", "SHAPES", "TASKS", "SynthSpec", "generate"]
POSE_KEYPOINTS = ("top", "upper_right", "lower_right", "lower_left", "upper_left")  # the tips of a star
POSE_FLIP_IDX = [0, 4, 3, 2, 1]
POSE_SKELETON = [[1, 2], [2, 3], [3, 4], [4, 5], [5, 1]]  # COCO convention: 1-based keypoint indices
MIN_VISIBLE = 0.5  # a shape may be hidden by later shapes, but at most half of it
SPLITS = {"train": 0, "val": 1}


# ---------------------------------------------------------------------------------------------------------- shapes
def template(shape: str) -> np.ndarray:
    """Unit polygon (K, 2) of a shape, centred at 0, radius about 1, 'up' = -y (image coordinates)."""
    def ring(k, r=1.0, phase=-math.pi / 2):
        a = phase + 2 * math.pi * np.arange(k) / k
        return np.stack([r * np.cos(a), r * np.sin(a)], 1)

    if shape == "circle":
        return ring(32)
    if shape == "square":
        return np.array([[-0.75, -0.75], [0.75, -0.75], [0.75, 0.75], [-0.75, 0.75]])
    if shape == "triangle":
        return ring(3)
    if shape == "hexagon":
        return ring(6)
    if shape == "pentagon":
        return ring(5)
    if shape == "diamond":
        return np.array([[0, -1], [0.6, 0], [0, 1], [-0.6, 0]], dtype=float)
    if shape == "star":  # outer tips at even indices, starting at the top
        outer, inner = ring(5), ring(5, 0.42, -math.pi / 2 + math.pi / 5)
        return np.stack([outer, inner], 1).reshape(-1, 2)
    if shape == "cross":
        a, b = 0.3, 1.0
        return np.array([[-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a], [a, b], [-a, b], [-a, a], [-b, a],
                         [-b, -a], [-a, -a]])
    raise ValueError(f"unknown shape {shape!r}; shapes: {list(SHAPES)}")


def rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


@dataclasses.dataclass
class Shape:
    cls: int
    polygon: np.ndarray  # (K, 2) pixel coordinates
    obb: np.ndarray  # (4, 2) rotated box corners
    keypoints: np.ndarray | None  # (5, 2) star tips, pose only
    colour: tuple[int, int, int]


def make_shape(rng: np.random.Generator, cls: int, name: str, wh: tuple[int, int], pose: bool) -> Shape:
    radius = rng.uniform(0.07, 0.22) * min(wh)
    angle = rng.uniform(-0.5, 0.5) if pose else rng.uniform(0, 2 * math.pi)  # pose: keep 'top' on top
    aspect = 1.0 if name in ("circle", "star") else rng.uniform(0.7, 1.3)
    local = template(name) * radius * np.array([aspect, 1.0])
    lo, hi = local.min(0), local.max(0)
    box = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    centre = rng.uniform(radius * 1.4, np.array(wh) - radius * 1.4, 2)
    hue = rng.uniform(0, 1)
    colour = tuple(int(255 * c) for c in hsv_to_rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0)))
    return Shape(cls, rotate(local, angle) + centre, rotate(box, angle) + centre,
                 rotate(local[0::2], angle) + centre if pose else None, colour)


def hsv_to_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


def polygon_mask(polygon: np.ndarray, wh: tuple[int, int]) -> np.ndarray:
    im = Image.new("L", wh, 0)
    ImageDraw.Draw(im).polygon([tuple(p) for p in polygon], fill=1)
    return np.asarray(im, dtype=bool)


def background(rng: np.random.Generator, wh: tuple[int, int]) -> np.ndarray:
    """Dim, low-saturation texture: smooth noise plus a random stripe pattern."""
    grid = rng.uniform(0, 1, (rng.integers(3, 9), rng.integers(3, 9), 3))
    w, h = wh
    smooth = np.asarray(Image.fromarray((grid * 255).astype(np.uint8)).resize((w, h), Image.BILINEAR), float)
    yy, xx = np.mgrid[0:h, 0:w]
    theta, freq = rng.uniform(0, math.pi), rng.uniform(0.05, 0.4)
    stripes = 0.5 + 0.5 * np.sin(freq * (xx * math.cos(theta) + yy * math.sin(theta)))
    base = rng.uniform(20, 90, 3)
    img = base + 0.35 * (smooth - 128) + 25 * stripes[..., None] + rng.normal(0, 6, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------------- scenes
@dataclasses.dataclass
class Instance:
    shape: Shape
    visible: np.ndarray  # bool mask of the visible part
    full_area: int


def compose(rng: np.random.Generator, spec: SynthSpec) -> tuple[np.ndarray, list[Instance]]:
    """One image and its labelled instances. Placement retries keep every instance at least MIN_VISIBLE visible."""
    size, pose = spec.wh, spec.row.keypoints
    img = Image.fromarray(background(rng, size))
    draw = ImageDraw.Draw(img)
    instances: list[Instance] = []
    for _ in range(int(rng.integers(1, spec.max_objects + 1))):
        cls = 0 if pose else int(rng.integers(spec.nc))
        for _attempt in range(20):
            shape = make_shape(rng, cls, spec.names[cls], size, pose)
            mask = polygon_mask(shape.polygon, size)
            if all((inst.visible & ~mask).sum() >= MIN_VISIBLE * inst.full_area for inst in instances):
                break
        else:
            continue  # no room left for this shape in this image
        for inst in instances:
            inst.visible &= ~mask
        instances.append(Instance(shape, mask.copy(), int(mask.sum())))
        draw.polygon([tuple(p) for p in shape.polygon], fill=shape.colour)
    return np.asarray(img), [inst for inst in instances if inst.full_area > 0]


def classify_image(rng: np.random.Generator, spec: SynthSpec, cls: int) -> np.ndarray:
    size = spec.wh
    img = Image.fromarray(background(rng, size))
    shape = make_shape(rng, cls, spec.names[cls], size, pose=False)
    scale = rng.uniform(1.3, 2.0)  # one large, roughly centred shape
    centre = np.array(size) / 2 + rng.uniform(-0.1, 0.1, 2) * np.array(size)
    polygon = (shape.polygon - shape.polygon.mean(0)) * scale + centre
    ImageDraw.Draw(img).polygon([tuple(p) for p in polygon], fill=shape.colour)
    return np.asarray(img)


def visible_polygon(mask: np.ndarray) -> np.ndarray | None:
    """Outline (K, 2) of the largest visible piece, or None if nothing usable is left."""
    import cv2

    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea).reshape(-1, 2).astype(float)
    return c if len(c) >= 3 else None


# ---------------------------------------------------------------------------------------------------------- labels
def fmt(values) -> str:
    return " ".join(f"{v:.6f}" for v in values)


def instance_record(inst: Instance, spec: SynthSpec) -> dict[str, Any] | None:
    """Everything one instance contributes: the YOLO label row and the COCO annotation."""
    w, h = spec.wh
    scale = np.array([w, h], dtype=float)
    polygon = visible_polygon(inst.visible)
    if polygon is None:
        return None
    ys, xs = np.nonzero(inst.visible)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    box = [(x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h]
    coco = {"category_id": inst.shape.cls + 1, "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
            "area": float(inst.visible.sum()), "iscrowd": 0,
            "segmentation": [[round(float(v), 2) for v in polygon.reshape(-1)]]}
    form = spec.row.label_format  # the row's label format (yolov12.registry.LABEL_FORMATS)
    if form == "polygon":
        row = f"{inst.shape.cls} " + fmt(np.clip(polygon / scale, 0, 1).reshape(-1))
    elif form == "corners":
        row = f"{inst.shape.cls} " + fmt(np.clip(inst.shape.obb / scale, 0, 1).reshape(-1))
    elif form == "keypoints":
        kpts, flat = [], []
        for x, y in inst.shape.keypoints:
            xi, yi = min(int(x), w - 1), min(int(y), h - 1)
            v = 2 if inst.visible[yi, xi] else 1
            kpts += [x / w, y / h, v]
            flat += [round(float(x), 2), round(float(y), 2), v]
        row = f"{inst.shape.cls} " + fmt(box) + " " + " ".join(
            f"{k:.6f}" if i % 3 != 2 else str(int(k)) for i, k in enumerate(kpts))
        coco.update(keypoints=flat, num_keypoints=len(POSE_KEYPOINTS))
    else:
        row = f"{inst.shape.cls} " + fmt(box)
    return {"row": row, "coco": coco}


def coco_categories(spec: SynthSpec) -> list[dict[str, Any]]:
    cats = [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(spec.names)]
    if spec.row.keypoints:
        cats[0].update(keypoints=list(POSE_KEYPOINTS), skeleton=POSE_SKELETON)
    return cats


# ---------------------------------------------------------------------------------------------------------- writer
def image_rng(spec: SynthSpec, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([spec.seed, SPLITS[split], index]))


def save_png(array: np.ndarray, path: Path) -> None:
    Image.fromarray(array).save(path, format="PNG", optimize=False)


def write_detection_split(tmp: Path, spec: SynthSpec, split: str, count: int, progress) -> dict[str, Any]:
    (tmp / "images" / split).mkdir(parents=True)
    (tmp / "labels" / split).mkdir(parents=True)
    images, annotations, dropped = [], [], 0
    for i in range(count):
        image_id = i + 1
        img, instances = compose(image_rng(spec, split, i), spec)
        name = f"{image_id:06d}.png"
        save_png(img, tmp / "images" / split / name)
        rows = []
        for inst in instances:
            rec = instance_record(inst, spec)
            if rec is None:
                dropped += 1
                continue
            rows.append(rec["row"])
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **rec["coco"]})
        (tmp / "labels" / split / f"{image_id:06d}.txt").write_text("".join(r + "\n" for r in rows))
        images.append({"id": image_id, "file_name": name, "width": spec.wh[0], "height": spec.wh[1]})
        progress(split, i + 1, count)
    return {"images": images, "annotations": annotations, "dropped": dropped}


def write_classify_split(tmp: Path, spec: SynthSpec, split: str, count: int, progress) -> dict[str, int]:
    per_class = {}
    for name in spec.names:
        (tmp / split / name).mkdir(parents=True)
    for i in range(count):
        cls = i % spec.nc  # balanced classes
        image = classify_image(image_rng(spec, split, i), spec, cls)
        save_png(image, tmp / split / spec.names[cls] / f"{i + 1:06d}.png")
        per_class[spec.names[cls]] = per_class.get(spec.names[cls], 0) + 1
        progress(split, i + 1, count)
    return per_class


def generate(out: str | Path, spec: SynthSpec | None = None, verbose: bool = True, **kwargs) -> dict[str, Any]:
    """Write the dataset to ``out`` (replacing it atomically) and return its manifest."""
    spec = spec or SynthSpec(**kwargs)
    out = Path(out).resolve()

    def progress(split, done, total):
        step = max(1, total // 10)
        if verbose and (done % step == 0 or done == total):
            log.info("synth %s %s: %d/%d images", spec.task, split, done, total)

    counts: dict[str, Any] = {}
    with atomic_dir(out) as tmp:
        if spec.row.classification:
            for split, n in (("train", spec.n_train), ("val", spec.n_val)):
                counts[split] = write_classify_split(tmp, spec, split, n, progress)
            data_ref = str(out)  # Ultralytics takes the dataset directory for classification
        else:
            for split, n in (("train", spec.n_train), ("val", spec.n_val)):
                result = write_detection_split(tmp, spec, split, n, progress)
                counts[split] = {"images": n, "instances": len(result["annotations"]), "dropped": result["dropped"]}
                if split == "val":
                    gt = {"info": {"description": f"yolov12 synthetic {spec.task}", "seed": spec.seed},
                          "images": result["images"], "annotations": result["annotations"],
                          "categories": coco_categories(spec)}
                    (tmp / "annotations").mkdir()
                    (tmp / "annotations" / "val.json").write_text(json.dumps(gt, sort_keys=True) + "\n")
            data = {"path": str(out), "train": "images/train", "val": "images/val",
                    "names": dict(enumerate(spec.names))}
            if spec.row.keypoints:
                data.update(kpt_shape=[len(POSE_KEYPOINTS), 3], flip_idx=POSE_FLIP_IDX,
                            kpt_names={0: list(POSE_KEYPOINTS)})
            import yaml

            (tmp / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
            data_ref = str(out / "data.yaml")
        # classification indices follow the sorted class directories (ImageFolder), detection ones the YAML
        names = sorted(spec.names) if spec.row.classification else spec.names
        manifest = {"kind": "synthetic", "spec": dataclasses.asdict(spec), "data": data_ref, "counts": counts,
                    "names": names,
                    "coco_gt": None if spec.row.classification else str(out / "annotations" / "val.json"),
                    "category_ids": list(range(1, len(spec.names) + 1))}
        (tmp / "dataset.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest
