"""Building models from the definitions: an Ultralytics ``YOLO`` object or the bare torch module. Imports torch and
Ultralytics when called, and registers our modules with Ultralytics' parser first."""

from __future__ import annotations

import copy
from typing import Any

from .definitions import model_yaml, write_model_yaml


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
    from ..registry import task as task_row

    d = model_yaml(family, scale, task, hierarchy, nc, **knobs)  # refuses an unknown task first
    return task_row(task).resolve("model")(copy.deepcopy(d), verbose=verbose)
