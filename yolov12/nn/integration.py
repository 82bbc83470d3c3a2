"""Teach Ultralytics' YAML parser our modules, without touching Ultralytics' files or other models.

Ultralytics resolves a module name in ``ultralytics.nn.tasks``' namespace and width-scales / repeats only the
classes listed inside ``parse_model``. ``install()`` (run when ``yolov12.nn.blocks`` is imported, so also when a
checkpoint is unpickled) does two additive things:

1. puts ``RELAN`` into that namespace, so a YAML row may name it;
2. wraps ``tasks.parse_model``: a definition that does not name RELAN goes to Ultralytics' own function unchanged;
   for one that does, the name ``A2C2f`` is bound to RELAN for the duration of the parse, so the parser's own A2C2f
   rules (width scaling, repeats, the L/X residual and MLP ratio) apply to it unchanged, and the definition's
   ``knobs`` are in force for the modules it builds.

Good manners: nothing else of Ultralytics changes (no settings, no other names, no default activation). Every parse
holds one lock, ours and Ultralytics' alike, so another thread's YOLO12 parse never sees the temporary A2C2f
binding. A definition with a Detect-type head gets two one-shot hooks around Ultralytics' build-time stride probe
(a 256x256 zero image), so an area count that does not divide the probe's map does not fail the build (see
``tolerate_stride_probe``); real forwards are checked as always.
"""

from __future__ import annotations

import threading

import torch
from ultralytics.nn import tasks
from ultralytics.nn.modules.head import Detect

from . import knobs as K

_lock = threading.RLock()
_original_parse_model = None
_modules: dict[str, type] = {}  # our module classes by YAML name (installed by yolov12.nn.blocks)
OUR_MODULE_NAMES = ("RELAN",)


def uses_our_modules(d: dict) -> bool:
    rows = (d.get("backbone") or []) + (d.get("head") or [])
    return any(isinstance(r, (list, tuple)) and len(r) > 2 and r[2] in OUR_MODULE_NAMES for r in rows)


def tolerate_stride_probe(layers: torch.nn.Sequential) -> None:
    """Let Ultralytics' stride probe through attention layers whose area count does not divide its map.

    ``DetectionModel.__init__`` (and every Detect subclass: Segment, Pose, OBB) runs one forward of a zero image
    of 256x256 pixels, batch 1, to learn the strides; only output shapes matter there. A pre-hook on the first layer
    recognises exactly that input and marks the attention layers; they record their stride and run that one pass
    with global attention when the area count does not divide the map; a hook on the head clears the mark and
    removes both hooks. Any other forward (another size, batch, content) is checked as usual.
    """
    from .attention import AreaAttention

    attention = [m for m in layers.modules() if isinstance(m, AreaAttention)]
    if not attention or not isinstance(layers[-1], Detect):
        return
    handles = []

    def mark(_module, args):
        x = args[0] if args else None
        if isinstance(x, torch.Tensor) and x.ndim == 4 and x.shape[0] == 1 and not x.any():
            for m in attention:
                m._probe_hw = tuple(x.shape[-2:])

    def clear(*_):
        for m in attention:
            m.__dict__.pop("_probe_hw", None)
        for h in handles:
            h.remove()

    handles.append(layers[0].register_forward_pre_hook(mark))
    handles.append(layers[-1].register_forward_hook(clear))


def parse_model(d, ch, verbose=True):
    """``tasks.parse_model`` with RELAN treated as A2C2f and the definition's knobs in force."""
    with _lock:
        if not uses_our_modules(d):
            return _original_parse_model(d, ch, verbose)
        where = str(d.get("yaml_file") or d.get("definition") or "model definition")
        knobs = K.resolve(d, where=where)
        RELAN = _modules["RELAN"]

        saved = tasks.A2C2f
        tasks.A2C2f = RELAN
        try:
            with K.using(knobs):
                layers, save = _original_parse_model(d, ch, verbose)
        except K.KnobError as e:
            if e.file is None:  # a module's refusal: name the definition it came from (str(e) is built from these)
                e.file, e.key = where, f"knobs.{e.key}" if e.key else None
            raise
        finally:
            tasks.A2C2f = saved
        tolerate_stride_probe(layers)
        return layers, save


def install(modules: dict[str, type]) -> None:
    """Put our module classes into Ultralytics' parser namespace and wrap its parser (idempotent). Called by
    ``yolov12.nn.blocks`` on import, with the classes it defines (this module never imports them)."""
    global _original_parse_model
    with _lock:
        _modules.update(modules)
        for name, cls in modules.items():
            setattr(tasks, name, cls)
        if getattr(tasks.parse_model, "__yolov12__", False):
            return
        _original_parse_model = tasks.parse_model
        parse_model.__yolov12__ = True
        tasks.parse_model = parse_model
