"""The complexity session: one job per scale counts parameters and FLOPs of every architecture of that scale."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..plan import Plan
    from ..studies import Run

RESULT_BYTES = 20_000
TABLES = {"complexity": "complexity.csv"}
COLUMNS = ("imgsz", "params", "params_fused", "gflops", "gflops_true")


def settings(plan: Plan) -> dict[str, Any]:
    return {"imgsz": plan.config["complexity"]["imgsz"]}


def sizes(plan: Plan, run: Run) -> dict[str, tuple[list[tuple[int, int]], tuple[str, str]]]:
    size = plan.config["complexity"]["imgsz"]
    return {"complexity": ([(size, size)], (plan.source, "complexity.imgsz"))}


def aggregate(out, base: dict[str, Any], row: dict[str, Any], files: dict[str, Path]) -> None:
    """This architecture's record of its scale's session."""
    from ..aggregate import load
    from ..complexity_job import architecture_record

    cx = architecture_record(load(files["complexity"]), row["model_dir"])
    if cx is not None:
        out.rows["complexity"].append({**base, "run_dir": row["model_dir"], "results_file": str(files["complexity"]),
                                       "mlflow_run_id": cx.get("mlflow_run_id"), **{k: cx.get(k) for k in COLUMNS}})


def cost(plan: Plan, cal: dict[str, Any], run: Run, run_dir: str, res: dict[str, int]):
    """The fixed part (overhead_s) once, then each architecture of the session."""
    per_model = (cal.get("complexity_s_per_model") or {}).get(run.scale)
    if per_model is None:
        return 0.0, False, 0.0
    return len(plan.identity("complexity", run_dir)["cells"]) * per_model, True, 0.0
