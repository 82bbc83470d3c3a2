"""The paper's accuracy and recipe tables beside this config's numbers: Table 1 (complexity and AP per scale),
Table 2 (R-ELAN), Table 5 (a)–(h) (diagnostics), Table 6 (AP by size), Table 7 (the training recipe, with the
effective weight decay) and the README's other tasks. Latency tables are in ``speed_tables.py``."""

from __future__ import annotations

from ..registry import SCALES
from .accuracy_deltas import comparisons_line, method_text
from .cells import (NO_CONVERGE, NOT_IN_PAPER, NOT_REPORTED, NOT_TRAINED, Ctx, acc_cell, acc_delta_cell,
                    comparison_cell, delta, delta_ci_cell, gflops, params_m, ratio_text, refs_cell, run_delta,
                    task_metrics, timing_cell, val)
from .latency_ratios import ratio
from .data import Run
from .model import Cell, Table, dash
from .paper import paper_rows, paper_table
from .parse import num, truthy
from .timing import choose_setting, latency_ms, pick


def scale_label(scale: str, family: str = "yolov12") -> str:
    return f"{'YOLOv12-turbo' if family == 'yolov12-turbo' else 'YOLOv12'}-{scale.upper()}"


def _group(ctx: Ctx, run, metric, paper, nd=1, paper_reason=NOT_REPORTED) -> list[Cell]:
    """ours (mean ± std over seeds) | paper | ours − paper with the t interval over our seeds, in %."""
    return [acc_cell(ctx, run, metric, nd), val(paper, 1, paper_reason if paper is None else ""),
            acc_delta_cell(ctx, run, metric, paper, nd)]


def _cx_group(ctx: Ctx, value, paper, run, paper_reason=NOT_REPORTED) -> list[Cell]:
    return [val(value, 2, ctx.cx_missing(run)), val(paper, 1, paper_reason if paper is None else ""),
            delta(value, paper, 2)]


def table1(ctx: Ctx) -> Table:
    runs = [r for r in ctx.results.runs_in_table("1") if r.task == "detect"]
    t = Table("table1", "1", "YOLOv12 per scale on COCO val2017: complexity and accuracy",
              "Ours beside the paper's Table 1 (the turbo family beside the official README). FLOPs follow the "
              "paper's convention (BN-fused, 640\u00d7640); params are BN-fused. AP in %, mean \u00b1 std over seeds "
              f"(n shown when > 1). \u0394 = ours \u2212 paper: FLOPs and params are exact counts; accuracy with the "
              f"95 % t interval of our mean over seeds (none with one seed). {ctx.eval_precision(runs)}",
              ["", "ours", "paper", "\u0394", "ours", "paper", "\u0394", "ours", "paper", "\u0394", "ours", "paper",
               "\u0394", "ours", "paper", "\u0394", ""],
              groups=[("Model", 1), ("FLOPs (G)", 3), ("Params (M)", 3), ("AP50:95", 3), ("AP50", 3), ("AP75", 3),
                      ("Ref.", 1)], align="l" + "r" * 15 + "l", wide=True)
    families = ["yolov12"] + (["yolov12-turbo"] if any(r.family == "yolov12-turbo" for r in runs) else [])
    for family in families:
        for i, s in enumerate(SCALES):
            pid = f"t1.yolov12-{s}" if family == "yolov12" else f"readme.turbo.{s}"
            p = paper_rows()[pid]
            paper = dict(flops=num(p["flops_g"]), params=num(p["params_m"]), AP=num(p.get("ap") or p.get("map_box")),
                         AP50=num(p.get("ap50")), AP75=num(p.get("ap75")))
            for run in [r for r in runs if pid in r.paper] or [None]:
                cells = [Cell(scale_label(s, family))]
                cells += _cx_group(ctx, gflops(run), paper["flops"], run)
                cells += _cx_group(ctx, params_m(run), paper["params"], run)
                for metric in ("AP", "AP50", "AP75"):
                    cells += _group(ctx, run, metric, paper[metric])
                cells.append(refs_cell(ctx.refs.run(run)))
                t.add(cells, rule=(i == 0))
    if ctx.synthetic:
        t.note("Accuracy here comes from a synthetic smoke dataset; its \u0394 to COCO is not computed.")
    return t


RELAN_DESIGN = {  # paper row suffix -> (aggregation, residual, scaling), our reading of Table 2's columns
    "elan": ("ELAN", "no", ""), "relan": ("R-ELAN", "no", ""), "relan_residual_0.1": ("R-ELAN", "yes", "0.1"),
    "relan_residual_0.01": ("R-ELAN", "yes", "0.01"), "elan_residual": ("ELAN", "yes", "0.01"),
}


def converged_cell(ctx: Ctx, run: Run | None) -> Cell:
    if run is None or not run.accuracy:
        return dash(ctx.acc_missing(run))
    if run.converged is None:
        return dash("not recorded")
    if run.converged:
        return Cell("yes" if len(run.accuracy) == 1 else f"yes ({len(run.accuracy)} seeds)")
    eps = [f"epoch {ep}" if ep is not None else "epoch not recorded" for _, ep in run.diverged]
    if len(run.accuracy) == 1:
        return Cell(f"no (diverged at {eps[0]})", strong=True)
    return Cell(f"no: {len(run.diverged)} of {len(run.accuracy)} seeds diverged ({', '.join(eps)})", strong=True)


def table2(ctx: Ctx) -> Table:
    runs = ctx.results.runs_in_table("2")
    t = Table("table2", "2", "R-ELAN ablation (aggregation, residual, layer scaling)",
              "Rows of the paper's Table 2 with our runs of the same design. A run that diverged shows "
              "\u201cdid not converge\u201d (converged = false in accuracy.csv) and the epoch it diverged at. "
              f"AP in % (mean \u00b1 std over seeds), FLOPs in G, params in M (BN-fused). {ctx.eval_precision(runs)}",
              ["", "", "", "", "ours", "paper", "ours", "paper", "\u0394", "ours", "paper", "\u0394", "ours", "paper",
               "\u0394", ""],
              groups=[("Model", 1), ("Aggregation", 1), ("Residual", 1), ("Scaling", 1), ("Converged", 2),
                      ("FLOPs (G)", 3), ("Params (M)", 3), ("AP50:95", 3), ("Ref.", 1)],
              align="llll" + "ll" + "r" * 9 + "l", wide=True)
    last_scale = None
    for p in paper_table("table2_relan"):
        pid, s = p["row_id"], p["scale"]
        design = RELAN_DESIGN[pid.split(".", 2)[2]]
        p_conv = truthy(p["converged"])
        p_reason = NO_CONVERGE if p_conv is False else NOT_REPORTED
        for run in [r for r in runs if pid in r.paper] or [None]:
            cells = [Cell(scale_label(s)), Cell(design[0]), Cell(design[1]), Cell(design[2])]
            cells += [converged_cell(ctx, run), Cell("yes" if p_conv else "no", strong=p_conv is False)]
            cells += _cx_group(ctx, gflops(run), num(p["flops_g"]), run, p_reason)
            cells += _cx_group(ctx, params_m(run), num(p["params_m"]), run, p_reason)
            cells += _group(ctx, run, "AP", num(p["ap"]), paper_reason=p_reason)
            cells.append(refs_cell(ctx.refs.run(run)))
            t.add(cells, rule=s != last_scale)
            last_scale = s
    t.note("For the N row with residual scaling 0.1 the paper prints no re-aggregation mark; its FLOPs and params "
           "equal the R-ELAN row, so this report reads it as R-ELAN + residual.")
    return t


T5 = {"5a": "Attention implementation", "5b": "Hierarchical design", "5c": "Training epochs",
      "5d": "Position perceiver kernel size", "5e": "Position embedding",
      "5f": "Area attention (with FlashAttention in the paper)", "5g": "MLP ratio", "5h": "FlashAttention"}
T5_PREFER = {"5h": (("cuda", "fp16"), ("cuda", "fp32"))}  # FlashAttention is CUDA-only: no CPU fallback there
T5_DEFAULT_PREFER = (("cuda", "fp16"), ("cuda", "fp32"), ("cpu", "fp32"))


def table5(ctx: Ctx, sub: str) -> Table:
    runs = [r for r in ctx.results.runs_in_table(sub) if r.task == "detect"]
    prefer = T5_PREFER.get(sub, T5_DEFAULT_PREFER)
    setting = choose_setting(runs, prefer=prefer)
    lat_note = (f"ours: median latency [95 % interval] on {setting.label}, {ctx.processes_text()}"
                if setting is not None else "ours: no latency measured for this sub-table")
    deltas = [d for d in (run_delta(ctx, r, "AP") for r in runs if not r.baseline) if d is not None]
    t = Table(f"table{sub}", sub, T5[sub],
              f"The paper's Table 5({sub[-1]}) beside our runs. AP in % (mean \u00b1 std over seeds); \u0394 vs "
              f"paper: ours \u2212 paper with the t interval over our seeds; \u0394 vs default in AP points: "
              f"{method_text(deltas)} (deltas.csv); {lat_note}; paper latency as printed (T4 TensorRT FP16, "
              "640\u00d7640, as Table 1). Milliseconds of different settings do not compare; the \u00f7 default "
              "columns do: ours is the paired ratio of the per-process medians of the processes that timed the run "
              "and the default in one session (latency_runs.csv), with its 95 % interval. " + ctx.eval_precision(runs),
              ["Setting", "Model", "Default", "ours", "paper", "\u0394", "ours \u0394 vs default [95% CI]", "ours",
               "paper", "ours", "paper", "Ref."],
              groups=[("", 3), ("AP50:95", 4), ("Latency (ms)", 2), ("Latency \u00f7 default", 2), ("", 1)],
              align="lll" + "r" * 8 + "l", wide=True)
    paper = [p for p in paper_table("table5_diagnostics") if p["table"] == sub]
    scales = list(dict.fromkeys([p["scale"] for p in paper] + [r.scale for r in runs]))

    def lat(run):
        if run is None:
            return None, "", None
        if setting is None:
            return None, pick(run, *prefer[-1])[1], None
        row, reason = pick(run, setting=setting)
        return latency_ms(row), reason, row

    for s in scales:
        rows_s = [p for p in paper if p["scale"] == s]
        default_p = next((p for p in rows_s if p["default"] == "yes"), None)
        p_default_lat = num(default_p["latency_ms"]) if default_p else None
        s_runs = [r for r in runs if r.scale == s]
        base = next((r for r in s_runs if r.baseline), None)
        if base is None and default_p is not None:
            base = next((r for r in s_runs if default_p["row_id"] in r.paper), None)
        base_row = lat(base)[2]
        entries = [(p, [r for r in s_runs if p["row_id"] in r.paper] or [None]) for p in rows_s]
        entries += [(None, [r]) for r in s_runs if not any(pp["row_id"] in r.paper for pp in rows_s)]
        first_row, done = True, set()
        for p, matched in entries:
            for run in matched:
                if run is not None and id(run) in done:
                    continue
                done.add(id(run))
                is_default = (p is not None and p["default"] == "yes") or (run is not None and run.baseline)
                cells = [Cell(p["setting"] if p else run.variant), Cell(scale_label(s)),
                         Cell("\u2713" if is_default else "")]
                cells += _group(ctx, run, "AP", num(p["ap"]) if p else None,
                                paper_reason=NOT_REPORTED if p else NOT_IN_PAPER)
                cells.append(delta_ci_cell(ctx, run, "AP") if run is not None else dash(NOT_TRAINED))
                ms, reason, row = lat(run)
                plat = num(p["latency_ms"]) if p else None
                cells += [timing_cell(row, reason), val(plat, 2, NOT_REPORTED if p else NOT_IN_PAPER)]
                prel = plat / p_default_lat if plat is not None and p_default_lat else None
                if run is not None and run is base:
                    rel = Cell("default") if row is not None else dash(reason)
                elif row is None or base is None:
                    rel = dash(reason if row is None else "no default run at this scale")
                else:
                    rel = comparison_cell(ratio(row, base_row, ctx.runs)) if base_row is not None else \
                        dash(f"the default: {lat(base)[1]}")
                cells += [rel, Cell(ratio_text(prel)) if prel is not None else dash(NOT_REPORTED)]
                cells.append(refs_cell(ctx.refs.run(run, latency_rows=[row] if row else [])))
                t.add(cells, rule=first_row)
                first_row = False
    if deltas:
        t.note(comparisons_line(deltas, {st: ctx.deltas.family(st) for st in dict.fromkeys(d.study for d in deltas)}))
    return t


def table6(ctx: Ctx) -> Table:
    runs = [r for r in ctx.results.runs_in_table("6") if r.task == "detect" and r.family == "yolov12"]
    t = Table("table6", "6", "AP by object size (COCO val2017)",
              "AP for small, medium and large objects in % (mean \u00b1 std over seeds), ours beside the paper's "
              f"Table 6. {ctx.eval_precision(runs)}",
              ["", "ours", "paper", "\u0394", "ours", "paper", "\u0394", "ours", "paper", "\u0394", ""],
              groups=[("Model", 1), ("AP small", 3), ("AP medium", 3), ("AP large", 3), ("Ref.", 1)],
              align="l" + "r" * 9 + "l")
    for s in SCALES:
        p = paper_rows()[f"t6.{s}"]
        for run in [r for r in runs if f"t6.{s}" in r.paper] or [None]:
            cells = [Cell(scale_label(s))]
            for metric, col in (("AP_small", "ap_small"), ("AP_medium", "ap_medium"), ("AP_large", "ap_large")):
                cells += _group(ctx, run, metric, num(p[col]))
            cells.append(refs_cell(ctx.refs.run(run, kinds=("accuracy",))))
            t.add(cells)
    return t


def other_tasks(ctx: Ctx) -> Table | None:
    runs = [r for r in ctx.results.runs if r.task != "detect" and any(p.startswith("readme.") for p in r.paper)]
    if not runs:
        return None
    t = Table("tasks", "", "Other tasks beside the official README",
              "Segmentation and classification runs mapped to the README's rows (COCO 640 px; ImageNet 224 px). "
              "Metrics in % (mean \u00b1 std over seeds); FLOPs at the imgsz of complexity.csv (README: at its own "
              f"imgsz). {ctx.eval_precision(runs)}",
              ["Model", "Metric", "ours", "README", "\u0394", "ours", "README", "ours", "README", "Ref."],
              groups=[("", 2), ("Accuracy", 3), ("FLOPs (G)", 2), ("Params (M)", 2), ("", 1)],
              align="ll" + "r" * 7 + "l")
    readme_cols = {"AP": "map_box", "mask_AP": "map_mask", "top1": "top1", "top5": "top5"}
    for run in runs:
        p = next(paper_rows()[pid] for pid in run.paper if pid.startswith("readme."))
        for k, (col, label) in enumerate(task_metrics(run.task)):
            theirs = num(p.get(readme_cols.get(col, ""), ""))
            cells = [Cell(run.label if k == 0 else ""), Cell(label)]
            cells += _group(ctx, run, col, theirs, paper_reason="not in the README")
            if k == 0:
                cells += [val(gflops(run), 2, ctx.cx_missing(run)), val(num(p.get("flops_g")), 1),
                          val(params_m(run), 2, ctx.cx_missing(run)), val(num(p.get("params_m")), 1),
                          refs_cell(ctx.refs.run(run))]
            else:
                cells += [Cell("")] * 5
            t.add(cells, rule=k == 0)
    return t


__all__ = ["T5", "T5_DEFAULT_PREFER", "T5_PREFER", "converged_cell", "other_tasks", "scale_label", "table1", "table2",
           "table5", "table6"]
