"""report.md: GitHub-flavoured Markdown with the verdicts, the tables (each study's figure right under its table) and
the figures as relative SVG links."""

from __future__ import annotations

import re
from pathlib import Path

from . import provenance as prov_mod
from .formats import md_escape, md_grid, md_table
from .model import SECTIONS, Table, arrange
from .plots import FigureInfo
from .verdicts import HOW_DECIDED, Verdict, summary_text, verdict_table

PAPER = ("YOLOv12: Attention-Centric Real-Time Object Detectors (Yunjie Tian, Qixiang Ye, David Doermann, 2025; "
         "arXiv 2502.12524)")
SOURCES = """\
- Tables 1\u20137: the YOLOv12 paper (arXiv 2502.12524, v1), transcribed as numbers in `yolov12/report/paper/`
  (`table1_coco.csv`, `table2_relan.csv`, `table3_area_attention.csv`, `table4_speed.csv`,
  `table5_diagnostics.csv`, `table6_ap_by_size.csv`, `table7_recipe.csv`).
- YOLOv12-turbo, segmentation and classification numbers: the official README of the YOLOv12 repository
  (`readme_results.csv`).
- Which measured row reproduces which paper row: `yolov12/report/mapping.csv`; the claims, their rules and margins:
  `yolov12/report/claims.yaml`."""


def anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def link_refs(text: str) -> str:
    return re.sub(r"\bR(\d+)\b", lambda m: f"[R{m.group(1)}](#r{m.group(1)})", text)


def _with_ref_links(md: str) -> str:
    out = []
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("| Ref.") and re.search(r"\| R\d+(, R\d+)* \|$", line):
            head, _, tail = line[:-2].rpartition("| ")
            line = f"{head}| {link_refs(tail)} |"
        out.append(line)
    return "\n".join(out) + "\n"


def verdict_section(verdicts: list[Verdict], level: int = 2) -> str:
    lines = [f"{'#' * level} Reproduction verdicts", "",
             f"{summary_text(verdicts)} in this config. {HOW_DECIDED}", "", *md_grid(verdict_table(verdicts))]
    return _with_ref_links("\n".join(lines))


def _figure(out_dir: Path, f: FigureInfo, number: int) -> list[str]:
    rel = f.path.relative_to(out_dir).as_posix()
    return [f"![{md_escape(f.title)}]({rel})", "", f"*Figure {number}. {md_escape(f.caption)}*", ""]


def render_markdown(out_dir: Path, prov: dict, tables: list[Table], verdicts: list[Verdict],
                    figures: list[FigureInfo], refs_table: Table) -> str:
    parts = [f"# YOLOv12 reproduction report: `{prov['config']}`", ""]
    if prov["synthetic"]:
        parts += ["> [!WARNING]", f"> **Smoke run on synthetic data.** {prov_mod.synthetic_statement(prov)}", ""]
    parts += [f"Every number this config measured, beside the paper's: {PAPER}. Paper numbers are transcribed in "
              "`yolov12/report/paper/` (see the last section); each measured number names its MLflow run and "
              "results file in the Ref. column (see [Where every number comes from](#where-every-number-comes-from)). "
              "\u0394 = ours \u2212 paper; \u201c\u2014 (reason)\u201d marks a cell this config did not produce. "
              f"{prov_mod.MEASURED_STATEMENT}", "", "| | |", "|:--|:--|"]
    parts += [f"| {md_escape(k)} | {md_escape(v)} |" for k, v in prov_mod.rows(prov)]
    parts += ["", "## Contents", "", "- [Reproduction verdicts](#reproduction-verdicts)"]
    for section in SECTIONS:
        members = [t for t in tables if t.section == section]
        if members:
            parts.append(f"- [{section}](#{anchor(section)})")
            parts += [f"  - [{t.heading}](#{anchor(t.heading)})" for t in members]
    parts += ["- [Figures](#figures)", "- [Where every number comes from](#where-every-number-comes-from)",
              "- [Sources of the paper numbers](#sources-of-the-paper-numbers)", ""]
    parts.append(verdict_section(verdicts))
    numbers = {f.stem: i for i, f in enumerate(figures, 1)}
    sections, rest = arrange(tables, figures)
    for section, members in sections:
        parts += [f"## {section}", ""]
        for t, figure in members:
            parts.append(_with_ref_links(md_table(t)))
            if figure is not None:
                parts += _figure(out_dir, figure, numbers[figure.stem])
    parts += ["## Figures", ""]
    category = None
    for f in rest:
        if f.category != category:
            category = f.category
            parts += [f"### {category}", ""]
        parts += _figure(out_dir, f, numbers[f.stem])
    parts += ["## Where every number comes from", "", md_escape(refs_table.caption), "", *md_grid(refs_table)]
    if not refs_table.rows:
        parts.append("| \u2014 | \u2014 | \u2014 | no result rows in this config | |")
    parts += ["", "## Sources of the paper numbers", "", SOURCES, ""]
    return "\n".join(parts)
