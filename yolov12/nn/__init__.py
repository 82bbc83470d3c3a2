"""Model building blocks: area attention, the attention block, R-ELAN, and their Ultralytics integration.

Light on import: ``yolov12.nn.knobs`` (used by the workflow's parse) needs neither torch nor Ultralytics, so the
modules below load on first use. Importing ``yolov12.nn.blocks`` (directly, through an attribute here, or by
unpickling a checkpoint) registers RELAN with Ultralytics' parser; ``yolov12.nn.register()`` does it explicitly,
e.g. before ``YOLO("<cfg>/yolov12s-turbo.yaml")``.
"""

from __future__ import annotations

import importlib

from .knobs import AreaSizeError, BackendUnavailable, KnobError, Knobs

_LAZY = {"AreaAttention": "attention", "Projection": "attention", "AttnBlock": "blocks", "RELAN": "blocks",
         "register": "blocks"}

__all__ = ["RELAN", "AreaAttention", "AreaSizeError", "AttnBlock", "BackendUnavailable", "KnobError", "Knobs",
           "Projection", "register"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
