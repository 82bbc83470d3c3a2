"""``yolov12 workflow plan``: what a config will cost before anything runs (docs/cost.md).

Builds the plan exactly as the Snakefile's parse does, prices each job with a calibration and prints the table;
imports neither torch nor Ultralytics (except ``--calibrate``, which measures this machine first).
"""

from __future__ import annotations

import json
import os
import sys


def add_plan_parser(wsub, formatter_class, example) -> None:
    p = wsub.add_parser("plan", help="predict a config's jobs, CPU/GPU-hours, wall time, disk and memory",
                        formatter_class=formatter_class,
                        epilog=example("yolov12 workflow plan --configfile workflows/config/paper.yaml "
                                       "--gpu-type a6000x8 --gpus 8"))
    src = p.add_mutually_exclusive_group()
    src.add_argument("--configfile", default=None, help="a workflow config (default: the embedded default)")
    src.add_argument("--config", default=None, help="a resolved config as JSON text (what the workflow passes)")
    p.add_argument("--calibrate", action="store_true",
                   help="measure this machine first (a few minutes) and cache it (~/.cache/yolov12/cost, "
                        "$YOLOV12_COST_CACHE)")
    p.add_argument("--gpu-type", "--calibration", dest="calibration", default=None,
                   help="a calibration: a name under workflows/calibration/ or a YAML file (default: this "
                        "machine's cached probe)")
    p.add_argument("--cores", type=int, default=os.cpu_count(), help="cores of the node (default: this machine's)")
    p.add_argument("--gpus", type=int, default=None, help="GPUs of the node (default: the calibration's)")
    p.add_argument("--basedir", default=".", help="the workflow's folder (its calibrations, its embedded default)")
    p.add_argument("--json-out", default=None, help="also write the prediction as JSON (the workflow's cost rule)")
    p.add_argument("--no-calibration-ok", action="store_true",
                   help="with no calibration, write a JSON that says so instead of failing (the workflow's rule)")
    p.set_defaults(func=cmd_plan)


def _plan(args):
    from ..configfiles import from_snakemake
    from ..plan import make_plan

    if args.config is not None:
        text = open(args.config).read() if os.path.exists(args.config) else args.config
        return make_plan(json.loads(text), "the workflow's config")  # its paths: from the working directory
    return from_snakemake([args.configfile] if args.configfile else [], {}, args.basedir)


def cmd_plan(args) -> int:
    from ...errors import UserError
    from ...io import write_text
    from . import calibration
    from .summary import predict, render

    plan = _plan(args)
    if args.calibrate:
        from .probe import calibrate

        cal = calibrate(sorted(set(plan.config["scales"])), args.basedir,
                        log=lambda m: print(m, file=sys.stderr, flush=True))
        print(f"calibration cached: {calibration.save(cal)}", file=sys.stderr)
    else:
        try:
            cal = calibration.load(args.calibration, args.basedir)
        except UserError as e:
            if not (args.no_calibration_ok and args.json_out):
                raise
            write_text(args.json_out, json.dumps({"config": plan.name, "gap": str(e)}) + "\n")
            print(f"no prediction: {e}")
            return 0
    gpus = args.gpus if args.gpus is not None else (cal.get("gpus", 1) if cal["device"] != "cpu" else 0)
    prediction = predict(plan, cal, args.cores, gpus)
    print(render(prediction))
    if args.json_out:
        write_text(args.json_out, json.dumps(prediction, indent=1, sort_keys=True) + "\n")
    return 0
