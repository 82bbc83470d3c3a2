"""report.md: GitHub-flavoured Markdown with the tables, the verdicts and the figures as relative SVG links."""

from __future__ import annotations

import re
from pathlib import Path

from . import provenance as prov_mod
from .formats import DASH, md_escape, md_table
from .plots import FigureInfo
from .tables import Table
from .verdicts import NOT_MEASURED, NOT_REPRODUCED, REPRODUCED, Verdict, summary

PAPER = ("YOLOv12: Attention-Centric Real-Time Object Detectors (Yunjie Tian, Qixiang Ye, David Doermann, 2025; "
         "arXiv 2502.12524)")
VERDICT_MARK = {REPRODUCED: "\u2705", NOT_REPRODUCED: "\u274c", NOT_MEASURED: "\u2796"}


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
    counts = summary(verdicts)
    lines = [f"{'#' * level} Reproduction verdicts", "",
             f"{counts[REPRODUCED]} reproduced, {counts[NOT_REPRODUCED]} not reproduced, {counts[NOT_MEASURED]} not "
             "measured in this config. Each claim is data (`yolov12/report/claims.yaml`) with the rule that decides "
             "it; the evidence column gives the numbers the rule saw.", "",
             "| Claim | Table | Verdict | Evidence | Ref. |", "|:--|:--|:--|:--|:--|"]
    for v in verdicts:
        refs = link_refs(", ".join(v.refs))
        evidence = md_escape(v.evidence) or DASH
        lines.append(f"| {md_escape(v.claim)} | {md_escape(v.table)} | {VERDICT_MARK[v.status]} "
                     f"{md_escape(v.label)} | {evidence} | {refs} |")
    return "\n".join(lines) + "\n"


def render_markdown(out_dir: Path, prov: dict, tables: list[Table], verdicts: list[Verdict],
                    figures: list[FigureInfo], refs_table: Table) -> str:
    parts = [f"# YOLOv12 reproduction report: `{prov['config']}`", ""]
    if prov["synthetic"]:
        parts += ["> [!WARNING]", f"> **Smoke run on synthetic data.** {prov_mod.synthetic_statement(prov)}", ""]
    parts += [f"Every number this config measured, beside the paper's: {PAPER}. Paper numbers are transcribed in "
              "`yolov12/report/paper/` (see the last section); each measured number names its MLflow run and "
              "results file in the Ref. column (see [Where every number comes from](#where-every-number-comes-from)). "
              "\u0394 = ours \u2212 paper; \u201c\u2014 (reason)\u201d marks a cell this config did not produce.", "",
              "| | |", "|:--|:--|"]
    parts += [f"| {md_escape(k)} | {md_escape(v)} |" for k, v in prov_mod.rows(prov)]
    parts += ["", "## Contents", "", "- [Reproduction verdicts](#reproduction-verdicts)"]
    parts += [f"- [{t.heading}](#{anchor(t.heading)})" for t in tables]
    parts += ["- [Figures](#figures)", "- [Where every number comes from](#where-every-number-comes-from)",
              "- [Sources of the paper numbers](#sources-of-the-paper-numbers)", ""]
    parts.append(verdict_section(verdicts))
    parts += ["## Tables", ""]
    for t in tables:
        parts.append(_with_ref_links(md_table(t)))
    parts += ["## Figures", ""]
    category = None
    for i, f in enumerate(figures, 1):
        if f.category != category:
            category = f.category
            parts += [f"### {category}", ""]
        rel = f.path.relative_to(out_dir).as_posix()
        parts += [f"![{md_escape(f.title)}]({rel})", "", f"*Figure {i}. {md_escape(f.caption)}*", ""]
    parts += ["## Where every number comes from", "", md_escape(refs_table.caption), "",
              "| Ref. | MLflow run id | Results file | Run | Kinds |", "|:--|:--|:--|:--|:--|"]
    for row in refs_table.rows:
        rid = row[0].text
        parts.append(f"| <a id=\"{rid.lower()}\"></a>{rid} | `{md_escape(row[1].text)}` | `{md_escape(row[2].text)}` | "
                     f"{md_escape(row[3].text)} | {md_escape(row[4].text)} |")
    if not refs_table.rows:
        parts.append("| \u2014 | \u2014 | \u2014 | no result rows in this config | |")
    parts += ["", "## Sources of the paper numbers", "", SOURCES, ""]
    return "\n".join(parts)


SOURCES = """\
- Tables 1\u20136: the YOLOv12 paper (arXiv 2502.12524, v1), transcribed as numbers in `yolov12/report/paper/`
  (`table1_coco.csv`, `table2_relan.csv`, `table3_area_attention.csv`, `table4_speed.csv`,
  `table5_diagnostics.csv`, `table6_ap_by_size.csv`).
- YOLOv12-turbo, segmentation and classification numbers: the official README of the YOLOv12 repository
  (`readme_results.csv`).
- Which measured row reproduces which paper row: `yolov12/report/mapping.csv`; the claims and their rules:
  `yolov12/report/claims.yaml`."""
