"""A calibration: what one job costs on some hardware, in a handful of measured numbers (docs/cost.md).

Two sources: the probe (``yolov12 workflow plan --calibrate``, measured on this machine, cached under
``~/.cache/yolov12/cost/`` or ``$YOLOV12_COST_CACHE``) and hand-written files for a cluster's GPU type
(``workflows/calibration/<name>.yaml``). Both have the same keys; a key that is absent is a cost the plan cannot
predict, and the plan says so instead of counting it as zero. No torch here.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from ...errors import UserError
from ...registry import SCALES
from ...report.benchmarks import KINDS  # the kinds a run's benchmark files hold

PER_SCALE = ("train_s_per_image", "eval_s_per_image", "infer_s_per_image", "complexity_s_per_model")
# a timing session's own costs (yolov12.latency.session): each fresh process's start (interpreter, torch,
# Ultralytics) and each cell's fixed part in a process (model build, correctness gate, kernel profile)
SESSION_KEYS = ("startup", "per_cell")
KEYS = {"name": str, "source": str, "device": str, "ref_imgsz": int, "infer_imgsz": int, "gpus": int, "threads": int,
        **{k: dict for k in PER_SCALE}, "session_s": dict, "overhead_s": dict, "peak_rss_mb": dict,
        "weights_bytes_per_param": (int, float),
        "params": dict}
CACHE_ENV = "YOLOV12_COST_CACHE"
REQUIRED = ("name", "source", "device", "ref_imgsz", "train_s_per_image")


def cache_dir() -> Path:
    """Where the probe keeps its calibration: ``$YOLOV12_COST_CACHE``, or ``yolov12/cost`` in the user's cache
    folder (``$XDG_CACHE_HOME``, else ``~/.cache``), as the suite's other caches."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "yolov12" / "cost"


def host_key() -> str:
    """One cached calibration per machine and core count (a probe on another machine says nothing about this one)."""
    return f"{platform.node() or 'host'}-{os.cpu_count()}cpu".replace("/", "_")


def cached_path() -> Path:
    return cache_dir() / f"{host_key()}.json"


def validate(cal: Any, source: str) -> dict[str, Any]:
    """A calibration checked key by key; a bad one is refused in one line naming the file and the key."""
    if not isinstance(cal, dict):
        raise UserError("a calibration is a mapping", file=source, allowed=", ".join(KEYS))
    for key in cal:
        if key not in KEYS:
            raise UserError("unknown key", file=source, key=key, allowed=", ".join(KEYS))
    for key in REQUIRED:
        if key not in cal:
            raise UserError("missing", file=source, key=key, allowed=f"the keys {', '.join(REQUIRED)} are required")
    for key, kind in KEYS.items():
        if key in cal and not isinstance(cal[key], kind):
            raise UserError(f"wrong type {type(cal[key]).__name__}", file=source, key=key, allowed=str(kind))
    for key in PER_SCALE + ("params",):
        for scale, value in (cal.get(key) or {}).items():
            if scale not in SCALES:
                raise UserError("unknown scale", file=source, key=f"{key}.{scale}", allowed=SCALES)
            _positive(value, source, f"{key}.{scale}")
    for part, value in (cal.get("session_s") or {}).items():
        if part not in SESSION_KEYS:
            raise UserError("unknown part of a timing session", file=source, key=f"session_s.{part}",
                            allowed=SESSION_KEYS)
        _positive(value, source, f"session_s.{part}", zero_ok=True)
    for key in ("overhead_s", "peak_rss_mb"):
        for kind, value in (cal.get(key) or {}).items():
            if kind not in KINDS:
                raise UserError("unknown job kind", file=source, key=f"{key}.{kind}", allowed=KINDS)
            _positive(value, source, f"{key}.{kind}", zero_ok=True)
    return cal


def _positive(value: Any, source: str, key: str, zero_ok: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not zero_ok):
        raise UserError(f"{value!r} is not a {'non-negative' if zero_ok else 'positive'} number", file=source, key=key,
                        allowed="seconds, megabytes or counts as numbers")


def load(name_or_path: str | None, basedir: str | Path = ".") -> dict[str, Any]:
    """The calibration to plan with: a file, a name under workflows/calibration/, or (None) this machine's cached
    probe. None and nothing cached: a UserError that says how to make one."""
    from ...yamlio import load_yaml

    if name_or_path is None:
        path = cached_path()
        if not path.exists():
            raise UserError("no calibration for this machine yet", file=str(path), key="--calibrate",
                            allowed="yolov12 workflow plan --calibrate (a probe of a few minutes), or --gpu-type "
                                    "<name of workflows/calibration/*.yaml or a file>")
        return validate(json.loads(path.read_text()), str(path))
    path = Path(name_or_path)
    if not path.exists():
        path = Path(basedir) / "workflows" / "calibration" / f"{name_or_path}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (Path(basedir) / "workflows" / "calibration").glob("*.yaml"))
        raise UserError("no such calibration", file=name_or_path, key="--gpu-type", allowed=known or "a YAML file")
    return validate(load_yaml(path, "calibration"), str(path))


def save(cal: dict[str, Any]) -> Path:
    from ...io import write_text

    path = cached_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(validate(cal, str(path)), indent=1, sort_keys=True) + "\n")
    return path


def per_image(cal: dict[str, Any], key: str, scale: str, imgsz: int) -> float | None:
    """Seconds per image of ``key`` at ``scale`` and ``imgsz``: the calibrated value scaled by the pixel count
    (a convolutional network's work grows with the area; attention's token count does too, and the area split
    keeps its cost linear in it). Inference may be measured at its own size (``infer_imgsz``: the timing size, as a
    batch-1 forward at a small size is mostly fixed per-layer cost and scales badly to 640). None: not calibrated
    for that scale."""
    value = (cal.get(key) or {}).get(scale)
    ref = cal.get("infer_imgsz", cal["ref_imgsz"]) if key == "infer_s_per_image" else cal["ref_imgsz"]
    return None if value is None else float(value) * (imgsz / ref) ** 2


def fingerprint() -> str:
    """The cached probe's content hash ("none" without one): the workflow's prediction reruns when it changes."""
    import hashlib

    path = cached_path()
    return hashlib.sha1(path.read_bytes()).hexdigest()[:12] if path.exists() else "none"
