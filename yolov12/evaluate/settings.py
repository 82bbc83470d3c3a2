"""Validation settings, checked before anything runs: a value Ultralytics would silently change is refused.

Ultralytics rounds an image size that is not a multiple of the model's largest stride up to the next multiple (70 ->
96) with only a log line, falls back from fp16 to fp32 on CPU, and accepts conf/iou outside [0, 1]. The number a
result reports must be the number that was used, so each of these is a one-line ``UserError`` naming the
command-line flag and the allowed values. ``check_settings`` needs no torch; ``resolve_device`` and ``check_imgsz``
run once the checkpoint is loaded.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import UserError
from ..settings import EVALUATE
from .cocoeval import BACKENDS

# Ultralytics validates in fp32 or fp16 (its `quantize=16`); bf16 is a latency setting, not a validation one. The
# list is the evaluate settings' (yolov12.settings: the config schema and `yolov12 val` read it there too).
EVAL_PRECISIONS = tuple(EVALUATE.properties["precision"]["enum"])
PRECISION_CHOICES = ("auto", *EVAL_PRECISIONS)  # auto: fp16 on CUDA (the paper's validation), fp32 elsewhere
DEVICE_FORMS = "cpu, cuda, cuda:N, N or N,M (CUDA indices), mps"
_DEVICE = re.compile(r"^(cpu|mps|cuda|cuda:\d+|\d+(,\d+)*)$")


def _number(value: Any, flag: str, allowed: str, kind: type = float) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok:
        raise UserError(f"{value!r} is not a number", key=flag, allowed=allowed)


def check_settings(*, imgsz: int | None, conf: float, iou: float, max_det: int, batch: int, device: str | None,
                   precision: str, backend: str) -> None:
    """Refuse values that are out of range or of the wrong type, naming the flag (no torch needed)."""
    if imgsz is not None:
        _number(imgsz, "--imgsz", "a positive multiple of the model's largest stride (32), e.g. 640", int)
        if imgsz <= 0:
            raise UserError(f"image size {imgsz}", key="--imgsz",
                            allowed="a positive multiple of the model's largest stride (32), e.g. 640")
    _number(conf, "--conf", "a confidence threshold in [0, 1)")
    if not 0 <= conf < 1:
        raise UserError(f"confidence threshold {conf}", key="--conf", allowed="[0, 1); the COCO protocol uses 0.001")
    _number(iou, "--iou", "an NMS IoU threshold in (0, 1]")
    if not 0 < iou <= 1:
        raise UserError(f"NMS IoU threshold {iou}", key="--iou", allowed="(0, 1]; the default is 0.7")
    _number(max_det, "--max-det", "integers >= 1", int)
    if max_det < 1:
        raise UserError(f"max detections per image {max_det}", key="--max-det", allowed="integers >= 1 (COCO: 100)")
    _number(batch, "--batch", "integers >= 1", int)
    if batch < 1:
        raise UserError(f"batch size {batch}", key="--batch", allowed="integers >= 1")
    if device is not None and not _DEVICE.match(str(device).strip().lower()):
        raise UserError(f"device {device!r} is not a device name", key="--device", allowed=DEVICE_FORMS)
    if precision not in PRECISION_CHOICES:
        raise UserError(f"precision {precision!r}", key="--precision", allowed=list(PRECISION_CHOICES))
    if backend not in BACKENDS:
        raise UserError(f"backend {backend!r}", key="--backend", allowed=list(BACKENDS))


def resolve_device(device: str | None) -> str:
    """'cpu', 'mps' or 'cuda:N' as it will run; a device that is not there is refused (Ultralytics raises deep)."""
    import torch

    text = "" if device is None else str(device).strip().lower()
    if text in ("", "auto"):
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if text in ("cpu", "mps"):
        if text == "mps" and not torch.backends.mps.is_available():
            raise UserError("MPS is not available on this machine", key="--device", allowed="cpu")
        return text
    indices = [0] if text == "cuda" else [int(i) for i in text.removeprefix("cuda:").split(",")]
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise UserError(f"device {device!r} asks for CUDA, which this machine does not have", key="--device",
                        allowed="cpu")
    missing = [i for i in indices if i >= count]
    if missing:
        raise UserError(f"CUDA device(s) {missing} do not exist ({count} visible)", key="--device",
                        allowed=f"cpu, cuda:0..cuda:{count - 1}")
    if len(indices) > 1:  # validation runs on one device; more would silently use only the first
        raise UserError(f"device {device!r} names {len(indices)} GPUs; evaluation runs on one", key="--device",
                        allowed=f"one of cuda:0..cuda:{count - 1}, or cpu")
    return f"cuda:{indices[0]}"


def resolve_precision(precision: str, device: str) -> str:
    """'fp16' or 'fp32' as it will run. auto = fp16 on CUDA (the paper validates in fp16), fp32 elsewhere; fp16 on a
    CPU is refused rather than silently run in fp32 (Ultralytics' fallback)."""
    on_cuda = device.startswith("cuda")
    if precision == "auto":
        return "fp16" if on_cuda else "fp32"
    if precision == "fp16" and not on_cuda:
        raise UserError(f"fp16 evaluation needs a CUDA device; this run's device is {device}", key="--precision",
                        allowed=f"fp32 (or auto) on {device}; fp16 on cuda")
    return precision


def check_imgsz(imgsz: int, stride: int, source: str, checkpoint=None) -> int:
    """The image size must be a multiple of the model's largest stride: Ultralytics would round it up silently."""
    if imgsz <= 0 or imgsz % stride:
        below, above = max(stride, imgsz - imgsz % stride), imgsz - imgsz % stride + stride
        raise UserError(f"image size {imgsz} ({source}) is not a positive multiple of the model's largest stride "
                        f"{stride}; Ultralytics would silently use {above}", file=checkpoint, key="--imgsz",
                        allowed=f"multiples of {stride}, e.g. {below} or {above}")
    return imgsz
