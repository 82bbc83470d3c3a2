"""``yolov12`` command line.

    yolov12 models                               list the shipped model definitions and knobs
    yolov12 yaml --family yolov12 --scale n --knob area=1 --out DIR
                                                 write a resolved model YAML usable with ``YOLO(path)``
    yolov12 summary --family yolov12 --scales nsmlx [--knob k=v ...] [--imgsz 640] [--csv FILE]
                                                 params and paper-convention GFLOPs per scale
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import yaml


def parse_knob(text: str):
    """``name=value`` with the value parsed as YAML (``area=1``, ``mlp_ratio=1.5``, ``backend=sdpa``)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--knob expects name=value, got {text!r}")
    name, value = text.split("=", 1)
    return name.strip(), yaml.safe_load(value)


def add_model_args(p: argparse.ArgumentParser, many_scales: bool = False) -> None:
    from .models import FAMILIES, HIERARCHIES, TASKS

    p.add_argument("--family", default="yolov12", choices=FAMILIES)
    p.add_argument("--task", default="detect", choices=list(TASKS))
    p.add_argument("--hierarchy", default="full", choices=HIERARCHIES)
    if many_scales:
        p.add_argument("--scales", default="nsmlx", help="scales to include, e.g. 'ns' (default: nsmlx)")
    else:
        p.add_argument("--scale", default="n", choices=list("nsmlx"))
    p.add_argument("--nc", type=int, default=None, help="number of classes (default: the definition's)")
    p.add_argument("--knob", type=parse_knob, action="append", default=[], metavar="NAME=VALUE",
                   help="architecture knob, repeatable (see 'yolov12 models')")


def cmd_models(args) -> int:
    from .models import list_definitions
    from .nn.knobs import Knobs

    print("definitions:", ", ".join(list_definitions()))
    print("knobs (defaults = paper v1.0):")
    for name, value in Knobs().as_dict().items():
        print(f"  {name:12s} {value!r}")
    return 0


def cmd_yaml(args) -> int:
    from .models import write_model_yaml

    path = write_model_yaml(args.family, args.scale, args.task, args.hierarchy, args.nc, args.out, **dict(args.knob))
    print(path)
    return 0


def cmd_summary(args) -> int:
    from .complexity import summary
    from .models import torch_model

    rows = []
    for scale in args.scales:
        model = torch_model(args.family, scale, args.task, args.hierarchy, args.nc, **dict(args.knob))
        s = summary(model, args.imgsz)
        rows.append({"family": args.family, "task": args.task, "hierarchy": args.hierarchy, "scale": scale,
                     "params": s["params"], "params_fused_M": round(s["params_fused"] / 1e6, 3),
                     "gflops": round(s["gflops"], 3), "imgsz": args.imgsz})
        print(f"{args.family}{scale} {args.task:8s} params {s['params']:>11,d}  fused {s['params_fused'] / 1e6:7.3f} M"
              f"  {s['gflops']:8.3f} GFLOPs @ {args.imgsz}", flush=True)
    if args.csv:
        out = Path(args.csv)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yolov12", description="YOLOv12 benchmarking & ablation suite")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list model definitions and knobs").set_defaults(func=cmd_models)
    p = sub.add_parser("yaml", help="write a resolved model YAML")
    add_model_args(p)
    p.add_argument("--out", default=None, help="directory (default: ~/.cache/yolov12/models)")
    p.set_defaults(func=cmd_yaml)
    p = sub.add_parser("summary", help="params and GFLOPs (paper convention)")
    add_model_args(p, many_scales=True)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--csv", default=None, help="also write the table to this CSV file")
    p.set_defaults(func=cmd_summary)
    args = parser.parse_args(argv)

    import yolov12  # noqa: F401  (offline defaults + parser integration before anything else)
    from .nn.knobs import KnobError

    try:
        return args.func(args)
    except (KnobError, ValueError) as e:  # bad knob or an input the model cannot take: one clear line
        print(f"yolov12: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
