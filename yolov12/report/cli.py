"""``yolov12 report``: render the paper-style report of one config.

    yolov12 report --results results/default --out reports/default [--config-name default]
                   [--reference-logs DIR] [--provenance provenance.json] [--no-pdf]

Register with ``add_report_parser(subparsers)`` in the main command line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import UserError


def _provenance(path: str) -> dict:
    if path.endswith((".yaml", ".yml")):
        from ..yamlio import load_yaml

        provenance = load_yaml(path, "provenance file") or {}
    else:
        try:
            provenance = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"cannot read: {e}", file=path, key="--provenance", allowed="a JSON or YAML mapping") \
                from e
    if not isinstance(provenance, dict):
        raise UserError("must hold a mapping (key: value)", file=path, key="--provenance",
                        allowed="config, git_commit, date, hardware, software, synthetic, ...")
    return provenance


def cmd_report(args: argparse.Namespace) -> int:
    from . import render_report

    results = Path(args.results)
    if not results.is_dir():
        raise UserError("results directory does not exist", file=results, key="--results",
                        allowed="results/<config-name>/ written by the workflow's aggregate stage")
    try:
        entries = [p.name for p in results.iterdir()]
    except OSError as e:
        raise UserError(f"results directory cannot be read ({e.strerror or e})", file=results, key="--results",
                        allowed="a readable results/<config-name>/") from None
    if not any(name.endswith((".csv", ".csv.gz", ".json")) for name in entries):
        raise UserError("results directory holds no aggregated file (accuracy.csv, latency.csv, studies.json, ...)",
                        file=results, key="--results",
                        allowed="results/<config-name>/ written by the workflow's aggregate stage")
    provenance = _provenance(args.provenance) if args.provenance else None
    if args.synthetic is not None:
        provenance = dict(provenance or {}, synthetic=args.synthetic)
    config_name = args.config_name or results.name
    out = Path(args.out) if args.out else Path("reports") / config_name
    paths = render_report(results, out, config_name, reference_logs=args.reference_logs, provenance=provenance,
                          pdf=not args.no_pdf, mapping=args.mapping, claims=args.claims)
    for key in ("markdown", "pdf", "typst", "verdicts", "manifest"):
        if key in paths:
            print(f"{key:9s} {paths[key]}")
    print(f"tables    {len(paths['tables'])} LaTeX snippets in {out / 'tables'}")
    print(f"figures   {len(paths['figures'])} SVG in {out / 'figures'} (captions in {out / 'captions'})")
    return 0


def add_report_parser(subparsers) -> argparse.ArgumentParser:
    from ..cliargs import HELP_FORMAT, example

    p = subparsers.add_parser("report", help="paper-style report (Markdown, PDF, LaTeX tables, figures)",
                              formatter_class=HELP_FORMAT,
                              epilog=example("yolov12 report --results results/default --out reports/default"))
    p.add_argument("--results", required=True, help="results/<config-name>/ with the aggregated files")
    p.add_argument("--out", default=None, help="output directory (default: reports/<config-name>)")
    p.add_argument("--config-name", default=None, help="config name (default: the results directory's name)")
    p.add_argument("--reference-logs", default=None,
                   help="directory of reference training logs (results.csv columns, e.g. yolov12n.csv) to overlay")
    p.add_argument("--provenance", default=None,
                   help="JSON/YAML file: config, git_commit, date, hardware, software, synthetic, ...")
    syn = p.add_mutually_exclusive_group()
    syn.add_argument("--synthetic", dest="synthetic", action="store_true", default=None,
                     help="mark the results as a synthetic smoke run (default: config name 'default')")
    syn.add_argument("--not-synthetic", dest="synthetic", action="store_false")
    p.add_argument("--no-pdf", action="store_true", help="skip report.pdf")
    p.add_argument("--mapping", default=None, help="replace the packaged study/variant -> paper row mapping CSV")
    p.add_argument("--claims", default=None, help="replace the packaged claims YAML")
    p.set_defaults(func=cmd_report)
    return p
