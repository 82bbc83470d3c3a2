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
            # each DDP worker (one per GPU) gets its share of the job's CPUs, not all of them
            omp_threads=max(1, _res["cpus"] // max(1, _res["gpus"])),
        log:
            f"{RESULTS}/logs/{_kind.name}/{{run_dir}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/{_kind.name}/{{run_dir}}.tsv"
        threads: _res["cpus"]
        resources:
            **PLAN.snakemake_resources(_kind.name),
            **({"nodes": 1} if _res["gpus"] else {}),  # SLURM must not split a job's GPUs over nodes
        # retries are resubmissions by the main process only: inside a SLURM job they would nest (the rule's value
        # overrides the --retries 0 that the job's own Snakemake is given)
        retries: _res["retries"] if workflow.is_main_process else 0
        shell:
            # exec: SIGTERM (scancel, preemption, time limit) reaches the training itself, which stops cleanly
            "OMP_NUM_THREADS={params.omp_threads} exec {params.python} -m yolov12 workflow run {params.kind}"
            " --spec {params.spec:q} --out {output} > {log} 2>&1"
