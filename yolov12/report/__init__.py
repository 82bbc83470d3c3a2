"""Paper-style report: every table of the YOLOv12 paper beside this config's numbers, trade-off and ablation plots,
training curves, latency distributions, reproduction verdicts; Markdown + PDF (Typst) + LaTeX snippets + captions for
Snakemake's HTML report.

    from yolov12.report import render_report, figure_list
    paths = render_report("results/default", "reports/default", "default")
    figure_list("reports/default")  # [(figure, caption .rst, category), ...] for snakemake's report()

Reads only the aggregated files of ``results_dir`` (studies.json, config.json, accuracy / deltas / complexity /
latency / curves / jobs .csv, latency_samples.csv.gz; docs/report.md, "Inputs") and the paper numbers shipped in
``yolov12/report/paper/``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..io import write_bytes, write_json, write_text

# the renderers (pandas, matplotlib, typst) are imported where they are used: every `yolov12` command builds this
# package's CLI parser, and a workflow job should not pay for the report's imports

__all__ = ["figure_list", "render_report"]


def _rst_escape(text: str) -> str:
    out = str(text)
    for ch in ("\\", "*", "`", "|", "_", "[", "]"):
        out = out.replace(ch, "\\" + ch)
    return out.replace("{{", "{ {").replace("{%", "{ %")


def _clean(directory: Path, suffix: str, keep: set[Path]) -> None:
    """Remove files this stage wrote in an earlier render that this render did not produce."""
    if directory.is_dir():
        for path in directory.glob(f"*{suffix}"):
            if path.resolve() not in keep:
                path.unlink(missing_ok=True)


def render_report(results_dir: str | Path, out_dir: str | Path, config_name: str | None = None,
                  reference_logs: str | Path | None = None, provenance: dict | None = None, *, pdf: bool = True,
                  mapping: str | Path | None = None, claims: str | Path | None = None) -> dict:
    """Render the report of one config.

    results_dir: ``results/<config-name>/`` with the aggregated CSVs (any may be missing: its cells say why).
    out_dir: where report.md, report.pdf, report.typ, tables/, figures/, figure_data/, captions/ and figures.json go.
    reference_logs: optional directory of reference training logs (Ultralytics results.csv columns, named as in
        ``reference_logs.csv``, e.g. the official ``yolov12n.csv``) drawn under our training curves.
    provenance: the workflow's values for the header (config, git_commit, date, hardware, software: dict,
        synthetic: bool, anything else is listed as is); missing ones are computed locally.
    pdf: compile report.pdf with Typst. mapping / claims: replace the packaged mapping.csv / claims.yaml.

    Returns the output paths: markdown, pdf, typst, verdicts, manifest (str) and tables, figures, captions (lists).
    """
    from . import provenance as _prov
    from .data import load_results
    from .formats import latex_table
    from .markdown import render_markdown
    from .pdf import compile_pdf, render_typst
    from .figures import make_figures
    from .tables import Ctx, build_tables, provenance_table
    from .rules import judge
    from .verdicts import verdict_table

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = load_results(results_dir, config_name, mapping)
    config_name = config_name or results.config_name
    prov = _prov.collect(config_name, results, provenance)
    synthetic = prov["synthetic"]  # the config's data.kind (or the --synthetic flag), never a dataset's name

    tables = build_tables(results, synthetic)
    refs_table = provenance_table(Ctx(results, synthetic))
    verdicts = judge(results, synthetic, claims)
    figures = make_figures(results, out / "figures", synthetic, reference_logs)

    captions = []
    for f in figures:
        text = f"{_rst_escape(f.title)}\n\n{_rst_escape(f.caption)}\n"
        captions.append(write_text(out / "captions" / f"{f.stem}.rst", text))
    tex = [write_text(out / "tables" / f"{t.key}.tex", latex_table(t))
           for t in tables + [verdict_table(verdicts), refs_table]]
    data = [write_json(out / "figure_data" / f"{f.stem}.json", f.data) for f in figures]
    _clean(out / "figures", ".svg", {f.path.resolve() for f in figures})
    _clean(out / "figure_data", ".json", {p.resolve() for p in data})
    _clean(out / "captions", ".rst", {p.resolve() for p in captions})
    _clean(out / "tables", ".tex", {p.resolve() for p in tex})

    manifest = [{"figure": f.path.relative_to(out).as_posix(), "caption": c.relative_to(out).as_posix(),
                 "category": f.category, "title": f.title} for f, c in zip(figures, captions)]
    manifest_path = write_json(out / "figures.json", manifest, indent=1)
    verdicts_path = write_json(out / "verdicts.json", [v.__dict__ | {"label": v.label} for v in verdicts], indent=1)

    md_path = write_text(out / "report.md", render_markdown(out, prov, tables, verdicts, figures, refs_table))
    typ_path = write_text(out / "report.typ", render_typst(out, prov, tables, verdicts, figures, refs_table))
    paths = {"markdown": str(md_path), "typst": str(typ_path), "verdicts": str(verdicts_path),
             "manifest": str(manifest_path), "tables": [str(p) for p in tex],
             "figures": [str(f.path) for f in figures], "figure_data": [str(p) for p in data],
             "captions": [str(p) for p in captions]}
    if pdf:
        paths["pdf"] = str(write_bytes(out / "report.pdf", compile_pdf(typ_path, out)))
    return paths


def figure_list(out_dir: str | Path) -> list[tuple[Path, Path, str]]:
    """(figure, caption .rst, category) of every figure of a rendered report, for Snakemake's ``report()`` flag.

    Reads ``out_dir/figures.json`` written by ``render_report``; without it, pairs ``figures/*.svg`` with
    ``captions/<stem>.rst`` (category from the file name)."""
    out = Path(out_dir)
    manifest = out / "figures.json"
    if manifest.is_file():
        return [(out / e["figure"], out / e["caption"], e["category"]) for e in json.loads(manifest.read_text())]
    cats = {"fig1": "Trade-offs", "curves": "Training curves", "study": "Studies", "latency": "Latency"}
    items = []
    for fig in sorted((out / "figures").glob("*.svg")):
        cap = out / "captions" / f"{fig.stem}.rst"
        if cap.is_file():
            items.append((fig, cap, cats.get(fig.stem.split("_", 1)[0], "Figures")))
    return items

