"""The report's figures (matplotlib without pyplot state; deterministic SVG): the trade-off plots like the paper's
Figure 1 (here), one figure per study (``plot_studies``), training curves and latency distributions (``plot_runs``).

Every figure also yields its data as drawn (``FigureInfo.data``: per axes the plotted lines' x/y with NaN as null,
bars, tick labels, whether tick labels overlap), written to ``figure_data/<figure>.json`` beside the SVGs, so what a
figure shows can be checked without looking at pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import matplotlib.ticker as mticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from ..io import atomic_path
from .data import Results, Run
from .paper import paper_rows, paper_table
from .study_tables import slug
from .timing import PAPER_IMGSZ, latency_ms, pick, settings_of

RC = {"svg.hashsalt": "yolov12-report", "svg.fonttype": "path", "font.family": "DejaVu Sans", "font.size": 7.5,
      "axes.titlesize": 8, "axes.labelsize": 7.5, "legend.fontsize": 6.5, "xtick.labelsize": 6.5,
      "ytick.labelsize": 6.5, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
      "grid.alpha": 0.3, "grid.linewidth": 0.5, "lines.linewidth": 1.2, "lines.markersize": 4}
OURS_COLORS = ("#1f3a93", "#e67e22", "#16a085", "#8e44ad", "#c0392b", "#2c3e50", "#d35400", "#27ae60")
PAPER_COLORS = {"YOLOv12": "#d62728", "YOLO11": "#1f77b4", "YOLOv10": "#2ca02c", "YOLOv8": "#9467bd",
                "YOLOv9": "#8c564b", "YOLOv6-3.0": "#e377c2", "Gold-YOLO": "#7f7f7f", "RT-DETR": "#bcbd22",
                "RT-DETRv2": "#17becf"}


@dataclass
class FigureInfo:
    path: Path  # the SVG file
    title: str
    caption: str
    category: str
    data: dict = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return self.path.stem


def new_figure(w: float, h: float) -> Figure:
    fig = Figure(figsize=(w, h), layout="constrained")
    FigureCanvasAgg(fig)  # a renderer for text extents (tick-label overlap), without pyplot
    return fig


def _finite(values) -> list:
    return [float(v) if v is not None and math.isfinite(float(v)) else None for v in values]


def tick_overlap(ax, axis: str = "x") -> bool:
    """Whether two visible tick labels of an axis overlap on the drawn figure."""
    renderer = ax.figure.canvas.get_renderer()
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    boxes = [t.get_window_extent(renderer) for t in labels
             if t.get_visible() and t.get_text() and lo <= (t.get_position()[0 if axis == "x" else 1]) <= hi]
    boxes.sort(key=lambda b: b.x0 if axis == "x" else b.y0)
    return any((a.x1 > b.x0 if axis == "x" else a.y1 > b.y0) for a, b in zip(boxes, boxes[1:]))


def figure_data(fig: Figure) -> dict:
    """What the figure shows, read back from its artists (after ``save`` drew it)."""
    axes = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        lines = [{"label": ln.get_label(), "x": _finite(ln.get_xdata()), "y": _finite(ln.get_ydata())}
                 for ln in ax.get_lines()]
        bars = [{"label": c.get_label(), "heights": _finite([p.get_height() for p in c.patches])}
                for c in ax.containers if isinstance(c, BarContainer)]
        lo, hi = sorted(ax.get_xlim())
        ticks = [(float(v), t.get_text()) for v, t in zip(ax.get_xticks(), ax.get_xticklabels())
                 if t.get_text() and lo <= v <= hi]
        legend = ax.get_legend()
        axes.append({"title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
                     "xscale": ax.get_xscale(), "xticks": ticks, "xtick_overlap": tick_overlap(ax, "x"),
                     "legend": [t.get_text() for t in legend.get_texts()] if legend else [],
                     "lines": lines, "bars": bars, "texts": [t.get_text() for t in ax.texts]})
    return {"axes": axes}


def _savefig(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.hashsalt": RC["svg.hashsalt"], "svg.fonttype": "path"}):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.03)


def save(fig: Figure, path: Path) -> dict:
    """Write the SVG (deterministic) and return the figure's data. A log axis whose tick labels still overlap
    after ``log_ticks`` chose them falls back to decades only and is drawn again."""
    _savefig(fig, path)
    retry = [ax for ax in fig.axes if ax.get_visible() and ax.get_xscale() == "log" and tick_overlap(ax, "x")]
    for ax in retry:
        ax.xaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0,), numticks=12))
    if retry:
        _savefig(fig, path)
    return figure_data(fig)


def log_ticks(ax, axis: str = "x", max_labels: int = 7) -> None:
    """Readable log-scale tick labels: plain numbers at 1-2-5 steps, or 1-3, or decades, whichever gives at most
    ``max_labels`` labels in the axis range; no minor labels (they are what overlaps on a short log axis)."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    for subs in ((1.0, 2.0, 5.0), (1.0, 3.0), (1.0,)):
        locator = mticker.LogLocator(base=10, subs=subs, numticks=12)
        if sum(lo <= v <= hi for v in locator.tick_values(lo, hi)) <= max_labels:
            break
    target.set_major_locator(locator)
    target.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(mticker.NullFormatter())


# ------------------------------------------------------------------------------------------------------ trade-offs
def _ap_for_plot(run: Run, synthetic: bool) -> tuple[float | None, bool]:
    """Our AP (%), or the paper's AP of the scale when ours is not comparable (synthetic): (value, from paper)."""
    values = run.acc_values("AP")
    if values and not synthetic and "synth" not in run.dataset.lower():
        return 100 * sum(values) / len(values), False
    pid = f"t1.yolov12-{run.scale}"
    return (float(paper_rows()[pid]["ap"]) if pid in paper_rows() else None), True


def _paper_lines(ax, col: str) -> None:
    fams: dict[str, list[dict]] = {}
    for row in paper_table("table1_coco"):
        fams.setdefault(row["family"], []).append(row)
    for fam, rows in fams.items():
        pts = [(float(r[col]), float(r["ap"])) for r in rows if r.get(col) and r.get("ap")]
        if pts:
            ours = fam == "YOLOv12"
            ax.plot(*zip(*pts), marker="*" if ours else "o", ms=7 if ours else 3.5, lw=1.8 if ours else 0.9,
                    color=PAPER_COLORS.get(fam, "#555555"), alpha=1 if ours else 0.75, label=f"{fam} (paper)",
                    zorder=3 if ours else 2)


def _ours(ax, pts, label, color) -> bool:
    """Plot (scale, x, ap, from_paper) points; hollow when the AP is the paper's. Returns whether any was hollow."""
    pts = sorted(pts, key=lambda p: p[1])
    hollow = [p for p in pts if p[3]]
    ax.plot([p[1] for p in pts], [p[2] for p in pts], marker="D", ms=4.5, lw=1.0, ls="--", color=color,
            label=label + (" (hollow: AP from paper)" if hollow else ""), zorder=4)
    if hollow:  # points whose AP is the paper's: only their x is ours
        ax.plot([p[1] for p in hollow], [p[2] for p in hollow], ls="none", marker="D", ms=4.5, color=color,
                mfc="white", zorder=5, label="_hollow")
    for s, xv, yv, _ in pts:
        ax.annotate(s.upper(), (xv, yv), textcoords="offset points", xytext=(3, -7), fontsize=6, color=color)
    return bool(hollow)


def tradeoff(results: Results, out: Path, synthetic: bool, x: str) -> FigureInfo:
    """x = 'flops' (one panel: FLOPs are comparable) or 'latency' (the paper's T4 panel, and ours per setting in a
    panel of its own unless measured in the paper's setting)."""
    runs = [r for r in results.runs_in_table("1") if r.task == "detect" and r.family == "yolov12"]
    any_paper_ap = False
    if x == "flops":
        fig = new_figure(6.6, 3.5)
        ax = fig.add_subplot()
        _paper_lines(ax, "flops_g")
        pts = [(r.scale, float(r.complexity["gflops"]), *_ap_for_plot(r, synthetic)) for r in runs
               if r.complexity and r.complexity.get("gflops") and _ap_for_plot(r, synthetic)[0] is not None]
        if pts:
            any_paper_ap = _ours(ax, pts, "ours: measured GFLOPs", OURS_COLORS[0])
        ax.set_xlabel("FLOPs (G, BN-fused, 640\u00d7640; log scale)")
        ax.set_xscale("log")
        log_ticks(ax)
        axes, title, what = [ax], "FLOPs vs accuracy (paper's Figure 1 style)", "FLOPs"
    else:
        settings = [st for st in settings_of(runs)]
        same = [st for st in settings if st.size == PAPER_IMGSZ and "t4" in st.device_name.lower()
                and st.runtime == "tensorrt" and st.precision == "fp16"]
        fig = new_figure(7.4, 3.4)
        left, right = fig.subplots(1, 2, squeeze=True)
        _paper_lines(left, "latency_t4_trt_fp16_ms")
        left.set_title("paper: T4 GPU, TensorRT FP16, 640\u00d7640")
        for k, st in enumerate(settings):
            pts = []
            for run in runs:
                row, _ = pick(run, setting=st)
                ap, from_paper = _ap_for_plot(run, synthetic)
                if row is not None and ap is not None:
                    pts.append((run.scale, latency_ms(row), ap, from_paper))
            if pts:
                any_paper_ap |= _ours(left if st in same else right, pts, f"ours: {st.label}",
                                      OURS_COLORS[k % len(OURS_COLORS)])
        right.set_title("this config's settings (not comparable with the paper's)")
        if not right.get_lines():
            right.text(0.5, 0.5, "no YOLOv12 scale timed", ha="center", va="center", transform=right.transAxes,
                       color="#7f7f7f")
        for ax in (left, right):
            ax.set_xlabel("median latency (ms, log scale)")
            if ax.get_lines():
                ax.set_xscale("log")
                log_ticks(ax)
        axes, title, what = [left, right], "Latency vs accuracy (paper's Figure 1 style)", "latency"
    for ax in axes:
        ax.set_ylabel("COCO val2017 AP50:95 (%)")
        if ax.get_lines():
            ax.legend(loc="best", frameon=False, fontsize=5.5)
    if x == "flops":
        axes[0].set_title(title)
    name = "fig1_latency_ap" if x == "latency" else "fig1_flops_ap"
    path = out / f"{name}.svg"
    data = save(fig, path)
    caption = (f"Accuracy against {what} for the detectors of the paper's Table 1 (solid lines; YOLOv12 in red) with "
               "this config's YOLOv12 measurements (dashed, diamonds). "
               + ("Left: the paper's T4 TensorRT FP16 latencies at 640\u00d7640 (ours only if measured in that "
                  "setting); right: ours, one line per device, precision, runtime and image size, on their own axes "
                  "because those milliseconds do not compare with the paper's. " if x == "latency" else "")
               + ("Hollow diamonds sit at the paper's AP because this config has no comparable COCO accuracy; only "
                  f"their {what} is ours." if any_paper_ap else ""))
    return FigureInfo(path, title, caption.strip(), "Trade-offs", data)


__all__ = ["FigureInfo", "OURS_COLORS", "figure_data", "new_figure", "save", "slug"]
