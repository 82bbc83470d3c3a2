"""Loading a checkpoint for evaluation, with one-line errors for everything that is not a trained model.

``YOLO(path)`` builds an *untrained* model from a ``.yaml`` (and would score it), and reports an empty, truncated or
random file as a ``TypeError`` with a paragraph about official models. Here: only ``.pt`` files are accepted, the
file is looked at first (empty, not a zip archive or pickle, a truncated zip), and whatever Ultralytics raises while
loading becomes ``<file>: --model: not a PyTorch checkpoint (<reason>)``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from ..errors import UserError, one_line

PICKLE_MAGIC = b"\x80"  # pickle protocol >= 2: torch's legacy (non-zip) format
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default format since 1.6


class CheckpointError(UserError):
    """The file given as a checkpoint cannot be evaluated; the message says why."""


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a PyTorch checkpoint, judged from its bytes alone (None: it may be one)."""
    size = path.stat().st_size
    if size == 0:
        return "empty file, 0 bytes"
    with open(path, "rb") as f:
        head = f.read(4)
    if head == ZIP_MAGIC:
        if not zipfile.is_zipfile(path):
            return f"truncated or damaged zip archive, {size} bytes"
        return None
    if head[:1] == PICKLE_MAGIC:
        return None
    return f"unknown file format, {size} bytes starting {head.hex(' ')}"


def load_checkpoint(checkpoint: str | Path):
    """The Ultralytics model of a trained ``.pt`` checkpoint; a one-line CheckpointError for anything else."""
    path = Path(checkpoint)
    if path.suffix != ".pt":
        raise CheckpointError(f"{path.suffix or 'no suffix'} is not a trained checkpoint", file=path, key="--model",
                              allowed="a .pt checkpoint written by training (e.g. weights/best.pt)")
    if not path.is_file():
        raise CheckpointError("file not found" if not path.exists() else "is a directory", file=path, key="--model",
                              allowed="a .pt checkpoint written by training")
    problem = file_problem(path)
    if problem:
        raise CheckpointError(f"not a PyTorch checkpoint ({problem})", file=path, key="--model",
                              allowed="a .pt checkpoint written by training")
    from ultralytics import YOLO

    try:
        model = YOLO(str(path))
    except Exception as e:  # noqa: BLE001  (the boundary: torch / pickle / Ultralytics raise many types here)
        reason = one_line(e).removeprefix("ERROR ❌️ ").split(". Recommended", 1)[0].split(". Use an official", 1)[0]
        raise CheckpointError(f"not a loadable Ultralytics checkpoint ({type(e).__name__}: {reason[:300]})",
                              file=path, key="--model", allowed="a .pt checkpoint written by training") from None
    if getattr(model, "model", None) is None or not hasattr(model.model, "stride"):
        raise CheckpointError("the file holds no Ultralytics model", file=path, key="--model",
                              allowed="a .pt checkpoint written by training")
    return model


def max_stride(model) -> int:
    """The model's largest stride (32 for every YOLOv12 detection-family model; classifiers report theirs)."""
    stride = model.model.stride
    return max(int(stride.max()) if hasattr(stride, "max") else int(stride), 1)


def training_args(model) -> dict[str, Any]:
    return dict((getattr(model, "ckpt", None) or {}).get("train_args") or {})
