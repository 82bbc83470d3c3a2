# Cost stage: what `yolov12 workflow plan` predicts this run costs, written before the jobs start (no inputs, high
# priority), which the report sets beside Snakemake's benchmark files (yolov12/report/cost_section.py). It prices
# the jobs with this machine's cached calibration (`yolov12 workflow plan --calibrate`); with none, the file says
# so and the report shows the gap. The calibration's content is a param: a new probe predicts again.
from yolov12.workflow.cost import calibration as _calibration
from yolov12.workflow.progress import ENV as _PROGRESS_ENV

# trainings print one line per epoch to the terminal only when this run's output is one (jobs inherit the setting)
os.environ.setdefault(_PROGRESS_ENV, "1" if sys.stderr.isatty() else "0")


def _node(name):
    value = workflow.global_resources.get(name)
    return getattr(value, "value", value) or 0


rule cost_predicted:
    output:
        f"{RESULTS}/cost_predicted.json",
    log:
        f"{RESULTS}/logs/cost_predicted.log",
    priority: 100
    localrule: True
    params:
        python=PYTHON,
        config=PLAN.config_json(),
        basedir=workflow.basedir,
        cores=_node("_cores") or os.cpu_count(),
        gpus=_node("gpu"),
        calibration=_calibration.fingerprint(),
    shell:
        "{params.python} -m yolov12 workflow plan --config {params.config:q} --basedir {params.basedir:q}"
        " --cores {params.cores} --gpus {params.gpus} --json-out {output} --no-calibration-ok > {log} 2>&1"
