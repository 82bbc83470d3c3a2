"""Command-line arguments shared by the subcommands, each defined once: model selection, --scales, --devices,
--ablations-dir. Light (argparse + the registry): building the parser imports neither torch nor Ultralytics."""

from __future__ import annotations

import argparse

from . import registry
from .yamlio import loads

HELP_FORMAT = argparse.ArgumentDefaultsHelpFormatter


def parse_knob(text: str):
    """``name=value`` with the value parsed as YAML (``area=1``, ``mlp_ratio=1.5``, ``backend=sdpa``)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--knob expects name=value, got {text!r}")
    name, value = text.split("=", 1)
    return name.strip(), loads(value, f"--knob {name.strip()}")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def add_model_args(p: argparse.ArgumentParser, many_scales: bool = False) -> None:
    p.add_argument("--family", default="yolov12", choices=registry.FAMILIES)
    p.add_argument("--task", default="detect", choices=list(registry.TASKS))
    p.add_argument("--hierarchy", default="full", choices=registry.HIERARCHIES)
    if many_scales:
        add_scales(p)
    else:
        p.add_argument("--scale", default="n", choices=registry.SCALES)
    p.add_argument("--nc", type=positive_int, default=None, help="number of classes (default: the definition's)")
    p.add_argument("--knob", type=parse_knob, action="append", default=[], metavar="NAME=VALUE",
                   help="architecture knob, repeatable (see 'yolov12 models')")


def add_scales(p: argparse.ArgumentParser, default=registry.SCALES) -> None:
    p.add_argument("--scales", "--scale", nargs="+", default=list(default), choices=registry.SCALES, metavar="SCALE",
                   dest="scales", help=f"scales ({' '.join(registry.SCALES)})")


def add_devices(p: argparse.ArgumentParser, default=("cpu",)) -> None:
    p.add_argument("--devices", "--device", nargs="+", default=list(default), metavar="DEVICE", dest="devices",
                   help="torch devices: cpu, cuda:0, ...")


def add_ablations_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ablations-dir", default="ablations", help="folder of the study files (<study>.yaml)")


def example(text: str) -> str:
    return f"example:\n  {text}"
