# Aggregate stage: the tidy results of the config (accuracy, deltas with paired-bootstrap intervals, complexity,
# latency and its samples, curves, per-job cost), studies.json, and one MLflow summary run per
# (study, variant, scale) in each study's experiment (yolov12/workflow/aggregate.py).
# Snakemake does not remake a deleted intermediate file while the files after it are up to date: a missing job
# result therefore adds the input `.rebuild`, which forces the aggregation, and so that result, again.


rule rebuild:
    output:
        temp(f"{RESULTS}/.rebuild"),
    log:
        f"{RESULTS}/logs/rebuild.log",
    localrule: True
    shell:
        "echo 'a job result was missing: rebuilt' > {log}; touch {output}"


rule aggregate:
    input:
        PLAN.rebuild_inputs(),
        jobs=[p for kind in JOB_KINDS for p in PLAN.outputs(kind)],
        benchmarks=PLAN.benchmarks(),
        store=ancient(STORE),
    output:
        PLAN.aggregated(),
    params:
        # what the aggregation's numbers and labels depend on: not the resources, the URI or where things live
        config=PLAN.aggregate_config_json(),
        labels=PLAN.labels_digest(),
        results=lambda w, output: os.path.dirname(output[0]),
    log:
        f"{RESULTS}/logs/aggregate.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate/{PLAN.name}.tsv"
    localrule: True
    shell:
        "\"$YOLOV12_PYTHON\" -m yolov12 workflow aggregate --config {params.config:q} --results {params.results}"
        " --uri \"$(cat {input.store})\" > {log} 2>&1"
