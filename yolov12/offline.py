"""Offline-by-default settings for Ultralytics and MLflow.

Must run before ``ultralytics`` is first imported (``yolov12/__init__.py`` does this first thing): Ultralytics reads
``YOLO_OFFLINE`` (skips its DNS reachability probe at import), ``YOLO_AUTOINSTALL`` (no runtime pip installs) and
``YOLO_CONFIG_DIR`` (its settings file and font cache) at import time. Every variable is only a default: a value the
user already exported wins.

What each setting prevents:
- ``YOLO_OFFLINE=1``: the import-time connectivity probe, update checks and everything gated on ``ONLINE``.
- ``YOLO_AUTOINSTALL=false``: ``pip install`` of missing requirements at run time (export, etc.).
- ``YOLO_CONFIG_DIR`` -> a directory of this suite: Ultralytics' settings live there, with ``sync`` (analytics)
  and every logger integration (MLflow included: the suite logs MLflow runs itself) switched off, and the
  ``Arial.ttf`` / ``Arial.Unicode.ttf`` plot fonts provided from matplotlib's bundled DejaVu Sans so they are never
  fetched.
- ``MLFLOW_DISABLE_TELEMETRY`` / ``DO_NOT_TRACK``: MLflow's usage telemetry.
- Ultralytics' AMP check on CUDA downloads ``yolo26n.pt`` to compare FP32 and AMP outputs. ``install_amp_check()``
  points the trainer at ``local_amp_check``, which does the same comparison on the model being trained.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV_DEFAULTS = {
    "YOLO_OFFLINE": "1",
    "YOLO_AUTOINSTALL": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "YOLO_VERBOSE": os.environ.get("YOLO_VERBOSE", "true"),
}
ULTRALYTICS_SETTINGS = {
    "sync": False,
    "hub": False,
    "mlflow": False,
    "tensorboard": False,
    "wandb": False,
    "comet": False,
    "clearml": False,
    "dvc": False,
    "neptune": False,
    "raytune": False,
    "platform": False,
}
FONTS = ("Arial.ttf", "Arial.Unicode.ttf")


def default_config_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "yolov12" / "ultralytics"


def set_environment() -> None:
    """Environment defaults; call before importing ultralytics."""
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if "YOLO_CONFIG_DIR" not in os.environ:
        path = default_config_dir()
        path.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(path)


def provide_fonts(config_dir: Path) -> None:
    """Copy matplotlib's DejaVu Sans to the names Ultralytics would otherwise download."""
    import matplotlib

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in FONTS:
        target = config_dir / name
        if not target.exists():
            tmp = target.with_suffix(f".tmp{os.getpid()}")
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)


def configure_ultralytics() -> None:
    """Settings that need ultralytics imported (its settings file, fonts, the AMP check)."""
    from ultralytics.utils import SETTINGS, USER_CONFIG_DIR

    stale = {k: v for k, v in ULTRALYTICS_SETTINGS.items() if k in SETTINGS and SETTINGS[k] != v}
    if stale:
        SETTINGS.update(stale)
    provide_fonts(Path(USER_CONFIG_DIR))
    install_amp_check()


def local_amp_check(model) -> bool:
    """Ultralytics' AMP sanity check without its download: FP32 vs autocast on the model itself.

    Returns False (AMP off) on CPU/MPS or when the two outputs disagree, as Ultralytics' check does.
    """
    import copy

    import torch

    device = next(model.parameters()).device
    if device.type != "cuda":
        return False
    m = copy.deepcopy(model).eval()
    im = torch.rand(2, 3, 256, 256, device=device)
    with torch.no_grad():
        a = m(im)
        with torch.autocast("cuda"):
            b = m(im)
    a = a[0] if isinstance(a, (list, tuple)) else a
    b = b[0] if isinstance(b, (list, tuple)) else b
    if isinstance(a, dict):  # end-to-end heads return dicts in recent Ultralytics versions
        a, b = next(iter(a.values())), next(iter(b.values()))
    return bool(torch.allclose(a.float(), b.float(), atol=0.5, rtol=0.05))


def install_amp_check() -> None:
    from ultralytics.engine import trainer

    trainer.check_amp = local_amp_check
