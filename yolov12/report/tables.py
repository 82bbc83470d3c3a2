"""Every table of the report, in order: the paper's tables (``paper_tables``, ``speed_tables``, ``recipe_table``),
one table per study (``study_tables``), the per-job cost. The table model is ``model.Table`` of ``model.Cell``."""

from __future__ import annotations

from .cells import Ctx
from .data import Results
from .deployment import deployment_tables
from .model import Cell, Table, dash
from .paper_tables import T5, other_tasks, table1, table2, table5, table6
from .recipe_table import table7
from .speed_tables import table1_latency, table3, table4
from .study_tables import jobs_table, provenance_table, study_tables
from .cost_section import cost_table
from .other_results import other_tables


def build_tables(results: Results, synthetic: bool) -> list[Table]:
    ctx = Ctx(results, synthetic)
    tables = [table1(ctx), table1_latency(ctx), table2(ctx), table3(ctx), table4(ctx)]
    tables += [table5(ctx, sub) for sub in T5]
    tables += [table6(ctx), table7(ctx)]
    extra = other_tasks(ctx)
    if extra is not None:
        tables.append(extra)
    tables += study_tables(ctx)
    tables += other_tables(results.results_dir)  # a kind's own CSV without a renderer: shown as it is
    tables.append(jobs_table(ctx))
    tables += deployment_tables(ctx)
    tables.append(cost_table(results.results_dir))  # predicted against measured, per job kind
    return tables


__all__ = ["Cell", "Ctx", "Table", "build_tables", "dash", "provenance_table"]
