# The plan: the config (yolov12/workflow/configfiles.py: Snakemake's configfile: and --config) validated and resolved
# into runs, run directories, job specs and resources (yolov12/workflow/plan.py). Any bad input stops here, before
# the first job, in one line.
import os
import sys

from yolov12.errors import UserError
from yolov12.registry import JOB_KINDS, TASKS
from yolov12.workflow import configfiles as _configfiles

try:
    PLAN = _configfiles.from_snakemake(workflow.overwrite_configfiles, dict(workflow.config_settings.config),
                                       workflow.basedir, os.getcwd())
except UserError as _e:
    print(f"error: {_e}", file=sys.stderr)
    sys.exit(2)
if workflow.is_main_process:  # the process that polls SLURM (docs/cluster.md: the plugin's state parsing)
    from yolov12.workflow import slurm_states

    slurm_states.install()
config.clear()
config.update(PLAN.config)  # validated, defaults filled in: what the rules and the report see

PYTHON = sys.executable
# jobs find the interpreter in their environment, not in a param or the command: moving the checkout (and its
# virtual environment) reruns nothing
os.environ.setdefault("YOLOV12_PYTHON", PYTHON)
os.environ.setdefault("YOLOV12_BASEDIR", workflow.basedir)
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
        uri=MLFLOW_URI,
        results=lambda w, output: os.path.dirname(os.path.dirname(output[0])),
        name=PLAN.name,
    shell:
        "\"$YOLOV12_PYTHON\" -m yolov12 workflow store --uri {params.uri:q} --results {params.results}"
        " --config-name {params.name} --out {output} > {log} 2>&1"
