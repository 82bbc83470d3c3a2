# YOLOv12 benchmarking & ablation suite.
#   snakemake --cores all                                             the embedded default (synthetic, CPU)
#   snakemake --configfile workflows/config/paper.yaml --cores all    the paper's reproduction (COCO, GPUs)
# Stages: workflows/<stage>.smk, each calling the package (yolov12/<stage>/) through `python -m yolov12`.
from snakemake.utils import min_version, validate

min_version("9.0")

if "name" not in config:  # no --configfile given: the embedded default (not merged into a user's config)
    configfile: "workflows/config/default.yaml"


validate(config, "workflows/schemas/config.schema.yaml", set_default=True)


include: "workflows/common.smk"
include: "workflows/data.smk"
include: "workflows/train.smk"
include: "workflows/evaluate.smk"
include: "workflows/complexity.smk"
include: "workflows/latency.smk"
include: "workflows/export.smk"
include: "workflows/aggregate.smk"
include: "workflows/report.smk"


rule all:
    input:
        rules.aggregate.output,
        rules.report.output,
    default_target: True


onsuccess:
    print(f"\nresults: {RESULTS}\nreport:  {REPORTS}/report.md\nMLflow:  mlflow ui --backend-store-uri {MLFLOW_URI}")
