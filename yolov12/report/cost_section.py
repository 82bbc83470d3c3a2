"""The report's "Predicted against measured cost" table: the cost the plan predicted before the run
(results/<config>/cost_predicted.json, written by workflows/cost.smk) beside what Snakemake's ``benchmark:`` files
measured, per job kind (docs/cost.md). A kind that one side lacks is a dash with the reason, never a zero."""

from __future__ import annotations

import json
from pathlib import Path

from ..registry import JOB_KINDS
from .benchmarks import KINDS, by_kind, duration
from .model import SECTIONS, Cell, Table, dash

PREDICTED = "cost_predicted.json"
TARGET = 0.30  # the target: a prediction within +-30 % of the measurement


def _ratio(measured: float | None, predicted: float | None, of: str = "") -> Cell:
    if not measured or not predicted:
        return dash("one side missing")
    r = measured / predicted
    return Cell(f"{r:.2f}" + (f" ({of})" if of else ""), strong=abs(r - 1) > TARGET)


def cost_table(results_dir: str | Path) -> Table:
    results_dir = Path(results_dir)
    t = Table("cost", "", "Predicted against measured cost",
              "Per job kind: the seconds `yolov12 workflow plan` predicted before the run (an idle machine's wall "
              "time, from its calibration) beside Snakemake's benchmark files: the jobs' CPU time (per core, what "
              "an idle machine's wall time would be) and their wall time (on a shared machine, the neighbours' "
              f"load too). Ratio = measured CPU / predicted, over the jobs both sides have; bold when outside "
              f"+-{TARGET:.0%}. CPU time misses a job's short-lived subprocesses (Snakemake samples the process tree), "
              "so a timing job (its session's processes, one after the other; it holds the node alone) is compared "
              "by its wall time (ratio marked 'wall'; the total row counts it so too).",
              ["Job kind", "Jobs (pred./meas.)", "Predicted", "Measured CPU", "Measured wall", "Ratio",
               "Peak RSS pred. (MB)", "Peak RSS meas. (MB)"], align="lrrrrrrr", section=SECTIONS[2])
    path = results_dir / PREDICTED
    predicted = json.loads(path.read_text()) if path.exists() else {"gap": f"no {PREDICTED} in the results"}
    measured = by_kind(results_dir / "benchmarks")
    if "gap" in predicted:
        t.note(f"Not predicted: {predicted['gap']}")
    pk, mk, per_job = predicted.get("kinds", {}), measured["kinds"], predicted.get("jobs", {})
    total_pred = total_cpu = 0.0
    for kind in sorted({*pk, *mk}, key=lambda k: (KINDS.index(k) if k in KINDS else len(KINDS), k)):
        p, m = pk.get(kind), mk.get(kind)
        pred_s = p["seconds"] if p else None
        cpu_s = m["cpu_s"] if m else None
        # the ratio compares the same jobs: those both predicted and benchmarked (a partial run has fewer)
        both = [i for i in (m["cpu_by_job"] if m else {}) if i in per_job]
        matched = sum(per_job[i] for i in both) if both else None
        timing = kind in JOB_KINDS and JOB_KINDS[kind].timing
        spent = (m or {}).get("wall_by_job" if timing else "cpu_by_job") or {}
        matched_cpu = sum(spent[i] for i in both) if both else None
        if matched and matched_cpu:
            total_pred, total_cpu = total_pred + matched, total_cpu + matched_cpu
        t.add([Cell(kind), Cell(f"{p['jobs'] if p else '-'}/{m['jobs'] if m else '-'}"),
               Cell(("" if p["exact"] else ">=") + duration(pred_s)) if p else dash("not predicted"),
               Cell(duration(cpu_s)) if cpu_s else dash("no benchmark file"),
               Cell(duration(m["seconds"])) if m else dash("no benchmark file"),
               _ratio(matched_cpu, matched, "wall" if timing else ""),
               Cell(f"{p['peak_mb']:.0f}") if p and p.get("peak_mb") else dash("not calibrated"),
               Cell(f"{m['peak_mb']:.0f}") if m and m["peak_mb"] else dash("no benchmark file")])
    if total_pred and total_cpu:
        t.add([Cell("benchmarked jobs"), Cell(""), Cell(duration(total_pred)), Cell(duration(total_cpu)),
               Cell(""), _ratio(total_cpu, total_pred), Cell(""), Cell("")], rule=True)
    total = predicted.get("total")
    if total and measured["span_s"]:
        res = predicted["resources"]
        t.note(f"Whole run on {res['cores']} cores: predicted {duration(total['wall_s'])} of wall time on an idle "
               f"machine; the benchmark files span {duration(measured['span_s'])} (first job's start to last job's "
               "end, from the files' times; the machine's other load included).")
    if "calibration" in predicted:
        t.note(f"Calibration {predicted['calibration']['name']}: {predicted['calibration']['source']}")
    return t
