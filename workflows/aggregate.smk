# Aggregate stage: the tidy results of the config (accuracy, deltas with paired-bootstrap intervals, complexity,
# latency and its samples, curves, per-job cost), studies.json, and one MLflow summary run per
# (study, variant, scale) in each study's experiment (yolov12/workflow/aggregate.py).
AGGREGATED = ("accuracy.csv", "deltas.csv", "complexity.csv", "latency.csv", "latency_samples.csv.gz", "curves.csv",
              "jobs.csv", "studies.json", "config.json")


rule aggregate:
    input:
        jobs=[p for kind in JOB_KINDS for p in PLAN.outputs(kind)],
        benchmarks=[f"{RESULTS}/benchmarks/{kind}/{d}.tsv" for kind in JOB_KINDS for d in PLAN.run_dirs(kind)],
    output:
        [f"{RESULTS}/{name}" for name in AGGREGATED],
    params:
        config=json.dumps(PLAN.config, sort_keys=True),
        basedir=workflow.basedir,
    log:
        f"{RESULTS}/logs/aggregate.log",
    localrule: True
    shell:
        "{PYTHON} -m yolov12 workflow aggregate --config {params.config:q} --results {RESULTS}"
        " --basedir {params.basedir:q} > {log} 2>&1"
