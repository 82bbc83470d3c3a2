"""What the workflow checks before the first job: Ultralytics train keys and the model shapes at every size where a
model will run. Light: reads Ultralytics' default.yaml as a file (without importing Ultralytics) and computes
shapes from the definitions (``yolov12.models.shapes``), without torch.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..yamlio import load_yaml

if TYPE_CHECKING:
    from .plan import Plan
    from .studies import Run

OURS = ("max_loss", "epochs_scale")  # train overrides the suite handles itself
SET_BY_THE_SUITE = ("data", "project", "name", "exist_ok", "resume", "model", "device", "seed")


@lru_cache(maxsize=1)
def ultralytics_train_keys() -> frozenset[str]:
    """The keys of Ultralytics' own configuration (ultralytics/cfg/default.yaml), read without importing it."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("Ultralytics is not installed", key="ultralytics", allowed="pip install -e .")
    path = Path(list(spec.submodule_search_locations)[0]) / "cfg" / "default.yaml"
    return frozenset(load_yaml(path, "Ultralytics default configuration"))


def _check_keys(args: dict[str, Any], source: str, key: str, ours: tuple[str, ...] = ()) -> None:
    allowed = ultralytics_train_keys()
    for name in args:
        if name in SET_BY_THE_SUITE:
            raise UserError("is set by the suite for every job, not by a recipe", file=source, key=f"{key}.{name}",
                            allowed="any other Ultralytics train argument")
        if name not in allowed and name not in ours:
            close = sorted(k for k in allowed if _near(name, k))
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UserError(f"is not an Ultralytics train argument{hint}", file=source, key=f"{key}.{name}",
                            allowed="the keys of ultralytics/cfg/default.yaml" + (f" or {', '.join(ours)}"
                                                                                   if ours else ""))


def _near(a: str, b: str) -> bool:
    """One edit apart (a typo such as 'nbss' for 'nbs')."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def check_train_keys(config: dict[str, Any], source: str) -> None:
    train = config["train"]
    _check_keys(train["recipe"], source, "train.recipe")
    for scale, args in train["per_scale"].items():
        _check_keys(args, source, f"train.per_scale.{scale}")
    for task, args in train["per_task"].items():
        _check_keys(args, source, f"train.per_task.{task}")


def check_overrides(run: Run, source: str) -> None:
    _check_keys(run.train, run.source, f"variants.{run.variant}.train", OURS)


def model_sizes(plan: Plan, run: Run) -> dict[str, list[tuple[int, int]]]:
    """Every (h, w) input the run's model will see, by use: train, rect-padded validation, latency, export,
    complexity. Validation on a real dataset of unknown aspect ratios covers every shape rect batching can give."""
    from ..models import model_yaml, shapes

    c = plan.config
    kinds = plan.kinds(run.run_dir) + plan.kinds(run.model_dir)  # its training's folder and its architecture's
    sizes: dict[str, list[tuple[int, int]]] = {}
    if "train" in kinds:
        imgsz = plan.eval_imgsz(run)
        sizes["train"] = [(imgsz, imgsz)]
        grid = max(32, shapes.max_stride(model_yaml(run.family, run.scale, run.task, run.hierarchy), run.scale))
        if c["data"]["kind"] == "synthetic" and run.task != "classify":
            syn = c["data"]["synthetic"]
            image = (syn["height"] or syn["imgsz"], syn["imgsz"])
            sizes["val (rect-padded)"] = shapes.val_shapes(imgsz, [image], grid)
        elif run.task != "classify":  # a real dataset: every aspect ratio can occur
            sizes["val (rect-padded, any aspect ratio)"] = shapes.val_shapes_any_ratio(imgsz, grid)
    if "latency" in kinds:
        sizes["latency"] = [(c["latency"]["imgsz"], c["latency"]["imgsz"])]
    if "export" in kinds:
        sizes["export"] = [(c["export"]["imgsz"], c["export"]["imgsz"])]
    if "complexity" in kinds:
        sizes["complexity"] = [(c["complexity"]["imgsz"], c["complexity"]["imgsz"])]
    return sizes


# the config key behind each use's image size (a size that is not a stride multiple is the config's fault)
SIZE_KEYS = {"train": "train.imgsz", "latency": "latency.imgsz", "export": "export.imgsz",
             "complexity": "complexity.imgsz"}


def check_shapes(plan: Plan, runs: list[Run]) -> None:
    """Area counts and head_dim against every size where each distinct model runs, from the definitions. A size
    no model of that family can take is the config's error; an area count or head_dim the sizes do not allow is the
    variant's (named by its study file)."""
    from ..models import shapes

    seen = set()
    for run in runs:
        if run.run_dir in seen or run.peer:  # a peer is Ultralytics' own model: nothing of ours to check
            continue
        seen.add(run.run_dir)
        for use, sizes in model_sizes(plan, run).items():
            try:
                shapes.check_model(run.family, run.scale, run.task, run.hierarchy, run.knobs, {use: sizes},
                                   where=f"{run.source}: variants.{run.variant} (scale {run.scale})")
            except UserError as e:
                if "max stride" not in e.what:
                    raise
                key = SIZE_KEYS.get(use.split(" ")[0], "train.imgsz")
                raise UserError(e.what, file=plan.source, key=key, allowed=e.allowed) from None
