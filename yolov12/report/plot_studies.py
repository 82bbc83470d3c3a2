"""One figure per study (and task), whatever the study: the task's headline metric per variant (mean over seeds with
the seeds' std as error bar, the paper's value as a marker where a variant reproduces a paper row), the paired Δ
against the baseline with its 95 % interval, and the median latency with its interval in one labelled setting."""

from __future__ import annotations

from pathlib import Path

from .cells import Ctx, acc_stats, run_delta, task_metrics
from .data import PEERS
from .paper import paper_rows
from .plots import OURS_COLORS, FigureInfo, new_figure, save
from .study_tables import ANY_PREFER, study_groups, study_key
from .timing import choose_setting, interval, latency_ms, pick

PAPER_AP_COLUMN = {"AP": "ap"}  # paper rows carry AP (Tables 2, 5); the other tasks' metrics are README-only


def _labels(runs) -> list[str]:
    multi = len({r.scale for r in runs}) > 1
    return [f"{r.variant} ({r.scale.upper()})" if multi else r.variant for r in runs]


def _xticks(ax, labels):
    long = max((len(x) for x in labels), default=0) > 9 or len(labels) > 6
    ax.set_xticks(range(len(labels)), labels, rotation=30 if long else 0, ha="right" if long else "center",
                  rotation_mode="anchor", fontsize=6)
    ax.grid(axis="x", visible=False)


def _missing(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", color="#7f7f7f", transform=ax.transAxes, fontsize=6.5)
    ax.set_yticks([])


def study_figure(ctx: Ctx, study, task: str, runs, groups: int, out: Path) -> FigureInfo | None:
    if not runs:
        return None
    metric, label = task_metrics(task)[0]
    runs = sorted(runs, key=lambda r: (r.scale, [v.name for v in study.variants].index(r.variant)
                                       if study.variant(r.variant) else 99, r.variant))
    labels = _labels(runs)
    setting = choose_setting(runs, prefer=ANY_PREFER)
    fig = new_figure(7.0, 2.7)
    ax_m, ax_d, ax_l = fig.subplots(1, 3, squeeze=True)
    xs = list(range(len(runs)))
    syn = any(ctx.syn(r) for r in runs)

    stats = [acc_stats(r, metric) for r in runs]
    heights = [s[0] if s else float("nan") for s in stats]
    errs = [s[1] if s and s[2] > 1 else 0.0 for s in stats]
    colors = ["#c0392b" if r.baseline else OURS_COLORS[0] for r in runs]
    bars = ax_m.bar(xs, heights, yerr=errs, color=colors, width=0.65, capsize=2, label=f"ours: {label}",
                    error_kw={"lw": 0.8})
    for x, s, r in zip(xs, stats, runs):
        if s is None:
            ax_m.text(x, 0.02, ctx.acc_missing(r, metric)[:28], rotation=90, ha="center", va="bottom", fontsize=5,
                      color="#7f7f7f", transform=ax_m.get_xaxis_transform())
    paper = [next((float(paper_rows()[p][PAPER_AP_COLUMN[metric]]) for p in r.paper
                   if metric in PAPER_AP_COLUMN and paper_rows()[p].get(PAPER_AP_COLUMN[metric])), None) for r in runs]
    if any(v is not None for v in paper) and not syn:
        px = [x for x, v in zip(xs, paper) if v is not None]
        ax_m.plot(px, [v for v in paper if v is not None], ls="none", marker="D", mfc="white", color="black",
                  label="paper")
        ax_m.legend(frameon=False, fontsize=5.5, loc="best")
    if all(s is None for s in stats):
        _missing(ax_m, "no accuracy measured")
    else:
        known = [h for h in heights if h == h]
        lo, hi = min(known), max(known)
        pad = max(0.5, (hi - lo) * 0.6)
        ax_m.set_ylim(max(0.0, lo - pad - max(errs)), hi + pad + max(errs))
    ax_m.set_title(f"{label} (%)\nmean \u00b1 std over seeds" + (", synthetic data" if syn else ""), fontsize=7)
    bars.set_label(f"ours: {label}")

    deltas = [None if r.baseline else run_delta(ctx, r, metric) for r in runs]
    deltas = [(d.delta, d.lo, d.hi) if d is not None and d.lo is not None else None for d in deltas]
    got = [(x, d) for x, d in zip(xs, deltas) if d is not None]
    if got:
        ax_d.errorbar([x for x, _ in got], [100 * d[0] for _, d in got],
                      yerr=[[100 * (d[0] - d[1]) for _, d in got], [100 * (d[2] - d[0]) for _, d in got]],
                      fmt="o", color=OURS_COLORS[0], capsize=2, ms=3.5, lw=0.9, label="\u0394 [95 % CI]")
        ax_d.axhline(0.0, color="#c0392b", lw=0.7, ls="--")
    for x, r, d in zip(xs, runs, deltas):
        if d is None:
            ax_d.text(x, 0.5, "baseline" if r.baseline else "no paired \u0394", rotation=90, ha="center",
                      va="center", fontsize=5.5, color="#c0392b" if r.baseline else "#7f7f7f",
                      transform=ax_d.get_xaxis_transform())
    ax_d.set_title(f"\u0394 {label} vs baseline (points)\nseed means, 95 % interval", fontsize=7)
    ax_d.set_xlim(-0.6, len(runs) - 0.4)

    lat, err_lo, err_hi = [], [], []
    for r in runs:
        row = pick(r, setting=setting)[0] if setting else None
        ms, ci = latency_ms(row), interval(row)
        lat.append(ms if ms is not None else float("nan"))
        err_lo.append(ms - ci[0] if ms is not None and ci else 0.0)
        err_hi.append(ci[1] - ms if ms is not None and ci else 0.0)
    if setting is not None:
        ax_l.bar(xs, lat, yerr=[err_lo, err_hi], color=colors, width=0.65, capsize=2, error_kw={"lw": 0.8},
                 label="median [95 % CI]")
        ax_l.set_title(f"median latency (ms), 95 % interval\n{setting.short}", fontsize=7)
    else:
        _missing(ax_l, "no latency measured")
        ax_l.set_title("latency (ms)")
    for ax in (ax_m, ax_d, ax_l):
        _xticks(ax, labels)
    name = f"Study {study.name}" + (f" ({task})" if groups > 1 else "")
    fig.suptitle(f"{name}: {study.title}" if study.title else name, fontsize=8)
    path = out / f"{study_key(study, task, groups)}.svg"
    data = save(fig, path)
    caption = (f"{name}, task {task}: {label} per variant (red: the baseline; error bars: std over seeds; white "
               "diamonds: the paper's value where a variant reproduces a paper row), the \u0394 of seed means to "
               "the baseline with its 95 % interval (deltas.csv: seeds + images, or image-only with one seed), and "
               "the median latency with its 95 % interval"
               + (f" on {setting.label}." if setting else " (none measured).")
               + (" Accuracy on synthetic data: checks the pipeline, not the paper." if syn else ""))
    return FigureInfo(path, f"Study: {name}", caption, "Studies", data)


def study_figures(ctx: Ctx, out: Path) -> list[FigureInfo]:
    infos = []
    for study in ctx.results.studies:
        if study.name == PEERS and not study.declared:
            continue
        groups = study_groups(ctx, study)
        for task, _, runs in groups:
            info = study_figure(ctx, study, task, runs, len(groups), out)
            if info:
                infos.append(info)
    return infos
