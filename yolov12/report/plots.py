"""The report's figures (matplotlib, no pyplot state; SVG, deterministic): trade-off curves like the paper's Figure 1,
training curves per run (optionally over reference logs), ablation bar charts and latency distributions."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.lines
import matplotlib.patches
from matplotlib.figure import Figure

from ..io import atomic_path
from .data import (SCALES, Results, Run, choose_setting, device_class, latency_ms, num, paper_rows, paper_table,
                   pick_latency, read_log, reference_log_for)
from .tables import T5_DEFAULT_PREFER, T5_PREFER, gflops, is_synthetic, pct

RC = {"svg.hashsalt": "yolov12-report", "svg.fonttype": "path", "font.family": "DejaVu Sans", "font.size": 7.5,
      "axes.titlesize": 8, "axes.labelsize": 7.5, "legend.fontsize": 6.5, "xtick.labelsize": 6.5,
      "ytick.labelsize": 6.5, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
      "grid.alpha": 0.3, "grid.linewidth": 0.5, "lines.linewidth": 1.2, "lines.markersize": 4}
OURS_COLORS = ("#1f3a93", "#e67e22", "#16a085", "#8e44ad", "#c0392b", "#2c3e50", "#d35400", "#27ae60")
PAPER_COLORS = {"YOLOv12": "#d62728", "YOLO11": "#1f77b4", "YOLOv10": "#2ca02c", "YOLOv8": "#9467bd",
                "YOLOv9": "#8c564b", "YOLOv6-3.0": "#e377c2", "Gold-YOLO": "#7f7f7f", "RT-DETR": "#bcbd22",
                "RT-DETRv2": "#17becf"}
RUNTIME_COLORS = {"eager": "#1f77b4", "compile": "#ff7f0e", "cudagraphs": "#2ca02c", "onnxruntime": "#9467bd",
                  "tensorrt": "#d62728"}


@dataclass
class FigureInfo:
    path: Path  # the SVG file
    title: str
    caption: str
    category: str

    @property
    def stem(self) -> str:
        return self.path.stem


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-").lower() or "x"


def save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.hashsalt": RC["svg.hashsalt"], "svg.fonttype": "path"}):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.03)
    return path


def new_figure(w: float, h: float) -> Figure:
    return Figure(figsize=(w, h), layout="constrained")


# ------------------------------------------------------------------------------------------------------ trade-offs
def _paper_families():
    fams: dict[str, list[dict]] = {}
    for row in paper_table("table1_coco"):
        fams.setdefault(row["family"], []).append(row)
    return fams


def _our_series(results: Results, synthetic: bool):
    """Per latency setting: list of (scale, latency ms, AP %, AP from paper?) for the Table 1 runs."""
    runs = [r for r in results.runs_in_table("1") if r.task == "detect" and r.family == "yolov12"]
    settings = []
    for run in runs:
        for row in run.latency:
            if row.get("status", "ok") != "ok" or latency_ms(row) is None:
                continue
            key = (device_class(row), row.get("device_name") or row.get("device", ""), row.get("precision", ""),
                   row.get("runtime", ""))
            if key not in settings:
                settings.append(key)
    series = []
    for dev, name, prec, rt in settings:
        pts = []
        for s in SCALES:
            run = next((r for r in runs if r.scale == s), None)
            row, _ = pick_latency(run, dev, prec, runtime=rt)
            if row is None:
                continue
            ap, from_paper = _ap_for_plot(results, run, synthetic)
            if ap is not None:
                pts.append((s, latency_ms(row), ap, from_paper))
        if pts:
            series.append((f"ours: {name} {prec} {rt}", pts))
    return runs, series


def _ap_for_plot(results: Results, run: Run, synthetic: bool) -> tuple[float | None, bool]:
    ours = pct(run, "AP")
    if ours is not None and not is_synthetic(results, run, synthetic):
        return ours, False
    pid = f"t1.yolov12-{run.scale}"
    return num(paper_rows()[pid]["ap"]) if pid in paper_rows() else None, True


def tradeoff(results: Results, out: Path, synthetic: bool, x: str) -> FigureInfo:
    """x = 'latency' or 'flops': the paper's Figure 1 with our points."""
    fig = new_figure(6.6, 3.7)
    ax = fig.add_subplot()
    col = "latency_t4_trt_fp16_ms" if x == "latency" else "flops_g"
    for fam, rows in _paper_families().items():
        pts = [(num(r[col]), num(r["ap"])) for r in rows if num(r[col]) is not None and num(r["ap"]) is not None]
        if not pts:
            continue
        xs, ys = zip(*pts)
        ours = fam == "YOLOv12"
        ax.plot(xs, ys, marker="*" if ours else "o", ms=7 if ours else 3.5, lw=1.8 if ours else 0.9,
                color=PAPER_COLORS.get(fam, "#555555"), alpha=1 if ours else 0.75,
                label=f"{fam} (paper{', T4 TRT FP16' if x == 'latency' and ours else ''})", zorder=3 if ours else 2)
    runs, series = _our_series(results, synthetic)
    any_paper_ap = False
    if x == "latency":
        for k, (label, pts) in enumerate(series):
            c = OURS_COLORS[k % len(OURS_COLORS)]
            xs = [p[1] for p in pts]
            ys = [p[2] for p in pts]
            hollow = all(p[3] for p in pts)
            any_paper_ap |= any(p[3] for p in pts)
            ax.plot(xs, ys, marker="D", ms=4.5, lw=1.0, ls="--", color=c, mfc="white" if hollow else c,
                    label=label + (" (AP from paper)" if hollow else ""), zorder=4)
            for s, xv, yv, _ in pts:
                ax.annotate(s.upper(), (xv, yv), textcoords="offset points", xytext=(3, -7), fontsize=6, color=c)
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_xscale("log")
        title = "Latency vs accuracy (paper's Figure 1 style)"
    else:
        pts = []
        for run in runs:
            g = gflops(run)
            ap, from_paper = _ap_for_plot(results, run, synthetic)
            if g is not None and ap is not None:
                pts.append((run.scale, g, ap, from_paper))
        pts.sort(key=lambda p: p[1])
        if pts:
            hollow = all(p[3] for p in pts)
            any_paper_ap |= any(p[3] for p in pts)
            ax.plot([p[1] for p in pts], [p[2] for p in pts], marker="D", ms=4.5, lw=1.0, ls="--",
                    color=OURS_COLORS[0], mfc="white" if hollow else OURS_COLORS[0],
                    label="ours: measured GFLOPs" + (" (AP from paper)" if hollow else ""), zorder=4)
            for s, xv, yv, _ in pts:
                ax.annotate(s.upper(), (xv, yv), textcoords="offset points", xytext=(3, -7), fontsize=6,
                            color=OURS_COLORS[0])
        ax.set_xlabel("FLOPs (G, log scale)")
        ax.set_xscale("log")
        title = "FLOPs vs accuracy (paper's Figure 1 style)"
    ax.set_ylabel("COCO val2017 AP50:95 (%)")
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    name = "fig1_latency_ap" if x == "latency" else "fig1_flops_ap"
    path = save(fig, out / f"{name}.svg")
    what = "latency" if x == "latency" else "FLOPs"
    caption = (f"Accuracy against {what} for the detectors of the paper's Table 1 (solid lines; YOLOv12 in red"
               + (", latency on a T4 GPU with TensorRT FP16" if x == "latency" else "")
               + ") with this config's YOLOv12 measurements (dashed, diamonds"
               + ("; one line per device, precision and runtime" if x == "latency" else "") + "). "
               + ("Hollow diamonds sit at the paper's AP because this config has no comparable COCO accuracy; only "
                  f"their {what} is ours. " if any_paper_ap else "")
               + ("No measurements of this config are on this plot." if not (series if x == "latency" else runs) else
                  ""))
    return FigureInfo(path, title, caption.strip(), "Trade-offs")


# ----------------------------------------------------------------------------------------------- training curves
PANELS = (("train/", "training losses"), ("val/", "validation losses"), ("metrics/", "validation metrics"),
          ("lr/", "learning rate"))


def _series(rows: list[dict[str, str]]) -> tuple[list[float], dict[str, list[float | None]]]:
    rows = [r for r in rows if num(r.get("epoch")) is not None]
    rows.sort(key=lambda r: num(r["epoch"]))
    epochs = [num(r["epoch"]) for r in rows]
    cols: dict[str, list[float | None]] = {}
    for r in rows:
        for k in r:
            if "/" in k and k not in cols:
                cols[k] = []
    for k in cols:
        for r in rows:
            v = num(r.get(k))
            cols[k].append(v if v is not None and math.isfinite(v) else float("nan"))
    return epochs, cols


def training_curves(run: Run, out: Path, reference_dir, index: int) -> FigureInfo | None:
    epochs, cols = _series(run.curves)
    if not epochs:
        return None
    ref_path = reference_log_for(reference_dir, run.family, run.task, run.scale)
    r_epochs, r_cols = _series(read_log(ref_path)) if ref_path else ([], {})
    progress = bool(r_epochs) and (max(r_epochs) > 2 * max(epochs) or max(epochs) > 2 * max(r_epochs))
    ex = [e / max(epochs) for e in epochs] if progress else epochs
    rx = [e / max(r_epochs) for e in r_epochs] if progress and r_epochs else r_epochs
    panels = [(p, t) for p, t in PANELS if any(k.startswith(p) for k in cols)]
    if not panels:
        return None
    fig = new_figure(6.8, 3.6 if len(panels) > 2 else 1.9)
    ncols = 2
    nrows = math.ceil(len(panels) / ncols)
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for i, (prefix, title) in enumerate(panels):
        ax = axes[i]
        keys = [k for k in cols if k.startswith(prefix)]
        if prefix == "lr/":
            keys = keys[:1]
        for k, key in enumerate(keys):
            c = f"C{k}"
            ax.plot(ex, cols[key], color=c, label=key.split("/", 1)[1], marker="o" if len(ex) < 15 else None, ms=2.5)
            if key in r_cols:
                ax.plot(rx, r_cols[key], color=c, ls=":", lw=0.9, alpha=0.8)
        if run.diverged_epoch is not None:
            x = run.diverged_epoch / max(epochs) if progress else run.diverged_epoch
            ax.axvline(x, color="#c0392b", lw=0.8, ls="--")
            ax.text(x, 0.03, " diverged", color="#c0392b", fontsize=6, va="bottom", transform=ax.get_xaxis_transform())
        ax.set_title(title)
        if prefix == "lr/":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        if i >= len(panels) - ncols:
            ax.set_xlabel("training progress (epoch / last epoch)" if progress else "epoch")
        ax.tick_params(labelbottom=True)
        ax.legend(frameon=False, ncols=2 if len(keys) > 3 else 1, fontsize=6, loc="best")
    name = f"{run.study} / {run.variant} / {run.label}"
    fig.suptitle(name + (f"  (dotted: {ref_path.name})" if ref_path else ""), fontsize=8)
    path = save(fig, out / f"curves_{index:02d}_{slug(run.study)}_{slug(run.variant)}_{slug(run.family)}"
                                f"{run.scale}_{slug(run.task)}.svg")
    caption = (f"Training curves of {name} from curves.csv (Ultralytics results.csv columns): losses, validation "
               "metrics and learning rate per epoch.")
    if ref_path:
        caption += (f" Dotted lines: the reference log {ref_path.name} (same columns)"
                    + (", on a training-progress axis because the epoch counts differ" if progress else "")
                    + "; it was trained on its own data set and budget, so only the shapes compare.")
    if run.diverged_epoch is not None:
        caption += f" The run diverged at epoch {run.diverged_epoch} (red dashed line)."
    return FigureInfo(path, f"Training curves: {name}", caption, "Training curves")


# --------------------------------------------------------------------------------------------------------- ablations
def _paper_value_for(run: Run, metric: str, setting) -> float | None:
    for pid in run.paper:
        p = paper_rows()[pid]
        if metric == "ap":
            v = num(p.get("ap"))
        elif pid.startswith("t3."):
            if setting is None or setting.device == "cpu":
                v = num(p.get("cpu_ms"))
            else:
                v = num(p.get(f"rtx3080_{setting.precision}_ms"))
        else:
            v = num(p.get("latency_ms"))
        if v is not None:
            return v
    return None


def _paper_order(run: Run) -> int:
    order = [p["row_id"] for name in ("table2_relan", "table5_diagnostics", "table3_area_attention")
             for p in paper_table(name)]
    for pid in run.paper:
        if pid in order:
            return order.index(pid)
    return len(order)


def ablation(results: Results, study: str, runs: list[Run], out: Path, synthetic: bool) -> FigureInfo | None:
    runs = sorted(runs, key=lambda r: (SCALES.index(r.scale) if r.scale in SCALES else 9, _paper_order(r), r.variant))
    subs = {p.split(".", 1)[0][1:] for r in runs for p in r.paper}
    prefer = next((T5_PREFER[k] for k in subs if k in T5_PREFER), T5_DEFAULT_PREFER)
    setting = choose_setting(runs, prefer=prefer)
    multi_scale = len({r.scale for r in runs}) > 1
    labels = [f"{r.scale.upper()} {r.variant}" if multi_scale else r.variant for r in runs]
    data = {
        ("ap", "ours"): [pct(r, "AP") for r in runs],
        ("ap", "paper"): [_paper_value_for(r, "ap", setting) for r in runs],
        ("lat", "ours"): [latency_ms(pick_latency(r, setting.device, setting.precision, runtime=setting.runtime)[0])
                          if setting else None for r in runs],
        ("lat", "paper"): [_paper_value_for(r, "lat", setting) for r in runs],
    }
    metrics = [m for m in ("ap", "lat") if any(v is not None for v in data[(m, "ours")] + data[(m, "paper")])]
    if len(runs) < 2 or not metrics:
        return None
    fig = new_figure(6.8, 1.9 * len(metrics) + 0.5)
    base_idx = {}
    for i, r in enumerate(runs):
        if r.baseline:
            base_idx.setdefault(r.scale, i)
    for i, r in enumerate(runs):  # fall back to the paper's default row
        if r.scale not in base_idx and any(paper_rows()[p].get("default") == "yes" for p in r.paper):
            base_idx[r.scale] = i
    syn = synthetic or any(is_synthetic(results, r, False) for r in runs)
    for m_i, metric in enumerate(metrics):
        for s_i, side in enumerate(("ours", "paper")):
            ax = fig.add_subplot(len(metrics), 2, m_i * 2 + s_i + 1)
            values = data[(metric, side)]
            xs = list(range(len(runs)))
            colors = ["#1f3a93" if side == "ours" else "#b0b7c6"] * len(runs)
            heights = [v if v is not None else float("nan") for v in values]
            bars = ax.bar(xs, heights, color=colors, width=0.7, edgecolor="black", linewidth=0.4)
            if all(v is None for v in values):
                ax.set_yticks([])
                ax.text(0.5, 0.5, "not measured in this config" if side == "ours" else "not reported in the paper",
                        ha="center", va="center", color="#7f7f7f", transform=ax.transAxes)
            for i, (bar, v) in enumerate(zip(bars, values)):
                if i in base_idx.values():
                    bar.set_hatch("///")
                    bar.set_edgecolor("#c0392b")
                    if v is not None:
                        ax.axhline(v, color="#c0392b", lw=0.7, ls="--")
                if v is None:
                    why = "n/a"
                    if metric == "ap" and (runs[i].converged is False if side == "ours" else
                                           any(paper_rows()[p].get("converged") == "no" for p in runs[i].paper)):
                        why = "diverged"
                    ax.text(i, 0.03, why, ha="center", va="bottom", fontsize=5.5, color="#7f7f7f", rotation=90,
                            transform=ax.get_xaxis_transform())
                else:
                    ax.text(i, v, f"{v:.1f}" if metric == "ap" else f"{v:.2f}", ha="center", va="bottom",
                            fontsize=5.5)
            long = max(len(x) for x in labels) > 9 or len(labels) > 6
            ax.set_xticks(xs, labels, fontsize=5.8, rotation=30 if long else 0, ha="right" if long else "center",
                          rotation_mode="anchor")
            ax.grid(axis="x", visible=False)
            if metric == "ap":
                ax.set_ylabel("AP50:95 (%)")
                ax.set_title(f"AP, {side}" + (" (synthetic data)" if side == "ours" and syn else ""))
                known = [v for v in values if v is not None]
                if known:
                    lo, hi = min(known), max(known)
                    pad = max(0.5, (hi - lo) * 0.6)
                    ax.set_ylim(max(0.0, lo - pad), hi + pad * 0.8)
            else:
                ax.set_ylabel("latency (ms)")
                where = (setting.label if setting else "not measured") if side == "ours" else "paper's setup"
                ax.set_title(f"latency, {side} ({where})")
    fig.suptitle(f"Ablation study '{study}' (hatched red: baseline / default, dashed line: its value)", fontsize=8)
    path = save(fig, out / f"ablation_{slug(study)}.svg")
    caption = (f"Study '{study}': AP and median latency of each variant, ours (left) beside the paper (right). "
               "The hatched bar with the red dashed line is the study's baseline (the paper's default setting). "
               + ("Our AP is on synthetic data and does not compare with COCO in absolute terms. " if syn else "")
               + (f"Our latency: {setting.label}." if setting else "No latency of ours for this study."))
    return FigureInfo(path, f"Ablation: {study}", caption, "Ablations")


# ----------------------------------------------------------------------------------------------- latency distributions
def latency_distributions(results: Results, out: Path) -> list[FigureInfo]:
    rows = [r for r in results.frames["latency"] if r.get("status", "ok") == "ok" and latency_ms(r) is not None]
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        key = (device_class(r), r.get("device_name") or r.get("device", ""), r.get("precision", ""))
        groups.setdefault(key, []).append(r)
    infos = []
    for (_, name, prec), items in sorted(groups.items()):
        items.sort(key=lambda r: (r.get("study", ""), SCALES.index(r["scale"]) if r.get("scale") in SCALES else 9,
                                  r.get("variant", ""), r.get("runtime", "")))
        fig = new_figure(6.8, 0.9 + 0.2 * len(items))
        ax = fig.add_subplot()
        ys = list(range(len(items)))[::-1]
        values = []
        for y, r in zip(ys, items):
            c = RUNTIME_COLORS.get(r.get("runtime", ""), "#555555")
            p50, p90 = latency_ms(r), num(r.get("p90_ms"))
            p95, p99, mean = num(r.get("p95_ms")), num(r.get("p99_ms")), num(r.get("mean_ms"))
            values += [v for v in (p50, p90, p99, mean) if v]
            if p99 is not None:
                ax.plot([p50, p99], [y, y], color=c, lw=0.9)
                ax.plot([p99, p99], [y - 0.22, y + 0.22], color=c, lw=0.9)
            if p90 is not None:
                ax.add_patch(matplotlib.patches.Rectangle((p50, y - 0.3), p90 - p50, 0.6, facecolor=c, alpha=0.35,
                                                          edgecolor=c, lw=0.6))
            if p95 is not None:
                ax.plot([p95, p95], [y - 0.3, y + 0.3], color=c, lw=0.6)
            ax.plot([p50, p50], [y - 0.34, y + 0.34], color=c, lw=1.6)
            if mean is not None:
                ax.plot(mean, y, marker="o", ms=2.5, color="black", zorder=5)
        labels = [f"{r.get('study')}/{r.get('variant')} {r.get('family', 'yolov12').replace('yolov12', 'v12')}"
                  f"-{r.get('scale', '').upper()} · {r.get('runtime')}"
                  + (f" · {r['attn_backend']}" if r.get("attn_backend") else "") for r in items]
        ax.set_yticks(ys, labels, fontsize=5.8)
        ax.set_ylim(-0.7, len(items) - 0.3)
        if values and max(values) / max(min(values), 1e-9) > 20:
            ax.set_xscale("log")
        ax.set_xlabel("latency (ms): bar = median, box = median\u2013p90, tick = p95, whisker end = p99, dot = mean")
        ax.grid(axis="y", visible=False)
        handles = [matplotlib.lines.Line2D([], [], color=c, lw=3, label=rt) for rt, c in RUNTIME_COLORS.items()
                   if any(r.get("runtime") == rt for r in items)]
        ax.legend(handles=handles, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="runtime",
                  title_fontsize=6.5)
        ax.set_title(f"Latency distribution on {name}, {prec}")
        path = save(fig, out / f"latency_{slug(name)}_{slug(prec)}.svg")
        caption = (f"Latency distribution of every model timed on {name} at {prec}, one line per model and runtime "
                   "(from latency.csv percentiles): the thick bar is the median, the box spans median to p90, the "
                   "thin tick is p95, the whisker ends at p99, the dot is the mean.")
        infos.append(FigureInfo(path, f"Latency distribution: {name} {prec}", caption, "Latency"))
    return infos


def make_figures(results: Results, out: Path, synthetic: bool, reference_dir=None) -> list[FigureInfo]:
    with matplotlib.rc_context(RC):
        return _make_figures(results, Path(out), synthetic, reference_dir)


def _make_figures(results: Results, out: Path, synthetic: bool, reference_dir=None) -> list[FigureInfo]:
    infos = [tradeoff(results, out, synthetic, "latency"), tradeoff(results, out, synthetic, "flops")]
    studies: dict[str, list[Run]] = {}
    for run in results.runs:
        if run.task == "detect":
            studies.setdefault(run.study, []).append(run)
    for study, runs in studies.items():
        if any(p.startswith(("t1.", "readme.")) for r in runs for p in r.paper):
            continue  # the scale study is a trade-off, not an ablation
        info = ablation(results, study, runs, out, synthetic)
        if info:
            infos.append(info)
    infos += latency_distributions(results, out)
    k = 0
    for run in results.runs:
        if run.curves:
            info = training_curves(run, out, reference_dir, k)
            if info:
                infos.append(info)
                k += 1
    return infos
