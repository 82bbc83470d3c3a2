"""The rates a job's predicted time is built from: how many images a task's data hold, and seconds measured on the
calibration's cores / devices scaled to a job's own (docs/cost.md). Used by each kind's ``cost`` hook
(``yolov12.workflow.kinds``) and the cost model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...registry import REAL_DATA, TASK_TABLE
from .calibration import per_image  # noqa: F401  (the kinds' per-image rate, from here with the others)

if TYPE_CHECKING:
    from ..plan import Plan


def images(plan: Plan, task: str) -> tuple[int, int] | None:
    """(train, val) images of a task's data; None when unknown (DOTA: its split is the user's)."""
    data = plan.config["data"]
    if data["kind"] == "synthetic":
        s = data["synthetic"]
        return s["n_train"], s["n_val"]
    return REAL_DATA[TASK_TABLE[task].real_data].images


def applies(cal: dict[str, Any], res: dict[str, int]) -> bool:
    """Whether a calibration's per-image rates speak of a job with these resources: a GPU calibration says nothing
    about a CPU job, and the reverse."""
    return (cal["device"] != "cpu") == (res["gpus"] > 0)


def scaled(cal: dict[str, Any], seconds: float, cpus: int, gpus: int, train: bool = False) -> float:
    """Time on the job's own cores / devices, assuming it divides linearly (optimistic for CPU cores, near the truth
    for data-parallel GPUs with a full batch). The calibration's ``gpus`` are those of its training numbers; its
    eval numbers are per single device."""
    if cal["device"] == "cpu":
        return seconds * cal.get("threads", 1) / max(cpus, 1)
    return seconds * (cal.get("gpus", 1) if train else 1) / max(gpus, 1)
