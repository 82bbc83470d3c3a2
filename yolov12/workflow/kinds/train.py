"""The training job: one per training (architecture, recipe, seed), in the training's folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...registry import TASK_TABLE
from ..cost.rates import applies, images, per_image, scaled

if TYPE_CHECKING:
    from ..plan import Plan
    from ..studies import Run

RESULT_BYTES = 400_000  # its result JSON, log, per-epoch CSV, MLflow rows (measured on a default run)
TABLES = {"accuracy": "accuracy.csv", "curves": "curves.csv"}  # what the aggregation makes of it


def identity(plan: Plan, run_dir: str) -> dict[str, Any]:
    return plan.train_identity(plan.groups[run_dir][0])


def context(spec: dict[str, Any], device: str, train: str | None) -> None:
    """Where it runs: Ultralytics' device string of its own devices; mixed precision on a GPU unless set."""
    spec["args"]["device"] = device
    if device != "cpu":
        spec["args"].setdefault("amp", True)


def inputs(plan: Plan, run_dir: str) -> dict[str, str]:
    return {"data": plan.dataset(plan.groups[run_dir][0].task)["manifest"]}


def sizes(plan: Plan, run: Run) -> dict[str, tuple[list[tuple[int, int]], tuple[str, str]]]:
    """The training size, and every shape rect-padded validation gives (a real dataset: any aspect ratio)."""
    from ...models import model_yaml, shapes

    source = imgsz_source(plan, run)
    imgsz = plan.eval_imgsz(run)
    out = {"train": ([(imgsz, imgsz)], source)}
    if TASK_TABLE[run.task].classification:
        return out
    grid = max(32, shapes.max_stride(model_yaml(run.family, run.scale, run.task, run.hierarchy), run.scale))
    if plan.config["data"]["kind"] == "synthetic":
        syn = plan.config["data"]["synthetic"]
        image = (syn["height"] or syn["imgsz"], syn["imgsz"])
        out["val (rect-padded)"] = (shapes.val_shapes(imgsz, [image], grid), source)
    else:
        out["val (rect-padded, any aspect ratio)"] = (shapes.val_shapes_any_ratio(imgsz, grid), source)
    return out


def imgsz_source(plan: Plan, run: Run) -> tuple[str, str]:
    """(file, key) that set the run's training size last: the variant, per_task, per_scale, recipe, train.imgsz."""
    if "imgsz" in run.train:
        return run.source, f"variants.{run.variant}.train.imgsz"
    t = plan.config["train"]
    for key, args in ((f"train.per_task.{run.task}", t["per_task"].get(run.task) or {}),
                      (f"train.per_scale.{run.scale}", t["per_scale"].get(run.scale) or {}),
                      ("train.recipe", t["recipe"])):
        if "imgsz" in args:
            return plan.source, f"{key}.imgsz"
    return plan.source, "train.imgsz"


def aggregate(out, base: dict[str, Any], row: dict[str, Any], files: dict[str, Path]) -> None:
    """Its accuracy row (from its evaluation when there is one: a diverged or not yet evaluated run still says how
    its training ended) and its training curve."""
    from ..aggregate import accuracy_row, curve_rows, load

    train = load(files["train"])
    if train is None:
        return
    ev = load(files["evaluate"])
    source = files["evaluate"] if ev is not None else files["train"]
    out.rows["accuracy"].append(accuracy_row({**base, "results_file": str(source)}, train, ev or {}))
    out.rows["curves"] += curve_rows({**base, "results_file": str(files["train"])}, train)


def cost(plan: Plan, cal: dict[str, Any], run: Run, run_dir: str, res: dict[str, int]):
    """Epochs x train images, plus a validation per epoch (or once: val false), and last.pt + best.pt."""
    if not applies(cal, res):
        return None
    args = plan.train_args(run)
    imgsz, epochs = int(args["imgsz"]), int(args["epochs"])
    counts = images(plan, run.task)
    train_img = per_image(cal, "train_s_per_image", run.scale, imgsz)
    eval_img = per_image(cal, "eval_s_per_image", run.scale, imgsz)
    params = (cal.get("params") or {}).get(run.scale)
    weights = 2 * params * cal.get("weights_bytes_per_param", 2) if params else 0.0  # stripped to fp16 at the end
    if counts is None or train_img is None or eval_img is None:
        return 0.0, False, 0.0
    vals = epochs if args.get("val", True) else 1  # val: false validates the final epoch only
    seconds = scaled(cal, epochs * counts[0] * train_img, res["cpus"], res["gpus"], train=True)
    seconds += scaled(cal, vals * counts[1] * eval_img, res["cpus"], 1)  # validation runs on one device
    return seconds, True, weights
