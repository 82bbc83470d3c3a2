"""Cells every table shares: numbers as printed, accuracy over seeds (mean ± std, n), deltas against a baseline with
their paired-bootstrap interval, timing cells, and the reasons a cell is empty."""

from __future__ import annotations

from ..registry import TASKS
from ..stats import mean_std
from .data import Results, Run
from .model import Cell, dash
from .parse import num
from .timing import Samples, timing_text

NOT_TRAINED = "not trained in this config"
NOT_COMPUTED = "not computed in this config"
NOT_RUN = "not run in this config"
NOT_REPORTED = "not reported in the paper"
NOT_IN_PAPER = "not in the paper"
SYNTHETIC = "synthetic data, not comparable"
NO_CONVERGE = "did not converge"
MINUS = "\u2212"

# task -> its accuracy columns (accuracy.csv) with labels; the first is the task's headline metric, the one
# deltas.csv bootstraps (AP | mask_AP | kpt_AP | top1 | obb_mAP50_95)
TASK_METRICS = {
    "detect": (("AP", "box AP50:95"), ("AP50", "box AP50")),
    "segment": (("mask_AP", "mask AP50:95"), ("AP", "box AP50:95")),
    "pose": (("kpt_AP", "pose AP50:95"), ("AP", "box AP50:95")),
    "classify": (("top1", "top-1"), ("top5", "top-5")),
    "obb": (("obb_mAP50_95", "OBB mAP50:95"), ("obb_mAP50", "OBB mAP50")),
}
assert set(TASK_METRICS) == set(TASKS), "every task of yolov12.registry.TASKS needs its metrics here"


def task_metrics(task: str) -> tuple[tuple[str, str], ...]:
    return TASK_METRICS.get(task, TASK_METRICS["detect"])


# ------------------------------------------------------------------------------------------------------ numbers
def fmt(value: float | None, nd: int = 1) -> str:
    if value is None:
        return ""
    if value in (float("inf"), float("-inf")):
        return "inf"
    text = f"{value:.{nd}f}"
    return text.replace("-", MINUS) if text.startswith("-") else text


def signed(value: float, nd: int = 1) -> str:
    text = f"{value:+.{nd}f}"
    if float(text) == 0:
        return f"{0:.{nd}f}"
    return text.replace("-", MINUS)


def val(value: float | None, nd: int = 1, reason: str = "") -> Cell:
    return Cell(fmt(value, nd)) if value is not None else dash(reason)


def delta(ours: float | None, paper: float | None, nd: int = 1, synthetic: bool = False) -> Cell:
    if ours is None or paper is None:
        return dash()
    if synthetic:
        return dash(SYNTHETIC)
    return Cell(signed(ours - paper, nd))


def ratio_text(value: float | None, nd: int = 2) -> str:
    return "" if value is None else f"\u00d7{value:.{nd}f}"


def refs_cell(ids: list[str]) -> Cell:
    return Cell(", ".join(ids))


def pct(run: Run | None, metric: str) -> float | None:
    """Mean over the converged seeds, in %."""
    values = [] if run is None else run.acc_values(metric)
    return None if not values else 100.0 * sum(values) / len(values)


def gflops(run: Run | None) -> float | None:
    return None if run is None or run.complexity is None else num(run.complexity.get("gflops"))


def params_m(run: Run | None) -> float | None:
    if run is None or run.complexity is None:
        return None
    v = num(run.complexity.get("params_fused"))
    v = num(run.complexity.get("params")) if v is None else v
    return None if v is None else v / 1e6


# ------------------------------------------------------------------------------------------------------ context
class Ctx:
    """What every builder needs: the results, the config-level synthetic flag, the reference ids, the samples."""

    def __init__(self, results: Results, synthetic: bool):
        self.results = results
        self.synthetic = synthetic
        self.refs = results.refs
        self.samples = Samples(results.results_dir / "latency_samples.csv.gz")

    def syn(self, run: Run | None) -> bool:
        return self.synthetic or (run is not None and "synth" in run.dataset.lower())

    def acc_missing(self, run: Run | None, metric: str | None = None) -> str:
        if run is None:
            return NOT_TRAINED
        if not run.accuracy:
            return self.results.why_missing("accuracy") or NOT_TRAINED
        if run.converged is False and not run.seeds_converged():
            ep = run.diverged_epoch
            return NO_CONVERGE + (f" (diverged at epoch {ep})" if ep is not None else "")
        if metric is not None:
            return self.results.why_missing("accuracy", metric) or f"{metric} not evaluated"
        return "not evaluated"

    def cx_missing(self, run: Run | None) -> str:
        if run is None:
            return NOT_COMPUTED
        return self.results.why_missing("complexity") or (NOT_COMPUTED if run.complexity is None else
                                                          "not computed")

    def eval_precision(self, runs: list[Run]) -> str:
        """The evaluation precision sentence for an accuracy table's caption."""
        precs = sorted({p for r in runs for p in r.distinct("precision")})
        configured = (self.results.config.get("evaluate") or {}).get("precision")
        if precs:
            text = f"Accuracy evaluated at {' / '.join(p.upper() for p in precs)} (accuracy.csv precision)"
        elif self.results.present("accuracy") and "precision" not in self.results.columns["accuracy"]:
            text = "Evaluation precision not recorded (accuracy.csv has no precision column)"
        else:
            text = "Evaluation precision: no accuracy rows"
        if configured:
            text += f"; config evaluate.precision = {configured}"
        return text + "; the paper's profile evaluates at FP16 on CUDA."


# --------------------------------------------------------------------------------------------- accuracy over seeds
def acc_stats(run: Run | None, metric: str) -> tuple[float, float, int] | None:
    """(mean, std, n) in % over the converged seeds (std NaN for one seed), or None when nothing was measured."""
    values = [] if run is None else run.acc_values(metric)
    return mean_std([100.0 * v for v in values]) if values else None


def acc_cell(ctx: Ctx, run: Run | None, metric: str, nd: int = 1) -> Cell:
    """Mean ± std over the converged seeds in % (n shown when > 1); a partly diverged run says how many seeds."""
    stats = acc_stats(run, metric)
    if stats is None:
        return dash(ctx.acc_missing(run, metric))
    mean, std, n = stats
    text = fmt(mean, nd) if n == 1 else f"{fmt(mean, nd)} \u00b1 {fmt(std, nd)} (n={n})"
    if run.diverged:
        text += f"; {len(run.diverged)} of {len(run.accuracy)} seeds did not converge"
    return Cell(text)


def delta_interval(rows: list[dict[str, str]]) -> tuple[float, float, float, int] | None:
    """(delta, lo, hi, seeds) in the metric's units from deltas.csv rows: one seed gives its paired-bootstrap
    interval; several give the mean delta with the envelope of their intervals (conservative)."""
    usable = [(num(r.get("delta")), num(r.get("ci_lo")), num(r.get("ci_hi"))) for r in rows]
    usable = [u for u in usable if None not in u]
    if not usable:
        return None
    d = sum(u[0] for u in usable) / len(usable)
    return d, min(u[1] for u in usable), max(u[2] for u in usable), len(usable)


def delta_rows(run: Run | None, metric: str) -> list[dict[str, str]]:
    return [] if run is None else [r for r in run.deltas if r.get("metric") == metric]


def delta_ci_cell(ctx: Ctx, run: Run | None, metric: str) -> Cell:
    """The run's paired-bootstrap Δ against its study's baseline, in points, with the 95 % interval."""
    if run is None:
        return dash(NOT_TRAINED)
    if run.baseline:
        return Cell("baseline")
    study = ctx.results.study(run.study)
    if study is not None and study.declared and not study.baseline_at(run.scale):
        return dash("the study has no baseline")
    missing = ctx.results.why_missing("deltas")
    if missing:
        return dash(missing)
    rows = delta_rows(run, metric)
    got = delta_interval(rows)
    if got is None:
        if run.converged is False:
            return dash(NO_CONVERGE)
        point = [num(r.get("delta")) for r in rows if num(r.get("delta")) is not None]
        if point:  # e.g. classify: no per-image predictions to resample
            return Cell(f"{signed(100 * sum(point) / len(point))} [no interval]")
        return dash(f"no paired {metric} delta in deltas.csv")
    d, lo, hi, n = got
    text = f"{signed(100 * d)} [{signed(100 * lo)}, {signed(100 * hi)}]"
    if n > 1:
        text += f" (n={n} seeds, envelope)"
    return Cell(text, strong=lo > 0 or hi < 0)  # bold: the interval excludes 0


# ------------------------------------------------------------------------------------------------------- timing
def timing_cell(row: dict[str, str] | None, reason: str = "") -> Cell:
    return Cell(timing_text(row)) if row is not None else dash(reason)
