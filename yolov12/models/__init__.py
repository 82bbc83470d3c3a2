"""Registry of YOLOv12 model definitions and the API that builds any knob combination.

Definitions are YAML files in ``yolov12/models/cfg`` (Ultralytics format, plus a ``knobs:`` mapping). A model is
named by family (``yolov12`` = paper v1.0, ``yolov12-turbo``), task, scale and hierarchy; any knob of
``yolov12.nn.knobs.Knobs`` can be set on top. ``write_model_yaml`` writes the resolved definition to a file whose
name carries the scale (Ultralytics reads the scale from the file name), so the result is an ordinary Ultralytics
model file: ``YOLO(path)`` trains, validates, predicts and exports it.

Light: this module imports neither torch nor Ultralytics at module level (the workflow's parse calls
``model_yaml``); ``build`` / ``torch_model`` / ``match_params`` import them when called.
"""

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
__all__ = ["CFG_DIR", "FAMILIES", "HIERARCHIES", "SCALES", "TASKS", "build", "definition", "definition_name",
           "list_definitions", "match_params", "model_yaml", "torch_model", "variant_tag", "write_model_yaml"]


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


def _register() -> None:
    """Our modules known to Ultralytics' parser (importing the blocks registers them; idempotent)."""
    from ..nn import blocks  # noqa: F401


def build(family: str = "yolov12", scale: str = "n", task: str = "detect", hierarchy: str = "full",
          nc: int | None = None, verbose: bool = False, **knobs: Any):
    """An Ultralytics ``YOLO`` model object for the given definition and knobs (randomly initialised)."""
    _register()
    from ultralytics import YOLO

    path = write_model_yaml(family, scale, task, hierarchy, nc, **knobs)
    return YOLO(str(path), task=task, verbose=verbose)


def torch_model(family: str = "yolov12", scale: str = "n", task: str = "detect", hierarchy: str = "full",
                nc: int | None = None, verbose: bool = False, **knobs: Any):
    """The bare ``torch.nn.Module`` (Ultralytics ``DetectionModel`` etc.) without the YOLO wrapper."""
    _register()
    from ultralytics.nn.tasks import ClassificationModel, DetectionModel, OBBModel, PoseModel, SegmentationModel

    d = model_yaml(family, scale, task, hierarchy, nc, **knobs)
    cls = {"detect": DetectionModel, "segment": SegmentationModel, "pose": PoseModel, "classify": ClassificationModel,
           "obb": OBBModel}[task]
    return cls(copy.deepcopy(d), verbose=verbose)


def match_params(family: str = "yolov12", scale: str = "l", task: str = "detect", hierarchy: str = "full",
                 knobs: dict[str, Any] | None = None, baseline: dict[str, Any] | None = None, **kw: Any):
    """The ``attn_width`` that brings a variant's BN-fused params closest to its baseline's (paper Table 5g).

    See ``yolov12.models.match.match_params``; imports torch when called.
    """
    from .match import match_params as _match

    return _match(family, scale, task, hierarchy, knobs=knobs, baseline=baseline, **kw)
