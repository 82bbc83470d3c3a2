# YOLOv12 benchmarking & ablation suite.
#   snakemake --cores all                                             the embedded default (synthetic, CPU)
#   snakemake --configfile workflows/config/paper.yaml --cores all --resources gpu=8    the paper, one 8-GPU node
#   snakemake --configfile workflows/config/paper.yaml --profile workflows/profiles/slurm  the paper, SLURM
# The parse only plans (yolov12.workflow.plan: no torch, no Ultralytics, no file written); each stage is
# workflows/<stage>.smk calling the package through `python -m yolov12`.
import os

from snakemake.utils import min_version

min_version("9.0")


# the embedded default; `--config key=value` merges into it, a `--configfile` replaces it (workflows/common.smk)
configfile: os.path.join(workflow.basedir, "workflows", "config", "default.yaml")


include: "workflows/common.smk"
include: "workflows/data.smk"
include: "workflows/jobs.smk"
include: "workflows/aggregate.smk"
include: "workflows/cost.smk"
include: "workflows/report.smk"


rule all:
    input:
        rules.aggregate.output,
        rules.report.output,
    default_target: True


onsuccess:
    # absolute paths and the venv's python: each line works as printed, from any folder and without activation
    print(f"\nresults: {os.path.abspath(RESULTS)}\nreport:  {os.path.abspath(REPORTS)}/report.md\n"
          f"MLflow:  {PYTHON} -m mlflow ui --backend-store-uri '{MLFLOW_URI}'")
