"""The evaluation job: one per training, in its folder, after it (its weights, the COCO toolkit on the val split)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...registry import JOB_KINDS

from .. import identity as ident
from ..cost.rates import applies, images, per_image, scaled
from .train import inputs  # noqa: F401  (the same data manifest as its training)

if TYPE_CHECKING:
    from ..plan import Plan
    from ..studies import Run

RESULT_BYTES = 60_000


def identity(plan: Plan, run_dir: str) -> dict[str, Any]:
    run = plan.groups[run_dir][0]
    train = plan.train_identity(run)
    return ident.canonical({"job": "evaluate", "model": train["model"], "trained": train,
                            "settings": dict(plan.config["evaluate"]), "imgsz": plan.eval_imgsz(run),
                            "dataset": train["dataset"]})


def context(spec: dict[str, Any], device: str, train: str | None) -> None:
    spec["device"] = device
    spec["train_result"] = train or str(Path(spec["run_dir"]) / JOB_KINDS["train"].result)


def folder_identity(ident: dict[str, Any]) -> dict[str, Any]:
    return ident["trained"]  # the training's folder


def cost(plan: Plan, cal: dict[str, Any], run: Run, run_dir: str, res: dict[str, int]):
    if not applies(cal, res):
        return None
    counts = images(plan, run.task)
    eval_img = per_image(cal, "eval_s_per_image", run.scale, plan.eval_imgsz(run))
    if counts is None or eval_img is None:
        return 0.0, False, 0.0
    return scaled(cal, counts[1] * eval_img, res["cpus"], res["gpus"]), True, 0.0
