"""An exported model file: the formats the suite evaluates, its checksum, and loading it through Ultralytics'
AutoBackend (which picks the runtime from the suffix). Imported by ``yolov12.evaluate.evaluate`` (artifact=) and
by ``yolov12.evaluate.artifact``; and the numerical parity of an ONNX file with PyTorch on one random input."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

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


def flatten_tensors(output) -> list:
    """Every tensor of a (nested) model output, in order."""
    import torch

    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    return [t for o in (output or []) if isinstance(o, (torch.Tensor, list, tuple, dict)) for t in flatten_tensors(o)]


def onnx_parity(checkpoint: str | Path, onnx_path: str | Path, imgsz: int) -> dict[str, Any]:
    """The ONNX file's outputs against PyTorch's on one random input (ONNX Runtime, CPU)."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from ultralytics import YOLO

    yolo = YOLO(str(checkpoint))
    x = torch.rand(1, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        refs = flatten_tensors(yolo.model.float().eval()(x))
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    outputs = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    err, tol = 0.0, 0.0
    for got in outputs:  # each ONNX output against the PyTorch tensor of the same shape (seg: preds, protos)
        ref = next((r.numpy() for r in refs if tuple(r.shape) == got.shape), None)
        if ref is None:
            err = float("inf")
            break
        err = max(err, float(np.abs(got - ref).max()))
        tol = max(tol, 1e-3 * max(1.0, float(np.abs(ref).max())))
    return {"status": "ok" if err <= tol else "failed", "max_abs_err": err, "tolerance": tol,
            "outputs": [list(o.shape) for o in outputs]}
