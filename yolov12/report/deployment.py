"""The report's deployment section: the accuracy of the exported artifact beside eager's, and the roofline of every
timing cell.

Reads the per-run results of ``results_dir/runs/*/``: ``export.json`` (its ``accuracy``: the export job's ONNX file
scored on ONNX Runtime, CPU, through eager's validator and COCO toolkit; ``yolov12.evaluate.artifact``) and
``latency.json`` (each timed cell's ``roofline``, ``yolov12.latency.roofline``). A missing file or field is a dash
with its reason, never a zero.

- Table "Accuracy of the deployed artifact": AP of eager and of the artifact, ΔAP = artifact - eager with its paired
  bootstrap interval over the validation images, the tolerance, the verdict ("same model" or "fast but not the same
  model"), the artifact's SHA-256 (first 12 hex digits) and the reference to its run.
- Table "Timing cells and the artifact they timed": every cell of a file-based runtime with the checksum of what it
  timed, the ΔAP of that file and its verdict ("same model", "fast but not the same model", or "not evaluated"
  with the reason: a gap, never a pass).
- Table "Roofline of the timing cells": achieved GFLOP/s, arithmetic intensity (FLOP/byte), the measured peaks, the
  fraction of peak compute and of the roof (min(peak, intensity x bandwidth)); a timing cell that ran a flagged
  artifact says so.
- One roofline figure per device (peaks as measured): the roofs per precision, each timed cell a point.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .cells import Ctx, fmt, val
from .model import Cell, Table, dash
from .plots import FigureInfo, new_figure, save
from .study_tables import slug

SECTION = "Deployment"


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def run_results(results_dir: Path, name: str) -> list[tuple[str, dict[str, Any]]]:
    """(run directory name, result) of every ``runs/*/<name>`` that holds a result, in name order."""
    out = []
    for path in sorted(Path(results_dir).glob(f"runs/*/{name}")):
        r = _load(path)
        if isinstance(r, dict):
            out.append((path.parent.name, r))
    return out


def _ref(ctx: Ctx, run_dir: str, kind: str, result: dict[str, Any]) -> Cell:
    rid = ctx.refs.of({"mlflow_run_id": result.get("mlflow_run_id") or "",
                       "results_file": f"runs/{run_dir}/{kind}.json", "variant": run_dir}, kind)
    return Cell(rid or "\u2014")


def signed(v: float, nd: int = 3) -> str:
    return ("+" if v >= 0 else "") + fmt(v, nd)


def _accuracies(r: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any] | None, str]]:
    """(file entry, its accuracy or None, why none) of an export result: one per exported file (older results: the
    one CPU ONNX file's ``accuracy``)."""
    if r.get("artifacts"):
        return [(a, a.get("accuracy"), a.get("reason") or "the export job did not evaluate this file")
                for a in r["artifacts"]]
    why = ("not converged: nothing exported" if r.get("status") == "not_converged"
           else "the export job did not evaluate its artifact")
    return [({"format": "onnx", "device": "cpu", "precision": "fp32"}, r.get("accuracy"), why)]


def verdict_cell(accuracy: dict[str, Any]) -> Cell:
    if not accuracy.get("conclusive", True):  # eager has no more than the tolerance to lose: nothing is shown
        return dash(f"inconclusive: eager scores within the tolerance ({fmt(accuracy['ap_eager'], 3)})")
    return Cell("same model" if accuracy["same_model"] else accuracy.get("flag") or "not the same model",
                strong=not accuracy["same_model"])


def delta_cell(a: dict[str, Any]) -> Cell:
    level = int(round(100 * a.get("level", 0.95)))
    interval = (f"[{signed(a['lo'])}, {signed(a['hi'])}] ({level} %)" if a.get("lo") is not None
                else "(no interval: no per-image matching for this task)")
    return Cell(f"{signed(a['delta'])} {interval}")


def artifact_table(ctx: Ctx) -> Table:
    t = Table("deployment_artifact", "", "Accuracy of the deployed artifact",
              "AP (COCO toolkit AP50:95 of the task's boxes, masks or keypoints; top-1 for classification; "
              "Ultralytics' rotated mAP for obb) of each exported file itself, run by its runtime (ONNX Runtime on "
              "the CPU; TensorRT or ONNX Runtime CUDA on a GPU) through the same validator, letterbox and NMS as "
              "eager, beside eager PyTorch on the same images and settings (square letterbox, the export's image "
              "size: the timing size when the latency matrix times the file). \u0394AP = artifact \u2212 eager "
              "with its paired bootstrap interval over the validation images. An artifact whose |\u0394AP| exceeds "
              "the tolerance (config export.ap_tolerance) is \u201cfast but not the same model\u201d. SHA-256: the "
              "exported file's, the key that ties it to the timing cell that ran the same file.",
              ["Run", "Runtime", "Precision", "Metric", "AP eager", "AP artifact", "\u0394AP [interval]",
               "Tolerance", "Verdict", "SHA-256", "Ref."], align="llllrrrrlll", wide=True, section=SECTION)
    found = run_results(ctx.results.results_dir, "export.json")
    for run_dir, r in found:
        for entry, a, why in _accuracies(r):
            runtime = Cell(f"{entry.get('format', 'onnx')} ({entry.get('device', 'cpu')})")
            if not a:
                t.add([Cell(run_dir), runtime, Cell(entry.get("precision") or "\u2014")] + [dash(why)] * 6
                      + [Cell((entry.get("sha256") or "\u2014")[:12]), _ref(ctx, run_dir, "export", r)])
                continue
            t.add([Cell(run_dir), runtime, Cell(a["precision"]),
                   Cell(f"{a.get('metric', 'AP')} {a.get('iou_type') or ''}".strip()),
                   val(a["ap_eager"], 3), val(a["ap_artifact"], 3), delta_cell(a), Cell(fmt(a["tolerance"], 3)),
                   verdict_cell(a), Cell(a["artifact"]["sha256"][:12]), _ref(ctx, run_dir, "export", r)])
    if not found:
        t.add([Cell("all"), Cell("onnxruntime (cpu)")] + [dash("no export.json in the results")] * 9)
    return t


def file_cells(results_dir: Path) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(session folder, latency result, cell) of every cell that timed an exported file (it has a verdict)."""
    return [(d, r, c) for d, r in run_results(results_dir, "latency.json") for c in r.get("cells") or []
            if "artifact_verdict" in c]


def linked_table(ctx: Ctx) -> Table:
    t = Table("deployment_linked", "", "Timing cells and the artifact they timed",
              "Every timing cell of a file-based runtime (ONNX Runtime, TensorRT) timed the file its "
              "architecture's export job made and scored; the SHA-256 the cell recorded of what it ran is matched "
              "to the scored file's. Verdict: \u201csame model\u201d (|\u0394AP| within export.ap_tolerance), "
              "\u201cfast but not the same model\u201d (beyond it), or \u201cnot evaluated\u201d with the reason "
              "(a gap, never a pass: seeded weights, no such file, or a file other than the one scored).",
              ["Model (session)", "Device", "Precision", "Runtime", "Size", "Median (ms)", "SHA-256 timed",
               "\u0394AP [interval]", "Artifact", "Ref."], align="llllrrlrll", wide=True, section=SECTION)
    cells = file_cells(ctx.results.results_dir)
    for run_dir, r, c in cells:
        timed = c.get("median_ms") if c.get("status") == "ok" else None
        scored = c.get("artifact_accuracy")
        verdict = c["artifact_verdict"] or "\u2014"
        t.add([Cell(f"{c.get('model')} ({run_dir})"), Cell(str(c.get("device"))), Cell(str(c.get("precision"))),
               Cell(str(c.get("runtime"))), Cell(str(c.get("imgsz"))),
               val(timed, 2, f"{c.get('status')}: {c.get('reason') or ''}".strip(": ")),
               Cell((c.get("timed_sha256") or "\u2014")[:12]),
               delta_cell(scored) if scored else dash("not evaluated"),
               Cell(verdict, strong=verdict != "same model"), _ref(ctx, run_dir, "latency", r)])
    if not cells:
        t.add([Cell("all")] + [dash("no timing cell of a file-based runtime in the results")] * 8 + [Cell("\u2014")])
    return t


def timed_cells(results_dir: Path) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(run directory, latency result, cell) of every timed cell that has a roofline."""
    return [(d, r, c) for d, r in run_results(results_dir, "latency.json") for c in r.get("cells") or []
            if c.get("status") == "ok" and c.get("roofline")]


def _giga(v: float | None, nd: int = 1) -> Cell:
    return val(v / 1e9 if isinstance(v, (int, float)) else None, nd, "not measured")


def roofline_table(ctx: Ctx) -> Table:
    t = Table("deployment_roofline", "", "Roofline of the timing cells",
              "Each timed cell against its device's measured peaks (a square-GEMM probe per precision, a copy probe "
              "for memory bandwidth; never a data sheet). Achieved = the model's true FLOPs (attention matmuls "
              "included) \u00f7 median latency; intensity = FLOPs \u00f7 estimated bytes moved (weights once + every "
              "operator output written and read once); fraction of peak = achieved \u00f7 peak GEMM FLOP/s; fraction "
              "of roof = achieved \u00f7 min(peak, intensity \u00d7 bandwidth). A fraction of roof above 1 means the "
              "byte estimate overstates DRAM traffic (activations stayed in cache).",
              ["Model (run)", "Device", "Precision", "Runtime", "Kernel", "Batch", "Size", "Median (ms)",
               "Achieved GFLOP/s", "FLOP/byte", "Peak GFLOP/s", "Peak GB/s", "Of peak", "Of roof", "Bound", "Artifact",
               "Ref."],
              align="lllllrrrrrrrrrlll", wide=True, section=SECTION)
    cells = timed_cells(ctx.results.results_dir)
    for run_dir, r, c in cells:
        ro = c["roofline"]
        frac = ro.get("fraction_of_peak")
        # a session times several models: the row names the cell's model (and its session's folder)
        name = f"{c['model']} ({run_dir})" if isinstance(c.get("model"), str) else run_dir
        t.add([Cell(name), Cell(f"{c['device']} ({c.get('device_name') or '?'})"), Cell(c["precision"]),
               # the attention kernel that ran: two cells of one model name differ by it (Table 3 times SDPA
               # without its flash kernel)
               Cell(c["runtime"]), Cell(c.get("kernel") or "\u2014"), Cell(str(c.get("batch"))), Cell(str(c.get("imgsz"))), val(c["median_ms"], 2),
               _giga(ro.get("achieved_flops_per_s")), val(ro.get("arithmetic_intensity"), 1),
               _giga(ro.get("peak_flops_per_s")), _giga(ro.get("peak_bytes_per_s")),
               Cell(f"{100 * frac:.1f} %") if frac is not None else dash(ro.get("reason") or "no peak"),
               val(ro.get("fraction_of_roof"), 2, ro.get("reason") or "no peak"), Cell(ro.get("bound") or "\u2014"),
               Cell(c["artifact_verdict"], strong=c["artifact_verdict"] != "same model")
               if c.get("artifact_verdict") else Cell("\u2014"),
               _ref(ctx, run_dir, "latency", r)])
    if not cells:
        t.add([Cell("all")] + [dash("no timed cell with a roofline in the results")] * 15 + [Cell("\u2014")])
    return t


def deployment_tables(ctx: Ctx) -> list[Table]:
    return [artifact_table(ctx), linked_table(ctx), roofline_table(ctx)]


def roofline_figures(results, out: Path) -> list[FigureInfo]:
    """One log-log roofline per device key: each precision's compute roof and the bandwidth slope, each cell a
    point (colour: precision, marker: runtime)."""
    by_device: dict[str, list[dict[str, Any]]] = {}
    for _, _, c in timed_cells(results.results_dir):
        if not c["roofline"].get("achieved_flops_per_s"):
            continue  # a cell whose costs could not be measured: in the table with its reason, not a point
        by_device.setdefault(c["roofline"].get("device_key") or str(c["device"]), []).append(c)
    infos = []
    markers = ("o", "s", "^", "D", "v", "P", "X")
    for key, cells in sorted(by_device.items()):
        fig = new_figure(5.2, 3.4)
        ax = fig.add_subplot()
        ax.set_xscale("log")
        ax.set_yscale("log")
        intensities = [c["roofline"]["arithmetic_intensity"] for c in cells]
        lo, hi = min(intensities) / 4, max(intensities) * 4
        bw = next((c["roofline"]["peak_bytes_per_s"] for c in cells if c["roofline"].get("peak_bytes_per_s")), None)
        precisions = sorted({c["precision"] for c in cells})
        runtimes = sorted({c["runtime"] for c in cells})
        for i, p in enumerate(precisions):
            peak = next((c["roofline"]["peak_flops_per_s"] for c in cells
                         if c["precision"] == p and c["roofline"].get("peak_flops_per_s")), None)
            if peak and bw:
                knee = peak / bw
                xs = sorted({lo, hi, min(max(knee, lo), hi)})
                ax.plot(xs, [min(peak, x * bw) / 1e9 for x in xs], color=f"C{i}", lw=1.0,
                        label=f"roof {p}: {peak / 1e9:.0f} GFLOP/s, {bw / 1e9:.1f} GB/s")
        for c in cells:
            ro = c["roofline"]
            ax.plot([ro["arithmetic_intensity"]], [ro["achieved_flops_per_s"] / 1e9], linestyle="none",
                    marker=markers[runtimes.index(c["runtime"]) % len(markers)],
                    color=f"C{precisions.index(c['precision'])}", markeredgecolor="black", markeredgewidth=0.4,
                    label=f"{c['runtime']} {c['precision']} b{c.get('batch')} {c.get('imgsz')}")
        ax.set_xlabel("arithmetic intensity (FLOP/byte, estimated)")
        ax.set_ylabel("GFLOP/s")
        name = cells[0].get("device_name") or key
        ax.set_title(f"Roofline: {name}")
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=5.5)
        path = Path(out) / f"deployment_roofline_{slug(key)}.svg"
        data = save(fig, path)
        caption = (f"Roofline of {name} ({key}): the lines are the measured peaks (square-GEMM FLOP/s per "
                   "precision, copy bandwidth), each point a timed cell at its achieved FLOP/s and estimated "
                   "arithmetic intensity. Distance below the roof = what the cell leaves on the table.")
        infos.append(FigureInfo(path, f"Roofline: {name}", caption, SECTION, data))
    return infos
