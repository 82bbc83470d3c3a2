"""A few-image detection dataset in Ultralytics layout, drawn with PIL (tests only; the suite's generator is
``yolov12 data synth``)."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw


def make_detect_dataset(root: Path, n_train: int = 4, n_val: int = 2, size: int = 64, seed: int = 0) -> Path:
    rng = random.Random(seed)
    for split, count in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            im = Image.new("RGB", (size, size), tuple(rng.randrange(60) for _ in range(3)))
            draw, rows = ImageDraw.Draw(im), []
            for _ in range(2):
                cls = rng.randrange(2)
                w, h = rng.randint(size // 6, size // 2), rng.randint(size // 6, size // 2)
                x0, y0 = rng.randint(0, size - w), rng.randint(0, size - h)
                colour = (230, 40, 40) if cls == 0 else (40, 230, 40)
                (draw.rectangle if cls == 0 else draw.ellipse)([x0, y0, x0 + w, y0 + h], fill=colour)
                rows.append(f"{cls} {(x0 + w / 2) / size:.6f} {(y0 + h / 2) / size:.6f} {w / size:.6f} {h / size:.6f}")
            im.save(root / "images" / split / f"{i}.png")
            (root / "labels" / split / f"{i}.txt").write_text("\n".join(rows) + "\n")
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n  0: square\n  1: disc\n")
    return data


def untrained_checkpoint(path: Path, task: str = "detect", nc: int = 2, kpt_shape: list[int] | None = None) -> Path:
    """A real Ultralytics checkpoint of an untrained yolov12n (fast to make; scores about 0, loads like any)."""
    import yaml
    from ultralytics import YOLO

    import yolov12

    model = yolov12.build("yolov12", "n", task=task, nc=nc)  # also registers the suite's modules with Ultralytics
    if kpt_shape is not None:  # as training on a dataset with these keypoints would set it
        definition = yolov12.write_model_yaml("yolov12", "n", task, nc=nc, directory=path.parent)
        d = yaml.safe_load(definition.read_text())
        definition.write_text(yaml.safe_dump({**d, "kpt_shape": list(kpt_shape)}, sort_keys=False))
        model = YOLO(str(definition), task=task)
    model.save(str(path))
    return path


def copy_dataset(src: Path, dst: Path) -> Path:
    """A private copy of a synthetic dataset to damage; its data.yaml and dataset.json point to the copy."""
    import shutil

    shutil.copytree(src, dst)
    for name in ("data.yaml", "dataset.json"):
        if (dst / name).is_file():
            (dst / name).write_text((dst / name).read_text().replace(str(src), str(dst)))
    return dst
