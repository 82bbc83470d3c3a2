"""The shipped model definitions (``cfg/*.yaml``) and their resolution at a scale with any knobs: light (no torch,
no Ultralytics), used by the workflow's parse, the shape checks and the builders."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ..io import write_text
from ..nn.knobs import KnobError, Knobs, resolve
from ..registry import FAMILIES, HIERARCHIES, SCALES, TASKS
from ..yamlio import load_yaml

CFG_DIR = Path(__file__).parent / "cfg"


def list_definitions() -> list[str]:
    return sorted(p.stem for p in CFG_DIR.glob("*.yaml"))


def definition_name(family: str = "yolov12", task: str = "detect", hierarchy: str = "full") -> str:
    if family not in FAMILIES:
        raise KnobError(f"model family {family!r} is not known", key="family", allowed=list(FAMILIES))
    if task not in TASKS:
        raise KnobError(f"task {task!r} is not known", key="task", allowed=list(TASKS))
    if hierarchy not in HIERARCHIES:
        raise KnobError(f"hierarchy {hierarchy!r} is not known", key="hierarchy", allowed=list(HIERARCHIES))
    if hierarchy != "full":
        if family != "yolov12" or task != "detect":
            raise KnobError(f"hierarchy {hierarchy!r} is defined for family 'yolov12', task 'detect' only (paper "
                            f"Table 5b); got family {family!r}, task {task!r}", key="hierarchy", allowed=["full"])
        return f"yolov12-{hierarchy}"
    return family + TASKS[task]


@cache
def _definition(name: str) -> dict[str, Any]:
    path = CFG_DIR / f"{name}.yaml"
    if not path.is_file():
        raise KnobError(f"no model definition {name!r}", key="definition", allowed=list_definitions())
    return load_yaml(path, "model definition")


def definition(name: str) -> dict[str, Any]:
    """The raw definition dict of a shipped YAML (a fresh copy)."""
    return copy.deepcopy(_definition(name))


def model_yaml(family: str = "yolov12", scale: str = "n", task: str = "detect", hierarchy: str = "full",
               nc: int | None = None, **knobs: Any) -> dict[str, Any]:
    """A resolved definition: the shipped YAML at ``scale`` with every knob explicit (scale defaults folded in)."""
    if scale not in SCALES:
        raise KnobError(f"scale {scale!r} is not known", key="scale", allowed=list(SCALES))
    name = definition_name(family, task, hierarchy)
    d = definition(name)
    d["scale"] = scale
    d["knobs"] = {**(d.get("knobs") or {}), **knobs}
    resolved = resolve(d, where=f"{name} (scale {scale})")  # validates; names the bad key
    d.pop("scale_knobs", None)
    d["knobs"] = resolved.as_dict()
    if nc is not None:
        if not isinstance(nc, int) or nc < 1:
            raise KnobError(f"{nc!r} is not allowed", key="nc", allowed="a positive integer")
        d["nc"] = nc
    d["definition"] = name
    return d


def variant_tag(d: dict[str, Any]) -> str:
    """Short, stable identity of a resolved definition's knobs (and class count), for file and directory names."""
    delta = Knobs.from_mapping(d.get("knobs")).changed()
    if not delta and d.get("nc", 80) == 80:
        return "base"
    blob = json.dumps({"knobs": delta, "nc": d.get("nc")}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "yolov12" / "models"


def write_model_yaml(family: str = "yolov12", scale: str = "n", task: str = "detect", hierarchy: str = "full",
                     nc: int | None = None, directory: str | Path | None = None, **knobs: Any) -> Path:
    """Write the resolved definition as ``<dir>/yolov12<scale>[-...]-<tag>.yaml`` (atomically) and return the path."""
    d = model_yaml(family, scale, task, hierarchy, nc, **knobs)
    stem = d["definition"].replace("yolov12", f"yolov12{scale}", 1)
    directory = Path(directory) if directory else cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}-{variant_tag(d)}.yaml"
    text = yaml.safe_dump({k: v for k, v in d.items() if k != "scale"}, sort_keys=False)
    if not path.exists() or path.read_text() != text:
        write_text(path, text)
    return path
