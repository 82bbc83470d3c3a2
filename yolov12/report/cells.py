"""Cells every table shares: numbers as printed, accuracy over seeds (mean ± std, n), deltas of seed means against a
baseline with their interval (accuracy_deltas.py), timing cells, and the reasons a cell is empty."""

from __future__ import annotations

import numpy as np

from ..registry import TASK_TABLE
from ..stats import mean_std
from .accuracy_deltas import OLD_FORMAT, Delta, Deltas, nd_apart
from .data import Results, Run
from .latency_ratios import Comparison, RunMedians
from .model import Cell, dash
from .parse import integer, num
from .timing import timing_text

NOT_TRAINED = "not trained in this config"
NOT_COMPUTED = "not computed in this config"
NOT_RUN = "not run in this config"
NOT_REPORTED = "not reported in the paper"
NOT_IN_PAPER = "not in the paper"
SYNTHETIC = "synthetic data, not comparable"
NO_CONVERGE = "did not converge"
MINUS = "\u2212"

def task_metrics(task: str) -> tuple[tuple[str, str], ...]:
    """A task's accuracy columns (accuracy.csv key, label), its row's in yolov12.registry.TASK_TABLE; the first
    is the headline metric, the one deltas.csv bootstraps. A run without a task (peer rows) is a detector."""
    return TASK_TABLE[task or "detect"].metrics


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


def seed_interval(values: list[float], level: float = 0.95) -> tuple[float, float] | None:
    """Student t interval of the mean of per-seed values (None below 2 seeds): the paper's number is on the same
    validation images, so only the seed-to-seed variation separates our mean from what these models can score."""
    if len(values) < 2:
        return None
    from scipy import stats  # only here: the report's cells import this module

    mean, sd = sum(values) / len(values), float(np.std(values, ddof=1))
    half = float(stats.t.ppf((1 + level) / 2, len(values) - 1)) * sd / len(values) ** 0.5
    return mean - half, mean + half


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
    """What every builder needs: the results, the config-level synthetic flag, the reference ids, the deltas (with
    their multiple-comparison correction) and the per-process latency medians."""

    def __init__(self, results: Results, synthetic: bool):
        self.results = results
        self.synthetic = synthetic
        self.refs = results.refs
        self.deltas = Deltas(results.frames["deltas"], results.columns.get("deltas", set()))
        self.runs = RunMedians(results.results_dir / "latency_runs.csv")

    def syn(self, run: Run | None) -> bool:
        return self.synthetic  # the config's data.kind (one key says it), never a guess from a dataset's name

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

    def processes_text(self) -> str:
        """How many processes timed each cell (the unit of the latency intervals), for the captions."""
        counts = {integer(r.get("n_processes")) for r in self.results.frames["latency"] if r.get("status") == "ok"}
        known = sorted(n for n in counts if n is not None)
        if not known:
            return "each cell timed in one process (within-run intervals, no comparisons)"
        return f"each cell timed in {'/'.join(map(str, known))} processes of its timing session"

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


def acc_delta_cell(ctx: Ctx, run: Run | None, metric: str, paper: float | None, nd: int = 1) -> Cell:
    """ours − paper in points with the t interval over our seeds; one seed gives no interval, so no Δ."""
    if run is None or paper is None:
        return dash()
    if ctx.syn(run):
        return dash(SYNTHETIC)
    values = [100.0 * v for v in run.acc_values(metric)]
    if not values:
        return dash()
    ci = seed_interval(values)
    if ci is None:
        return dash("one seed: no interval for ours \u2212 paper")
    d, lo, hi = sum(values) / len(values) - paper, ci[0] - paper, ci[1] - paper
    nd = nd_apart([(lo, 0.0), (hi, 0.0)], nd)
    return Cell(f"{signed(d, nd)} [{signed(lo, nd)}, {signed(hi, nd)}]")


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


def run_delta(ctx: Ctx, run: Run | None, metric: str) -> Delta | None:
    return None if run is None else ctx.deltas.of(run.study, run.variant, run.scale, metric)


def delta_text(d: Delta) -> str:
    """'−1.0 [−1.4, −0.7]' in points, with enough decimals that an interval excluding 0 never prints a 0 end."""
    x = [100 * d.delta, 100 * d.lo, 100 * d.hi]
    nd = nd_apart([(x[1], 0.0), (x[2], 0.0)])
    return f"{signed(x[0], nd)} [{signed(x[1], nd)}, {signed(x[2], nd)}]"


def delta_ci_cell(ctx: Ctx, run: Run | None, metric: str) -> Cell:
    """The run's Δ of seed means against its study's baseline, in points, with its interval and its label
    (seeds + images, or image-only); bold only when it survives the study's correction and the seed-noise gate."""
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
    if ctx.deltas.is_old(run.study, run.variant, run.scale, metric):
        return dash(OLD_FORMAT)
    d = run_delta(ctx, run, metric)
    if d is None or d.delta is None:
        if run.converged is False and not run.seeds_converged():
            return dash(NO_CONVERGE)
        return dash(f"no {metric} delta in deltas.csv")
    if d.lo is None or d.hi is None:  # e.g. OBB: no per-image predictions to resample
        return Cell(f"{signed(100 * d.delta)} [no interval]")
    text = f"{delta_text(d)} {d.label}".rstrip()
    why = d.why_not_bold
    if why:
        text += f"; not bold: {why}"
    return Cell(text, strong=d.significant)


def comparison_cell(c: Comparison, suffix: str = "") -> Cell:
    """A latency comparison with its interval, or a gap that says why there is none."""
    return Cell(c.text + suffix) if c.ok else dash(c.reason)


# ------------------------------------------------------------------------------------------------------- timing
def timing_cell(row: dict[str, str] | None, reason: str = "") -> Cell:
    return Cell(timing_text(row)) if row is not None else dash(reason)
