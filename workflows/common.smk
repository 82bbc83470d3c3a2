# The plan: the config validated and resolved into runs, run directories, job specs and resources
# (yolov12/workflow/plan.py). Any bad input stops here, before the first job, in one line.
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


rule mlflow_store:
    output:
        STORE,
    log:
        f"{RESULTS}/logs/mlflow_store.log",
    benchmark:
        f"{RESULTS}/benchmarks/mlflow_store/{PLAN.name}.tsv"
    localrule: True
    params:
        python=PYTHON,
        uri=MLFLOW_URI,
        results=lambda w, output: os.path.dirname(os.path.dirname(output[0])),
        name=PLAN.name,
    shell:
        "{params.python} -m yolov12 workflow store --uri {params.uri:q} --results {params.results}"
        " --config-name {params.name} --out {output} > {log} 2>&1"
