# Shared state: the config's studies resolved into runs, grouped by run directory; job specs; paths.
import json
import os
import sys
from pathlib import Path

from yolov12.io import write_text
from yolov12.workflow import specs, studies, tracking
from yolov12.workflow.aggregate import KIND_FILES  # job kind -> result file of a run directory
from yolov12.gitinfo import git_commit

PYTHON = sys.executable
RESULTS = f"results/{config['name']}"  # relative, as Snakemake targets are; specs hold absolute paths
REPORTS = f"reports/{config['name']}"
ABLATIONS = Path(workflow.basedir, config["ablations_dir"])  # absolute paths pass through unchanged
RUNS = studies.all_runs(config["studies"], config["scales"], ABLATIONS)
GROUPS = studies.by_variant_dir(RUNS)
STUDIES = sorted({r.study for r in RUNS})
MLFLOW_URI = tracking.tracking_uri(RESULTS)
STORE = f"{RESULTS}/mlflow/store.ready"
# volatile context for MLflow tags only (never in a spec, so a new commit reruns nothing)
os.environ["YOLOV12_CONFIG_HASH"] = specs.config_hash(config)
os.environ.setdefault("YOLOV12_GIT_COMMIT", git_commit() or "unknown")



wildcard_constraints:
    vd=r"[^/]+",
    kind="|".join(KIND_FILES),
    task="detect|segment|pose|classify|obb",


# Job specs are materialised here, at parse time, and rewritten only when their content changes: a spec holds all
# that determines a job's result, so its mtime is what reruns the job. context.json (study/variant names, MLflow
# experiment) is an ancient() input: bookkeeping changes never rerun anything.
for _vd, _runs in GROUPS.items():
    for _kind in specs.measures(_runs):
        specs.write_if_changed(f"{RESULTS}/runs/{_vd}/{_kind}.spec.json",
                               specs.make_spec(_kind, _vd, _runs, config, RESULTS))
    specs.write_if_changed(f"{RESULTS}/runs/{_vd}/context.json", specs.make_context(_vd, _runs, config, RESULTS))


def job_inputs(kind, **extra):
    """Inputs every job rule has: its spec, its bookkeeping context, the MLflow store."""
    return {"spec": f"{RESULTS}/runs/{{vd}}/{kind}.spec.json", "context": ancient(f"{RESULTS}/runs/{{vd}}/context.json"),
            "store": STORE, **extra}


def job_outputs(kind):
    return [f"{RESULTS}/runs/{vd}/{KIND_FILES[kind]}" for vd, runs in sorted(GROUPS.items())
            if kind in specs.measures(runs)]


def data_manifest(wildcards):
    path = specs.dataset(GROUPS[wildcards.vd][0].task, config, RESULTS)["manifest"]
    return os.path.relpath(path) if path.startswith(os.getcwd() + os.sep) else path  # match relative outputs


rule mlflow_store:
    output:
        STORE,
    params:
        studies=STUDIES,
    localrule: True
    run:
        uri = tracking.init_store(RESULTS, config["name"], params.studies)
        write_text(output[0], uri + "\n")
