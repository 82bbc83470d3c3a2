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

from typing import Any

from .build import build, torch_model
from .definitions import (CFG_DIR, FAMILIES, HIERARCHIES, SCALES, TASKS, definition, definition_name,
                          list_definitions, model_yaml, variant_tag, write_model_yaml)

__all__ = ["CFG_DIR", "FAMILIES", "HIERARCHIES", "SCALES", "TASKS", "build", "definition", "definition_name",
           "list_definitions", "match_params", "model_yaml", "torch_model", "variant_tag", "write_model_yaml"]


def match_params(family: str = "yolov12", scale: str = "l", task: str = "detect", hierarchy: str = "full",
                 knobs: dict[str, Any] | None = None, baseline: dict[str, Any] | None = None, **kw: Any):
    """The ``attn_width`` that brings a variant's BN-fused params closest to its baseline's (paper Table 5g).

    See ``yolov12.models.match.match_params``; imports torch when called.
    """
    from .match import match_params as _match

    return _match(family, scale, task, hierarchy, knobs=knobs, baseline=baseline, **kw)
