"""What a latency or complexity measurement runs: a model of our registry, a peer defined by Ultralytics, or a
trained checkpoint."""

from __future__ import annotations

import contextlib
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn


@dataclass
class ModelSpec:
    """A model of the registry (family / scale / task / hierarchy / nc / knobs), an Ultralytics model definition
    (``ultralytics="yolov9t.yaml"``: a peer of paper Table 4, built from its YAML with random weights), or a
    checkpoint (.pt)."""

    family: str = "yolov12"
    scale: str = "n"
    task: str = "detect"
    hierarchy: str = "full"
    nc: int | None = None
    knobs: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    ultralytics: str | None = None

    def __post_init__(self):
        from ..errors import UserError

        if self.checkpoint and self.ultralytics:
            raise UserError("a model is a checkpoint or an Ultralytics definition, not both", key="ultralytics",
                            allowed="one of checkpoint, ultralytics")
        if self.ultralytics and self.knobs:
            raise UserError("knobs apply to this suite's YOLOv12 family, not to an Ultralytics definition",
                            key="knobs", allowed="{} with ultralytics=...")
        if self.ultralytics and not str(self.ultralytics).endswith((".yaml", ".yml")):
            raise UserError(f"{self.ultralytics!r} is not a model definition; weights are never downloaded",
                            key="ultralytics", allowed="an Ultralytics model YAML name, e.g. yolov9t.yaml")

    @property
    def name(self) -> str:
        if self.checkpoint:
            return Path(self.checkpoint).stem
        if self.ultralytics:
            return Path(self.ultralytics).stem
        from ..models import definition_name

        base = definition_name(self.family, self.task, self.hierarchy).replace("yolov12", f"yolov12{self.scale}", 1)
        knobs = ",".join(f"{k}={v}" for k, v in sorted(self.knobs.items()))
        return base + (f"[{knobs}]" if knobs else "")

    def build(self) -> nn.Module:
        """fp32 model on the CPU in eval mode (random weights for a registry spec or an Ultralytics definition)."""
        if self.checkpoint:
            return self._load_checkpoint()
        if self.ultralytics:
            return self._build_ultralytics()
        from ..models import torch_model

        return torch_model(self.family, self.scale, self.task, self.hierarchy, self.nc, **self.knobs).float().eval()

    def _load_checkpoint(self) -> nn.Module:
        from ..errors import UserError

        path = Path(self.checkpoint)
        if not path.is_file():
            raise UserError("the checkpoint does not exist", file=path, allowed="a .pt file written by training")
        if self.knobs:
            raise UserError("knobs cannot be applied to a checkpoint (its architecture is fixed); the attention "
                            "backend can be chosen with backends=[...]", file=path, key="knobs")
        from ultralytics.nn.tasks import load_checkpoint

        try:
            model, ckpt = load_checkpoint(str(path), device=torch.device("cpu"))
        except Exception as e:  # noqa: BLE001  (a library error, translated at our boundary)
            raise UserError(f"cannot be loaded as an Ultralytics checkpoint: {type(e).__name__}: {e}",
                            file=path) from e
        self.task = getattr(model, "task", None) or ckpt.get("train_args", {}).get("task", "detect")
        return model.float().eval()

    def _build_ultralytics(self) -> nn.Module:
        from ..errors import UserError

        from ultralytics.nn.tasks import guess_model_task, yaml_model_load

        try:
            cfg = yaml_model_load(self.ultralytics)
        except Exception as e:  # noqa: BLE001
            raise UserError(f"Ultralytics has no such model definition ({type(e).__name__}: {e})",
                            key="ultralytics", allowed="a YAML under ultralytics/cfg/models, e.g. yolov9t.yaml") from e
        self.task = guess_model_task(cfg)
        from ..registry import TASK_TABLE

        if self.task not in TASK_TABLE:
            raise UserError(f"{self.ultralytics} is a {self.task} model, a task the suite does not measure",
                            key="ultralytics", allowed=list(TASK_TABLE))
        cls = TASK_TABLE[self.task].resolve("model")
        with contextlib.redirect_stdout(io.StringIO()):
            model = cls(cfg, nc=self.nc, verbose=False)
        return model.float().eval()

    def as_dict(self) -> dict:
        if self.checkpoint:
            return {"checkpoint": self.checkpoint, "task": self.task, "name": self.name}
        if self.ultralytics:
            return {"ultralytics": self.ultralytics, "task": self.task, "nc": self.nc, "name": self.name}
        return {**asdict(self), "name": self.name}


def as_spec(model) -> ModelSpec | None:
    """A ModelSpec from a spec, a dict of its fields, a checkpoint path or an Ultralytics YAML name; None for a
    module (measured as it is)."""
    if model is None:
        return ModelSpec()
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, dict):
        return ModelSpec(**model)
    if isinstance(model, (str, Path)):
        s = str(model)
        return ModelSpec(ultralytics=s) if s.endswith((".yaml", ".yml")) else ModelSpec(checkpoint=s)
    return None
