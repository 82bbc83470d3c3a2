"""``yolov12 data``: make, prepare and check datasets. Building the parser imports no torch, Ultralytics, NumPy or PIL.

Bad input raises ``yolov12.errors.UserError``; the top-level ``main_guard`` prints it as one ``error:`` line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from ..registry import TASKS
from ..cliargs import add_setting
from ..settings import SYNTHETIC
from .synth_spec import SynthSpec


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in every help line, examples kept as written."""


def _parser(sub, name: str, help: str, example: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help, epilog=f"example:\n  {example}",
                          formatter_class=HelpFormatter)


def add_parsers(subparsers) -> None:
    """Register ``data`` and its subcommands (synth, check, coco, imagenet, dota) on the top-level subparsers."""
    data = subparsers.add_parser("data", help="prepare and check datasets", description="prepare and check datasets",
                                 formatter_class=HelpFormatter)
    data.set_defaults(func=cmd_data)
    sub = data.add_subparsers(dest="data_command", required=True, metavar="{synth,check,coco,imagenet,dota}")
    d = {f.name: f.default for f in dataclasses.fields(SynthSpec)}

    p = _parser(sub, "synth", "deterministic synthetic dataset (any task), with COCO ground truth for its val split",
                "yolov12 data synth --task detect --out datasets/synth-detect --n-train 256 --imgsz 160")
    p.add_argument("--task", default=d["task"], choices=list(TASKS))
    p.add_argument("--out", required=True, help="output directory (replaced atomically)")
    for key in ("n_train", "n_val", "imgsz", "height", "nc", "max_objects", "seed"):  # the config's data.synthetic
        add_setting(p, SYNTHETIC, key, type=int)

    p = _parser(sub, "check", "check labels, images and data.yaml before training (errors name file:line)",
                "yolov12 data check --data datasets/synth-detect/data.yaml --task detect")
    p.add_argument("--data", required=True, help="data.yaml (classify: the dataset directory)")
    p.add_argument("--task", required=True, choices=list(TASKS))

    p = _parser(sub, "coco", "COCO 2017: validate an existing copy (or --download it), convert labels, write data "
                "YAMLs", "yolov12 data coco --root /data/coco --download")
    p.add_argument("--root", required=True, help="COCO root (train2017/, val2017/, annotations/)")
    p.add_argument("--download", action="store_true", help="fetch the official archives (resumable, verified)")
    p.add_argument("--out", default=None, help="converted labels and YAMLs (None: ROOT/yolo)")

    p = _parser(sub, "imagenet", "ImageNet-1k to train/<wnid>/, val/<wnid>/ (from the archives, or validate a tree)",
                "yolov12 data imagenet --out /data/imagenet --train-tar ILSVRC2012_img_train.tar "
                "--val-tar ILSVRC2012_img_val.tar --devkit ILSVRC2012_devkit_t12.tar.gz")
    p.add_argument("--out", required=True, help="where imagenet.yaml / imagenet.json (and extracted images) go")
    p.add_argument("--train-tar", default=None, help="ILSVRC2012_img_train.tar")
    p.add_argument("--val-tar", default=None, help="ILSVRC2012_img_val.tar")
    p.add_argument("--devkit", default=None, help="ILSVRC2012_devkit_t12.tar.gz (val ground truth)")
    p.add_argument("--val-labels", default=None, help="LOC_val_solution.csv (val ground truth, Kaggle format)")
    p.add_argument("--tree", default=None, help="an existing train/<wnid>/, val/<wnid>/ tree to validate")

    p = _parser(sub, "dota", "validate a DOTA v1 tree in Ultralytics OBB format and write dota.yaml",
                "yolov12 data dota --root /data/DOTAv1")
    p.add_argument("--root", required=True, help="DOTA root with images/{train,val} and labels/{train,val}")


def cmd_data(args) -> int:
    if args.data_command == "synth":
        from . import synth

        spec = SynthSpec(task=args.task, n_train=args.n_train, n_val=args.n_val, imgsz=args.imgsz,
                         height=args.height, nc=args.nc, max_objects=args.max_objects, seed=args.seed)
        manifest = synth.generate(args.out, spec)
        print(f"wrote {manifest['data']}")
    elif args.data_command == "check":
        from .check import check_dataset

        print(json.dumps(check_dataset(args.data, args.task).as_dict(), indent=1))
    elif args.data_command == "coco":
        from .coco import prepare_coco

        print(json.dumps(prepare_coco(args.root, download=args.download, out=args.out), indent=1, default=str))
    elif args.data_command == "imagenet":
        from .imagenet import prepare_imagenet

        manifest = prepare_imagenet(args.out, train_tar=args.train_tar, val_tar=args.val_tar, devkit=args.devkit,
                                    val_labels=args.val_labels, tree=args.tree)
        print(json.dumps({k: v for k, v in manifest.items() if k != "per_class"}, indent=1, default=str))
    elif args.data_command == "dota":
        from .dota import validate_dota

        print(json.dumps(validate_dota(args.root), indent=1, default=str))
    return 0
