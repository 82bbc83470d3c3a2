"""The export job: one per architecture, in its folder. It makes the files the latency matrix times (or one ONNX
file) and scores each beside eager (yolov12.workflow.artifact_link)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import artifacts
from ..cost.rates import images, per_image, scaled

if TYPE_CHECKING:
    from ..plan import Plan
    from ..studies import Run

RESULT_BYTES = 20_000


def identity(plan: Plan, run_dir: str) -> dict[str, Any]:
    return artifacts.export_identity(plan, run_dir, plan.runs)


def resources(plan: Plan, res: dict[str, int]) -> dict[str, int]:
    if any(f["device"] == "cuda" for files in plan.timed_files.values() for f in files):
        res["gpus"] = max(res["gpus"], 1)  # a CUDA file (TensorRT engine, fp16 ONNX) is made on a GPU
    return res


def context(spec: dict[str, Any], device: str, train: str | None) -> None:
    if train:  # the training whose weights this architecture's export carries
        spec["train_result"] = train


def inputs(plan: Plan, run_dir: str) -> dict[str, str]:
    """The training whose weights it carries, and its data (the files are scored on the val split)."""
    run = plan.exported_training(run_dir)
    if not run:
        return {}
    return {"data": plan.dataset(run.task)["manifest"], "train": plan.result_path("train", run.run_dir)}


def sizes(plan: Plan, run: Run) -> dict[str, tuple[list[tuple[int, int]], tuple[str, str]]]:
    """At the timing size when the latency matrix times its files (artifacts.export_identity)."""
    if "export" in plan.kinds(run.model_dir):
        size = plan.identity("export", run.model_dir)["imgsz"]
        key = "latency.imgsz" if plan.timed_files.get(run.model_dir) else "export.imgsz"
    else:
        size, key = plan.config["export"]["imgsz"], "export.imgsz"
    return {"export": ([(size, size)], (plan.source, key))}


def cost(plan: Plan, cal: dict[str, Any], run: Run, run_dir: str, res: dict[str, int]):
    """Each file scored beside eager on the validation split at the export's size; fp32 weights per file (an fp16
    file is smaller: an upper bound)."""
    ident = plan.identity("export", run_dir)
    files = max(1, len(ident.get("artifacts") or ()))
    params = (cal.get("params") or {}).get(run.scale)
    weights = files * 4 * params if params else 0.0
    if not ident.get("trained"):
        return 0.0, True, weights
    counts = images(plan, run.task)
    eval_img = per_image(cal, "eval_s_per_image", run.scale, int(ident["imgsz"]))
    if counts is None or eval_img is None:
        return 0.0, False, weights
    return scaled(cal, (1 + files) * counts[1] * eval_img, res["cpus"], res["gpus"]), True, weights
