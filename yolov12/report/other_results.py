"""Aggregated tables the report has no paper-style renderer for: a job kind added to the suite
(``yolov12/workflow/kinds``: its ``TABLES`` and ``aggregate`` hook) writes its own CSV under ``results/<config>/``,
and the report shows it as it is, one row per result, with no paper number beside it, until someone writes it a
table of its own. Nothing is dropped silently: every CSV of the results folder is either read by a renderer
(``data.CSV_KINDS``, the per-process runs) or shown here."""

from __future__ import annotations

from pathlib import Path

from .data import CSV_KINDS
from .model import SECTIONS, Cell, Table, dash
from .parse import num, read_csv

READ_ELSEWHERE = (*CSV_KINDS, "latency_runs")  # latency_runs.csv: read on demand by latency_ratios.RunMedians
# the identity columns every aggregated CSV carries (docs/results-schema.md) that a reader of this table does not need
HIDDEN = ("config", "study_table", "run_dir", "family", "task", "hierarchy", "model_dir", "trained_model",
          "mlflow_run_id", "results_file", "baseline")


def _cell(value: str) -> Cell:
    if value == "":
        return dash("not in the results")
    x = num(value)
    return Cell(f"{x:.4g}") if x is not None and not value.isdigit() else Cell(value)


def other_tables(results_dir: str | Path) -> list[Table]:
    tables = []
    for path in sorted(Path(results_dir).glob("*.csv")):
        if path.stem in READ_ELSEWHERE:
            continue
        rows = read_csv(path)
        columns = [c for c in (rows[0] if rows else {}) if c not in HIDDEN]
        t = Table(f"results_{path.stem}", "", f"Results: {path.stem}",
                  f"Each row of {path.name} as aggregated (a job kind without a paper-style table of its own; no "
                  "paper number to compare with).", columns or ["(empty)"], align="l" * max(1, len(columns)),
                  section=SECTIONS[1])
        for row in rows:
            t.add([_cell(row.get(c, "")) for c in columns])
        if not rows:
            t.add([dash("no rows")])
        tables.append(t)
    return tables
