"""One labelled table per study of the config, generated from ``studies.json`` whatever the study and its task:
each variant with the knobs it changes, the task's metrics over seeds, its Δ of seed means against the baseline with
the 95 % interval (and the study's multiple-comparison line), complexity and a timing cell. Also the per-job cost
table (jobs.csv) and the provenance table."""

from __future__ import annotations

import re
import statistics

from ..registry import JOB_KINDS
from .accuracy_deltas import comparisons_line, method_text
from .cells import (NOT_RUN, Ctx, acc_cell, comparison_cell, delta_ci_cell, gflops, params_m, refs_cell, run_delta,
                    task_metrics, timing_cell, val)
from .data import PEERS, Run, Study, Variant
from .latency_ratios import ratio
from .model import SECTIONS, Cell, Table, dash
from .parse import num
from .timing import choose_setting, pick

ANY_PREFER = (("cuda", "fp16"), ("cuda", "bf16"), ("cuda", "fp32"), ("cpu", "fp32"), ("cpu", "bf16"), ("cpu", "fp16"))


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-").lower() or "x"


def _value(v) -> str:
    return str(v).lower() if isinstance(v, bool) else "null" if v is None else str(v)


def knobs_text(variant: Variant | None) -> str:
    """What a variant changes on the definition defaults: knobs, training overrides, family, hierarchy."""
    if variant is None:
        return "not in studies.json"
    parts = [f"{k}={_value(v)}" for k, v in variant.knobs_delta.items()]
    parts += [f"train.{k}={_value(v)}" for k, v in variant.train_delta.items()]
    if variant.family != "yolov12":
        parts.append(f"family={variant.family}")
    if variant.hierarchy not in ("", "full"):
        parts.append(f"hierarchy={variant.hierarchy}")
    return ", ".join(parts) or "definition defaults"


def study_groups(ctx: Ctx, study: Study) -> list[tuple[str, list[Variant], list[Run]]]:
    """(task, variants, runs) per task of the study: each task gets its own table and figure (its own metrics)."""
    runs = ctx.results.runs_of(study.name)
    tasks = list(dict.fromkeys(list(study.tasks) + [v.task for v in study.variants] + [r.task for r in runs]))
    out = []
    for task in tasks:
        variants = [v for v in study.variants if v.task == task]
        t_runs = [r for r in runs if r.task == task]
        if variants or t_runs:
            out.append((task, variants, t_runs))
    return out


def study_key(study: Study, task: str, groups: int) -> str:
    return f"study_{slug(study.name)}" + (f"_{slug(task)}" if groups > 1 else "")


def latency_vs_baseline(ctx: Ctx, run: Run, row: dict | None, reason: str, base_row: dict | None) -> Cell:
    if run.baseline:
        return Cell("baseline") if row is not None else dash(reason or "no latency measured")
    if row is None:
        return dash(reason or "no latency measured")
    if base_row is None:
        return dash("the baseline was not timed in this setting")
    return comparison_cell(ratio(row, base_row, ctx.runs))


def study_table(ctx: Ctx, study: Study, task: str, variants: list[Variant], runs: list[Run], groups: int = 1) -> Table:
    metrics = task_metrics(task)
    setting = choose_setting(runs, prefer=ANY_PREFER)
    lat = (f"latency: median ms [95 % interval] on {setting.label}, {ctx.processes_text()} (each cell: image "
           "size, processes \u00d7 iterations, run-to-run CV, kernel); \u00f7 baseline: the paired ratio of the "
           "per-process medians of one session with its 95 % interval" if setting else "no latency measured")
    where = ", ".join(x for x in (study.table and f"paper: {study.table}", study.file and f"file {study.file}") if x)
    seeds = f"seeds {', '.join(str(s) for s in study.seeds)}" if study.declared else "seeds as in accuracy.csv"
    scales = list(dict.fromkeys(list(study.scales) + [r.scale for r in runs]))
    bases = {s: study.baseline_at(s) for s in scales if study.baseline_at(s)}
    baseline = ("no baseline" if not bases else f"baseline {next(iter(bases.values()))}" if len(set(bases.values()))
                == 1 else "baseline per scale: " + ", ".join(f"{s.upper()} {b}" for s, b in bases.items()))
    deltas = [d for d in (run_delta(ctx, r, metrics[0][0]) for r in runs if not r.baseline) if d is not None]
    t = Table(study_key(study, task, groups), "", f"Study {study.name}" + (f" ({task})" if groups > 1 else "")
              + (f": {study.title}" if study.title else ""),
              f"Task {task}; {baseline}; {seeds}" + (f"; {where}" if where else "") + ". Metrics in %, mean \u00b1 "
              f"std over seeds (n shown when > 1); {method_text(deltas)} (deltas.csv); {lat}. "
              + ctx.eval_precision(runs),
              ["Variant", "Scale", "Knobs that differ"] + [label for _, label in metrics]
              + [f"\u0394 {metrics[0][1]} vs baseline [95% CI]", "Params (M)", "GFLOPs", "Latency (ms)",
                 "Latency \u00f7 baseline", "Ref."],
              align="lll" + "r" * (len(metrics) + 5) + "l", wide=True, section=SECTIONS[1])
    if not study.declared:
        t.note("This study is not in studies.json: its variants' knobs are not known.")
    names = list(dict.fromkeys([v.name for v in variants] + [r.variant for r in runs]))
    for s in scales:
        first = True
        base_run = next((r for r in runs if r.baseline and r.scale == s), None)
        base_row = pick(base_run, setting=setting)[0] if setting and base_run else None
        for name in names:
            variant = study.variant(name)
            run = next((r for r in runs if r.variant == name and r.scale == s), None)
            if run is None:
                continue
            want = str((variant.knobs_delta if variant else {}).get("backend", "auto"))
            row, reason = pick(run, setting=setting, want_backend=want) if setting else pick(run)
            label = f"{name} (baseline)" if run.baseline else name
            cells = [Cell(label, strong=run.baseline), Cell(s.upper()), Cell(knobs_text(variant))]
            cells += [acc_cell(ctx, run, m) for m, _ in metrics]
            cells.append(delta_ci_cell(ctx, run, metrics[0][0]))
            cells += [val(params_m(run), 2, ctx.cx_missing(run)), val(gflops(run), 2, ctx.cx_missing(run)),
                      timing_cell(row, reason or "no latency measured"),
                      latency_vs_baseline(ctx, run, row, reason, base_row),
                      refs_cell(ctx.refs.run(run, latency_rows=[row] if row else []))]
            t.add(cells, rule=first)
            first = False
    for name in names:  # declared variants with no result at any scale still get a row that says so
        if not any(r.variant == name for r in runs):
            t.add([Cell(name), Cell("/".join(x.upper() for x in scales)), Cell(knobs_text(study.variant(name)))]
                  + [dash(NOT_RUN)] * (len(metrics) + 5) + [Cell("")], rule=True)
    t.note(comparisons_line(deltas, {study.name: ctx.deltas.family(study.name)}))
    for v in variants:
        if v.note:
            t.note(f"{v.name}: {v.note}")
    return t


def study_tables(ctx: Ctx) -> list[Table]:
    out = []
    for study in ctx.results.studies:
        if study.name == PEERS and not study.declared:
            continue  # the peers are Table 4's "this hardware" columns
        groups = study_groups(ctx, study)
        for task, variants, runs in groups:
            out.append(study_table(ctx, study, task, variants, runs, len(groups)))
    return out


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def jobs_table(ctx: Ctx) -> Table:
    t = Table("jobs", "", "Cost per job kind",
              "Wall time and peak resident memory of the workflow's jobs, per kind, from Snakemake's benchmark files "
              "(jobs.csv). Wall time as h:mm:ss (or m:ss).",
              ["Job kind", "Jobs", "Wall total", "Wall median", "Wall max", "Peak RSS median (MB)",
               "Peak RSS max (MB)"], align="lrrrrrr", section=SECTIONS[2])
    missing = ctx.results.why_missing("jobs")
    rows = ctx.results.frames["jobs"]
    if missing or not rows:
        t.add([Cell("all")] + [dash(missing or "no jobs recorded")] * 6)
        return t
    kinds = list(dict.fromkeys(list(JOB_KINDS) + [r.get("kind", "") for r in rows]))
    for kind in kinds:
        items = [r for r in rows if r.get("kind", "") == kind]
        if not items:
            continue
        wall = [w for w in (num(r.get("wall_s")) for r in items) if w is not None]
        rss = [m for m in (num(r.get("max_rss_mb")) for r in items) if m is not None]
        t.add([Cell(kind or "(no kind)"), Cell(str(len(items))),
               Cell(_duration(sum(wall))) if wall else dash("not recorded"),
               Cell(_duration(statistics.median(wall))) if wall else dash("not recorded"),
               Cell(_duration(max(wall))) if wall else dash("not recorded"),
               val(statistics.median(rss) if rss else None, 0, "not recorded"),
               val(max(rss) if rss else None, 0, "not recorded")])
    wall_all = [w for w in (num(r.get("wall_s")) for r in rows) if w is not None]
    if wall_all:
        t.note(f"All {len(rows)} jobs: {_duration(sum(wall_all))} of job wall time in total (jobs that ran in "
               "parallel overlap, so this is not the workflow's elapsed time).")
    return t


def provenance_table(ctx: Ctx) -> Table:
    t = Table("provenance", "", "Where every number comes from",
              "Each Ref. id in the tables names the MLflow run and the per-run results file the number was "
              "aggregated from.", ["Ref.", "MLflow run id", "Results file", "Run", "Kinds"], align="lllll",
              section=SECTIONS[2])
    for rid, info in ctx.refs.info.items():
        t.add([Cell(rid, anchor=rid.lower()), Cell(info["mlflow_run_id"] or "\u2014", code=True),
               Cell(info["results_file"] or "\u2014", code=True), Cell(info["what"]), Cell(info["kinds"])])
    return t
