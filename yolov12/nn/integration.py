"""Teach Ultralytics' YAML parser our modules, without touching Ultralytics' files.

Ultralytics resolves a module name in ``ultralytics.nn.tasks``' namespace and width-scales / repeats only the
classes listed inside ``parse_model``. ``register()`` (run on ``import yolov12``) does two things:

1. puts ``RELAN`` into that namespace, so a YAML row may name it;
2. wraps ``tasks.parse_model``: for a definition that uses RELAN, the name ``A2C2f`` is bound to RELAN for the
   duration of the parse, so the parser's own A2C2f rules (width scaling, repeats, the L/X residual and MLP ratio)
   apply to it unchanged; and the definition's ``knobs`` are put in force for the modules it builds.

Checkpoints pickle the module objects (``yolov12.nn.blocks.RELAN``), so unpickling imports this package, which
registers again: a checkpoint saved by one process reloads and rebuilds from its YAML in a fresh one.
"""

from __future__ import annotations

import threading

from ultralytics.nn import tasks

from . import knobs as K
from .blocks import RELAN

OUR_MODULES = {"RELAN": RELAN}
_lock = threading.RLock()
_original_parse_model = None


def uses_our_modules(d: dict) -> bool:
    rows = (d.get("backbone") or []) + (d.get("head") or [])
    return any(isinstance(r, (list, tuple)) and len(r) > 2 and r[2] in OUR_MODULES for r in rows)


def parse_model(d, ch, verbose=True):
    """``tasks.parse_model`` with RELAN treated as A2C2f and the definition's knobs in force."""
    if not uses_our_modules(d):
        return _original_parse_model(d, ch, verbose)
    knobs = K.resolve(d, where=str(d.get("yaml_file") or "model definition"))
    with _lock, K.using(knobs):
        saved = tasks.A2C2f
        tasks.A2C2f = RELAN
        try:
            return _original_parse_model(d, ch, verbose)
        finally:
            tasks.A2C2f = saved


def register() -> None:
    """Idempotent: safe to call from every entry point."""
    global _original_parse_model
    with _lock:
        for name, cls in OUR_MODULES.items():
            setattr(tasks, name, cls)
        if getattr(tasks.parse_model, "__yolov12__", False):
            return
        _original_parse_model = tasks.parse_model
        parse_model.__yolov12__ = True
        tasks.parse_model = parse_model


def registered() -> bool:
    return getattr(tasks.parse_model, "__yolov12__", False) and all(hasattr(tasks, n) for n in OUR_MODULES)
