# Aggregate stage: tidy CSVs (accuracy, complexity, latency, curves) with one row per study run.


# the study -> run-directory index, materialised at parse time like the specs (rewritten only when it changes)
specs.write_if_changed(f"{RESULTS}/runs.json", {"rows": [{"study": r.study, "study_table": r.table, "variant": r.variant,
    "variant_dir": r.variant_dir, "baseline": r.baseline, "family": r.family, "scale": r.scale, "task": r.task,
    "hierarchy": r.hierarchy, "knobs": r.knobs, "train": r.train} for r in RUNS]})


rule aggregate:
    input:
        index=f"{RESULTS}/runs.json",
        jobs=[p for kind in KIND_FILES for p in job_outputs(kind)],
    output:
        **{kind: f"{RESULTS}/{kind}.csv" for kind in ("accuracy", "complexity", "latency", "curves")},
    log:
        f"{RESULTS}/logs/aggregate.log",
    shell:
        "{PYTHON} -m yolov12 workflow aggregate --results {RESULTS} --config-name {config[name]}"
        " --index {input.index} > {log} 2>&1"
