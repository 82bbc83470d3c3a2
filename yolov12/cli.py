"""``yolov12`` command line.

    yolov12 models                               list the shipped model definitions and knobs
    yolov12 yaml --family yolov12 --scale n --knob area=1 --out DIR
                                                 write a resolved model YAML usable with ``YOLO(path)``
    yolov12 summary --family yolov12 --scales nsmlx [--knob k=v ...] [--imgsz 640] [--csv FILE]
                                                 params and paper-convention GFLOPs per scale
    yolov12 data synth --task detect --out DIR   deterministic synthetic dataset (all five tasks)
    yolov12 data check --data data.yaml --task detect
                                                 label/image checks before training (docs/data.md)
    yolov12 data coco --root DIR [--download]    COCO 2017: validate or fetch, convert, write data YAMLs
    yolov12 data imagenet --out DIR (--train-tar T --val-tar V (--devkit D | --val-labels CSV) | --tree DIR)
    yolov12 data dota --root DIR                 validate a DOTA v1 tree in Ultralytics OBB format
    yolov12 variants [--studies relan area] [--scales n]
                                                 every study and variant with its resolved knobs
    yolov12 workflow run KIND --spec S --out O   one workflow job (train, evaluate, complexity, latency, export)
    yolov12 latency --scale n --device cpu --precision fp32 --runtime eager onnxruntime --json FILE
                                                 latency matrix with a correctness gate (docs/latency.md)
    yolov12 profile --scale n --imgsz 640 --json FILE
                                                 params, paper and true GFLOPs, attention share of FLOPs and time
    yolov12 report --results results/default --out reports/default --config-name default
                                                 paper-style report (Markdown, PDF, LaTeX tables, figures)
    yolov12 val --model best.pt --data data.yaml --out result.json [--backend faster-coco-eval] [--conf 0.001]
                                                 COCO-toolkit evaluation (predictions + metrics + settings)
"""

from __future__ import annotations

import argparse
import sys

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
    from .io import atomic_path
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
        import pandas as pd

        with atomic_path(args.csv) as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
    return 0


def cmd_data(args) -> int:
    import json

    from .data import check, synth

    if args.data_command == "synth":
        spec = synth.SynthSpec(task=args.task, n_train=args.n_train, n_val=args.n_val, imgsz=args.imgsz,
                               height=args.height, nc=args.nc,
                               max_objects=args.max_objects, seed=args.seed)
        manifest = synth.generate(args.out, spec)
        print(f"wrote {manifest['data']}")
    elif args.data_command == "check":
        print(json.dumps(check.check_dataset(args.data, args.task).as_dict(), indent=1))
    elif args.data_command == "coco":
        from .data.coco import prepare_coco

        manifest = prepare_coco(args.root, download=args.download, out=args.out)
        print(json.dumps(manifest, indent=1, default=str))
    elif args.data_command == "imagenet":
        from .data.imagenet import prepare_imagenet

        manifest = prepare_imagenet(args.out, train_tar=args.train_tar, val_tar=args.val_tar, devkit=args.devkit,
                                    val_labels=args.val_labels, tree=args.tree)
        print(json.dumps(manifest, indent=1, default=str))
    elif args.data_command == "dota":
        from .data.dota import validate_dota

        print(json.dumps(validate_dota(args.root), indent=1, default=str))
    return 0


def add_data_parser(sub) -> None:
    from .data.synth import SynthSpec, TASKS

    data = sub.add_parser("data", help="prepare and check datasets").add_subparsers(dest="data_command", required=True)
    d = SynthSpec()
    p = data.add_parser("synth", help="deterministic synthetic dataset")
    p.add_argument("--task", default=d.task, choices=TASKS)
    p.add_argument("--out", required=True, help="output directory (replaced atomically)")
    p.add_argument("--n-train", type=int, default=d.n_train)
    p.add_argument("--n-val", type=int, default=d.n_val)
    p.add_argument("--imgsz", type=int, default=d.imgsz, help="image width (and height unless --height)")
    p.add_argument("--height", type=int, default=None, help="image height (default: square)")
    p.add_argument("--nc", type=int, default=d.nc, help="classes = shapes (pose: always 1)")
    p.add_argument("--max-objects", type=int, default=d.max_objects)
    p.add_argument("--seed", type=int, default=d.seed)
    p = data.add_parser("check", help="check labels and images (errors name file:line)")
    p.add_argument("--data", required=True, help="data.yaml (classify: the dataset directory)")
    p.add_argument("--task", required=True, choices=TASKS)
    p = data.add_parser("coco", help="COCO 2017: validate (or --download), convert, write data YAMLs")
    p.add_argument("--root", required=True)
    p.add_argument("--download", action="store_true", help="fetch the official archives (resumable, verified)")
    p.add_argument("--out", default=None, help="converted labels and YAMLs (default: ROOT/yolo)")
    p = data.add_parser("imagenet", help="ImageNet-1k to train/<wnid>/, val/<wnid>/")
    p.add_argument("--out", required=True)
    p.add_argument("--train-tar", default=None)
    p.add_argument("--val-tar", default=None)
    p.add_argument("--devkit", default=None, help="ILSVRC2012_devkit_t12.tar.gz (val ground truth)")
    p.add_argument("--val-labels", default=None, help="LOC_val_solution.csv (val ground truth, Kaggle format)")
    p.add_argument("--tree", default=None, help="an existing train/<wnid>/, val/<wnid>/ tree to validate")
    p = data.add_parser("dota", help="validate a DOTA v1 tree in Ultralytics OBB format")
    p.add_argument("--root", required=True)
    sub.choices["data"].set_defaults(func=cmd_data)


def cmd_val(args) -> int:
    import json

    from .evaluate import evaluate

    result = evaluate(args.model, args.data, task=args.task, gt=args.gt, backend=args.backend, imgsz=args.imgsz,
                      conf=args.conf, iou=args.iou, max_det=args.max_det, rect=not args.no_rect, half=args.half,
                      batch=args.batch, device=args.device, out=args.out)
    summary = {t: {k: round(v, 4) for k, v in m.items() if isinstance(v, float)} for t, m in result["coco"].items()}
    print(json.dumps({"coco": summary, "ultralytics": result["ultralytics"], "out": args.out}, indent=1))
    return 0


def add_val_parser(sub) -> None:
    from .evaluate import BACKENDS, IOU_TYPES

    p = sub.add_parser("val", help="evaluate a checkpoint with the COCO toolkit")
    p.add_argument("--model", required=True, help="checkpoint (.pt)")
    p.add_argument("--data", required=True, help="data.yaml (classify: dataset directory)")
    p.add_argument("--task", default=None, choices=list(IOU_TYPES), help="expected task (checked against the model)")
    p.add_argument("--gt", default=None, help="COCO-format ground truth (default: from the dataset manifest)")
    p.add_argument("--backend", default="pycocotools", choices=BACKENDS)
    p.add_argument("--imgsz", type=int, default=None, help="default: the checkpoint's training size")
    p.add_argument("--conf", type=float, default=0.001)
    p.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold")
    p.add_argument("--max-det", type=int, default=100)
    p.add_argument("--no-rect", action="store_true", help="square letterbox batches instead of rect batching")
    p.add_argument("--half", action="store_true")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--device", default=None)
    p.add_argument("--out", default=None, help="result JSON (predictions go beside it)")
    p.set_defaults(func=cmd_val)


def cmd_variants(args) -> int:
    import json

    from .workflow.studies import all_runs, by_variant_dir

    runs = all_runs(args.studies or None, args.scales or None)
    for run in runs:
        print(json.dumps({"study": run.study, "table": run.table, "variant": run.variant, "scale": run.scale,
                          "family": run.family, "task": run.task, "hierarchy": run.hierarchy,
                          "variant_dir": run.variant_dir, "baseline": run.baseline, "train": run.train,
                          "knobs": run.knobs}) if args.json else
              f"{run.study:10s} {run.variant:20s} {run.scale}  {run.variant_dir:40s} "
              f"{'baseline ' if run.baseline else ''}{knob_delta(run)}")
    if not args.json:
        print(f"{len(runs)} study runs, {len(by_variant_dir(runs))} distinct run directories")
    return 0


def knob_delta(run) -> str:
    """Knobs that differ from the run's scale default, plus non-default family/task/hierarchy/train."""
    from .workflow.studies import canonical_knobs

    base = canonical_knobs(run.family, run.scale, run.task, run.hierarchy, {})
    parts = [f"{k}={v}" for k, v in run.knobs.items() if base.get(k) != v]
    parts += [f"{k}={getattr(run, k)}" for k, d in (("family", "yolov12"), ("task", "detect"),
                                                     ("hierarchy", "full")) if getattr(run, k) != d]
    parts += [f"train.{k}={v}" for k, v in run.train.items()]
    return " ".join(parts)


def cmd_workflow(args) -> int:
    if args.workflow_command == "run":
        from .workflow.jobs import run

        run(args.kind, args.spec, args.out)
    else:
        import json
        from pathlib import Path

        from .workflow.aggregate import aggregate

        written = aggregate(args.results, args.config_name, json.loads(Path(args.index).read_text())["rows"])
        for kind, path in written.items():
            print(f"{kind}: {path}")
    return 0


def add_workflow_parsers(sub) -> None:
    p = sub.add_parser("variants", help="list every study and variant with its resolved knobs")
    p.add_argument("--studies", nargs="*", default=None)
    p.add_argument("--scales", nargs="*", default=None)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_variants)
    wf = sub.add_parser("workflow", help="workflow jobs (called by the Snakefile)")
    wsub = wf.add_subparsers(dest="workflow_command", required=True)
    p = wsub.add_parser("run", help="run one job from its spec")
    p.add_argument("kind", choices=["train", "evaluate", "complexity", "latency", "export"])
    p.add_argument("--spec", required=True)
    p.add_argument("--out", required=True)
    p = wsub.add_parser("aggregate", help="write the tidy CSVs")
    p.add_argument("--results", required=True)
    p.add_argument("--config-name", required=True)
    p.add_argument("--index", required=True, help="runs.json written by the workflow")
    wf.set_defaults(func=cmd_workflow)


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
    add_data_parser(sub)
    add_val_parser(sub)
    add_workflow_parsers(sub)
    from .latency.cli import add_latency_parser, add_profile_parser
    from .report.cli import add_report_parser

    add_report_parser(sub)
    add_latency_parser(sub)
    add_profile_parser(sub)
    args = parser.parse_args(argv)

    import yolov12  # noqa: F401  (offline defaults + parser integration before anything else)
    try:
        return args.func(args)
    except ValueError as e:  # bad knob, bad dataset, bad input: one clear message, no traceback
        print(f"yolov12: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
