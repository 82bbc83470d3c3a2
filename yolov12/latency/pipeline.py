"""Inputs and the NMS-inclusive (``end2end``) pipeline: Ultralytics' preprocessing, forward, Ultralytics' NMS.

Preprocessing mirrors Ultralytics' predictor: letterbox each BGR uint8 image to the square ``imgsz`` (no rect
batching), stack, move to the device as uint8, BHWC -> BCHW, BGR -> RGB, cast, divide by 255. Postprocessing is
``ultralytics.utils.nms.non_max_suppression`` (class-aware, rotated for OBB) followed by ``ops.scale_boxes`` back to
the original image size; segmentation masks are not rasterised (the NMS on the detections with mask coefficients
is timed), classification takes the top-5 classes.
"""

from __future__ import annotations

import numpy as np
import torch

from ..registry import TASK_TABLE

SAMPLE_IMAGE = "bus.jpg"  # shipped with Ultralytics (ultralytics/assets), 1080 x 810


def sample_images(batch: int = 1, seed: int = 0) -> list[np.ndarray]:
    """``batch`` BGR uint8 images: Ultralytics' bundled bus.jpg when readable, else seeded noise (810 x 1080)."""
    import cv2
    from ultralytics.utils import ASSETS

    img = cv2.imread(str(ASSETS / SAMPLE_IMAGE))
    if img is None:
        img = np.random.default_rng(seed).integers(0, 256, size=(1080, 810, 3), dtype=np.uint8)
    return [img.copy() for _ in range(batch)]


class Preprocess:
    """Letterbox + to tensor, as Ultralytics' predictor does for a list of BGR uint8 images."""

    def __init__(self, imgsz: tuple[int, int], device: torch.device, dtype: torch.dtype, stride: int = 32):
        from ultralytics.data.augment import LetterBox

        self.letterbox = LetterBox(imgsz, auto=False, stride=stride)
        self.device, self.dtype = device, dtype

    def __call__(self, images: list[np.ndarray]) -> torch.Tensor:
        ims = [self.letterbox(image=im) for im in images]
        t = torch.from_numpy(ims[0]).unsqueeze(0) if len(ims) == 1 else torch.from_numpy(np.stack(ims))
        t = t.to(self.device, non_blocking=False).permute(0, 3, 1, 2).contiguous().flip(1)
        return t.to(self.dtype).div_(255)


class Postprocess:
    """NMS + box rescaling (detect / segment / pose / obb) or top-5 (classify)."""

    def __init__(self, task: str, nc: int, imgsz: tuple[int, int], orig_shape: tuple[int, int], conf: float = 0.25,
                 iou: float = 0.7, max_det: int = 300):
        self.task, self.nc, self.imgsz, self.orig_shape = task, nc, imgsz, orig_shape
        self.conf, self.iou, self.max_det = conf, iou, max_det

    def __call__(self, outputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        from ultralytics.utils import ops
        from ultralytics.utils.nms import non_max_suppression

        pred = outputs[0]
        row = TASK_TABLE[self.task]
        if row.classification:
            return [p.float().topk(min(5, p.shape[-1])).indices for p in pred]
        dets = non_max_suppression(pred, self.conf, self.iou, max_det=self.max_det,
                                   nc=0 if row.label_format == "box" else self.nc, rotated=row.rotated)
        if not row.rotated:
            for d in dets:
                d[:, :4] = ops.scale_boxes(self.imgsz, d[:, :4], self.orig_shape)
        return dets
