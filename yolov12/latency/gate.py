"""Correctness gate: a cell's outputs against the fp32 eager reference on the same input, before it is timed.

Raw outputs: for every output tensor and every channel (dim 1 of a (B, C, ...) tensor; the whole tensor for a 2-D
(B, C) output), the error is ``max |out - ref| / max |ref|`` over that channel; the cell's ``max_rel_err`` is the
largest of these, ``max_abs_err`` the largest absolute difference. Channel-wise normalisation keeps box coordinates
(hundreds of pixels) from hiding errors in class probabilities (0..1). The cell passes when ``max_rel_err`` is at
most the tolerance of its precision.

NMS-inclusive scope (end2end) also compares the final detections loosely: every reference box must meet a box of
the same class with IoU >= ``iou`` and vice versa; ``det_match`` = matched / max(count_ref, count_out) (1.0 when
both are empty) must reach ``min_match``. Boxes near the confidence threshold may appear in one and not the other,
hence the loose rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

TOLERANCES = {"fp32": 1e-3, "fp16": 5e-2, "bf16": 1e-1}
DET_IOU = 0.5
DET_MIN_MATCH = 0.8
EPS = 1e-12


def output_errors(out: Sequence[torch.Tensor], ref: Sequence[torch.Tensor]) -> tuple[float, float]:
    """(max_abs_err, max_rel_err) of ``out`` against ``ref`` (tuples of tensors of equal shapes)."""
    if len(out) != len(ref):
        raise ValueError(f"output count {len(out)} differs from the reference's {len(ref)}")
    max_abs, max_rel = 0.0, 0.0
    for o, r in zip(out, ref):
        o = torch.as_tensor(o).detach().float().cpu()
        r = torch.as_tensor(r).detach().float().cpu()
        if o.shape != r.shape:
            raise ValueError(f"output shape {tuple(o.shape)} differs from the reference's {tuple(r.shape)}")
        if not torch.isfinite(o).all():
            return float("inf"), float("inf")
        d = (o - r).abs()
        max_abs = max(max_abs, float(d.max()) if d.numel() else 0.0)
        if r.dim() >= 3:
            dims = [i for i in range(r.dim()) if i != 1]
            num, den = d.amax(dim=dims), r.abs().amax(dim=dims)
        else:
            num, den = d.max().reshape(1), r.abs().max().reshape(1)
        rel = num / den.clamp_min(EPS)
        rel = torch.where(den > EPS, rel, num)  # an all-zero reference channel: absolute error
        max_rel = max(max_rel, float(rel.max()) if rel.numel() else 0.0)
    return max_abs, max_rel


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU matrix of xyxy boxes (N, 4) x (M, 4)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:4], b[None, :, 2:4])
    inter = (rb - lt).clamp_min(0).prod(-1)
    area_a = (a[:, 2:4] - a[:, :2]).clamp_min(0).prod(-1)
    area_b = (b[:, 2:4] - b[:, :2]).clamp_min(0).prod(-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp_min(EPS)


def detection_match(dets: Sequence[torch.Tensor], ref: Sequence[torch.Tensor], iou: float = DET_IOU) -> float:
    """Fraction of boxes matched between two per-image lists of (n, 6+) detections [x1, y1, x2, y2, conf, cls, ...]."""
    matched = total = 0
    for d, r in zip(dets, ref):
        d, r = d.detach().float().cpu(), r.detach().float().cpu()
        total += max(len(d), len(r))
        if not len(d) or not len(r):
            continue
        m = box_iou(r[:, :4], d[:, :4])
        m = torch.where(r[:, None, 5] == d[None, :, 5], m, torch.zeros_like(m))
        ok = m >= iou
        matched += min(int(ok.any(1).sum()), int(ok.any(0).sum()))
    return 1.0 if total == 0 else matched / total


def check(out, ref, precision: str, tolerances: dict | None = None) -> dict:
    """Gate verdict for raw outputs: {'passed', 'max_abs_err', 'max_rel_err', 'tolerance'}."""
    tol = {**TOLERANCES, **(tolerances or {})}[precision]
    max_abs, max_rel = output_errors(out, ref)
    return {"passed": bool(max_rel <= tol), "max_abs_err": max_abs, "max_rel_err": max_rel, "tolerance": tol}
