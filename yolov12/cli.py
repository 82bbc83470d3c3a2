"""``yolov12`` command line. Every subcommand lives with its stage (``yolov12/<stage>/cli.py``) or here; building
the parser imports neither torch nor Ultralytics (``yolov12 --help`` is instant). Bad input is one line,
``error: <file>: <key>: <what>; allowed: ...``, exit status 2; ``--debug`` (or ``YOLOV12_DEBUG=1``) shows tracebacks.
``--quiet`` / ``--verbose`` set the level of the diagnostics on stderr (yolov12.logs); stdout is the product.
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import __version__, registry
from .cliargs import HELP_FORMAT, add_ablations_dir, add_model_args, add_setting, example, positive_int
from .settings import COMPLEXITY, SELECTION
from .errors import UserError, main_guard


def cmd_models(args) -> int:
    from .models import list_definitions
    from .nn.knobs import Knobs

    print("definitions:", ", ".join(list_definitions()))
    print("knobs (defaults = paper v1.0):")
    for name, value in Knobs().as_dict().items():
        print(f"  {name:12s} {value!r}")
    return 0


def cmd_yaml(args) -> int:
    from .models import write_model_yaml

    path = write_model_yaml(args.family, args.scale, args.task, args.hierarchy, args.nc, args.out, **dict(args.knob))
    print(path)
    return 0


def cmd_summary(args) -> int:
    from .complexity import summary
    from .io import atomic_path
    from .models import torch_model

    rows = []
    for scale in args.scales:
        model = torch_model(args.family, scale, args.task, args.hierarchy, args.nc, **dict(args.knob))
        s = summary(model, args.imgsz)
        rows.append({"family": args.family, "task": args.task, "hierarchy": args.hierarchy, "scale": scale,
                     "params": s["params"], "params_fused_M": round(s["params_fused"] / 1e6, 3),
                     "gflops": round(s["gflops"], 3), "imgsz": args.imgsz})
        print(f"{args.family}{scale} {args.task:8s} params {s['params']:>11,d}  fused {s['params_fused'] / 1e6:7.3f} M"
              f"  {s['gflops']:8.3f} GFLOPs @ {args.imgsz}", flush=True)
    if args.csv:
        import pandas as pd

        with atomic_path(args.csv) as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
    return 0


def cmd_variants(args) -> int:
    import json

    from .workflow.studies import all_runs

    runs = all_runs(args.studies, args.scales, args.ablations_dir, args.seeds, args.opt_in)
    for run in runs:
        delta = " ".join([*(f"{k}={v}" for k, v in run.delta.items()),
                          *(f"{k}={getattr(run, k)}" for k, d in (("family", "yolov12"), ("task", "detect"),
                                                                   ("hierarchy", "full")) if getattr(run, k) != d),
                          *(f"train.{k}={v}" for k, v in run.train.items())])
        if args.json:
            print(json.dumps({**run.row(), "table": run.table, "default_model": run.is_default,
                              "measure": list(run.measure), "knobs": run.knobs}))
        else:
            print(f"{run.study:10s} {run.variant:20s} {run.scale} s{run.seed} {run.model_name:28s} "
                  f"{'default ' if run.is_default else ''}{delta}")
    if not args.json:
        # run directories are named from the config's recipe and data too: `yolov12 workflow check CONFIG` counts them
        models = {(r.model_name, json.dumps(r.delta, sort_keys=True), json.dumps(r.train, sort_keys=True), r.seed)
                  for r in runs}
        print(f"{len(runs)} study runs, {len(models)} distinct models and recipes")
    return 0


def cmd_workflow(args) -> int:
    if args.workflow_command == "check":
        from .workflow.configfiles import from_snakemake

        plan = from_snakemake([args.config], {}, args.basedir, args.basedir)
        jobs = {kind: len(plan.run_dirs(kind)) for kind in registry.JOB_KINDS}
        print(f"{args.config}: valid; {len(plan.runs)} study runs, {len(plan.groups)} run directories; jobs: "
              + ", ".join(f"{k} {n}" for k, n in jobs.items() if n))
        return 0
    if args.workflow_command == "store":
        from .io import write_text
        from .workflow import tracking

        write_text(args.out, tracking.init_store(args.uri, args.results, args.config_name) + "\n")
        return 0
    if args.workflow_command == "log-report":
        from .workflow import tracking

        print(tracking.log_report(args.uri, args.results, args.config_name, args.files))
        return 0
    if args.workflow_command == "run":
        from .workflow.jobs import run

        run(args.kind, args.spec, args.out, args.gpus, args.inputs)
        return 0
    from .workflow.aggregate import aggregate_from_config

    for kind, path in aggregate_from_config(args.config, args.results, args.basedir, args.uri).items():
        print(f"{kind}: {path}")
    return 0


def cmd_yolo(args) -> int:
    """Ultralytics' own ``yolo`` command, with our modules registered (so ``model=<our yaml>`` works)."""
    sys.argv = ["yolo", *args.yolo_args]  # before Ultralytics is imported: it keeps sys.argv at import
    from ultralytics.cfg import entrypoint

    from .nn.blocks import register

    register()
    entrypoint()
    return 0


def add_workflow_parsers(sub) -> None:
    p = sub.add_parser("variants", help="list every study and variant with its resolved knobs",
                       formatter_class=HELP_FORMAT, epilog=example("yolov12 variants --studies relan --scales n l"))
    add_setting(p, SELECTION, "studies", nargs="+", help="study names, or all")
    from .cliargs import add_scales

    add_scales(p)
    add_ablations_dir(p)
    add_setting(p, SELECTION, "seeds", nargs="+", type=int)
    add_setting(p, SELECTION, "opt_in", nargs="*", help="opt-in groups to include (e.g. extras)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_variants)
    wf = sub.add_parser("workflow", help="workflow jobs (called by the Snakefile)")
    wsub = wf.add_subparsers(dest="workflow_command", required=True)
    p = wsub.add_parser("check", help="check a workflow config as the workflow's parse does (YAML included)",
                        formatter_class=HELP_FORMAT,
                        epilog=example("yolov12 workflow check workflows/config/paper.yaml"))
    p.add_argument("config", help="a workflow config file")
    p.add_argument("--basedir", default=".", help="the folder a relative ablations_dir is relative to (the "
                   "workflow's working directory)")
    p = wsub.add_parser("run", help="run one job from its spec")
    p.add_argument("kind", choices=list(registry.JOB_KINDS))
    p.add_argument("--spec", required=True, help="the job's identity (JSON text, or a file)")
    p.add_argument("--out", required=True)
    p.add_argument("--gpus", type=int, default=0, help="GPUs the job holds (its resources)")
    p.add_argument("--inputs", nargs="*", default=[],
                   help="what the job reads: the MLflow store's marker, its data manifest, the training's result")
    p = wsub.add_parser("store", help="create the MLflow store's schema and the jobs experiment (once, first)")
    p.add_argument("--uri", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--config-name", required=True)
    p.add_argument("--out", required=True, help="the marker file the workflow waits for")
    p = wsub.add_parser("log-report", help="log the rendered report to MLflow (experiment <config>/report)")
    p.add_argument("--uri", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--config-name", required=True)
    p.add_argument("files", nargs="+")
    p = wsub.add_parser("aggregate", help="write the tidy CSVs, deltas and MLflow summary runs")
    p.add_argument("--config", required=True, help="the workflow's resolved config (JSON text, or a file)")
    p.add_argument("--results", required=True)
    p.add_argument("--basedir", default=".", help="the folder a relative ablations_dir is relative to (the "
                   "workflow's working directory)")
    p.add_argument("--uri", help="the MLflow store (default: the config's)")
    from .workflow.cost.cli import add_plan_parser

    add_plan_parser(wsub, HELP_FORMAT, example)
    wf.set_defaults(func=cmd_workflow)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``error: yolov12 val: argument --imgsz: ...``), exit status 2."""

    def error(self, message: str):
        print(f"error: {self.prog}: {' '.join(message.split())} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="yolov12", description="YOLOv12 benchmarking & ablation suite",
                                     formatter_class=HELP_FORMAT,
                                     epilog=example("yolov12 summary --scales n s --knob area=1"))
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    # the package's diagnostics (yolov12.logs): progress lines at INFO, skipped / stopped work at WARNING, on stderr;
    # a command's product (a JSON result, a table, the paths it wrote) is on stdout whatever the level
    level = parser.add_mutually_exclusive_group()
    level.add_argument("-q", "--quiet", dest="log_level", action="store_const", const="quiet", default="normal",
                       help="diagnostics: warnings only (no progress lines)")
    level.add_argument("-v", "--verbose", dest="log_level", action="store_const", const="verbose",
                       help="diagnostics: debug lines too")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list model definitions and knobs").set_defaults(func=cmd_models)
    p = sub.add_parser("yaml", help="write a resolved model YAML", formatter_class=HELP_FORMAT,
                       epilog=example("yolov12 yaml --scale s --knob area=1 --out models/"))
    add_model_args(p)
    p.add_argument("--out", default=None, help="directory (default: ~/.cache/yolov12/models)")
    p.set_defaults(func=cmd_yaml)
    p = sub.add_parser("summary", help="params and GFLOPs (paper convention)", formatter_class=HELP_FORMAT,
                       epilog=example("yolov12 summary --scales n s m --imgsz 640"))
    add_model_args(p, many_scales=True)
    add_setting(p, COMPLEXITY, "imgsz", type=positive_int)
    p.add_argument("--csv", default=None, help="also write the table to this CSV file")
    p.set_defaults(func=cmd_summary)
    from .data.cli import add_parsers as add_data_parsers
    from .evaluate.cli import add_parsers as add_val_parsers
    from .latency.cli import add_latency_parser, add_profile_parser
    from .report.cli import add_report_parser

    add_data_parsers(sub)
    add_val_parsers(sub)
    add_workflow_parsers(sub)
    add_report_parser(sub)
    add_latency_parser(sub)
    add_profile_parser(sub)
    p = sub.add_parser("yolo", help="Ultralytics' 'yolo' command with our model definitions registered",
                       epilog=example("yolov12 yolo train model=yolov12n.yaml data=coco8.yaml epochs=1"))
    p.add_argument("yolo_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_yolo)
    return parser


def _takes_node_slot(argv: list[str]) -> bool:
    """The commands the workflow's rules run, except ``workflow run`` (jobs take their own slot, with devices)."""
    head = [a for a in argv if not a.startswith("-")][:2]
    return bool(head) and (head[0] in ("data", "report") or head[:1] == ["workflow"] and head[1:] in (
        ["store"], ["aggregate"], ["log-report"]))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)

    def command() -> int:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help / --version (0) or an argparse usage error (2, already printed)
            return int(e.code or 0)
        from .cliargs import check_out_paths
        from .logs import configure
        from .offline import configure_job_process

        configure(args.log_level)  # the entry point, and only it, configures logging (the yolov12 logger's)
        logging.getLogger(__name__).debug("yolov12 %s, Python %s: %s", __version__, sys.version.split()[0],
                                          " ".join(argv))

        check_out_paths(args)  # an output of the wrong kind is refused before any work

        configure_job_process()
        if not _takes_node_slot(argv):
            return args.func(args)
        from .workflow import node

        # a workflow rule's work (data, store, aggregate, report) shares the node like a job: never beside a timed cell
        with node.node_slot(None, " ".join(argv[:2]), exclusive=False, gpus=0):
            return args.func(args)

    return main_guard(command, argv)


__all__ = ["UserError", "build_parser", "main"]
