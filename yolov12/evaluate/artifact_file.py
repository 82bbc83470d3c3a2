"""An exported model file: the formats the suite evaluates, its checksum, and loading it through Ultralytics'
AutoBackend (which picks the runtime from the suffix). Imported by ``yolov12.evaluate.evaluate`` (artifact=) and
by ``yolov12.evaluate.artifact``."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import UserError

# Ultralytics export format -> the file (or folder) suffix AutoBackend recognises
FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript", "engine": ".engine"}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_artifact(path: str | Path) -> Path:
    """Refuse what is not an exported model file before anything runs."""
    path = Path(path)
    if path.suffix not in FORMATS.values():
        raise UserError(f"{path.suffix or 'no suffix'} is not an exported model this suite evaluates", file=path,
                        key="artifact", allowed=list(FORMATS.values()))
    if not path.is_file():
        raise UserError("the exported model does not exist", file=path, key="artifact",
                        allowed="a file written by an export")
    return path


def load_artifact(path: str | Path, task: str):
    """An Ultralytics model that runs the exported file (its AutoBackend picks the runtime from the suffix)."""
    path = check_artifact(path)
    from ultralytics import YOLO

    return YOLO(str(path), task=task)
