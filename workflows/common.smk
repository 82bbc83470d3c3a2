# The plan: the config validated and resolved into runs, run directories, job specs and resources
# (yolov12/workflow/plan.py). Any bad input stops here, before the first job, in one line.
import json
import os
import sys

from yolov12.errors import UserError
from yolov12.registry import JOB_KINDS, TASKS
from yolov12.workflow import plan as _plan

try:
    PLAN = _plan.from_snakemake(config, workflow.overwrite_configfiles, workflow.basedir)
except UserError as _e:
    print(f"error: {_e}", file=sys.stderr)
    sys.exit(2)
config.clear()
config.update(PLAN.config)  # validated, defaults filled in: what the rules and the report see

PYTHON = sys.executable
RESULTS = PLAN.results
REPORTS = f"reports/{PLAN.name}"
MLFLOW_URI = PLAN.tracking_uri
STORE = f"{RESULTS}/mlflow/store.ready"


wildcard_constraints:
    run_dir=r"[^/]+",
    task="|".join(TASKS),


def data_manifest(run_dir):
    return PLAN.dataset(PLAN.groups[run_dir][0].task)["manifest"]


rule mlflow_store:
    output:
        STORE,
    localrule: True
    params:
        uri=MLFLOW_URI,
    run:
        from yolov12.io import write_text
        from yolov12.workflow import tracking

        write_text(output[0], tracking.init_store(params.uri, RESULTS, PLAN.name) + "\n")
