# YOLOv12 benchmarking & ablation suite: the workflow entry point.
# `snakemake --cores all` runs the embedded default (CPU, offline). Stages live in workflows/<stage>.smk and call
# the package (yolov12/<stage>/) through its CLI, with this interpreter, so the rules need no activated environment.
import sys

PYTHON = sys.executable
CONFIG_NAME = config.get("name", "default")
FAMILIES = config.get("families", ["yolov12", "yolov12-turbo"])


include: "workflows/complexity.smk"


rule all:
    input:
        expand("results/{config_name}/complexity/{family}.csv", config_name=CONFIG_NAME, family=FAMILIES),
    default_target: True
