"""Command-line arguments shared by the subcommands, each defined once: model selection, --scales, --devices,
--ablations-dir, and a flag whose default is a setting's (``add_setting``: ``yolov12.settings``, where the workflow
config's schema takes its defaults too). Light (argparse + the registry): building the parser imports neither torch
nor Ultralytics."""

from __future__ import annotations

import argparse

from . import registry
from .settings import LATENCY, SELECTION, Group
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


def int_at_least(low: int):
    """An argparse type: an integer >= ``low`` (the message says which bound)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} must be at least {low}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


MAX_SECONDS = 3600.0  # a timing setting beyond an hour per cell is a typo (the config schema has the same bound)


def seconds(positive: bool = False):
    """An argparse type: a number of seconds, >= 0 (or > 0) and at most an hour."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (0 < value if positive else 0 <= value) or not value <= MAX_SECONDS:  # NaN fails both
            raise argparse.ArgumentTypeError(f"{text} must be a number of seconds {'>' if positive else '>='} 0 "
                                             f"and <= {MAX_SECONDS:g}")
        return value

    parse.__name__ = "seconds"
    return parse


# --out / --json / --csv of each command: a folder or a file. A file where a folder is needed (or the reverse) is
# refused before any work, instead of failing at the end (or writing into the wrong place).
OUT_KINDS = {("yaml", "out"): "folder", ("latency", "out"): "folder", ("report", "out"): "folder",
             ("synth", "out"): "folder", ("coco", "out"): "folder", ("imagenet", "out"): "folder",
             ("val", "out"): "file", ("latency", "json"): "file", ("profile", "json"): "file",
             ("summary", "csv"): "file", ("run", "out"): "file", ("init-store", "out"): "file"}


def check_out_paths(args) -> None:
    """Refuse an output path of the wrong kind (one line naming the flag), before the command does anything."""
    from pathlib import Path

    from .errors import UserError

    command = getattr(args, "data_command", None) or getattr(args, "workflow_command", None) or args.command
    for (cmd, attr), kind in OUT_KINDS.items():
        value = getattr(args, attr, None) if cmd == command else None
        if not value or not isinstance(value, str):
            continue
        path, flag = Path(value), f"--{attr}"
        if value.startswith("-"):
            raise UserError("reads as a command-line flag", file=value, key=flag, allowed=f"a {kind} path")
        if kind == "file" and (path.is_dir() or value.endswith(("/", "\\"))):
            raise UserError("is a folder; a file is needed here", file=value, key=flag, allowed="a file path")
        if kind == "folder" and path.exists() and not path.is_dir():
            raise UserError("is a file; a folder is needed here", file=value, key=flag, allowed="a folder path")
        parent = next((q for q in [path, *path.parents] if q.exists()), None)
        if parent is not None and parent != path and not parent.is_dir():
            raise UserError(f"{parent} is a file, so nothing can be written under it", file=value, key=flag,
                            allowed=f"a {kind} path whose parent folders are folders")


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


def add_setting(p: argparse.ArgumentParser, group: Group, key: str, *flags: str, **kwargs) -> argparse.Action:
    """A flag whose default is the setting ``group.key`` (a list of one where the flag takes several values and the
    setting is one); the action remembers which setting it is (tests/test_settings.py compares every such flag's
    default with the config schema's)."""
    default = getattr(group, key)
    if kwargs.get("nargs") in ("+", "*") and not isinstance(default, list):
        default = [default]
    where = f"the config's {'.'.join((*group.path, key))}"
    kwargs["help"] = f"{kwargs.get('help') or group.help(key) or ''} ({where})".lstrip()
    action = p.add_argument(*(flags or (f"--{key.replace('_', '-')}",)), default=default, **kwargs)
    action.setting = (group.name, key)
    return action


def add_scales(p: argparse.ArgumentParser, default=registry.SCALES) -> None:
    p.add_argument("--scales", "--scale", nargs="+", default=list(default), choices=registry.SCALES, metavar="SCALE",
                   dest="scales", help=f"scales ({' '.join(registry.SCALES)})")


def add_devices(p: argparse.ArgumentParser) -> None:
    add_setting(p, LATENCY, "devices", "--devices", "--device", nargs="+", metavar="DEVICE", dest="devices")


def add_ablations_dir(p: argparse.ArgumentParser) -> None:
    add_setting(p, SELECTION, "ablations_dir", help="folder of the study files (<study>.yaml)")


def example(text: str) -> str:
    return f"example:\n  {text}"
