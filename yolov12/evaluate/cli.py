"""``yolov12 val``: evaluate a checkpoint with the COCO toolkit. Building the parser imports no torch or Ultralytics.

Bad input raises ``yolov12.errors.UserError``; the top-level ``main_guard`` prints it as one ``error:`` line and no
result file is written.
"""

from __future__ import annotations

import argparse
import json

from ..cliargs import add_setting
from ..registry import TASKS
from ..settings import EVALUATE
from .cocoeval import BACKENDS, STATS
from .settings import PRECISION_CHOICES

EXAMPLE = ("yolov12 val --model runs/detect/train/weights/best.pt --data datasets/synth-detect/data.yaml "
           "--out results/eval.json")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in every help line, the example kept as written."""


def add_parsers(subparsers) -> None:
    """Register ``val`` on the top-level subparsers."""
    description = ("evaluate a checkpoint on the val split: COCO-toolkit metrics, the images and objects evaluated "
                   "against the ground truth's, the precision that ran; predictions are saved beside --out")
    p = subparsers.add_parser("val", help="evaluate a checkpoint with the COCO toolkit", description=description,
                              epilog=f"example:\n  {EXAMPLE}", formatter_class=HelpFormatter)
    p.add_argument("--model", required=True, help="trained checkpoint (.pt)")
    p.add_argument("--data", required=True, help="data.yaml (classify: dataset directory)")
    p.add_argument("--task", default=None, choices=list(TASKS), help="expected task (None: the checkpoint's)")
    p.add_argument("--gt", default=None, help="COCO-format ground truth (None: from the dataset manifest)")
    add_setting(p, EVALUATE, "backend", choices=BACKENDS)
    p.add_argument("--imgsz", type=int, default=None,
                   help="a multiple of the model's largest stride (None: the checkpoint's training size)")
    add_setting(p, EVALUATE, "conf", type=float)
    add_setting(p, EVALUATE, "iou", type=float)
    add_setting(p, EVALUATE, "max_det", type=int)
    p.add_argument("--no-rect", action="store_true", help="square letterbox batches instead of rect batching")
    add_setting(p, EVALUATE, "precision", choices=PRECISION_CHOICES,
                help="auto: fp16 on CUDA (as the paper validates), fp32 on CPU; fp16 on a CPU is refused")
    p.add_argument("--half", action="store_true", help="same as --precision fp16")
    add_setting(p, EVALUATE, "batch", type=int)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or N (None: cuda:0 if present, else cpu)")
    p.add_argument("--allow-subset", action="store_true",
                   help="score only the images that loaded when some could not (the result records subset: true); "
                        "without it such a run is refused")
    p.add_argument("--out", default=None, help="result JSON (predictions go beside it: *.predictions.json)")
    p.set_defaults(func=cmd_val)


def cmd_val(args) -> int:
    from . import evaluate

    result = evaluate(args.model, args.data, task=args.task, gt=args.gt, backend=args.backend, imgsz=args.imgsz,
                      conf=args.conf, iou=args.iou, max_det=args.max_det, rect=not args.no_rect,
                      precision="fp16" if args.half else args.precision, batch=args.batch, device=args.device,
                      out=args.out, allow_subset=args.allow_subset)
    # a metric COCO could not measure (its -1, e.g. no large objects) is printed as null, with the reason in gaps
    summary = {t: {k: (round(v, 4) if isinstance(v, float) else None) for k, v in m.items()
                   if isinstance(v, float) or k in STATS[t]} for t, m in result["coco"].items()}
    gaps = {t: m["gaps"] for t, m in result["coco"].items() if m.get("gaps")}
    counts = {k: v for k, v in result["counts"].items() if k != "dropped"}
    shown = {"coco": summary, "ultralytics": result["ultralytics"], "precision": result["precision"],
             "counts": counts, "subset": result["subset"], "out": args.out}
    if gaps:
        shown["gaps"] = gaps
    if result.get("ultralytics_dropped"):
        shown["ultralytics_dropped"] = result["ultralytics_dropped"]
    print(json.dumps(shown, indent=1))
    return 0
