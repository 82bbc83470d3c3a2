"""Offline settings for the suite's OWN processes (its commands and workflow jobs), never on ``import yolov12``.

``configure_job_process()`` runs first thing in ``yolov12``'s command line, before Ultralytics is imported. Every
environment variable is only a default (a value the user exported wins), except Ultralytics' settings folder:

- ``YOLO_OFFLINE=1``: no connectivity probe or update check; ``YOLO_AUTOINSTALL=false``: no runtime pip installs;
  ``MLFLOW_DISABLE_TELEMETRY`` / ``DO_NOT_TRACK``: no usage telemetry.
- ``YOLO_CONFIG_DIR`` -> the suite's own folder (``~/.cache/yolov12/ultralytics``), so the user's Ultralytics
  settings file is never read or written by our jobs. In that private settings file, analytics and every logger
  integration are off (the suite logs MLflow itself), and the ``Arial.ttf`` plot fonts are provided from
  matplotlib's DejaVu Sans so they are never fetched. This is applied right after Ultralytics is imported in the
  process (an import hook), so commands that never touch Ultralytics never import it.
- Ultralytics' AMP check (it downloads a model) is replaced by ``local_amp_check`` only for the duration of our own
  trainings (``yolov12.workflow.train.SuiteTrainerMixin``), never globally.

A library user who imports ``yolov12`` gets none of this: plain Ultralytics with our modules registered.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import shutil
import sys
from pathlib import Path

ENV_DEFAULTS = {
    "YOLO_OFFLINE": "1",
    "YOLO_AUTOINSTALL": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
}
ULTRALYTICS_SETTINGS = {
    "sync": False, "hub": False, "mlflow": False, "tensorboard": False, "wandb": False, "comet": False,
    "clearml": False, "dvc": False, "neptune": False, "raytune": False, "platform": False,
}
FONTS = ("Arial.ttf", "Arial.Unicode.ttf")
CONFIG_DIR_ENV = "YOLOV12_ULTRALYTICS_DIR"  # where our jobs keep Ultralytics' settings (default: our cache)


def suite_config_dir() -> Path:
    if os.environ.get(CONFIG_DIR_ENV):
        return Path(os.environ[CONFIG_DIR_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "yolov12" / "ultralytics"


def configure_job_process() -> None:
    """Offline defaults and a private Ultralytics settings folder for this process (and its children)."""
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if "ultralytics" in sys.modules:  # too late to move its settings; leave the process's settings alone
        return
    path = suite_config_dir()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_CONFIG_DIR"] = str(path)
    if not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport("ultralytics.utils", _configure_ultralytics))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``callback(module)`` once, right after the module ``name`` has been imported."""

    def __init__(self, name: str, callback):
        self.name, self.callback = name, callback

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module, callback = spec.loader.exec_module, self.callback

        def exec_then_configure(module):
            exec_module(module)
            callback(module)

        spec.loader.exec_module = exec_then_configure
        return spec


def _configure_ultralytics(utils_module) -> None:
    settings, config_dir = utils_module.SETTINGS, Path(utils_module.USER_CONFIG_DIR)
    ours = suite_config_dir().resolve()
    if config_dir.resolve() != ours and ours not in config_dir.resolve().parents:
        return  # never write a settings file that is not ours (Ultralytics keeps it in <YOLO_CONFIG_DIR>/Ultralytics)
    stale = {k: v for k, v in ULTRALYTICS_SETTINGS.items() if k in settings and settings[k] != v}
    if stale:
        settings.update(stale)
    provide_fonts(config_dir)


def provide_fonts(config_dir: Path) -> None:
    """Copy matplotlib's DejaVu Sans to the names Ultralytics would otherwise download."""
    spec = importlib.util.find_spec("matplotlib")
    source = Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in FONTS:
        target = config_dir / name
        if not target.exists() and source.exists():
            tmp = target.with_suffix(f".tmp{os.getpid()}")
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)


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
