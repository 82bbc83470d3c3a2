# Job stage: one rule per job kind of the registry (train, evaluate, complexity, latency, export), generated here.
# A job's spec is a param: Snakemake reruns a job exactly when its spec changes (--rerun-triggers params), and
# the parse writes no file. Resources come from the config (resources.<kind>): gpu and cpus on one node,
# runtime / mem_mb / cpus_per_task / gpu as SLURM requests. Timing jobs also ask SLURM for a node of their own.
for _kind in JOB_KINDS.values():
    _res = PLAN.resources(_kind.name)

    rule:
        name:
            _kind.name
        input:
            unpack(lambda w, k=_kind.name: PLAN.job_inputs(k, w.run_dir, STORE)),
        output:
            f"{RESULTS}/runs/{{run_dir}}/{_kind.result}",
        params:
            python=PYTHON,
            kind=_kind.name,
            spec=lambda w, k=_kind.name: PLAN.spec_json(k, w.run_dir),
        log:
            f"{RESULTS}/logs/{_kind.name}/{{run_dir}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/{_kind.name}/{{run_dir}}.tsv"
        threads: _res["cpus"]
        resources:
            **PLAN.snakemake_resources(_kind.name),
        retries: _res["retries"]
        shell:
            "OMP_NUM_THREADS={threads} {params.python} -m yolov12 workflow run {params.kind} --spec {params.spec:q}"
            " --out {output} > {log} 2>&1"
