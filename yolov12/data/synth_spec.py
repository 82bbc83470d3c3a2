"""The arguments of a synthetic dataset, checked; no NumPy or PIL, so the command line can build its parser from it."""

from __future__ import annotations

import dataclasses

from ..errors import UserError
from ..registry import TASK_TABLE, Task
from ..settings import SYNTHETIC

TASKS = TASK_TABLE  # every task of the suite has a synthetic set, drawn in its row's label format
SHAPES = ("circle", "square", "triangle", "hexagon", "star", "cross", "diamond", "pentagon")


@dataclasses.dataclass(frozen=True)
class SynthSpec:
    task: str = "detect"
    n_train: int = SYNTHETIC.n_train  # the synthetic settings' defaults (yolov12.settings), as the config's
    n_val: int = SYNTHETIC.n_val
    imgsz: int = SYNTHETIC.imgsz  # image width (and height, unless ``height`` is given)
    height: int | None = SYNTHETIC.height
    nc: int = SYNTHETIC.nc
    max_objects: int = SYNTHETIC.max_objects
    seed: int = SYNTHETIC.seed

    def __post_init__(self):
        # keys are the command-line flags of 'yolov12 data synth', which builds this spec from them
        if self.task not in TASK_TABLE:
            raise UserError(f"task {self.task!r} is not known", key="--task", allowed=list(TASK_TABLE))
        for name in ("n_train", "n_val", "imgsz", "nc", "max_objects", "seed"):
            value = getattr(self, name)
            low = 0 if name == "seed" else 1
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise UserError(f"{name} = {value!r}", key=f"--{name.replace('_', '-')}",
                                allowed=f"integers >= {low}")
        for name in ("imgsz", "height"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 32):
                raise UserError(f"{name} = {value!r} is too small to draw shapes on", key=f"--{name}",
                                allowed="integers >= 32")
        if not self.row.keypoints and not 1 <= self.nc <= len(SHAPES):
            raise UserError(f"nc = {self.nc}: there is one class per shape", key="--nc",
                            allowed=f"1..{len(SHAPES)}")

    @property
    def row(self) -> Task:
        return TASK_TABLE[self.task]

    @property
    def wh(self) -> tuple[int, int]:
        return self.imgsz, self.height or self.imgsz

    @property
    def names(self) -> list[str]:
        return ["star"] if self.row.keypoints else list(SHAPES[: self.nc])  # keypoints: the tips of one star
