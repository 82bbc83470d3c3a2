"""YOLOv12 benchmarking & ablation suite: a knob-complete YOLOv12 model family on Ultralytics.

Importing the package does nothing else: no setting changes, no Ultralytics import. The model API is loaded on
first use (``yolov12.build``, ``yolov12.torch_model``, ...), which registers our modules with Ultralytics' YAML parser
(additive: it changes only how definitions that name our modules are parsed). The suite's own commands and jobs
configure offline behaviour for themselves (``yolov12.offline``).
"""

from __future__ import annotations

import importlib
import logging
from importlib import metadata

# the library convention: our loggers (children of "yolov12") print nothing until a program configures logging; the
# command line does (yolov12.logs.configure), the root logger is never touched here
logging.getLogger(__name__).addHandler(logging.NullHandler())

try:  # one version, pyproject.toml's: the installed distribution's metadata
    __version__ = metadata.version("yolov12-suite")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_LAZY = {
    "build": "yolov12.models", "torch_model": "yolov12.models", "definition": "yolov12.models",
    "list_definitions": "yolov12.models", "model_yaml": "yolov12.models", "write_model_yaml": "yolov12.models",
    "match_params": "yolov12.models", "register": "yolov12.nn.blocks", "Knobs": "yolov12.nn.knobs",
    "register_runtime": "yolov12.registry",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'yolov12' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    if _LAZY[name] == "yolov12.models":
        from .nn.blocks import register

        register()
    return getattr(module, name)
