"""report.pdf: a typeset PDF compiled with Typst (the ``typst`` package from PyPI, no TeX needed) from a generated
``report.typ``. Tables are real tables, figures the SVG files (vector), fonts the ones embedded in Typst (embedded in
the PDF); system fonts are ignored so that the output does not depend on the machine."""

from __future__ import annotations

from pathlib import Path

from . import provenance as prov_mod
from .formats import typ_str, typ_text, typst_table
from .markdown import PAPER, SOURCES
from .model import Table, arrange
from .plots import FigureInfo
from .verdicts import HOW_DECIDED, Verdict, summary_text, verdict_table

PREAMBLE = """\
#set document(title: {title}, author: "yolov12 report", date: none)
#set page(paper: "a4", margin: (x: 1.4cm, top: 1.6cm, bottom: 1.6cm),
  numbering: "1 / 1", number-align: right,
  header: context {{ if counter(page).get().first() > 1 [
    #set text(size: 7pt, fill: rgb("#666666"))
    {header} #h(1fr) YOLOv12 reproduction report
  ] }})
#set text(font: ("Libertinus Serif", "New Computer Modern", "DejaVu Sans Mono"), size: 9.5pt, lang: "en")
#set par(justify: true, leading: 0.55em)
#show heading.where(level: 1): set text(size: 17pt)
#show heading.where(level: 2): it => {{ v(0.6em); text(size: 13pt, it); v(0.2em) }}
#show heading.where(level: 3): it => {{ v(0.3em); text(size: 10.5pt, it); v(0.1em) }}
#show raw: set text(font: "DejaVu Sans Mono", size: 7.5pt)
#show figure.caption: set text(size: 8pt)
#show figure.caption: set align(left)
"""


def _typ_md(text: str) -> str:
    """Plain text with `code` spans kept as raw text."""
    parts = str(text).split("`")
    return "".join(typ_text(p) if i % 2 == 0 else f"#raw({typ_str(p)})" for i, p in enumerate(parts))


def _figure(out_dir: Path, f: FigureInfo) -> str:
    rel = f.path.relative_to(out_dir).as_posix()
    return f"#figure(image({typ_str(rel)}, width: 100%), caption: [{typ_text(f.caption)}])"


def render_typst(out_dir: Path, prov: dict, tables: list[Table], verdicts: list[Verdict],
                 figures: list[FigureInfo], refs_table: Table) -> str:
    title = f"YOLOv12 reproduction report: {prov['config']}"
    src = [PREAMBLE.format(title=typ_str(title), header=typ_text(f"config {prov['config']}"))]
    src.append(f"#heading(level: 1, outlined: false)[{typ_text('YOLOv12 reproduction report')}]\n")
    src.append(f"#text(size: 12pt)[config #raw({typ_str(prov['config'])})]\n")
    src.append(f"#text(size: 8.5pt, fill: rgb(\"#444444\"))[{typ_text(PAPER)}]\n")
    if prov["synthetic"]:
        src.append("#block(width: 100%, fill: rgb(\"#fdecea\"), stroke: 1.5pt + rgb(\"#c0392b\"), inset: 9pt, "
                   "radius: 3pt)[#text(fill: rgb(\"#c0392b\"), weight: \"bold\", size: 11pt)[Smoke run on synthetic "
                   f"data] #linebreak() {typ_text(prov_mod.synthetic_statement(prov))}]\n")
    src.append("#block(width: 100%)[#set text(size: 8pt)\n#set par(justify: false)\n#table(columns: (auto, 1fr), "
               "stroke: none, inset: (x: 3pt, y: 2pt), table.hline(stroke: 0.6pt),")
    for k, v in prov_mod.rows(prov):
        src.append(f"  [*{typ_text(k)}*], [{typ_text(v)}],")
    src.append("  table.hline(stroke: 0.6pt))]\n")
    src.append(typ_text("Every number this config measured, beside the paper's. \u0394 = ours \u2212 paper. A dash "
                        "with a footnote letter marks a cell this config did not produce; the letter's note under "
                        "the table gives the reason. Ref. ids name the MLflow run and results file of each number "
                        f"(last section). {prov_mod.MEASURED_STATEMENT}") + "\n")
    src.append("#v(0.4em)\n#outline(depth: 3, indent: 1em)\n")
    src.append("== Reproduction verdicts\n")
    src.append(typ_text(f"{summary_text(verdicts)} in this config. {HOW_DECIDED}") + "\n")
    src.append(typst_table(verdict_table(verdicts), size="6.8pt"))
    sections, rest = arrange(tables, figures)
    for section, members in sections:
        src.append(f"== {typ_text(section)}\n")
        for t, figure in members:
            src.append(f"=== {typ_text(t.heading)}\n")
            src.append(f"#text(size: 8pt)[{typ_text(t.caption)}]\n#v(-2pt)\n")
            src.append(typst_table(t))
            if figure is not None:  # a study's figure right under its table
                src.append(_figure(out_dir, figure) + "\n")
    src.append("#pagebreak()\n== Figures\n")
    category = None
    for f in rest:
        fig = _figure(out_dir, f)
        if f.category != category:  # keep a category heading on the page of its first figure
            category = f.category
            src.append(f"#block(breakable: false)[\n=== {typ_text(category)}\n{fig}\n]\n")
        else:
            src.append(fig + "\n")
    src.append("#pagebreak()\n== Where every number comes from\n")
    src.append(f"#text(size: 8pt)[{typ_text(refs_table.caption)}]\n")
    if refs_table.rows:
        src.append(typst_table(refs_table, size="6.6pt"))
    else:
        src.append(typ_text("No result rows in this config.") + "\n")
    src.append("== Sources of the paper numbers\n")
    for line in SOURCES.split("\n- "):
        src.append(f"- {_typ_md(line.lstrip('- ').replace(chr(10) + '  ', ' '))}\n")
    return "\n".join(src)


def compile_pdf(typ_path: Path, root: Path) -> bytes:
    try:
        import typst
    except ImportError as e:  # pragma: no cover - typst is a pinned dependency of the report
        raise RuntimeError("report.pdf needs the 'typst' package (pip install typst); pass pdf=False to skip") from e
    # untagged: poppler (pdftoppm) reports a syntax error on the MarkInfo of typst's tagged output
    return typst.compile(str(typ_path), root=str(root), ignore_system_fonts=True, pdf_tags=False)
