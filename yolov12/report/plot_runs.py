"""Per-run figures: training curves (only what was measured, for the run's task: an unvalidated epoch is a gap,
never a 0; only the task's loss keys; integer epoch ticks) and latency distributions per device and precision."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.lines
import matplotlib.patches
import matplotlib.ticker as mticker

from ..registry import TASK_TABLE, runtimes
from .data import Results, Run, scale_order
from .paper import reference_log_for
from .parse import num, read_csv
from .plots import FigureInfo, new_figure, save, slug
from .timing import cell_key, contention, device_class, device_name, imgsz, is_ok, latency_ms, size_text

PANELS = (("train/", "training losses"), ("val/", "validation losses"), ("metrics/", "validation metrics"),
          ("lr/", "learning rate"))


def task_keys(task: str, columns) -> list[str]:
    """The curve columns that belong to the task (losses and metrics of other tasks are left out)."""
    row = TASK_TABLE[task or "detect"]  # the loss keys and metric-name markers Ultralytics logs for the task
    losses, marks = row.losses, row.metric_marks
    keep = []
    for col in columns:
        prefix, _, name = col.partition("/")
        if (prefix in ("train", "val") and name in losses) or (prefix == "metrics" and any(m in name for m in marks)) \
                or col == "lr/pg0":
            keep.append(col)
    return keep


def measured_series(rows: list[dict[str, str]], task: str) -> tuple[list[float], dict[str, list[float | None]]]:
    """(epochs, {column: values}) of the task's columns that hold at least one finite value; None = not measured."""
    rows = sorted((r for r in rows if num(r.get("epoch")) is not None), key=lambda r: num(r["epoch"]))
    epochs = [num(r["epoch"]) for r in rows]
    cols = {}
    for key in task_keys(task, list(dict.fromkeys(k for r in rows for k in r))):
        values = [num(r.get(key)) for r in rows]
        values = [v if v is not None and math.isfinite(v) else None for v in values]
        if any(v is not None for v in values):
            cols[key] = values
    return epochs, cols


def _plot_measured(ax, xs, values, **kw):
    """Only the measured points (an unvalidated epoch is skipped, not drawn at 0)."""
    pts = [(x, v) for x, v in zip(xs, values) if v is not None]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], **kw)


def curve_run_dir(run: Run) -> str:
    """The run directory of the run's first seed with a curve (one figure per run directory: a baseline shared by
    several studies is drawn once)."""
    return next((r.get("run_dir", "") for r in run.curves), "")


def training_curves(run: Run, out: Path, reference_dir, index: int) -> FigureInfo | None:
    seeds = list(dict.fromkeys(r.get("seed", "") for r in run.curves))
    seed = seeds[0]
    epochs, cols = measured_series([r for r in run.curves if r.get("seed", "") == seed
                                    and r.get("run_dir", "") == curve_run_dir(run)], run.task)
    if not epochs or not cols:
        return None
    ref_path = reference_log_for(reference_dir, run.family, run.task, run.scale)
    r_epochs, r_cols = measured_series(read_csv(ref_path), run.task) if ref_path else ([], {})
    progress = bool(r_epochs) and (max(r_epochs) > 2 * max(epochs) or max(epochs) > 2 * max(r_epochs))
    ex = [e / max(epochs) for e in epochs] if progress else epochs
    rx = [e / max(r_epochs) for e in r_epochs] if progress and r_epochs else r_epochs
    panels = [(p, t) for p, t in PANELS if any(k.startswith(p) for k in cols)]
    fig = new_figure(6.8, 3.6 if len(panels) > 2 else 1.9)
    axes = fig.subplots(math.ceil(len(panels) / 2), 2, sharex=True, squeeze=False).ravel()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for i, (prefix, title) in enumerate(panels):
        ax = axes[i]
        keys = [k for k in cols if k.startswith(prefix)]
        for k, key in enumerate(keys):
            sparse = sum(v is not None for v in cols[key]) < len(ex)
            _plot_measured(ax, ex, cols[key], color=f"C{k}", label=key.split("/", 1)[1],
                           marker="o" if len(ex) < 15 or sparse else None, ms=2.5)
            if key in r_cols:
                _plot_measured(ax, rx, r_cols[key], color=f"C{k}", ls=":", lw=0.9, alpha=0.8, label="_reference")
        if run.diverged_epoch is not None:
            x = run.diverged_epoch / max(epochs) if progress else run.diverged_epoch
            ax.axvline(x, color="#c0392b", lw=0.8, ls="--", label="_diverged")
            ax.text(x, 0.03, " diverged", color="#c0392b", fontsize=6, va="bottom", transform=ax.get_xaxis_transform())
        ax.set_title(title)
        if prefix == "lr/":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        if not progress:
            ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
        ax.set_xlabel("training progress (epoch / last epoch)" if progress else "epoch")
        ax.tick_params(labelbottom=True)
        ax.legend(frameon=False, ncols=2 if len(keys) > 3 else 1, fontsize=6, loc="best")
    name = f"{run.study} / {run.variant} / {run.label}" + (f" / seed {seed}" if seed != "" else "")
    fig.suptitle(name + (f"  (dotted: {ref_path.name})" if ref_path else ""), fontsize=8)
    path = out / (f"curves_{index:02d}_{slug(run.study)}_{slug(run.variant)}_{slug(run.family)}{run.scale}_"
                  f"{slug(run.task)}.svg")
    data = save(fig, path)
    caption = (f"Training curves of {name} from curves.csv: the {run.task} task's losses, validation metrics and "
               "learning rate per epoch, only where measured (an epoch without validation is a gap, not a 0)."
               + (f" Seed {seed} of {len(seeds)}." if len(seeds) > 1 else ""))
    if ref_path:
        caption += (f" Dotted lines: the reference log {ref_path.name}"
                    + (", on a training-progress axis because the epoch counts differ" if progress else "")
                    + "; it was trained on its own data set and budget, so only the shapes compare.")
    if run.diverged_epoch is not None:
        caption += f" The run diverged at epoch {run.diverged_epoch} (red dashed line)."
    return FigureInfo(path, f"Training curves: {name}", caption, "Training curves", data)


def latency_distributions(results: Results, out: Path) -> list[FigureInfo]:
    groups: dict[tuple[str, str, str], list[dict]] = {}
    shared: dict[tuple, list[str]] = {}  # a run directory's cell appears once per study that uses it: draw it once
    for r in results.frames["latency"]:
        if is_ok(r):
            studies = shared.setdefault(cell_key(r), [])
            studies.append(r.get("study", ""))
            if len(studies) == 1:
                groups.setdefault((device_class(r), device_name(r), r.get("precision", "")), []).append(r)
    order = runtimes()
    colors = {rt: f"C{i}" for i, rt in enumerate(order)}
    infos = []
    for (_, name, prec), items in sorted(groups.items()):
        items.sort(key=lambda r: (r.get("study", ""), scale_order(r.get("scale", "")), r.get("variant", ""),
                                  r.get("runtime", ""), imgsz(r) or (0, 0)))
        fig = new_figure(6.8, 1.0 + 0.2 * len(items))
        ax = fig.add_subplot()
        ys = list(range(len(items)))[::-1]
        values = []
        for y, r in zip(ys, items):
            c = colors.get(r.get("runtime", ""), "#555555")
            p50, p90, p95, p99 = latency_ms(r), num(r.get("p90_ms")), num(r.get("p95_ms")), num(r.get("p99_ms"))
            values += [v for v in (p50, p99) if v]
            if p99 is not None:
                ax.plot([p50, p99], [y, y], color=c, lw=0.9)
                ax.plot([p99, p99], [y - 0.22, y + 0.22], color=c, lw=0.9)
            if p90 is not None:
                ax.add_patch(matplotlib.patches.Rectangle((p50, y - 0.3), p90 - p50, 0.6, facecolor=c, alpha=0.35,
                                                          edgecolor=c, lw=0.6))
            if p95 is not None:
                ax.plot([p95, p95], [y - 0.3, y + 0.3], color=c, lw=0.6)
            ax.plot([p50, p50], [y - 0.34, y + 0.34], color=c, lw=1.6)
            lo, hi = num(r.get("median_ci_lo")), num(r.get("median_ci_hi"))
            if lo is not None and hi is not None:
                ax.plot([lo, hi], [y + 0.42, y + 0.42], color="black", lw=0.8)
        labels = [f"{r.get('study')}/{r.get('variant')} {r.get('family', 'yolov12').replace('yolov12', 'v12')}"
                  f"-{r.get('scale', '').upper()} \u00b7 {r.get('runtime')} \u00b7 {size_text(imgsz(r))} \u00b7 "
                  f"{r.get('iters') or '?'} it \u00b7 {r.get('kernel') or 'kernel ?'}"
                  + (" \u00b7 CONTENDED" if contention(r) else "")
                  + (f" (also {len(shared[cell_key(r)]) - 1} other studies)" if len(shared[cell_key(r)]) > 1
                     else "") for r in items]
        ax.set_yticks(ys, labels, fontsize=5.5)
        ax.set_ylim(-0.7, len(items) - 0.3)
        if values and max(values) / max(min(values), 1e-9) > 20:
            ax.set_xscale("log")
        ax.set_xlabel("latency (ms): bar = median (black line above: its 95 % interval), box = median\u2013p90, "
                      "tick = p95, whisker end = p99")
        ax.grid(axis="y", visible=False)
        handles = [matplotlib.lines.Line2D([], [], color=c, lw=3, label=rt) for rt, c in colors.items()
                   if any(r.get("runtime") == rt for r in items)]
        ax.legend(handles=handles, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="runtime",
                  title_fontsize=6.5)
        ax.set_title(f"Latency distribution on {name}, {prec}")
        path = out / f"latency_{slug(name)}_{slug(prec)}.svg"
        data = save(fig, path)
        caption = (f"Latency of every cell timed on {name} at {prec}, one line per run directory, runtime and image "
                   "size (latency.csv; a run shared by several studies is drawn once): the thick bar is the median "
                   "with its 95 % interval drawn above it, the box spans median to p90, the thin tick is p95, the "
                   "whisker ends at p99. Each label names the image size, "
                   "the iterations and the attention kernel that ran; CONTENDED marks a cell measured while other "
                   "work competed for the device.")
        infos.append(FigureInfo(path, f"Latency distribution: {name} {prec}", caption, "Latency", data))
    return infos
