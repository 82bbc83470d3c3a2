# Aggregate stage: the tidy results of the config (accuracy, deltas with paired-bootstrap intervals, complexity,
# latency and its samples, curves, per-job cost), studies.json, and one MLflow summary run per
# (study, variant, scale) in each study's experiment (yolov12/workflow/aggregate.py).
AGGREGATED = ("accuracy.csv", "deltas.csv", "complexity.csv", "latency.csv", "latency_samples.csv.gz", "curves.csv",
              "jobs.csv", "studies.json", "config.json")


JOB_RESULTS = [p for kind in JOB_KINDS for p in PLAN.outputs(kind)]


def rebuild_if_missing(wildcards):
    """Snakemake does not remake a deleted intermediate file while the files after it are up to date; a deleted
    result must be remade, so a missing one adds an input that forces the aggregation (and so that result) again."""
    made_before = os.path.exists(f"{RESULTS}/{AGGREGATED[0]}")
    return [f"{RESULTS}/.rebuild"] if made_before and not all(os.path.exists(p) for p in JOB_RESULTS) else []


rule rebuild:
    output:
        temp(f"{RESULTS}/.rebuild"),
    localrule: True
    shell:
        "touch {output}"


rule aggregate:
    input:
        rebuild_if_missing,
        jobs=JOB_RESULTS,
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
