"""YOLOv12 benchmarking & ablation suite: a knob-complete YOLOv12 model family on Ultralytics.

Importing this package first sets offline defaults (see ``yolov12.offline``), then registers the model modules
with Ultralytics' YAML parser (see ``yolov12.nn.integration``).
"""

from . import offline as _offline

_offline.set_environment()

from .nn import integration as _integration  # noqa: E402  (ultralytics must be imported after set_environment)

_integration.register()
_offline.configure_ultralytics()

from .models import build, definition, list_definitions, model_yaml, write_model_yaml  # noqa: E402
from .nn.knobs import Knobs  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Knobs", "build", "definition", "list_definitions", "model_yaml", "write_model_yaml"]
