# Cost stage: what `yolov12 workflow plan` predicts this run costs, written before the jobs start (no inputs, high
# priority), which the report sets beside Snakemake's benchmark files (yolov12/report/cost_section.py). It prices
# the jobs with this machine's cached calibration (`yolov12 workflow plan --calibrate`); with none, the file says
# so and the report shows the gap. Its params are what the prediction is a function of that the rest of the run
# also depends on: every job's identity (a config edit that changes a job predicts again; a seed written 1.0, a
# rename or a note do not) and the calibration (a new probe predicts again). The config, the cores and GPUs it
# prices reach it through the environment: a new --cores or resources block reruns nothing, and the prediction
# stays the one made before this run's jobs (docs/cost.md).
from yolov12.workflow.cost import calibration as _calibration
from yolov12.workflow.progress import ENV as _PROGRESS_ENV

# trainings print one line per epoch to the terminal only when this run's output is one (jobs inherit the setting)
os.environ.setdefault(_PROGRESS_ENV, "1" if sys.stderr.isatty() else "0")
os.environ["YOLOV12_COST_CONFIG"] = PLAN.config_json()  # what it prices: outside the params and the shell text


def _node(name):
    value = workflow.global_resources.get(name)
    return getattr(value, "value", value) or 0


os.environ["YOLOV12_COST_CORES"] = str(_node("_cores") or os.cpu_count())
os.environ["YOLOV12_COST_GPUS"] = str(_node("gpu"))


rule cost_predicted:
    output:
        f"{RESULTS}/cost_predicted.json",
    log:
        f"{RESULTS}/logs/cost_predicted.log",
    priority: 100
    localrule: True
    params:
        jobs=PLAN.jobs_digest(),
        calibration=_calibration.fingerprint(),
    shell:
        "\"$YOLOV12_PYTHON\" -m yolov12 workflow plan --config \"$YOLOV12_COST_CONFIG\""
        " --basedir \"$YOLOV12_BASEDIR\" --cores \"$YOLOV12_COST_CORES\" --gpus \"$YOLOV12_COST_GPUS\""
        " --json-out {output} --no-calibration-ok > {log} 2>&1"
